#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Benchmarks of Passerelle's core host against a real Synapse on loopback.

    bench/run-benchmarks.py [--build DIR] [--only ingest,send,rss] [--txns 200]
                            [--flood 2000] [--rounds 2] [--sandbox MODE] [--json FILE]
                            [--metrics off|on|both]

Builds nothing: run `meson setup build-bench --buildtype=release && ninja -C
build-bench` first (sink.so and raw-send come from bench/meson.build).  Uses
tests/integration/harness.py: a throwaway Synapse from PyPI, a real
passerelle process, matrix-nio agents.  See bench/README.md for what each
figure means and docs/benchmarks.md for results.
"""

import argparse
import http.client
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
GHOST_PREFIX = "_pa_"
PEER_GHOST = "@%ssink_peer:localhost" % GHOST_PREFIX


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE_ROOT, "build-bench"),
                   help="meson build dir (default: build-bench)")
    p.add_argument("--only", default="rss,ingest,send",
                   help="comma list of: rss, ingest, send (default: all)")
    p.add_argument("--txns", type=int, default=200, help="ingest: transactions (100 events each)")
    p.add_argument("--per-txn", type=int, default=100, help="ingest: events per transaction")
    p.add_argument("--flood", type=int, default=2000, help="send path: messages per round")
    p.add_argument("--rounds", type=int, default=2, help="send path: rounds of each side")
    p.add_argument("--ingest-rounds", type=int, default=1,
                   help="ingest: rounds (each --txns x --per-txn new events)")
    p.add_argument("--ghosts", type=int, default=10000, help="rss: ghost and portal rows")
    p.add_argument("--sandbox", choices=("best_effort", "required", "off"),
                   help="workers.sandbox of the bridge (default: the config's default)")
    p.add_argument("--database", metavar="URI",
                   help="the bridge's database: a PostgreSQL URI (postgresql://…) of an empty"
                        " database instead of the SQLite file (ingest and send only)")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--metrics", choices=("off", "on", "both"), default="off",
                   help="metrics.enabled of the bridge; both: the send rounds with metrics off, "
                   "then the bridge restarted with them on and the same rounds again")
    p.add_argument("--perf", metavar="FILE",
                   help="ingest: record the host process with `perf record -g` into FILE")
    args = p.parse_args()
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    bad = args.only - {"rss", "ingest", "send"}
    if bad:
        p.error("unknown benchmark(s): " + ", ".join(sorted(bad)))
    if args.database and "rss" in args.only:
        p.error("--database: rss writes rows into the SQLite file; use --only ingest,send")
    for name in ("txns", "per_txn", "flood", "rounds", "ghosts", "ingest_rounds"):
        if not 1 <= getattr(args, name) <= 1000000:
            p.error("--%s must be in 1..1000000" % name.replace("_", "-"))
    return args


ARGS = parse_args()
os.environ["PA_BUILD_ROOT"] = os.path.abspath(ARGS.build)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
import harness  # noqa: E402  (needs PA_BUILD_ROOT set first)
from harness import Agent, Stack, bot_says, open_management_room, wait_until  # noqa: E402

SINK_SO = os.path.join(harness.BUILD_ROOT, "bench", "sink.so")
RAW_SEND = os.path.join(harness.BUILD_ROOT, "bench", "raw-send")


# ------------------------------------------------------------------ helpers

def vm_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("%s not found for pid %d" % (field, pid))


def cpu_s(pid):
    """User + system CPU time of a process so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rollup_kb(pid):
    """Rss, Pss and private (clean + dirty) of a process, from smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return {"rss": out.get("Rss", 0), "pss": out.get("Pss", 0),
            "private": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)}


def db_ro(bridge):
    """A read connection to the bridge's store, whichever the backend."""
    if ARGS.database:
        import psycopg
        return psycopg.connect(ARGS.database, autocommit=True)
    path = os.path.join(bridge.dir, "passerelle.db")
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)


def count_rows(db, room_id, legacy_like):
    """Message-map rows of a room whose legacy id matches a LIKE pattern:
    's%' are the plugin's answers to sends, 'm%' the sink's own messages."""
    mark = "%s" if ARGS.database else "?"
    for _ in range(50):
        try:
            return db.execute("SELECT count(*) FROM messages WHERE room_id=%s AND legacy_id LIKE %s"
                              % (mark, mark), (room_id, legacy_like)).fetchone()[0]
        except sqlite3.OperationalError:  # busy during a checkpoint: retry
            time.sleep(0.01)
    raise RuntimeError("message map unreadable")


def poll_count(db, room_id, like, target, timeout, interval=0.005):
    deadline = time.monotonic() + timeout
    n = count_rows(db, room_id, like)
    while n < target:
        if time.monotonic() > deadline:
            raise AssertionError("timed out: %d of %d rows" % (n, target))
        time.sleep(interval)
        n = count_rows(db, room_id, like)
    return time.monotonic()


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%d cores (%s), %.1f GB RAM, Linux %s, Python %s" % (
        os.cpu_count(), cpu, mem_gb, platform.release(), platform.python_version())


# ------------------------------------------------------------------ setup

def login_agent(stack):
    """An agent logged into the sink network, with its DM portal joined."""
    agent = Agent(stack, "bench")
    mgmt = open_management_room(agent)
    n0 = len(agent.messages(mgmt, sender="@passerelle:localhost"))
    agent.text(mgmt, "login sink")
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), timeout=60, what="login complete")
    portal = agent.wait_invite(lambda a, r: a.inviter(r) == PEER_GHOST, timeout=60)
    agent.join(portal)
    db = db_ro(stack.bridge)
    poll_count(db, portal, "m%", 1, 60)  # the connect message is bridged
    db.close()
    return agent, portal


# ------------------------------------------------------------------ 3. RSS

def bench_rss(stack, results):
    """Host RSS idle, empty store; then with N ghosts and N portals."""
    b = stack.bridge
    time.sleep(3)  # idle: start-up work (bot registration, timers) is over
    empty = vm_kb(b.proc.pid)
    empty_hwm = vm_kb(b.proc.pid, "VmHWM")
    empty_anon = vm_kb(b.proc.pid, "RssAnon")
    empty_file = vm_kb(b.proc.pid, "RssFile")
    empty_rollup = rollup_kb(b.proc.pid)
    b.stop()
    n = ARGS.ghosts
    db = sqlite3.connect(os.path.join(b.dir, "passerelle.db"))
    with db:
        db.executemany("INSERT INTO ghosts (mxid, plugin, legacy_id, registered, displayname) "
                       "VALUES (?, 'sink', ?, 1, ?)",
                       (("@%ssink_bench%d:localhost" % (GHOST_PREFIX, i), "bench%d" % i,
                         "Bench contact %d" % i) for i in range(n)))
        db.executemany("INSERT INTO portals (plugin, login_id, chat_id, room_id, kind, name) "
                       "VALUES ('sink', 'bench-login', ?, ?, 'dm', NULL)",
                       (("bench%d" % i, "!bench%d:localhost" % i) for i in range(n)))
    db.close()
    b.start()
    time.sleep(3)
    full = vm_kb(b.proc.pid)
    full_hwm = vm_kb(b.proc.pid, "VmHWM")
    # Leave the store as the other benchmarks expect it.
    b.stop()
    db = sqlite3.connect(os.path.join(b.dir, "passerelle.db"))
    with db:
        db.execute("DELETE FROM ghosts WHERE mxid LIKE ?", ("@%ssink_bench%%" % GHOST_PREFIX,))
        db.execute("DELETE FROM portals WHERE login_id = 'bench-login'")
    db.close()
    b.start()
    results["rss"] = {"host_empty_kb": empty, "host_empty_hwm_kb": empty_hwm,
                      "host_empty_anon_kb": empty_anon, "host_empty_file_kb": empty_file,
                      "host_empty_pss_kb": empty_rollup["pss"],
                      "host_empty_private_kb": empty_rollup["private"],
                      "host_full_kb": full, "host_full_hwm_kb": full_hwm, "rows": n}


def worker_rss(stack, results):
    time.sleep(2)
    pids = stack.bridge.worker_pids()
    if pids:
        results.setdefault("rss", {})["worker_kb"] = vm_kb(pids[0][0])
        results["rss"]["worker_count"] = len(pids)


# ------------------------------------------------------------------ 1. ingest

def bench_ingest(stack, agent, portal, results):
    rounds = []
    for rnd in range(ARGS.ingest_rounds):
        one = {}
        ingest_round(stack, agent, portal, one, perf=ARGS.perf if rnd == 0 else None)
        rounds.append(one["ingest"])
    rates = sorted(r["events_per_s"] for r in rounds)
    res = dict(rounds[-1])
    res["rounds"] = rounds
    res["rates_min_median_max"] = [rates[0], (rates[(len(rates) - 1) // 2]
                                              + rates[len(rates) // 2]) / 2, rates[-1]]
    results["ingest"] = res


def ingest_round(stack, agent, portal, results, perf=None):
    b = stack.bridge
    db = db_ro(b)
    base = count_rows(db, portal, "s%")
    run = uuid.uuid4().hex[:8]
    now = int(time.time() * 1000)
    bodies = []
    k = 0
    for t in range(ARGS.txns):
        events = []
        for _ in range(ARGS.per_txn):
            k += 1
            events.append({"type": "m.room.message", "room_id": portal, "sender": agent.mxid,
                           "event_id": "$bench-%s-%d" % (run, k), "origin_server_ts": now + k,
                           "content": {"msgtype": "m.text", "body": "bench message %d" % k}})
        bodies.append(json.dumps({"events": events}).encode())
    total = k
    conn = http.client.HTTPConnection("127.0.0.1", b.as_port, timeout=60)
    hdrs = {"Authorization": "Bearer " + b.hs_token, "Content-Type": "application/json"}
    rss_before = vm_kb(b.proc.pid)
    perf_file, perf = perf, None
    if perf_file:
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph",
                                 os.environ.get("PA_PERF_CALL_GRAPH", "fp"), "-p",
                                 str(b.proc.pid), "-o", perf_file],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # let perf attach
    workers = [p for p, *_ in b.worker_pids()]
    cpu0 = cpu_s(b.proc.pid)
    wcpu0 = sum(cpu_s(p) for p in workers)
    t0 = time.monotonic()
    for t, body in enumerate(bodies):
        conn.request("PUT", "/_matrix/app/v1/transactions/bench-%s-%d" % (run, t), body, hdrs)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise AssertionError("transaction %d: HTTP %d" % (t, r.status))
    t_ack = time.monotonic()
    t_done = poll_count(db, portal, "s%", base + total, timeout=300)
    host_cpu = cpu_s(b.proc.pid) - cpu0
    worker_cpu = sum(cpu_s(p) for p in workers) - wcpu0
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
    conn.close()
    db.close()
    results["ingest"] = {
        "events": total, "txns": ARGS.txns, "ack_s": t_ack - t0, "total_s": t_done - t0,
        "process_after_ack_s": t_done - t_ack, "events_per_s": total / (t_done - t0),
        "ack_events_per_s": total / (t_ack - t0),
        "host_cpu_us_per_event": host_cpu * 1e6 / total,
        "worker_cpu_us_per_event": worker_cpu * 1e6 / total,
        "host_rss_before_kb": rss_before, "host_rss_after_kb": vm_kb(b.proc.pid),
        "host_hwm_kb": vm_kb(b.proc.pid, "VmHWM")}


# ------------------------------------------------------------------ 2. send path

def bridged_body_bytes(agent, portal):
    """Size of the JSON body the bridge sends for one sink message."""
    for ev in reversed(agent.history(portal, limit=10000)):
        if ev.get("sender") == PEER_GHOST and ev.get("type") == "m.room.message":
            return len(json.dumps(ev["content"], separators=(",", ":"), ensure_ascii=False)
                       .encode())
    raise AssertionError("no bridged message found")


def bench_send(stack, agent, portal, results, key="send"):
    b = stack.bridge
    db = db_ro(b)
    rounds = []
    body_bytes = None
    for rnd in range(ARGS.rounds):
        # Bridge side: the sink floods, the host puts each message into Synapse.
        base = count_rows(db, portal, "m%")
        workers = [p for p, *_ in b.worker_pids()]
        cpu0 = cpu_s(b.proc.pid)
        wcpu0 = sum(cpu_s(p) for p in workers)
        t0 = time.monotonic()
        agent.text(portal, "flood %d" % ARGS.flood)
        t1 = poll_count(db, portal, "m%", base + ARGS.flood, timeout=600, interval=0.01)
        rounds.append({"side": "bridge", "round": rnd + 1, "count": ARGS.flood,
                       "seconds": t1 - t0, "rate": ARGS.flood / (t1 - t0),
                       "host_cpu_us_per_msg": (cpu_s(b.proc.pid) - cpu0) * 1e6 / ARGS.flood,
                       "worker_cpu_us_per_msg":
                           (sum(cpu_s(p) for p in workers) - wcpu0) * 1e6 / ARGS.flood})
        if body_bytes is None:
            body_bytes = bridged_body_bytes(agent, portal)
        # Raw side: the same sends from one keep-alive libcurl handle.
        cpu0 = cpu_s(b.proc.pid)
        out = subprocess.run([RAW_SEND, stack.synapse.url, portal, b.as_token, PEER_GHOST,
                              str(ARGS.flood), str(body_bytes), "raw%d" % rnd],
                             check=True, capture_output=True, text=True).stdout
        kv = dict(x.split("=", 1) for x in out.split())
        rounds.append({"side": "raw", "round": rnd + 1, "count": int(kv["count"]),
                       "seconds": float(kv["seconds"]), "rate": float(kv["rate"]),
                       # the host still handles the echo of each message (an AS transaction)
                       "host_cpu_us_per_msg": (cpu_s(b.proc.pid) - cpu0) * 1e6 / ARGS.flood,
                       "worker_cpu_us_per_msg": 0.0})
    db.close()
    bridge_rates = [r["rate"] for r in rounds if r["side"] == "bridge"]
    raw_rates = [r["rate"] for r in rounds if r["side"] == "raw"]
    pairs = sorted(b_ / r_ for b_, r_ in zip(bridge_rates, raw_rates))
    results[key] = {"rounds": rounds, "body_bytes": body_bytes,
                       "pair_ratios_min_median_max": [
                           pairs[0], (pairs[(len(pairs) - 1) // 2] + pairs[len(pairs) // 2]) / 2,
                           pairs[-1]],
                       "ratio": (sum(bridge_rates) / len(bridge_rates))
                       / (sum(raw_rates) / len(raw_rates))}


def set_metrics(stack, enabled):
    """metrics: in the bridge's config (a free port when enabled)."""
    import yaml
    with open(stack.bridge.config) as f:
        cfg = yaml.safe_load(f)
    cfg["metrics"] = {"enabled": enabled, "bind": "127.0.0.1", "port": harness.free_port()}
    with open(stack.bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)
    return cfg["metrics"]["port"]


def scrape_counter(port, sample):
    """The value of one sample line of the bridge's /metrics, 0 if absent."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
    return 0.0


def bench_metrics_cost(stack, agent, portal, results):
    """The same send rounds again with metrics on (the bridge restarted with
    them), and the host CPU per message compared with the rounds before."""
    b = stack.bridge
    b.stop()
    port = set_metrics(stack, True)
    b.start()
    # The saved sink login reconnects at once; give it a moment.
    wait_until(lambda: b.worker_pids(), 60, what="the sink worker")
    time.sleep(3)
    base = scrape_counter(port, 'passerelle_messages_bridged_total{plugin="sink",'
                                'direction="to_matrix"}')
    bench_send(stack, agent, portal, results, key="send_metrics_on")
    time.sleep(1)
    counted = scrape_counter(port, 'passerelle_messages_bridged_total{plugin="sink",'
                                   'direction="to_matrix"}') - base

    def host_us(key):
        r = [x["host_cpu_us_per_msg"] for x in results[key]["rounds"] if x["side"] == "bridge"]
        return sum(r) / len(r)

    results["metrics_cost"] = {"off_us": host_us("send"), "on_us": host_us("send_metrics_on"),
                               "counted": int(counted), "sent": ARGS.flood * ARGS.rounds}


# ------------------------------------------------------------------ report

def report(results):
    rows = []
    if "ingest" in results:
        i = results["ingest"]
        if len(i["rounds"]) > 1:
            for n, r in enumerate(i["rounds"]):
                rows.append(("1. ingest round %d" % (n + 1),
                             "%.0f events/s (%.3f s; CPU/event host %.0f us, worker %.0f us)" % (
                                 r["events_per_s"], r["total_s"], r["host_cpu_us_per_event"],
                                 r["worker_cpu_us_per_event"]),
                             "", "%.2f" % (r["events_per_s"] / 20000)))
            lo, med, hi = i["rates_min_median_max"]
            rows.append(("1. transaction ingest, min / median / max of %d rounds"
                         % len(i["rounds"]), "%.0f / %.0f / %.0f events/s" % (lo, med, hi),
                         ">= 20,000 events/s", "%.2f / %.2f / %.2f" % (
                             lo / 20000, med / 20000, hi / 20000)))
            rows.append(("   last round:", "", "", ""))
        rows.append(("1. transaction ingest (HS->AS->worker->plugin->map)",
                     "%.0f events/s" % i["events_per_s"], ">= 20,000 events/s",
                     "%.2f" % (i["events_per_s"] / 20000)))
        rows.append(("   HTTP ack of %d txns x %d events" % (i["txns"], ARGS.per_txn),
                     "%.3f s (%.0f events/s)" % (i["ack_s"], i["ack_events_per_s"]), "", ""))
        rows.append(("   processing after the last ack",
                     "%.3f s (total %.3f s)" % (i["process_after_ack_s"], i["total_s"]), "", ""))
    for key in ("send", "send_metrics_on"):
        if key not in results:
            continue
        s = results[key]
        if key == "send_metrics_on" or "send_metrics_on" in results:
            rows.append(("2. send path with metrics %s" % ("on" if key != "send" else "off"),
                         "", "", ""))
        for r in s["rounds"]:
            extra = ""
            if "host_cpu_us_per_msg" in r:
                extra = "; CPU/msg host %.0f us, worker %.0f us" % (r["host_cpu_us_per_msg"],
                                                                   r["worker_cpu_us_per_msg"])
            rows.append(("2. legacy->Matrix, %s round %d (%d msgs)" % (r["side"], r["round"],
                                                                      r["count"]),
                         "%.1f msgs/s (%.2f s%s)" % (r["rate"], r["seconds"], extra), "", ""))
        lo, med, hi = s["pair_ratios_min_median_max"]
        rows.append(("   bridge / raw per round, min / median / max",
                     "%.3f / %.3f / %.3f" % (lo, med, hi), ">= 0.95",
                     "%.2f / %.2f / %.2f" % (lo / 0.95, med / 0.95, hi / 0.95)))
        rows.append(("   bridge / raw libcurl loop (%d-byte bodies)" % s["body_bytes"],
                     "%.3f" % s["ratio"], ">= 0.95", "%.2f" % (s["ratio"] / 0.95)))
    if "metrics_cost" in results:
        m = results["metrics_cost"]
        rows.append(("   host CPU/msg, bridge rounds: metrics off / on",
                     "%.1f / %.1f us (%+.1f us, %+.1f %%)" % (
                         m["off_us"], m["on_us"], m["on_us"] - m["off_us"],
                         100 * (m["on_us"] - m["off_us"]) / m["off_us"]), "", ""))
        rows.append(("   messages counted by the metrics (to_matrix)",
                     "%d of %d sent" % (m["counted"], m["sent"]), "", ""))
    if "rss" in results:
        r = results["rss"]
        if "host_empty_kb" in r:
            rows.append(("3. host VmRSS idle, empty store", "%.1f MB" % (r["host_empty_kb"] / 1024),
                         "<= 12 MB", "%.2f" % (r["host_empty_kb"] / 1024 / 12)))
            rows.append(("   of which anonymous / file-backed (libraries)",
                         "%.1f / %.1f MB" % (r["host_empty_anon_kb"] / 1024,
                                             r["host_empty_file_kb"] / 1024), "", ""))
            rows.append(("   PSS / private (clean + dirty)",
                         "%.1f / %.1f MB" % (r["host_empty_pss_kb"] / 1024,
                                             r["host_empty_private_kb"] / 1024), "", ""))
            rows.append(("   host VmRSS idle, %d ghosts + %d portals" % (r["rows"], r["rows"]),
                         "%.1f MB" % (r["host_full_kb"] / 1024), "<= 12 MB",
                         "%.2f" % (r["host_full_kb"] / 1024 / 12)))
        if "worker_kb" in r:
            rows.append(("   one idle worker VmRSS (sink plugin)",
                         "%.1f MB" % (r["worker_kb"] / 1024), "", ""))
    if "ingest" in results:
        i = results["ingest"]
        rows.append(("   host VmRSS after ingest (VmHWM)", "%.1f MB (%.1f MB)" % (
            i["host_rss_after_kb"] / 1024, i["host_hwm_kb"] / 1024), "", ""))
    w = [max(len(r[c]) for r in rows + [("figure", "measured", "aim", "ratio")])
         for c in range(4)]
    line = "  ".join("%-*s" % (w[c], ("figure", "measured", "aim", "ratio")[c]) for c in range(4))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join("%-*s" % (w[c], r[c]) for c in range(4)))
    print("machine:", machine())


def main():
    for path in (harness.PASSERELLE, SINK_SO, RAW_SEND):
        if not os.path.exists(path):
            sys.exit("missing %s: run `meson setup %s --buildtype=release && ninja -C %s`"
                     % (path, ARGS.build, ARGS.build))
    results = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
               "command": " ".join(sys.argv)}
    t_start = time.monotonic()
    stack = Stack(plugins=(SINK_SO,), ministry_plugins=("sink",))
    if ARGS.database:
        import yaml
        with open(stack.bridge.config) as f:
            cfg = yaml.safe_load(f)
        cfg["database"] = ARGS.database
        with open(stack.bridge.config, "w") as f:
            yaml.safe_dump(cfg, f)
        results["database"] = "postgresql"
    if ARGS.sandbox:
        import yaml
        with open(stack.bridge.config) as f:
            cfg = yaml.safe_load(f)
        cfg["workers"]["sandbox"] = ARGS.sandbox
        with open(stack.bridge.config, "w") as f:
            yaml.safe_dump(cfg, f)
        results["sandbox"] = ARGS.sandbox
    if ARGS.metrics == "on":
        set_metrics(stack, True)
    results["metrics"] = ARGS.metrics
    agent = None
    try:
        stack.start()
        if "rss" in ARGS.only:
            bench_rss(stack, results)
        agent, portal = login_agent(stack)
        if "rss" in ARGS.only:
            worker_rss(stack, results)
        if "ingest" in ARGS.only:
            bench_ingest(stack, agent, portal, results)
        if "send" in ARGS.only:
            bench_send(stack, agent, portal, results)
            if ARGS.metrics == "both":
                bench_metrics_cost(stack, agent, portal, results)
    finally:
        if agent is not None:
            agent.close()
        stack.close()
    results["wall_s"] = time.monotonic() - t_start
    report(results)
    print("wall time: %.0f s" % results["wall_s"])
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
