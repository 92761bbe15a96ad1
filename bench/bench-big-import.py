#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""A very large export against a live bridge (issue 10, case 6): the
appservice ping latency while it is imported (or refused) and cleaned up,
and the database size before, at its peak and after.

    bench/bench-big-import.py [--build DIR] [--lines 10000000] [--max-messages N]
                              [--repetitive] [--dry-run] [--json FILE]

Generates a WhatsApp export of --lines one-line messages ("dd/mm/yyyy, hh:mm
- A: N", about 30 bytes each, 27 in the report), zips it, and
runs `passerelle import whatsapp` on it against a harness Stack (Synapse
from PyPI + passerelle) while a thread asks Synapse to ping the bridge
(POST /_matrix/client/v1/appservice/{id}/ping) every 0.2 s.  With the default
limits.max_import_messages (1,000,000) a 10-million-line export is refused
whole; --max-messages raises the limit in the bridge's config.  The run ends
when the job's queued rows are gone and the freed pages returned.  The
1-minute load average is printed (the machine may be shared).  See
docs/benchmarks.md.
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(SOURCE_ROOT, "build"))
    p.add_argument("--lines", type=int, default=10_000_000)
    p.add_argument("--max-messages", type=int, default=0,
                   help="limits.max_import_messages for the bridge (0: its default)")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--repetitive", action="store_true",
                   help="lines differ only by their minute (a tiny zip, as in the report) "
                        "instead of each carrying its number")
    p.add_argument("--upload-and-cancel", action="store_true",
                   help="the agent uploads the zip to their management room, and answers "
                        "`cancel` once every message is queued (instead of the CLI)")
    p.add_argument("--json")
    return p.parse_args()


args = parse_args()
os.environ["PA_BUILD_ROOT"] = os.path.abspath(args.build)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
import harness  # noqa: E402  (needs PA_BUILD_ROOT set first)
import yaml  # noqa: E402

WA_SO = os.path.join(harness.BUILD_ROOT, "plugins", "whatsapp", "whatsapp.so")


def make_export(tmp, lines, repetitive):
    txt = os.path.join(tmp, "WhatsApp Chat with Many.txt")
    with open(txt, "w") as f:
        chunk = []
        for i in range(lines):
            if repetitive:
                chunk.append("13/03/2024, 10:%02d - A: one line\n" % (i % 60))
            else:
                chunk.append("13/03/2024, %02d:%02d - A: %d\n" % ((i // 60) % 24, i % 60, i))
            if len(chunk) == 100000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    zpath = os.path.join(tmp, "WhatsApp Chat with Many.zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(txt, os.path.basename(txt))
    size = os.path.getsize(txt)
    os.unlink(txt)
    return zpath, size


class Sampler:
    """Pings through Synapse, and samples the database's size, until stopped."""

    def __init__(self, stack, db):
        self.url = stack.synapse.url + "/_matrix/client/v1/appservice/passerelle/ping"
        self.token = stack.bridge.as_token
        self.db = db
        self.pings = []  # (t, ms the homeserver measured, ms of the whole call)
        self.failures = 0
        self.peak = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ping, daemon=True),
                         threading.Thread(target=self._size, daemon=True)]
        self.t0 = time.monotonic()

    def _ping(self):
        while not self._stop.is_set():
            t = time.monotonic()
            status, body = harness.http("POST", self.url, {}, token=self.token, timeout=600)
            wall = (time.monotonic() - t) * 1000
            if status == 200:
                self.pings.append((t - self.t0, body.get("duration_ms", wall), wall))
            else:
                self.failures += 1
            self._stop.wait(0.2)

    def _size(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, db_bytes(self.db))
            self._stop.wait(0.5)

    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()


def file_bytes(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def db_bytes(db):
    """The database file and its write-ahead log."""
    return file_bytes(db) + file_bytes(db + "-wal")


def db_query(db, sql):
    con = sqlite3.connect(db, timeout=60)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def upload_and_cancel(agent, zpath, db):
    """The agent's upload: parsed and queued, then `cancel`.  Returns the
    seconds to the question, the bot's last words, 0 and the rows queued."""
    mgmt = harness.open_management_room(agent)
    n0 = len(agent.messages(mgmt, sender="@passerelle:localhost"))
    with open(zpath, "rb") as f:
        data = f.read()
    name = os.path.basename(zpath)
    t = time.monotonic()
    mxc = agent.upload(data, "application/zip", name)
    agent.send(mgmt, {"msgtype": "m.file", "body": name, "url": mxc,
                      "info": {"mimetype": "application/zip", "size": len(data)}})
    agent.wait(lambda a: harness.bot_says(a, mgmt, "Which sender is you", n0)
               or harness.bot_says(a, mgmt, "Import failed", n0), timeout=6 * 3600,
               what="the parse")
    import_s = time.monotonic() - t
    queued = db_query(db, "SELECT count(*) FROM remote WHERE lane = 1")
    agent.text(mgmt, "cancel")
    agent.wait(lambda a: harness.bot_says(a, mgmt, "Import cancelled", n0)
               or harness.bot_says(a, mgmt, "Import failed", n0), timeout=600, what="the cancel")
    last = harness.bot_says(agent, mgmt, "Import", n0)[-1]["content"]["body"]
    return import_s, [last], 0, queued


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0


def main():
    tmp = tempfile.mkdtemp(prefix="pa-bench-big-")
    t = time.monotonic()
    zpath, text_bytes = make_export(tmp, args.lines, args.repetitive)
    gen_s = time.monotonic() - t
    print("export: %d lines, %.1f MB of text, %.2f MB zipped (%.0f s to make)"
          % (args.lines, text_bytes / 1e6, os.path.getsize(zpath) / 1e6, gen_s), flush=True)

    stack = harness.Stack(plugins=(harness.LOOPBACK_SO, WA_SO),
                          ministry_plugins=("loopback", "whatsapp"))
    if args.max_messages:
        with open(stack.bridge.config) as f:
            cfg = yaml.safe_load(f)
        cfg.setdefault("limits", {})["max_import_messages"] = args.max_messages
        with open(stack.bridge.config, "w") as f:
            yaml.safe_dump(cfg, f)
    stack.start()
    result = {}
    try:
        agent = harness.Agent(stack, "alice")  # the job's owner must exist
        db = os.path.join(stack.bridge.dir, "passerelle.db")
        size_before = db_bytes(db)
        sampler = Sampler(stack, db)
        sampler.start()
        queued = None
        if args.upload_and_cancel:
            import_s, out, code, queued = upload_and_cancel(agent, zpath, db)
            print("import: %d rows queued after %.0f s, then cancelled" % (queued, import_s),
                  flush=True)
        else:
            cmd = [harness.PASSERELLE, "import", "whatsapp", zpath, "-c", stack.bridge.config,
                   "--user", "@alice:localhost", "--me", "A"]
            if args.dry_run:
                cmd.append("--dry-run")
            t = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=6 * 3600)
            import_s = time.monotonic() - t
            out = (r.stdout + r.stderr).strip().splitlines()
            code = r.returncode
            print("import: exit %d after %.0f s: %s" % (code, import_s, out[-1] if out else ""),
                  flush=True)
        t = time.monotonic()
        cleanup_from = t - sampler.t0
        harness.wait_until(
            lambda: db_query(db, "SELECT count(*) FROM remote WHERE lane = 1") == 0,
            timeout=6 * 3600, interval=1, what="the queued rows removed")
        harness.wait_until(lambda: db_query(db, "PRAGMA freelist_count") < 1024,
                           timeout=3600, interval=1, what="the space given back")
        cleanup_s = time.monotonic() - t
        time.sleep(1)
        sampler.stop()
        agent.close()
        size_after = db_bytes(db)
        hs = [p[1] for p in sampler.pings]
        phases = {}
        for name, sel in (("import", lambda p: p[0] < cleanup_from),
                          ("cleanup", lambda p: p[0] >= cleanup_from)):
            v = [p[1] for p in sampler.pings if sel(p)]
            phases[name] = {"pings": len(v),
                            "median": round(statistics.median(v), 1) if v else None,
                            "p99": round(pct(v, 0.99), 1), "max": round(max(v or [0]), 1)}
        walls = [p[2] for p in sampler.pings]
        result = {
            "lines": args.lines, "text_bytes": text_bytes, "zip_bytes": os.path.getsize(zpath),
            "repetitive": args.repetitive,
            "dry_run": args.dry_run, "max_messages": args.max_messages or None,
            "exit": code, "outcome": out[-1] if out else "", "queued": queued,
            "import_s": round(import_s, 1), "cleanup_s": round(cleanup_s, 1),
            "pings": len(hs), "ping_failures": sampler.failures,
            "ping_ms_median": round(statistics.median(hs), 1) if hs else None,
            "ping_ms_p99": round(pct(hs, 0.99), 1), "ping_ms_max": round(max(hs or [0]), 1),
            "call_ms_max": round(max(walls or [0]), 1), "ping_ms_by_phase": phases,
            "db_bytes_before": size_before, "db_bytes_peak": sampler.peak,
            "db_bytes_after": size_after, "db_file_bytes_after": file_bytes(db),
            "wal_bytes_after": file_bytes(db + "-wal"), "load1": os.getloadavg()[0],
        }
    finally:
        stack.close()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
