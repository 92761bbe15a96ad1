#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Benchmarks of the history import (issue 4): export parsing and import into Synapse.

    bench/bench-import.py [--build DIR] [--only parse,import] [--sizes 100000,1000000]
                          [--runs 3] [--import-count 2000] [--rounds 2]
                          [--data-dir DIR] [--json FILE]

1. parse: bench-wa-parse (our streaming parser, 64 KiB chunks) against the npm
   parser whatsapp-chat-parser 4.x (node, bench/node_modules: run `npm ci` in
   bench/ first) on the same generated French Android exports
   (bench/gen-whatsapp-export.py), alternated, --runs times each per size.
   Throughput is file bytes / (read + parse) time measured inside each
   program; peak RSS is the VmHWM each program reads from /proc/self/status at its end.
2. import: `passerelle import loopback FILE` of --import-count text messages
   in one chat against a harness Stack (Synapse from PyPI + passerelle), timed
   from the CLI's start to its exit after "Imported", against raw-send (the
   same sends in a bare libcurl loop, same room, one of the import's ghosts,
   same body size).  Alternated, --rounds times each; ratio = mean rates.

Builds nothing: `meson setup build-bench-import -Dwerror=true --buildtype=release
&& ninja -C build-bench-import` first.  The 1-minute load average is recorded
before each measurement (the machine may be shared).  See bench/README.md
and docs/benchmarks-import.md.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
GEN = os.path.join(HERE, "gen-whatsapp-export.py")
NPM_PARSER = os.path.join(HERE, "node_modules", "whatsapp-chat-parser")
IMPORT_MARK = "fr.passerelle.import"
GHOST = "@_pa_loopback_u0:localhost"
MAX_COUNT = 5000000

# The npm side: read the whole file (the package has no streaming API), call
# parseString, print the count and the time of the read + parse.
NODE_SCRIPT = r"""
const fs = require('fs');
const { parseString } = require('whatsapp-chat-parser');
const t0 = process.hrtime.bigint();
const text = fs.readFileSync(process.argv[1], 'utf8');
const messages = parseString(text);
const t1 = process.hrtime.bigint();
const hwm = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
console.log(`messages=${messages.length} seconds=${Number(t1 - t0) / 1e9} vm_hwm_kb=${hwm}`);
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE_ROOT, "build-bench-import"),
                   help="meson build dir (default: build-bench-import)")
    p.add_argument("--only", default="parse,import", help="comma list of: parse, import")
    p.add_argument("--sizes", default="100000,1000000",
                   help="parse: messages per generated export, comma list")
    p.add_argument("--runs", type=int, default=3, help="parse: runs of each side per size")
    p.add_argument("--import-count", type=int, default=2000, help="import: messages per round")
    p.add_argument("--rounds", type=int, default=2, help="import: rounds of each side")
    p.add_argument("--data-dir", help="keep (and reuse) the generated exports here "
                   "(default: a temporary directory, removed at the end)")
    p.add_argument("--json", help="also write every raw number to this file")
    args = p.parse_args()
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    bad = args.only - {"parse", "import"}
    if bad:
        p.error("unknown benchmark(s): " + ", ".join(sorted(bad)))
    try:
        args.sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        p.error("--sizes must be a comma list of integers")
    if not args.sizes or not all(2 <= n <= MAX_COUNT for n in args.sizes):
        p.error("--sizes: each in 2..%d" % MAX_COUNT)
    for name, hi in (("runs", 100), ("import_count", 100000), ("rounds", 100)):
        if not 1 <= getattr(args, name) <= hi:
            p.error("--%s must be in 1..%d" % (name.replace("_", "-"), hi))
    return args


ARGS = parse_args()
os.environ["PA_BUILD_ROOT"] = os.path.abspath(ARGS.build)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
if "import" in ARGS.only:
    import harness  # noqa: E402  (needs PA_BUILD_ROOT set first)
BENCH_PARSE = os.path.join(os.path.abspath(ARGS.build), "bench", "bench-wa-parse")
RAW_SEND = os.path.join(os.path.abspath(ARGS.build), "bench", "raw-send")
PASSERELLE = os.path.join(os.path.abspath(ARGS.build), "src", "passerelle")


# ------------------------------------------------------------------ helpers

def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


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


def tool_version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def run_measured(cmd, cwd=None, env=None):
    """Runs cmd; returns (stdout, wall seconds).  Peak RSS is not taken from
    wait4(2) or getrusage: Linux folds the RSS high-water mark of the forked
    Python parent (before exec) into ru_maxrss, so each program prints its
    own VmHWM (per address space, reset by exec) instead."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], p.returncode, p.stderr[-2000:]))
    return p.stdout, wall


def cpu_s(pid, children=False):
    """CPU seconds (user + system) of a process, plus its reaped children's."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def stack_cpu(stack):
    """CPU seconds so far of the bridge (host, reaped and live workers) and of Synapse."""
    bridge = cpu_s(stack.bridge.proc.pid, children=True)
    for pid, _ in stack.bridge.worker_pids():
        try:
            bridge += cpu_s(pid)
        except OSError:
            pass
    return {"bridge": bridge, "synapse": cpu_s(stack.synapse.proc.pid)}


def cpu_delta(before, after):
    return {k: round(after[k] - before[k], 2) for k in before}


def summary(values):
    return {"best": max(values), "median": statistics.median(values), "worst": min(values)}


# ------------------------------------------------------------------ 1. parse

def npm_version():
    with open(os.path.join(NPM_PARSER, "package.json")) as f:
        return json.load(f)["version"]


def export_path(data_dir, n):
    path = os.path.join(data_dir, "wa-fr-android-%d.txt" % n)
    if not os.path.exists(path):
        t0 = time.monotonic()
        subprocess.run([sys.executable, GEN, str(n), path + ".part"], check=True)
        os.replace(path + ".part", path)
        print("generated %s (%.1f MB) in %.0f s" % (path, os.path.getsize(path) / 1e6,
                                                     time.monotonic() - t0), flush=True)
    return path


def bench_parse(data_dir, results):
    env = dict(os.environ, TZ="Europe/Paris")
    out = []
    for n in ARGS.sizes:
        path = export_path(data_dir, n)
        size = os.path.getsize(path)
        runs = []
        for r in range(ARGS.runs):
            load = load1()
            line, wall = run_measured([BENCH_PARSE, path, "65536", "Europe/Paris"])
            v = kv(line)
            runs.append({"side": "ours", "run": r + 1, "load1": load,
                         "messages": int(v["messages"]), "seconds": float(v["seconds"]),
                         "mb_per_s": size / 1e6 / float(v["seconds"]), "wall_s": wall,
                         "vm_hwm_kb": int(v["vm_hwm_kb"]), "detail": v})
            load = load1()
            line, wall = run_measured(["node", "-e", NODE_SCRIPT, path], cwd=HERE, env=env)
            v = kv(line)
            runs.append({"side": "npm", "run": r + 1, "load1": load,
                         "messages": int(v["messages"]), "seconds": float(v["seconds"]),
                         "mb_per_s": size / 1e6 / float(v["seconds"]), "wall_s": wall,
                         "vm_hwm_kb": int(v["vm_hwm_kb"])})
            # the floor: `wc -l` reads the same file and finds its lines
            t0 = time.monotonic()
            subprocess.run(["wc", "-l", path], check=True, stdout=subprocess.DEVNULL)
            wc_s = time.monotonic() - t0
            runs.append({"side": "wc", "run": r + 1, "load1": load, "seconds": wc_s,
                         "mb_per_s": size / 1e6 / wc_s})
            print("parse %d msgs run %d: ours %.0f MB/s %.1f MB, npm %.1f MB/s %.0f MB, "
                  "wc -l %.0f MB/s: %.1fx npm, %.0f %% of wc -l (load %.2f)"
                  % (n, r + 1, runs[-3]["mb_per_s"], runs[-3]["vm_hwm_kb"] / 1024,
                     runs[-2]["mb_per_s"], runs[-2]["vm_hwm_kb"] / 1024, runs[-1]["mb_per_s"],
                     runs[-3]["mb_per_s"] / runs[-2]["mb_per_s"],
                     100 * runs[-3]["mb_per_s"] / runs[-1]["mb_per_s"], load), flush=True)
        ours = [x for x in runs if x["side"] == "ours"]
        npm = [x for x in runs if x["side"] == "npm"]
        entry = {"messages_generated": n, "bytes": size, "runs": runs,
                 "ours_mb_per_s": summary([x["mb_per_s"] for x in ours]),
                 "npm_mb_per_s": summary([x["mb_per_s"] for x in npm]),
                 "ours_vm_hwm_kb": max(x["vm_hwm_kb"] for x in ours),
                 "npm_vm_hwm_kb": max(x["vm_hwm_kb"] for x in npm),
                 "ours_messages": sorted({x["messages"] for x in ours}),
                 "npm_messages": sorted({x["messages"] for x in npm}),
                 "npm_version": npm_version()}
        entry["speed_ratio_median"] = (entry["ours_mb_per_s"]["median"]
                                       / entry["npm_mb_per_s"]["median"])
        entry["speed_ratio_best"] = entry["ours_mb_per_s"]["best"] / entry["npm_mb_per_s"]["best"]
        wc = [x for x in runs if x["side"] == "wc"]
        entry["speed_ratio_per_round"] = summary([o["mb_per_s"] / m["mb_per_s"]
                                                  for o, m in zip(ours, npm)])
        entry["wc_fraction_per_round"] = summary([o["mb_per_s"] / w["mb_per_s"]
                                                  for o, w in zip(ours, wc)])
        out.append(entry)
    results["parse"] = out


# ------------------------------------------------------------------ 2. import

def loopback_export(path, chat_id, name, n, t0=1600000000000):
    """n text messages in one chat, three senders, in the loopback plugin's format."""
    msgs = [{"id": "%s-%d" % (chat_id, i), "from": "u%d" % (i % 3),
             "from_name": "User %d" % (i % 3), "ts": t0 + i * 60000,
             "text": "message %d du dossier" % i} for i in range(n)]
    with open(path, "w") as f:
        json.dump({"chats": [{"id": chat_id, "name": name, "messages": msgs}]}, f)


def last_body_bytes(stack, room):
    """Size of the content of the newest imported event (raw-send pads to it)."""
    url = "%s/_matrix/client/v3/rooms/%s/messages?dir=b&limit=20&user_id=%s" % (
        stack.synapse.url, room.replace("!", "%21").replace(":", "%3A"),
        GHOST.replace("@", "%40").replace(":", "%3A"))
    status, body = harness.http("GET", url, token=stack.bridge.as_token)
    if status != 200:
        raise AssertionError("GET /messages: HTTP %d %r" % (status, body))
    for ev in body.get("chunk", []):
        if ev.get("type") == "m.room.message" and IMPORT_MARK in ev.get("content", {}):
            return len(json.dumps(ev["content"], separators=(",", ":"), ensure_ascii=False)
                       .encode())
    raise AssertionError("no imported event in the room")


def bench_import(data_dir, results):
    n = ARGS.import_count
    stack = harness.Stack()
    agent = None
    rounds = []
    body_bytes = None
    try:
        stack.start()
        agent = harness.Agent(stack, "alice")  # the owner must exist to be invited
        for rnd in range(ARGS.rounds):
            path = os.path.join(data_dir, "loopback-%d-r%d.json" % (n, rnd + 1))
            loopback_export(path, "bench%d" % (rnd + 1), "Bench %d" % (rnd + 1), n)
            load = load1()
            cmd = [PASSERELLE, "import", "loopback", path, "-c", stack.bridge.config,
                   "--user", agent.mxid]
            c0 = stack_cpu(stack)
            t0 = time.monotonic()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            dt = time.monotonic() - t0
            cpu = cpu_delta(c0, stack_cpu(stack))
            if p.returncode != 0 or "Imported" not in p.stdout:
                raise AssertionError("import failed: %s%s\n%s" % (p.stdout, p.stderr,
                                                                 stack.bridge.tail()))
            m = re.search(r"^room: (\S+)$", p.stdout, re.M)
            got = re.search(r"^(\d+) messages", p.stdout, re.M)
            if m is None or got is None or int(got.group(1)) != n:
                raise AssertionError("unexpected CLI output:\n" + p.stdout)
            room = m.group(1)
            rounds.append({"side": "import", "round": rnd + 1, "count": n, "seconds": dt,
                           "rate": n / dt, "load1": load, "room": room, "cpu_s": cpu,
                           "cli_stdout": p.stdout})
            print("import round %d: %d msgs in %.1f s = %.1f msgs/s (load %.2f, CPU s %r)"
                  % (rnd + 1, n, dt, n / dt, load, cpu), flush=True)
            if body_bytes is None:
                body_bytes = last_body_bytes(stack, room)
            load = load1()
            c0 = stack_cpu(stack)
            out = subprocess.run([RAW_SEND, stack.synapse.url, room, stack.bridge.as_token,
                                  GHOST, str(n), str(body_bytes), "raw%d" % rnd],
                                 check=True, capture_output=True, text=True).stdout
            cpu = cpu_delta(c0, stack_cpu(stack))
            v = kv(out)
            rounds.append({"side": "raw", "round": rnd + 1, "count": int(v["count"]),
                           "seconds": float(v["seconds"]), "rate": float(v["rate"]),
                           "load1": load, "room": room, "cpu_s": cpu})
            print("raw round %d: %s (load %.2f, CPU s %r)" % (rnd + 1, out.strip(), load, cpu),
                  flush=True)
    finally:
        if agent is not None:
            agent.close()
        stack.close()
    imp = [r["rate"] for r in rounds if r["side"] == "import"]
    raw = [r["rate"] for r in rounds if r["side"] == "raw"]
    # Per round: the import against the raw loop that ran right after it.
    per_round = [i / r for i, r in zip(imp, raw)]
    results["import"] = {"rounds": rounds, "body_bytes": body_bytes, "count": n,
                         "ratio": statistics.mean(imp) / statistics.mean(raw),
                         "ratio_per_round": per_round,
                         "ratio_median": statistics.median(per_round),
                         "ratio_best": max(per_round)}


# ------------------------------------------------------------------ report

def report(results):
    rows = []
    for e in results.get("parse", []):
        o, m = e["ours_mb_per_s"], e["npm_mb_per_s"]
        label = "%d msgs, %.1f MB" % (e["messages_generated"], e["bytes"] / 1e6)
        rows.append(("1. parse %s: ours (64 KiB chunks)" % label,
                     "%.0f MB/s median (best %.0f), peak RSS %.1f MB"
                     % (o["median"], o["best"], e["ours_vm_hwm_kb"] / 1024),
                     ">= 10x npm, <= 32 MB",
                     "%.1fx, RSS %.2f" % (e["speed_ratio_median"],
                                           e["ours_vm_hwm_kb"] / 1024 / 32)))
        rows.append(("   npm whatsapp-chat-parser %s" % e["npm_version"],
                     "%.1f MB/s median (best %.1f), peak RSS %.0f MB"
                     % (m["median"], m["best"], e["npm_vm_hwm_kb"] / 1024), "", ""))
        rows.append(("   messages found: ours / npm",
                     "%s / %s" % (",".join(map(str, e["ours_messages"])),
                                  ",".join(map(str, e["npm_messages"]))),
                     "equal", "ok" if e["ours_messages"] == e["npm_messages"] else "DIFFER"))
    if "import" in results:
        s = results["import"]
        for r in s["rounds"]:
            # CPU seconds spent meanwhile: where the time goes.
            extra = ", CPU bridge %.1f s, Synapse %.1f s" % (r["cpu_s"]["bridge"],
                                                            r["cpu_s"]["synapse"])
            who = "passerelle import" if r["side"] == "import" else "raw-send loop"
            rows.append(("2. %s, round %d (%d msgs)" % (who, r["round"], r["count"]),
                         "%.1f msgs/s (%.1f s%s; load %.2f)" % (r["rate"], r["seconds"], extra,
                                                                r["load1"]), "", ""))
        rows.append(("   import / raw libcurl loop (%d-byte bodies), means" % s["body_bytes"],
                     "%.3f" % s["ratio"], ">= 0.9", "%.2f" % (s["ratio"] / 0.9)))
        rows.append(("   per round: median / best",
                     "%.3f / %.3f" % (s["ratio_median"], s["ratio_best"]), "", ""))
    w = [max(len(r[c]) for r in rows + [("figure", "measured", "aim", "ratio")])
         for c in range(4)]
    line = "  ".join("%-*s" % (w[c], ("figure", "measured", "aim", "ratio")[c]) for c in range(4))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join("%-*s" % (w[c], r[c]) for c in range(4)))
    print("machine:", results["machine"])
    print("node %s" % results["node"])


def main():
    need = []
    if "parse" in ARGS.only:
        need += [BENCH_PARSE]
        if not os.path.isdir(NPM_PARSER):
            sys.exit("missing %s: run `npm ci` in %s" % (NPM_PARSER, HERE))
    if "import" in ARGS.only:
        need += [PASSERELLE, RAW_SEND, harness.LOOPBACK_SO]
    for path in need:
        if not os.path.exists(path):
            sys.exit("missing %s: run `meson setup %s --buildtype=release && ninja -C %s`"
                     % (path, ARGS.build, ARGS.build))
    results = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
               "node": tool_version(["node", "--version"]), "command": " ".join(sys.argv)}
    t_start = time.monotonic()
    tmp = None
    data_dir = ARGS.data_dir
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="passerelle-bench-import-")
        data_dir = tmp.name
    else:
        os.makedirs(data_dir, exist_ok=True)
    try:
        if "parse" in ARGS.only:
            bench_parse(data_dir, results)
        if "import" in ARGS.only:
            bench_import(data_dir, results)
    finally:
        if tmp is not None:
            tmp.cleanup()
    results["wall_s"] = time.monotonic() - t_start
    report(results)
    print("wall time: %.0f s" % results["wall_s"])
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
