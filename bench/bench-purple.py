#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Figures for the purple plugin (issue 3), on loopback with real servers:
prosody (XMPP), Synapse, passerelle with purple.so, matrix-nio agents and a
slixmpp peer.

  - added latency XMPP → Tchap: a message from the XMPP peer until the agent's
    /sync returns it, against the same message sent by a second matrix-nio
    user straight to Synapse in a plain room (same agent, same /sync loop);
  - added latency Tchap → XMPP: the agent's room_send until the XMPP peer's
    handler sees the message, against room_send until the second Matrix
    user's /sync returns it;
  - the purple worker's RSS after login, idle.

  python bench/bench-purple.py [--build build-purple] [--count 200] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def pct(values, p):
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def summary(values):
    return {"n": len(values), "median_ms": statistics.median(values) * 1000,
            "p99_ms": pct(values, 99) * 1000}


def wait_sync(agent, room, body, timeout=30):
    """Long-poll /sync until `body` appears in `room`; returns the wall time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = agent.run(agent.client.sync(timeout=1000, since=agent.since))
        agent.since = resp.next_batch
        now = time.time()
        info = resp.rooms.join.get(room)
        if info is None:
            continue
        for ev in info.timeline.events:
            if (ev.source.get("content") or {}).get("body") == body:
                return now
    raise AssertionError("no %r in %s" % (body, room))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-purple"))
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--json")
    args = ap.parse_args()
    os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)

    import tempfile
    import harness
    harness.BUILD_ROOT = os.environ["PA_BUILD_ROOT"]
    harness.PASSERELLE = os.path.join(harness.BUILD_ROOT, "src", "passerelle")
    from harness import Agent, Stack, open_management_room
    from xmpp_peer import Prosody, XmppPeer
    import test_purple
    purple_so = os.path.join(harness.BUILD_ROOT, "plugins", "purple", "purple.so")

    work = tempfile.mkdtemp(prefix="passerelle-bench-purple-")
    prosody = Prosody(work)
    for u in ("alice", "bob"):
        prosody.register(u, "pw-" + u)
    prosody.start()
    stack = Stack(plugins=(purple_so,), ministry_plugins=("purple",))
    stack.start()
    results = {}
    bob = agent = other = None
    try:
        bob = XmppPeer("bob@localhost/peer", "pw-bob", prosody.port)
        agent = Agent(stack, "agent1")
        agent.mgmt = open_management_room(agent)
        test_purple.run_login(agent, test_purple.xmpp_answers(prosody, "-"))
        bob.subscribe("alice@localhost", nick="Bob Peer")
        time.sleep(1)
        bob.send("alice@localhost", "warm-up")
        dm = test_purple.dm_room(agent, "bob@localhost")
        agent.wait(lambda a: "warm-up" in a.bodies(dm), what="warm-up")

        # A plain Matrix room between the agent and a second user: the baseline.
        other = Agent(stack, "direct")
        resp = other.run(other.client.room_create(invite=[agent.mxid]))
        plain = resp.room_id
        agent.wait_invite(lambda a, r: r == plain)
        agent.join(plain)
        other.join(plain) if plain in other.invites else None
        other.sync()

        # Idle RSS of the purple worker (after login, nothing happening).
        time.sleep(5)
        pids = [p for p, _ in stack.bridge.worker_pids()]
        rss = {}
        with open("/proc/%d/status" % pids[0]) as f:
            for line in f:
                if line.split(":")[0] in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    rss[line.split(":")[0]] = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pids[0]) as f:
            for line in f:
                if line.startswith("Pss:"):
                    rss["Pss"] = int(line.split()[1])
        results["worker_rss_kb"] = rss

        n = args.count
        bridge_in, direct_in, bridge_out, direct_out = [], [], [], []
        for i in range(n):
            body = "x2t-%d-%d" % (i, time.time_ns())
            agent.since = agent.run(agent.client.sync(timeout=0, since=agent.since)).next_batch
            t0 = time.time()
            bob.send("alice@localhost", body)
            bridge_in.append(wait_sync(agent, dm, body) - t0)

            body = "m2t-%d-%d" % (i, time.time_ns())
            agent.since = agent.run(agent.client.sync(timeout=0, since=agent.since)).next_batch
            t0 = time.time()
            other.run(other.client.room_send(plain, "m.room.message",
                                             {"msgtype": "m.text", "body": body}))
            direct_in.append(wait_sync(agent, plain, body) - t0)

            body = "t2x-%d-%d" % (i, time.time_ns())
            t0 = time.time()
            agent.run(agent.client.room_send(dm, "m.room.message",
                                             {"msgtype": "m.text", "body": body}))
            got = bob.wait_message(lambda m, b=body: m["body"] == b)
            bridge_out.append(got["t"] - t0)

            body = "t2m-%d-%d" % (i, time.time_ns())
            other.since = other.run(other.client.sync(timeout=0, since=other.since)).next_batch
            t0 = time.time()
            agent.run(agent.client.room_send(plain, "m.room.message",
                                             {"msgtype": "m.text", "body": body}))
            direct_out.append(wait_sync(other, plain, body) - t0)

        results["xmpp_to_tchap"] = summary(bridge_in)
        results["matrix_to_agent_direct"] = summary(direct_in)
        results["tchap_to_xmpp"] = summary(bridge_out)
        results["agent_to_matrix_direct"] = summary(direct_out)
        results["added_in_median_ms"] = (results["xmpp_to_tchap"]["median_ms"]
                                         - results["matrix_to_agent_direct"]["median_ms"])
        results["added_out_median_ms"] = (results["tchap_to_xmpp"]["median_ms"]
                                          - results["agent_to_matrix_direct"]["median_ms"])
    finally:
        for c in (bob,):
            if c:
                c.close()
        for a in (agent, other):
            if a:
                a.close()
        stack.close()
        prosody.stop()

    print("| figure | n | median (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    for k in ("xmpp_to_tchap", "matrix_to_agent_direct", "tchap_to_xmpp",
              "agent_to_matrix_direct"):
        r = results[k]
        print("| %s | %d | %.1f | %.1f |" % (k, r["n"], r["median_ms"], r["p99_ms"]))
    print("added latency XMPP → Tchap (median): %.1f ms" % results["added_in_median_ms"])
    print("added latency Tchap → XMPP (median): %.1f ms" % results["added_out_median_ms"])
    print("worker RSS idle: %s" % results["worker_rss_kb"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
