#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Figures of the live Telegram plugin (issue 13), with a throwaway Synapse
and matrix-nio agents:

  - idle worker memory with the REAL TDLib: Rss, Pss and private memory
    (smaps_rollup) of the workers of `--logins` logins of the installed
    telegram.so with the real libtdjson.so, each waiting for a phone number
    (offline, TDLib cannot log in here), 5 s after the last prompt; with
    the mappings of libtdjson.so counted apart;
  - idle worker memory with the fake TDLib (tests/plugins/faketd/): the
    plugin's own part, logged in, `--logins` logins;
  - incoming messages from the fake TDLib to Synapse: `--messages` text
    messages delivered as updateNewMessage back to back, timed until the
    bridge's message map holds them all (a row is written when Synapse
    answered the send), against raw-send (the same number of sends as the
    contact's ghost, same body size, appservice token) into the same room,
    `--rounds` rounds alternated.

  python bench/telegram-live.py [--build build] [--messages 1000] [--rounds 2]
                                [--logins 2] [--json FILE]
"""

import argparse
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
    ap.add_argument("--logins", type=int, default=2)
    ap.add_argument("--json")
    return ap.parse_args()


def smaps(pid, needle="libtdjson"):
    """Rss / Pss / private of the whole process (smaps_rollup), and of the
    mappings whose path contains `needle` (smaps), in kB."""
    whole = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2 and p[0].endswith(":") and p[1].isdigit():
                whole[p[0][:-1]] = int(p[1])
    lib = {"Rss": 0, "Pss": 0, "Private": 0}
    cur = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if not p[0].endswith(":"):
                cur = needle in line
            elif cur and p[0] in ("Rss:", "Pss:"):
                lib[p[0][:-1]] += int(p[1])
            elif cur and p[0] in ("Private_Clean:", "Private_Dirty:"):
                lib["Private"] += int(p[1])
    return {"rss": whole.get("Rss", 0), "pss": whole.get("Pss", 0),
            "private": whole.get("Private_Clean", 0) + whole.get("Private_Dirty", 0),
            "anon": whole.get("Anonymous", 0),
            "lib_rss": lib["Rss"], "lib_pss": lib["Pss"], "lib_private": lib["Private"]}


def real_tdlib_workers(n):
    import harness
    from test_telegram_incoming import new_agent
    from tg_harness import REAL_TDJSON, tg_stack
    from wa_canned import bot_messages, wait_bot

    installed = os.path.join(harness.BUILD_ROOT, "plugins", "telegram", "telegram.so")
    s = tg_stack(so=installed, config={"tdjson_path": os.path.realpath(REAL_TDJSON)})
    s.start()
    agents = []
    try:
        for i in range(n):
            a = new_agent(s, "bench-tg-real%d" % i)
            n0 = len(bot_messages(a))
            a.text(a.mgmt, "login telegram phone")
            wait_bot(a, "phone number", n0, timeout=60)
            agents.append(a)
        time.sleep(5)
        return [smaps(p) for p, _ in s.bridge.worker_pids()]
    finally:
        for a in agents:
            a.close()
        s.close()


def main():
    args = parse_args()
    os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)
    import harness
    from test_telegram_incoming import ALICE, M, by_body, find, message, new_agent, text
    from test_whatsapp_crash import worker_of_login
    from tg_harness import login_telegram, tg_stack
    from wa_canned import ghost_mxid
    from importlib import import_module
    wa_bench = import_module("whatsapp-live")

    results = {"messages": args.messages}
    results["real_workers"] = real_tdlib_workers(args.logins)

    raw = os.path.join(harness.BUILD_ROOT, "bench", "raw-send")
    stack = tg_stack()
    stack.start()
    agents = []
    try:
        for i in range(args.logins):
            a = new_agent(stack, "bench-tg%d" % i)
            a.data_dir, a.td = login_telegram(stack.bridge, a)
            a.td.scenario("in-people")
            agents.append(a)
        agent = agents[0]
        td = agent.td
        td.deliver({"@type": "updateNewMessage",
                    "message": message(M, ALICE, text("bench warm-up"),
                                       date=int(time.time()) - 86400)})
        dm, _ = find(agent, by_body("bench warm-up"), "the DM", timeout=60)
        alice = ghost_mxid(str(ALICE), plugin="telegram")
        time.sleep(5)
        results["fake_workers"] = [smaps(p) for p, _ in stack.bridge.worker_pids()]

        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(stack.bridge.dir,
                                                               "passerelle.db"), uri=True)
        body_bytes = wa_bench.body_bytes_of(agent, dm, alice)
        count = ("SELECT count(*) FROM messages WHERE plugin='telegram' AND room_id=?")

        def rows():
            for _ in range(100):
                try:
                    return db.execute(count, (dm,)).fetchone()[0]
                except sqlite3.OperationalError:
                    time.sleep(0.01)
            raise RuntimeError("message map unreadable")

        rounds = []
        t_base = int(time.time()) - 80000
        for r in range(args.rounds):
            msgs = [message((100000 * (r + 1) + i) * M, ALICE,
                            text("bench message %d %d" % (r, i)), date=t_base + r * 10000 + i)
                    for i in range(args.messages)]
            base = rows()
            t0 = time.monotonic()
            for m in msgs:
                td.deliver({"@type": "updateNewMessage", "message": m})
            deadline = t0 + 900
            while rows() < base + args.messages:
                if time.monotonic() > deadline:
                    raise AssertionError("only %d of %d" % (rows() - base, args.messages))
                time.sleep(0.01)
            bridge_rate = args.messages / (time.monotonic() - t0)
            raw_rate = wa_bench.raw_send(raw, stack, dm, alice, args.messages, body_bytes,
                                         "rawtg%d" % r)
            rounds.append({"bridge": bridge_rate, "raw": raw_rate})
        # What the bridged messages left in the worker (the per-message
        # metadata the host preloads, caches), and after a restart.
        results["after_messages"] = smaps(worker_of_login(stack, agent.data_dir))
        results["live"] = {"rounds": rounds, "body_bytes": body_bytes,
                           "ratio": statistics.mean(x["bridge"] for x in rounds)
                           / statistics.mean(x["raw"] for x in rounds)}
        db.close()
    finally:
        for a in agents:
            a.td.close()
            a.close()
        stack.close()

    mb = lambda kb: kb / 1024
    print("| figure | value | aim | ratio to aim |")
    print("|---|---|---|---|")
    for i, w in enumerate(results["real_workers"]):
        print("| real TDLib worker %d, waiting: Rss / Pss / private (MB); of which libtdjson.so "
              "Rss / Pss / private; anonymous | %.1f / %.1f / %.1f; %.1f / %.1f / %.1f; %.1f "
              "| (measured) | — |"
              % (i + 1, mb(w["rss"]), mb(w["pss"]), mb(w["private"]), mb(w["lib_rss"]),
                 mb(w["lib_pss"]), mb(w["lib_private"]), mb(w["anon"])))
    for i, w in enumerate(results["fake_workers"]):
        print("| fake TDLib worker %d, logged in: Rss / Pss / private (MB) | %.1f / %.1f / %.1f "
              "| (measured) | — |" % (i + 1, mb(w["rss"]), mb(w["pss"]), mb(w["private"])))
    w = results["after_messages"]
    print("| fake TDLib worker 1 after %d messages bridged: Rss / Pss / private (MB) "
          "| %.1f / %.1f / %.1f | (measured) | — |"
          % (args.messages * args.rounds + 1, mb(w["rss"]), mb(w["pss"]), mb(w["private"])))
    lv = results["live"]
    print("| fake TDLib → Synapse: bridge / raw (events/s) | %s | ≥ 0.9 | %.2f |"
          % ("; ".join("%.0f / %.0f" % (x["bridge"], x["raw"]) for x in lv["rounds"]),
             lv["ratio"] / 0.9))
    print("| ratio (mean bridge / mean raw) | %.2f | ≥ 0.9 | %.2f |"
          % (lv["ratio"], lv["ratio"] / 0.9))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
