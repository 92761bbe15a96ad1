#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Thousands of idle logins on one host (issue 16): memory, start-up, per-message cost.

    bench/logins-scale.py [--build DIR] [--logins 100,1000,10000] [--cpu-at 10,1000,10000]
                          [--messages 500] [--logins-per-worker N] [--json FILE]

One Synapse, one bridge with the sink plugin, one agent logged in with its DM
portal.  Then, for each size N (the union of --logins and --cpu-at, smallest
first), the bridge is stopped, N - 1 more saved sink logins are written into
its store (idle: plugins.sink.connect_flood is 0, so they bridge nothing), and
the bridge is started again; the clock runs from the start until every login's
row says `connected`.  Reported per size: the time to start them all, the
host's RSS and PSS and descriptors, the total PSS of host + workers and the
workers' PSS per login; at the --cpu-at sizes also the host's CPU per outgoing
message: --messages Matrix events, one per appservice transaction, from the
agent into its portal, each answered by the sink, timed until the message map
holds them all.  Builds nothing: `meson setup build-bench --buildtype=release
&& ninja -C build-bench` first.  Results: docs/benchmarks.md, "Ministry scale
(issue 16)".
"""

import argparse
import http.client
import json
import os
import socket
import sqlite3
import sys
import time
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
GHOST_PREFIX = "_pa_"
PEER_GHOST = "@%ssink_peer:localhost" % GHOST_PREFIX


def sizes(text):
    out = sorted({int(x) for x in text.split(",") if x.strip()})
    if not out or out[0] < 1:
        raise argparse.ArgumentTypeError("a comma list of positive numbers")
    return out


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE_ROOT, "build-bench"),
                   help="meson build dir (default: build-bench)")
    p.add_argument("--logins", type=sizes, default=sizes("100,1000,10000"),
                   help="login counts for memory and start-up (default 100,1000,10000)")
    p.add_argument("--cpu-at", type=sizes, default=sizes("10,1000,10000"),
                   help="login counts at which the CPU per message is measured")
    p.add_argument("--messages", type=int, default=500,
                   help="outgoing messages per CPU measure (one per transaction)")
    p.add_argument("--logins-per-worker", type=int, metavar="N",
                   help="write workers.logins_per_worker: {sink: N} into the config")
    p.add_argument("--start-timeout", type=int, default=1800,
                   help="seconds allowed for all logins of one size to connect")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if not 1 <= args.messages <= 100000:
        p.error("--messages must be in 1..100000")
    return args


ARGS = parse_args()
os.environ["PA_BUILD_ROOT"] = os.path.abspath(ARGS.build)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
import harness  # noqa: E402  (needs PA_BUILD_ROOT set first)
from harness import Agent, Stack, bot_says, open_management_room, wait_until  # noqa: E402

SINK_SO = os.path.join(harness.BUILD_ROOT, "bench", "sink.so")


# ------------------------------------------------------------------ helpers

def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rollup_kb(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    out[parts[0][:-1]] = int(parts[1])
    except OSError:
        pass
    return {"rss": out.get("Rss", 0), "pss": out.get("Pss", 0),
            "private": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)}


def children(pid):
    """The host's direct children (its workers, whatever their executable)."""
    out = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            out = [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def db_rw(bridge):
    return sqlite3.connect(os.path.join(bridge.dir, "passerelle.db"), timeout=30)


def db_ro(bridge):
    path = os.path.join(bridge.dir, "passerelle.db")
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)


def query(db, sql, args=()):
    for _ in range(100):
        try:
            return db.execute(sql, args).fetchone()[0]
        except sqlite3.OperationalError:  # busy during a checkpoint
            time.sleep(0.02)
    raise RuntimeError("store unreadable")


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    return "%d cores (%s), %.1f GB RAM" % (os.cpu_count(), cpu, mem_gb)


def edit_config(bridge, fn):
    with open(bridge.config) as f:
        cfg = yaml.safe_load(f)
    fn(cfg)
    with open(bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)


def quiet(pid, settle_s=1.0, max_cpu=0.05, timeout=600):
    """Wait until the host uses under max_cpu of a core over settle_s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c0 = cpu_s(pid)
        time.sleep(settle_s)
        if cpu_s(pid) - c0 < max_cpu * settle_s:
            return
    raise AssertionError("the host never went quiet")


# ------------------------------------------------------------------ steps

def login_agent(stack):
    agent = Agent(stack, "bench")
    mgmt = open_management_room(agent)
    n0 = len(agent.messages(mgmt, sender="@passerelle:localhost"))
    agent.text(mgmt, "login sink")
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), timeout=60, what="login complete")
    portal = agent.wait_invite(lambda a, r: a.inviter(r) == PEER_GHOST, timeout=60)
    agent.join(portal)
    return agent, portal


def set_logins(bridge, n):
    """N saved sink logins in the store (the agent's own plus bench ones), all
    'connecting' so that the bridge's 'connected' marks each one up."""
    db = db_rw(bridge)
    with db:
        have = query(db, "SELECT count(*) FROM logins WHERE id LIKE 'sink-scale%'")
        want = n - 1
        if have > want:
            db.execute("DELETE FROM logins WHERE id LIKE 'sink-scale%' AND id >= ?",
                       ("sink-scale%06d" % want,))
        db.executemany("INSERT OR IGNORE INTO logins (id, owner, plugin, remote_id, remote_name, "
                       "state) VALUES (?, '@bench:localhost', 'sink', 'sink-me', 'Sink', "
                       "'connecting')", (("sink-scale%06d" % i,) for i in range(want)))
        db.execute("UPDATE logins SET state='connecting'")
    db.close()


def start_all(stack, n):
    b = stack.bridge
    set_logins(b, n)
    t0 = time.monotonic()
    b.start(wait=False)
    db = db_ro(b)
    try:
        wait_until(lambda: b._dead() or query(db, "SELECT count(*) FROM logins WHERE "
                                                  "state='connected'") >= n,
                   timeout=ARGS.start_timeout, interval=0.05,
                   what="%d logins to connect" % n)
    finally:
        db.close()
    if b._dead():
        raise AssertionError("passerelle exited: " + b.tail())
    return time.monotonic() - t0


def memory(stack, n):
    pid = stack.bridge.proc.pid
    host = rollup_kb(pid)
    kids = children(pid)
    rolls = [rollup_kb(k) for k in kids]
    worker_pss = sum(r["pss"] for r in rolls)
    mean = {k: sum(r[k] for r in rolls) / max(len(rolls), 1) for k in ("rss", "pss", "private")}
    return {"logins": n, "workers": len(kids), "host_rss_kb": status_kb(pid, "VmRSS"),
            "worker_mean_rss_kb": mean["rss"], "worker_mean_pss_kb": mean["pss"],
            "worker_mean_private_kb": mean["private"],
            "host_pss_kb": host["pss"], "host_fds": len(os.listdir("/proc/%d/fd" % pid)),
            "total_pss_kb": host["pss"] + worker_pss,
            "worker_pss_per_login_kb": worker_pss / n,
            "pss_per_login_kb": (host["pss"] + worker_pss) / n}


def cpu_per_message(stack, agent, portal):
    """Host CPU per outgoing message: one event per transaction, back to back."""
    b = stack.bridge
    db = db_ro(b)
    # By event id: the sink's answer ids ("s<n>") start again with each run.
    run = uuid.uuid4().hex[:8]
    count = "SELECT count(*) FROM messages WHERE room_id=? AND event_id LIKE ?"
    like = "$scale-%s-%%" % run
    now = int(time.time() * 1000)
    conn = http.client.HTTPConnection("127.0.0.1", b.as_port, timeout=60)
    conn.connect()
    # Headers and body leave in two writes: no Nagle wait on the second.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    hdrs = {"Authorization": "Bearer " + b.hs_token, "Content-Type": "application/json"}
    pid = b.proc.pid
    cpu0 = cpu_s(pid)
    t0 = time.monotonic()
    for k in range(ARGS.messages):
        ev = {"type": "m.room.message", "room_id": portal, "sender": agent.mxid,
              "event_id": "$scale-%s-%d" % (run, k), "origin_server_ts": now + k,
              "content": {"msgtype": "m.text", "body": "scale message %d" % k}}
        conn.request("PUT", "/_matrix/app/v1/transactions/scale-%s-%d" % (run, k),
                     json.dumps({"events": [ev]}).encode(), hdrs)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise AssertionError("transaction %d: HTTP %d" % (k, r.status))
    wait_until(lambda: query(db, count, (portal, like)) >= ARGS.messages, timeout=600,
               interval=0.01, what="the messages to be answered")
    elapsed = time.monotonic() - t0
    cpu = cpu_s(pid) - cpu0
    conn.close()
    db.close()
    return {"messages": ARGS.messages, "host_cpu_us_per_message": cpu * 1e6 / ARGS.messages,
            "wall_ms_per_message": elapsed * 1e3 / ARGS.messages}


# ------------------------------------------------------------------ report

def report(results):
    print()
    print("Machine: %s" % results["machine"])
    if results.get("logins_per_worker_note"):
        print(results["logins_per_worker_note"])
    print("%8s %9s %10s %10s %9s %12s %12s %10s %12s" % (
        "logins", "start s", "host RSS", "host PSS", "host fds", "total PSS", "PSS/login",
        "workers", "CPU/msg µs"))
    for r in results["sizes"]:
        mem = r.get("memory", {})
        print("%8d %9s %8.1fMB %8.1fMB %9s %10.1fMB %10.2fMB %10s %12s" % (
            r["logins"], "%.1f" % r["start_s"],
            mem.get("host_rss_kb", 0) / 1024, mem.get("host_pss_kb", 0) / 1024,
            mem.get("host_fds", "?"), mem.get("total_pss_kb", 0) / 1024,
            mem.get("pss_per_login_kb", 0) / 1024, mem.get("workers", "?"),
            "%.1f" % r["cpu"]["host_cpu_us_per_message"] if "cpu" in r else "-"))
    if results.get("stopped"):
        print("Stopped: %s" % results["stopped"])


def main():
    results = {"machine": machine(), "sizes": [], "build": os.path.abspath(ARGS.build)}
    stack = Stack(plugins=(SINK_SO,), ministry_plugins=("sink",))
    if ARGS.logins_per_worker is not None:
        edit_config(stack.bridge, lambda c: c.setdefault("workers", {}).setdefault(
            "logins_per_worker", {}).update({"sink": ARGS.logins_per_worker}))
    try:
        stack.synapse.start()
        try:
            stack.bridge.start()
        except AssertionError:
            if ARGS.logins_per_worker is None:
                raise
            results["logins_per_worker_note"] = (
                "workers.logins_per_worker refused by this build: " + stack.bridge.tail(3))
            print(results["logins_per_worker_note"])
            edit_config(stack.bridge, lambda c: c["workers"].pop("logins_per_worker"))
            stack.bridge.start()
        if ARGS.logins_per_worker is not None and stack.bridge._log_contains(
                "workers.logins_per_worker: unknown key"):
            results["logins_per_worker_note"] = (
                "workers.logins_per_worker is not known to this build: ignored, one worker "
                "per login")
            print(results["logins_per_worker_note"])
        agent, portal = login_agent(stack)
        # From now on logins connect silently (no message, no portal each).
        edit_config(stack.bridge, lambda c: c.setdefault("plugins", {}).setdefault(
            "sink", {}).update({"connect_flood": 0}))
        for n in sorted(set(ARGS.logins) | set(ARGS.cpu_at)):
            stack.bridge.stop()
            try:
                start_s = start_all(stack, n)
            except AssertionError as e:
                results["stopped"] = "at %d logins: %s" % (n, str(e)[:400])
                print(results["stopped"])
                break
            quiet(stack.bridge.proc.pid)
            r = {"logins": n, "start_s": start_s}
            if n in ARGS.logins:
                r["memory"] = memory(stack, n)
            if n in ARGS.cpu_at:
                r["cpu"] = cpu_per_message(stack, agent, portal)
            print(json.dumps(r))
            results["sizes"].append(r)
        agent.close()
    finally:
        stack.close()
    report(results)
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
