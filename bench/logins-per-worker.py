#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Worker memory per login with one and with several logins per worker
process (workers.logins_per_worker), in the same run.

    bench/logins-per-worker.py [--build DIR] [--plugin sink|whatsapp]
                               [--logins 20] [--per 10] [--json FILE]

Logs `--logins` agents into the plugin (the sink of bench/, or WhatsApp with
its canned test source), then restarts the bridge twice: with
logins_per_worker 1, then `--per`.  Each time, 10 s after every login is back,
it sums Pss (smaps_rollup) over the bridge's worker processes and divides by
the logins.  Logins are placed when the bridge starts (a running shared
process takes no new login), hence the restarts.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--plugin", choices=("sink", "whatsapp"), default="sink")
    ap.add_argument("--logins", type=int, default=20)
    ap.add_argument("--per", type=int, default=10)
    ap.add_argument("--json")
    return ap.parse_args()


def rollup_kb(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return out


def main():
    args = parse_args()
    os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)
    import harness
    from harness import Agent, Stack, bot_says, open_management_room, wait_until

    if args.plugin == "sink":
        so = os.path.join(harness.BUILD_ROOT, "bench", "sink.so")
    else:
        import wa_canned as wa
        so = wa.canned_so(harness.BUILD_ROOT)
    stack = Stack(plugins=(so,), ministry_plugins=(args.plugin,))
    stack.start()
    agents = []
    results = {"plugin": args.plugin, "logins": args.logins, "runs": []}
    try:
        for i in range(args.logins):
            a = Agent(stack, "bench-lpw%d" % i)
            a.mgmt = open_management_room(a)
            if args.plugin == "sink":
                n0 = len(a.messages(a.mgmt, sender="@passerelle:localhost"))
                a.text(a.mgmt, "login sink")
                a.wait(lambda x, a=a, n0=n0: bot_says(x, a.mgmt, "Logged in", n0), timeout=60,
                       what="login complete")
            else:
                a.wa = wa.login_qr(stack, a, pn="3361100%04d:1@s.whatsapp.net" % i,
                                   lid="9910%04d:1@lid" % i, push_name="Bench %d" % i)
            agents.append(a)
        for per in (1, args.per):
            stack.bridge.workers = {"logins_per_worker": {args.plugin: per}}
            stack.bridge.write_config(stack.synapse.url)
            stack.bridge.stop()
            t = time.time()
            stack.bridge.start()
            if args.plugin == "whatsapp":
                for a in agents:
                    wait_until(lambda a=a: os.stat(a.wa.port_file).st_mtime >= t, 120,
                               what="the login back")
                    a.wa.connect()
            else:
                db = os.path.join(stack.bridge.dir, "passerelle.db")
                import sqlite3
                def connected():
                    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
                    try:
                        return c.execute("SELECT count(*) FROM logins WHERE state = 'connected'"
                                         ).fetchone()[0] >= args.logins
                    finally:
                        c.close()
                wait_until(connected, 120, what="every login connected")
            wait_until(lambda: sum(len([x for x in cmd if x == "--data-dir"])
                                   for _, cmd in stack.bridge.worker_pids()) == args.logins,
                       60, what="every login in a worker")
            time.sleep(10)
            procs = [(pid, rollup_kb(pid)) for pid, _ in stack.bridge.worker_pids()]
            pss = sum(r.get("Pss", 0) for _, r in procs)
            priv = sum(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0) for _, r in procs)
            run = {"per": per, "processes": len(procs), "pss_kb": pss,
                   "pss_per_login_kb": pss / args.logins,
                   "private_per_login_kb": priv / args.logins}
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
    finally:
        for a in agents:
            a.close()
        stack.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
