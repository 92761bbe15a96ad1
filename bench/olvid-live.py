#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Figures of the live Olvid plugin (issue 14), with a throwaway Synapse,
matrix-nio agents and the stand-in Olvid daemon (tests/integration/olvid_standin/;
the real daemon cannot run here):

  - idle worker memory per login: Rss, Pss and private memory (smaps_rollup)
    of the workers of `--logins` logins (each a new Olvid identity made by
    the `invitation` flow, connected, its streams open), 5 s and 30 s after
    the last login;
  - incoming messages from the stand-in to Synapse: a cabinet member (the
    official Python client on another identity) sends `--messages` text
    messages to the agent's DM as fast as the stand-in takes them, timed
    from the first send until the bridge's message map holds them all (a
    row is written when Synapse answered the send), against raw-send (the
    same number of sends as the member's ghost, same body size, appservice
    token) into the same room, `--rounds` rounds alternated.

  python bench/olvid-live.py [--build build] [--messages 1000] [--rounds 2]
                             [--logins 4] [--json FILE]
"""

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--logins", type=int, default=4)
    ap.add_argument("--json")
    return ap.parse_args()


def rollup(pid):
    """Rss / Pss / private of a process (smaps_rollup), in kB."""
    whole = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2 and p[0].endswith(":") and p[1].isdigit():
                whole[p[0][:-1]] = int(p[1])
    return {"rss": whole.get("Rss", 0), "pss": whole.get("Pss", 0),
            "private": whole.get("Private_Clean", 0) + whole.get("Private_Dirty", 0)}


def send_burst(standin, key, contact, prefix, count):
    """The member's `count` messages, sent back to back; the time the first left."""
    async def go():
        c = standin.client(key)
        try:
            d = (await c.discussion_get_by_contact(contact)).id
            t0 = time.monotonic()
            for i in range(count):
                await c.message_send(d, "%s %d" % (prefix, i))
            return t0
        finally:
            await c.stop()
    return asyncio.run(go())


def main():
    args = parse_args()
    os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)
    import harness
    from olvid_harness import login_olvid, new_agent, olvid_stack, start_standin, user_id_of
    from wa_canned import ghost_mxid
    from importlib import import_module
    wa_bench = import_module("whatsapp-live")

    results = {"messages": args.messages, "logins": args.logins}
    raw = os.path.join(harness.BUILD_ROOT, "bench", "raw-send")
    standin = start_standin()
    stack = olvid_stack(standin)
    stack.start()
    agents = []
    try:
        for i in range(args.logins):
            a = new_agent(stack, "bench-olv%d" % i)
            a.olvid = login_olvid(stack, a, standin, name="Agent %d" % i)
            agents.append(a)
        time.sleep(5)
        results["workers_5s"] = [rollup(p) for p, _ in stack.bridge.worker_pids()]
        time.sleep(25)
        results["workers_30s"] = [rollup(p) for p, _ in stack.bridge.worker_pids()]

        agent = agents[0]
        mid, mkey = standin.new_identity("Claire Cabinet")
        contact, _ = standin.connect_contacts(mkey, agent.olvid["client_key"])
        ghost = ghost_mxid(user_id_of(standin, mid), plugin="olvid")
        send_burst(standin, mkey, contact, "bench warm-up", 1)
        dm = agent.wait_invite(lambda a, r: a.inviter(r) == ghost, timeout=60)
        agent.join(dm)
        agent.wait(lambda a: "bench warm-up 0" in a.bodies(dm), 60, "the warm-up message")

        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(stack.bridge.dir,
                                                               "passerelle.db"), uri=True)
        body_bytes = wa_bench.body_bytes_of(agent, dm, ghost)
        count = "SELECT count(*) FROM messages WHERE plugin='olvid' AND room_id=?"

        def rows():
            for _ in range(100):
                try:
                    return db.execute(count, (dm,)).fetchone()[0]
                except sqlite3.OperationalError:
                    time.sleep(0.01)
            raise RuntimeError("message map unreadable")

        rounds = []
        for r in range(args.rounds):
            base = rows()
            t0 = send_burst(standin, mkey, contact, "bench %d" % r, args.messages)
            deadline = t0 + 900
            while rows() < base + args.messages:
                if time.monotonic() > deadline:
                    raise AssertionError("only %d of %d" % (rows() - base, args.messages))
                time.sleep(0.01)
            bridge_rate = args.messages / (time.monotonic() - t0)
            raw_rate = wa_bench.raw_send(raw, stack, dm, ghost, args.messages, body_bytes,
                                         "rawolv%d" % r)
            rounds.append({"bridge": bridge_rate, "raw": raw_rate})
        results["after_messages"] = [rollup(p) for p, _ in stack.bridge.worker_pids()]
        results["live"] = {"rounds": rounds, "body_bytes": body_bytes,
                           "ratio": statistics.mean(x["bridge"] for x in rounds)
                           / statistics.mean(x["raw"] for x in rounds)}
        db.close()
    finally:
        for a in agents:
            a.close()
        stack.close()
        standin.stop()

    mb = lambda kb: kb / 1024
    print("| figure | value | aim | ratio to aim |")
    print("|---|---|---|---|")
    for when in ("5s", "30s"):
        ws = results["workers_" + when]
        print("| idle Olvid worker, %s after the last of %d logins: Rss / Pss / private (MB), "
              "mean (min–max) | %.1f / %.1f / %.1f (Rss %.1f–%.1f) | (measured) | — |"
              % (when, len(ws), mb(statistics.mean(w["rss"] for w in ws)),
                 mb(statistics.mean(w["pss"] for w in ws)),
                 mb(statistics.mean(w["private"] for w in ws)),
                 mb(min(w["rss"] for w in ws)), mb(max(w["rss"] for w in ws))))
    w = max(results["after_messages"], key=lambda x: x["private"], default=None)
    if w:
        print("| the largest worker after %d messages bridged: Rss / Pss / private (MB) | %.1f / %.1f / "
              "%.1f | (measured) | — |" % (args.messages * args.rounds + 1, mb(w["rss"]),
                                            mb(w["pss"]), mb(w["private"])))
    lv = results["live"]
    print("| stand-in → Synapse: bridge / raw (events/s) | %s | ≥ 0.9 | %.2f |"
          % ("; ".join("%.0f / %.0f" % (x["bridge"], x["raw"]) for x in lv["rounds"]),
             lv["ratio"] / 0.9))
    print("| ratio (mean bridge / mean raw) | %.2f | ≥ 0.9 | %.2f |"
          % (lv["ratio"], lv["ratio"] / 0.9))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
