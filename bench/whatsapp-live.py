#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Figures of the live WhatsApp plugin (issue 12), with its test build (the
real plugin and whatsmeow client in a real worker, fed by the test source
instead of WhatsApp's servers), a throwaway Synapse and a matrix-nio agent:

  - idle worker memory: Rss and Pss (smaps_rollup) of each login's worker,
    `--logins` logins, 5 s after the last login;
  - incoming messages from whatsmeow's dispatcher to Synapse: `--messages`
    text messages handed to HandleDecryptedMessage back to back, timed until
    the bridge's message map holds them all (a row is written when Synapse
    answered the send), against raw-send (the same number of sends as Bob's
    ghost, same body size, appservice token) into the same room;
  - history sync backfill: one HistorySync of `--history` messages in one new
    conversation, timed until the message map holds them all, against
    raw-send of as many messages into that room.

  python bench/whatsapp-live.py [--build build] [--messages 2000] [--history 10000]
                                [--rounds 2] [--logins 2] [--json FILE]
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--history", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--logins", type=int, default=2)
    ap.add_argument("--json")
    return ap.parse_args()


def rollup_kb(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return {"rss": out.get("Rss", 0), "pss": out.get("Pss", 0),
            "private": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)}


def rows(db, like, room=None):
    q = "SELECT count(*) FROM messages WHERE plugin='whatsapp' AND legacy_id LIKE ?"
    args = [like]
    if room:
        q += " AND room_id=?"
        args.append(room)
    for _ in range(100):
        try:
            return db.execute(q, args).fetchone()[0]
        except sqlite3.OperationalError:
            time.sleep(0.01)
    raise RuntimeError("message map unreadable")


def wait_rows(db, like, target, timeout, room=None):
    deadline = time.monotonic() + timeout
    while True:
        n = rows(db, like, room)
        if n >= target:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d rows %s" % (n, target, like))
        time.sleep(0.01)


def room_of(db, like):
    for _ in range(3000):
        try:
            r = db.execute("SELECT room_id FROM messages WHERE legacy_id LIKE ? LIMIT 1",
                           (like,)).fetchone()
        except sqlite3.OperationalError:
            r = None
        if r:
            return r[0]
        time.sleep(0.02)
    raise AssertionError("no room for " + like)


def raw_send(raw, stack, room, ghost, count, body_bytes, prefix):
    out = subprocess.run([raw, stack.synapse.url, room, stack.bridge.as_token, ghost, str(count),
                          str(body_bytes), prefix], check=True, capture_output=True,
                         text=True).stdout
    kv = dict(x.split("=", 1) for x in out.split())
    return float(kv["rate"])


def body_bytes_of(agent, room, sender):
    for ev in reversed(agent.history(room, limit=100000)):
        if ev.get("sender") == sender and ev.get("type") == "m.room.message":
            return len(json.dumps(ev["content"], separators=(",", ":"),
                                  ensure_ascii=False).encode())
    raise AssertionError("no bridged message")


def main():
    args = parse_args()
    os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)
    import harness
    import wa_canned as wa
    from harness import Agent, Stack, open_management_room
    from wa_canned import BOB, DAVE, info

    so = wa.canned_so(harness.BUILD_ROOT)
    raw = os.path.join(harness.BUILD_ROOT, "bench", "raw-send")
    stack = Stack(plugins=(so,), ministry_plugins=("whatsapp",))
    stack.start()
    results = {"messages": args.messages, "history": args.history}
    agents = []
    try:
        for i in range(args.logins):
            a = Agent(stack, "bench-wa%d" % i)
            a.mgmt = open_management_room(a)
            a.wa = wa.login_qr(stack, a, pn="3361000%04d:1@s.whatsapp.net" % i,
                               lid="9900%04d:1@lid" % i, push_name="Bench %d" % i)
            agents.append(a)
        agent = agents[0]
        c = agent.wa
        c.message(info(BOB.lid, BOB.lid, "BENCH-FIRST", int(time.time()), sender_alt=BOB.pn,
                       push_name=BOB.name), wa.text("bench warm-up"))
        dm, _ = wa.find_body(agent, "bench warm-up", timeout=60)
        bob_ghost = wa.ghost_mxid(BOB.lid)

        # 1. Idle memory of each login's worker.
        time.sleep(5)
        results["workers"] = [rollup_kb(p) for p, _ in stack.bridge.worker_pids()]

        # 2. Dispatcher → Synapse against raw sends.
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(stack.bridge.dir,
                                                               "passerelle.db"), uri=True)
        body_bytes = body_bytes_of(agent, dm, bob_ghost)
        rounds = []
        t_base = int(time.time()) - 86400
        for r in range(args.rounds):
            tag = "LIVE%d-" % r
            msgs = [(info(BOB.lid, BOB.lid, "%s%06d" % (tag, i), t_base + r * 10000 + i,
                          sender_alt=BOB.pn, push_name=BOB.name),
                     wa.text("bench message %d %d" % (r, i))) for i in range(args.messages)]
            base = rows(db, "%" + tag + "%")
            t0 = time.monotonic()
            for inf, m in msgs:
                c.message(inf, m, wait=False)
            t1 = wait_rows(db, "%" + tag + "%", base + args.messages, 900)
            bridge_rate = args.messages / (t1 - t0)
            raw_rate = raw_send(raw, stack, dm, bob_ghost, args.messages, body_bytes,
                                "rawlive%d" % r)
            rounds.append({"bridge": bridge_rate, "raw": raw_rate})
        results["live"] = {"rounds": rounds, "body_bytes": body_bytes,
                           "ratio": statistics.mean(x["bridge"] for x in rounds)
                           / statistics.mean(x["raw"] for x in rounds)}

        # 3. History sync backfill of one long conversation.
        t0s = int(time.time()) - args.history - 3600
        hist = [{"id": "HIST-%06d" % i, "sender": DAVE.lid, "ts": t0s + i,
                 "push_name": DAVE.name, "message": wa.text("history message %d" % i)}
                for i in range(args.history)]
        sync = wa.history_sync([(DAVE.lid, hist, DAVE.name)])
        t0 = time.monotonic()
        c.cmd("history", sync=sync)
        t1 = wait_rows(db, "%HIST-%", args.history, 1800)
        hist_rate = args.history / (t1 - t0)
        hroom = room_of(db, "%HIST-%")
        # Same body size as the live messages (the history lines are as long).
        hraw = raw_send(raw, stack, hroom, wa.ghost_mxid(DAVE.lid), args.history, body_bytes,
                        "rawhist")
        results["history_sync"] = {"bridge": hist_rate, "raw": hraw, "ratio": hist_rate / hraw}
        db.close()
    finally:
        for a in agents:
            a.wa.close()
            a.close()
        stack.close()

    print("| figure | value | aim | ratio to aim |")
    print("|---|---|---|---|")
    for i, w in enumerate(results["workers"]):
        print("| idle worker %d: Rss / Pss / private (MB) | %.1f / %.1f / %.1f | Pss ≤ 20 MB | %.2f |"
              % (i + 1, w["rss"] / 1024, w["pss"] / 1024, w["private"] / 1024,
                 20 * 1024 / w["pss"] if w["pss"] else 0))
    lv = results["live"]
    print("| dispatcher → Synapse: bridge / raw (events/s) | %s | ≥ 0.9 | %.2f |"
          % ("; ".join("%.0f / %.0f" % (x["bridge"], x["raw"]) for x in lv["rounds"]),
             lv["ratio"] / 0.9))
    print("| ratio (mean bridge / mean raw) | %.2f | ≥ 0.9 | %.2f |" % (lv["ratio"],
                                                                      lv["ratio"] / 0.9))
    hs = results["history_sync"]
    print("| history sync of %d: bridge / raw (events/s) | %.0f / %.0f = %.2f | ≥ 0.9 | %.2f |"
          % (args.history, hs["bridge"], hs["raw"], hs["ratio"], hs["ratio"] / 0.9))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
