#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Host peak RSS under the largest transactions the appservice port accepts
(issue 10), against a real Synapse and a real passerelle on loopback.

    bench/bench-txn-rss.py [--build DIR] [--json FILE]

Each shape is a body of at most limits.max_body_bytes (32 MiB by default),
PUT with the hs_token as the homeserver would, to a freshly started host
whose VmHWM is reset first (/proc/<pid>/clear_refs, 5), so each peak is
that shape's.
Shapes: 100 ordinary 64 KiB messages (what Synapse's largest batch looks
like); 32 MiB of empty objects inside one event; the same as 11 million
events (refused, 413); 1,000 events of ~32 KiB of empty objects each;
events whose estimated tree is just under the budget (4x the body limit),
parsed whole.  The aim is a peak RSS of at most 10x the body limit.
Builds nothing: `meson setup build-bench --buildtype=release && ninja -C
build-bench` first.  Uses tests/integration/harness.py.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

LIMIT = 32 * 1024 * 1024
BUDGET = 4 * LIMIT


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def event(i, content):
    return (b'{"type":"m.room.message","event_id":"$b%d","room_id":"!nowhere:localhost",'
            b'"sender":"@bench:localhost","origin_server_ts":%d,"content":' % (i, i) + content + b"}")


def shapes():
    head, tail = b'{"events":[', b"]}"
    text = b"x" * 65000
    yield ("100 messages of 64 KiB",
           head + b",".join(event(i, b'{"msgtype":"m.text","body":"' + text + b'"}')
                            for i in range(100)) + tail)
    one = event(0, b'{"x":[{}')
    n = (LIMIT - len(head) - len(one) - 4 - len(tail)) // 3
    yield "32 MiB of {} in one event", head + one + b",{}" * n + b"]}" + tail
    yield "32 MiB of {} as events", b'{"events":[{}' + b",{}" * ((LIMIT - 20) // 3) + tail
    per = (LIMIT - 200 * 1000) // 1000 // 3
    yield ("1,000 events of ~32 KiB of {}",
           head + b",".join(event(i, b'{"x":[{}' + b",{}" * per + b"]}") for i in range(1000))
           + tail)
    # ~352 estimated bytes per {} (pa-txn-budget.c): just under the budget.
    k = int(BUDGET * 0.97 / 352 / 100)
    yield ("100 events, tree just under the budget",
           head + b",".join(event(i, b'{"x":[{}' + b",{}" * k + b"]}") for i in range(100))
           + tail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-bench"))
    ap.add_argument("--json")
    args = ap.parse_args()
    os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)
    import harness  # noqa: E402 (reads PA_BUILD_ROOT)
    stack = harness.Stack()
    stack.start()
    results = []
    try:
        b = stack.bridge
        for i, (name, body) in enumerate(shapes()):
            assert len(body) <= LIMIT, (name, len(body))
            # A fresh host for each shape: freed heap is kept by malloc and
            # would hide the next shape's growth.
            if i:
                b.stop()
                b.start()
            pid = b.proc.pid
            # The previous shape's stored events are handled after a restart.
            time.sleep(5)
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
            before = vm(pid, "VmRSS")
            t0 = time.monotonic()
            status, resp = harness.http("PUT", b.url + "/_matrix/app/v1/transactions/rss-%d" % i,
                                        body, token=b.hs_token, timeout=600)
            took = time.monotonic() - t0
            # The kept events are then handled from the store: include that.
            time.sleep(3)
            peak = vm(pid, "VmHWM")
            r = {"shape": name, "body": len(body), "status": status, "seconds": round(took, 2),
                 "rss_before": before, "peak": peak, "peak_over_limit": peak / LIMIT,
                 "growth_over_body": (peak - before) / len(body)}
            results.append(r)
            print("%-40s %5.1f MB  %d  %6.2f s  RSS %4.0f -> peak %4.0f MB  "
                  "peak/limit %.1fx  growth/body %.1fx"
                  % (name, len(body) / 1e6, status, took, before / 1e6, peak / 1e6,
                     r["peak_over_limit"], r["growth_over_body"]), flush=True)
            del body
    finally:
        stack.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
