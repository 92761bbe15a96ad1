#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Encryption benchmarks (issues 5 and 11) against one real Synapse on loopback.

    bench/bench-crypto.py [--build DIR] [--messages 1000] [--rounds 3]
                          [--users 10] [--devices 10] [--shares 3] [--big-flood 200]
                          [--ghosts 50] [--only throughput,share,ghosts]
                          [--json FILE] [--perf FILE]

1. Send throughput, legacy -> Matrix, into an encrypted portal against a
   clear one: same bridge, same ghost, same message count, rounds alternated.
   The clear portal is made by a first bridge run with encryption.default
   off, the encrypted one after a restart with it on.  The agent is a
   matrix-nio client with E2EE, so room keys really are shared.
2. Time to share a room key with N users x M devices (python-olm accounts
   with signed device keys and one-time keys): the first legacy message of
   a new Megolm session against the next one; then a membership change
   (new session, Olm sessions already there), then a run of messages into
   that room.  Every device decrypts its m.room_key to-device message, and
   crypto.db's shared rows are counted; Synapse's access log gives the
   crypto requests (and their time) of each share.  The sharing device is
   the ghost's own (each ghost writes with a device of its own).
3. The cost of ghosts' devices: N new ghosts, joined to one encrypted
   group portal beforehand, each write a first message (device, keys,
   cross-signing, share) and a second one.  Per ghost: time from the legacy
   message to the homeserver's acceptance of each, the bridge's requests
   (Synapse's access log), crypto.db bytes, the host's RSS growth, and the
   homeserver's rows (devices, keys, cross-signing; its database read-only).

Builds nothing: `meson setup build-bench --buildtype=release && ninja -C
build-bench` first.  stdlib + the venv's nio, olm and yaml; uses
tests/integration/harness.py and loopnet.py.  See bench/README.md.
"""

import argparse
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
OLM_ALGO = "m.olm.v1.curve25519-aes-sha2"
MEGOLM_ALGO = "m.megolm.v1.aes-sha2"
LB_USER = "agent-lb"
BOT = "@passerelle:localhost"
GHOST = "@_pa_loopback_bob:localhost"
AIM_RATIO = 0.8


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE_ROOT, "build-bench"),
                   help="meson build dir (default: build-bench)")
    p.add_argument("--messages", type=int, default=1000, help="throughput: messages per side")
    p.add_argument("--rounds", type=int, default=3, help="throughput: rounds of each side")
    p.add_argument("--users", type=int, default=10, help="key share: Matrix users per room")
    p.add_argument("--devices", type=int, default=10, help="key share: devices per user")
    p.add_argument("--shares", type=int, default=3, help="key share: rooms (cold shares)")
    p.add_argument("--big-flood", type=int, default=200,
                   help="key share: messages sent in a row into each big room at the end")
    p.add_argument("--ghosts", type=int, default=50,
                   help="ghosts' devices: new ghosts writing their first message into one room")
    p.add_argument("--only", default="throughput,share,ghosts",
                   help="parts to run, comma-separated: throughput, share, ghosts")
    p.add_argument("--json", help="also write every raw figure to this file")
    p.add_argument("--perf", metavar="FILE",
                   help="record the host (perf record --call-graph dwarf) during the key shares")
    args = p.parse_args()
    for name, hi in (("messages", 100000), ("rounds", 20), ("users", 100), ("devices", 50),
                     ("shares", 10), ("big_flood", 10000), ("ghosts", 1000)):
        if not 1 <= getattr(args, name) <= hi:
            p.error("--%s must be in 1..%d" % (name, hi))
    args.parts = set(args.only.split(","))
    if not args.parts or not args.parts <= {"throughput", "share", "ghosts"}:
        p.error("--only takes throughput, share, ghosts")
    return args


ARGS = parse_args()
os.environ["PA_BUILD_ROOT"] = os.path.abspath(ARGS.build)
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
import harness  # noqa: E402  (needs PA_BUILD_ROOT set first)
from harness import bot_says, http, open_management_room  # noqa: E402
from loopnet import LoopNet  # noqa: E402
from e2e import E2EAgent  # noqa: E402

import olm  # noqa: E402  (python-olm)
import yaml  # noqa: E402

# ------------------------------------------------------------------ stack


class BenchSynapse(harness.Synapse):
    """No encryption by default (the clear portal must stay clear), the
    appservice extensions the bot device needs, cheap password hashing
    (hundreds of device logins) and the access log (request timings)."""

    def _write_config(self):
        super()._write_config()
        with open(self.config) as f:
            cfg = yaml.safe_load(f)
        cfg["experimental_features"] = {"msc2409_to_device_messages_enabled": True,
                                        "msc3202_transaction_extensions": True}
        cfg["bcrypt_rounds"] = 4
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)
        log_config = os.path.join(self.dir, "log.yaml")
        with open(log_config) as f:
            lc = yaml.safe_load(f)
        self.access_log = os.path.join(self.dir, "access.log")
        lc["handlers"]["access"] = {"class": "logging.FileHandler", "formatter": "p",
                                    "filename": self.access_log}
        lc["loggers"]["synapse.access"] = {"level": "INFO", "handlers": ["access"],
                                           "propagate": False}
        with open(log_config, "w") as f:
            yaml.safe_dump(lc, f)


class BenchBridge(harness.Bridge):
    encryption_default = False

    def write_config(self, hs_url):
        super().write_config(hs_url)
        with open(self.config) as f:
            cfg = yaml.safe_load(f)
        cfg["bridge"].pop("encryption_default", None)
        cfg["encryption"] = {"allow": True, "default": self.encryption_default,
                             "require": False}
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)


class BenchStack(harness.Stack):
    def __init__(self):  # pylint: disable=super-init-not-called
        import tempfile
        self.workdir = tempfile.mkdtemp(prefix="passerelle-bench-crypto-")
        self.bridge = BenchBridge(self.workdir)
        self.bridge.write_config("http://127.0.0.1:1")
        self.synapse = BenchSynapse(self.workdir, self.bridge.registration)
        self.bridge.write_config(self.synapse.url)
        self.bridge.generate_registration()

    def set_encryption_default(self, on):
        """Restart the bridge with encryption.default on or off."""
        self.bridge.stop()
        self.bridge.encryption_default = on
        self.bridge.write_config(self.synapse.url)
        self.bridge.start()


# ------------------------------------------------------------------ devices


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Device:
    """One Matrix device: a login and a python-olm account whose signed
    device keys and one-time keys are on the homeserver.  It reads its
    to-device messages with /sync and decrypts the Olm ones."""

    SYNC_FILTER = json.dumps({"room": {"rooms": []}, "presence": {"not_types": ["*"]},
                              "account_data": {"not_types": ["*"]}})

    def __init__(self, hs_url, localpart, password, device_id):
        self.url = hs_url
        self.user = "@%s:localhost" % localpart
        status, body = http("POST", hs_url + "/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
            "password": password, "device_id": device_id, "initial_device_display_name": "bench"})
        assert status == 200, body
        self.token = body["access_token"]
        self.device_id = body["device_id"]
        self.account = olm.Account()
        self.curve = self.account.identity_keys["curve25519"]
        self.ed = self.account.identity_keys["ed25519"]
        self.sessions = []  # inbound Olm sessions, newest first
        self.since = None

    def _sign(self, obj):
        unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        sig = self.account.sign(canonical(unsigned))
        obj.setdefault("signatures", {}).setdefault(self.user, {})[
            "ed25519:" + self.device_id] = sig
        return obj

    def upload_keys(self, n_otk=2):
        dk = self._sign({"user_id": self.user, "device_id": self.device_id,
                         "algorithms": [OLM_ALGO, MEGOLM_ALGO],
                         "keys": {"curve25519:" + self.device_id: self.curve,
                                  "ed25519:" + self.device_id: self.ed}})
        self.account.generate_one_time_keys(n_otk)
        otks = {"signed_curve25519:" + kid: self._sign({"key": key})
                for kid, key in self.account.one_time_keys["curve25519"].items()}
        status, body = http("POST", self.url + "/_matrix/client/v3/keys/upload",
                            {"device_keys": dk, "one_time_keys": otks}, token=self.token)
        assert status == 200, body
        assert body["one_time_key_counts"].get("signed_curve25519") == n_otk, body
        self.account.mark_keys_as_published()

    def _olm_decrypt(self, sender_key, mtype, body):
        if mtype == 0:
            msg = olm.OlmPreKeyMessage(body)
            for s in self.sessions:
                if s.matches(msg, sender_key):
                    return s.decrypt(msg)
            s = olm.InboundSession(self.account, msg, sender_key)
            self.account.remove_one_time_keys(s)
            self.sessions.insert(0, s)
            return s.decrypt(msg)
        msg = olm.OlmMessage(body)
        for s in self.sessions:
            try:
                return s.decrypt(msg)
            except olm.OlmSessionError:
                continue
        raise AssertionError("%s %s: no Olm session decrypts a type-1 message"
                             % (self.user, self.device_id))

    def room_keys(self, sender=GHOST):
        """The m.room_key contents received since the last call (decrypted
        and checked: sender, recipient, recipient keys).  Each ghost shares
        its room keys from a device of its own, so `sender` is the ghost."""
        q = {"timeout": "0", "filter": self.SYNC_FILTER}
        if self.since:
            q["since"] = self.since
        status, body = http("GET", self.url + "/_matrix/client/v3/sync?"
                            + urllib.parse.urlencode(q), token=self.token)
        assert status == 200, body
        self.since = body["next_batch"]
        out = []
        for ev in body.get("to_device", {}).get("events", []):
            c = ev.get("content", {})
            if ev.get("type") != "m.room.encrypted" or c.get("algorithm") != OLM_ALGO:
                continue
            ct = c.get("ciphertext", {}).get(self.curve)
            if ct is None:
                continue
            payload = json.loads(self._olm_decrypt(c["sender_key"], ct["type"], ct["body"]))
            assert payload["sender"] == ev["sender"] == sender, payload["sender"]
            assert payload["recipient"] == self.user, payload["recipient"]
            assert payload["recipient_keys"]["ed25519"] == self.ed
            if payload["type"] == "m.room_key":
                out.append(payload["content"])
        return out


# ------------------------------------------------------------------ helpers


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%d cores (%s), %.1f GB RAM, Linux %s, Python %s" % (
        os.cpu_count(), cpu, mem_gb, platform.release(), platform.python_version())


def synapse_version():
    import synapse
    return synapse.__version__


class MessageMap:
    """The bridge's message map (read-only): a row is written when the
    homeserver accepted the send."""

    def __init__(self, bridge):
        path = os.path.join(bridge.dir, "passerelle.db")
        self.db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)

    def _q(self, sql, args):
        for _ in range(100):
            try:
                return self.db.execute(sql, args).fetchone()
            except sqlite3.OperationalError:  # busy during a checkpoint
                time.sleep(0.01)
        raise RuntimeError("message map unreadable")

    def count(self, chat, prefix):
        return self._q("SELECT count(*) FROM messages WHERE plugin = 'loopback' AND chat_id = ? "
                       "AND legacy_id >= ? AND legacy_id < ?", (chat, prefix, prefix + "~"))[0]

    def event(self, chat, legacy_id):
        row = self._q("SELECT room_id, event_id FROM messages WHERE plugin = 'loopback' "
                      "AND chat_id = ? AND legacy_id = ?", (chat, legacy_id))
        return row

    def wait_count(self, chat, prefix, n, timeout, interval):
        deadline = time.monotonic() + timeout
        while self.count(chat, prefix) < n:
            if time.monotonic() > deadline:
                raise AssertionError("timed out: %d of %d messages of %s accepted"
                                     % (self.count(chat, prefix), n, prefix))
            time.sleep(interval)
        return time.monotonic()

    def close(self):
        self.db.close()


def deliver(net, chat, mid, text):
    net.deliver(LB_USER, {"ev": "message", "id": mid, "chat": chat, "chat_kind": "group",
                          "from": "bob", "text": text})


REQ_RE = re.compile(r"\{([^}]*)\} Processed request: ([0-9.]+)sec/.* \d+B (\d+) "
                    r"\"(\w+) (\S+)")
KINDS = (("join", "/join/"), ("profile", "/profile/"), ("keys/query", "/keys/query"), ("keys/claim", "/keys/claim"),
         ("keys/upload", "/keys/upload"), ("cross-signing", "/keys/device_signing/upload"),
         ("signatures", "/keys/signatures/upload"), ("devices", "/devices/"),
         ("sendToDevice", "/sendToDevice/"), ("members", "/members"),
         ("send", "/send/"), ("state", "/state/"))


def access_since(path, offset, who=None):
    """Requests Synapse completed after byte `offset` of its access log
    (only those whose requester contains one of the strings `who`, when
    given):
    {kind: [count, total seconds]} and the new offset."""
    out = {}
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    for line in data.decode(errors="replace").splitlines():
        m = REQ_RE.search(line)
        if not m or (who is not None and not any(w in m.group(1) for w in who)):
            continue
        kind = next((k for k, frag in KINDS if frag in m.group(5)), "other")
        c = out.setdefault(kind, [0, 0.0])
        c[0] += 1
        c[1] += float(m.group(2))
    return out, offset + len(data)


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def event_session(stack, agent, room, event_id):
    status, ev = http("GET", "%s/_matrix/client/v3/rooms/%s/event/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""),
        urllib.parse.quote(event_id, safe="")), token=agent.client.access_token)
    assert status == 200, ev
    assert ev["type"] == "m.room.encrypted" and "body" not in ev["content"], ev
    return ev["content"]["session_id"]


# ------------------------------------------------------------------ setup


def login(agent, net):
    net.add_user(LB_USER, "pw", "Agent Legacy")
    mgmt = open_management_room(agent)
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, LB_USER)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0), what="password prompt")
    agent.text(mgmt, "pw")
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")
    net.wait_connected(LB_USER, 30)


def make_portal(agent, net, mm, chat, name):
    """A group portal with the agent and the ghost of bob, joined by the agent."""
    net.deliver(LB_USER, {"ev": "chat", "id": chat, "kind": "group", "name": name,
                          "members": [LB_USER, "bob"]})
    deliver(net, chat, chat + "-setup", "setup of " + name)
    room = agent.wait_invite(lambda a, r: (a.invite_name(r) or "").startswith(name),
                             timeout=60)
    agent.join(room)
    mm.wait_count(chat, chat + "-setup", 1, 60, 0.05)
    return room


# ------------------------------------------------------------------ 1. throughput


def bench_throughput(stack, agent, net, mm, results):
    rooms = {"clear": make_portal(agent, net, mm, "clear", "Clear bench")}
    stack.set_encryption_default(True)
    net.wait_connected(LB_USER, 60, count=2)
    rooms["encrypted"] = make_portal(agent, net, mm, "encrypted", "Encrypted bench")
    assert agent.state(rooms["clear"], "m.room.encryption") is None
    assert agent.state(rooms["encrypted"], "m.room.encryption") is not None
    # The agent's device holds the encrypted portal's key.
    setup = "setup of Encrypted bench"
    agent.wait(lambda a: [e for e in a.events.get(rooms["encrypted"], [])
                          if "_e2e" in e and e["content"].get("body") == setup],
               timeout=60, what="the agent decrypting the setup message")
    n = ARGS.messages
    bridge_pid, hs_pid = stack.bridge.proc.pid, stack.synapse.proc.pid
    rounds = []
    for rnd in range(ARGS.rounds):
        order = ("encrypted", "clear") if rnd % 2 == 0 else ("clear", "encrypted")
        for side in order:
            time.sleep(2)  # the previous side's echoes reach the bridge and are dropped
            prefix = "r%d-%s-" % (rnd + 1, side)
            cpu0 = (cpu_s(bridge_pid), cpu_s(hs_pid))
            t0 = time.monotonic()
            for i in range(n):
                deliver(net, side, "%s%05d" % (prefix, i), "bench message %d of round %d"
                        % (i, rnd + 1))
            t1 = mm.wait_count(side, prefix, n, timeout=60 + n, interval=0.02)
            cpu1 = (cpu_s(bridge_pid), cpu_s(hs_pid))
            rounds.append({"round": rnd + 1, "side": side, "count": n, "seconds": t1 - t0,
                           "rate": n / (t1 - t0),
                           "host_cpu_ms_per_msg": (cpu1[0] - cpu0[0]) * 1000 / n,
                           "synapse_cpu_ms_per_msg": (cpu1[1] - cpu0[1]) * 1000 / n})
            print("  round %d %-9s %6.1f msgs/s (%.2f s)" % (rnd + 1, side, n / (t1 - t0),
                                                             t1 - t0), flush=True)
    # What the homeserver holds is ciphertext, and the agent's device reads it.
    last = "bench message %d of round %d" % (n - 1, ARGS.rounds)
    _, ev_id = mm.event("encrypted", "r%d-encrypted-%05d" % (ARGS.rounds, n - 1))
    event_session(stack, agent, rooms["encrypted"], ev_id)
    agent.wait(lambda a: [e for e in a.events.get(rooms["encrypted"], [])
                          if "_e2e" in e and e["content"].get("body") == last],
               timeout=120, what="the agent decrypting the last encrypted message")
    ratios = []
    for rnd in range(ARGS.rounds):
        r = {x["side"]: x["rate"] for x in rounds if x["round"] == rnd + 1}
        ratios.append(r["encrypted"] / r["clear"])
    results["throughput"] = {"rounds": rounds, "ratios": ratios,
                             "median_ratio": statistics.median(ratios)}
    return rooms


# ------------------------------------------------------------------ 2. key share


def timed_message(stack, net, mm, chat, mid):
    """Delivers one legacy message; seconds until the homeserver accepted it,
    the host's CPU seconds meanwhile and Synapse's requests."""
    access = stack.synapse.access_log
    off = log_size(access)
    cpu0 = cpu_s(stack.bridge.proc.pid)
    t0 = time.monotonic()
    deliver(net, chat, mid, "timed " + mid)
    t1 = mm.wait_count(chat, mid, 1, timeout=120, interval=0.002)
    cpu1 = cpu_s(stack.bridge.proc.pid)
    time.sleep(0.2)  # the access log line of the last request
    reqs, _ = access_since(access, off)
    return {"seconds": t1 - t0, "host_cpu_s": cpu1 - cpu0, "requests": reqs}


def flood(stack, net, mm, chat, prefix, n):
    """n legacy messages in a row into one portal: rate, the host's and
    Synapse's CPU per message, Synapse's requests."""
    access = stack.synapse.access_log
    off = log_size(access)
    pids = (stack.bridge.proc.pid, stack.synapse.proc.pid)
    cpu0 = [cpu_s(p) for p in pids]
    t0 = time.monotonic()
    for i in range(n):
        deliver(net, chat, "%s%05d" % (prefix, i), "flood message %d" % i)
    t1 = mm.wait_count(chat, prefix, n, timeout=60 + n, interval=0.02)
    cpu1 = [cpu_s(p) for p in pids]
    time.sleep(0.2)
    reqs, _ = access_since(access, off)
    return {"count": n, "seconds": t1 - t0, "rate": n / (t1 - t0),
            "host_cpu_ms_per_msg": (cpu1[0] - cpu0[0]) * 1000 / n,
            "synapse_cpu_ms_per_msg": (cpu1[1] - cpu0[1]) * 1000 / n, "requests": reqs}


def latency_baseline(stack, net, mm, results, n=5):
    out = {}
    for side in ("clear", "encrypted"):
        vals = []
        for i in range(n):
            time.sleep(0.3)
            vals.append(timed_message(stack, net, mm, side, "lat-%s-%d" % (side, i))["seconds"])
        out[side] = {"each": vals, "median": statistics.median(vals)}
    results["latency"] = out


def shared_rows(stack, session_id):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(stack.bridge.dir, "crypto.db"),
                         uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM megolm_outbound_shared WHERE session_id = ?",
                          (session_id,)).fetchone()[0]
    finally:
        db.close()


def verify_share(stack, agent, mm, devices, room, chat, mid):
    """Every bench device decrypts an m.room_key for the session of the
    message; returns (session id, devices holding it, crypto.db rows)."""
    _, ev_id = mm.event(chat, mid)
    sid = event_session(stack, agent, room, ev_id)
    got = 0
    for d in devices:
        keys = d.room_keys()
        if any(k.get("room_id") == room and k.get("session_id") == sid
               and k.get("algorithm") == MEGOLM_ALGO for k in keys):
            got += 1
    return sid, got, shared_rows(stack, sid)


def join_user(stack, agent, room, localpart):
    agent.run(agent.client.room_invite(room, "@%s:localhost" % localpart))


def bench_share(stack, agent, net, mm, results):
    hs = stack.synapse.url
    pw = "bench-pw"
    out = []
    for g in range(ARGS.shares):
        chat = "big%d" % (g + 1)
        room = make_portal(agent, net, mm, chat, "Big bench %d" % (g + 1))
        t_setup = time.monotonic()
        devices = []
        for u in range(ARGS.users):
            lp = "b%du%d" % (g + 1, u)
            stack.synapse.register(lp, pw)
            mine = [Device(hs, lp, pw, "B%dU%dD%d" % (g + 1, u, k)) for k in range(ARGS.devices)]
            for d in mine:
                d.upload_keys()
            devices.extend(mine)
            join_user(stack, agent, room, lp)
            st, body = http("POST", "%s/_matrix/client/v3/join/%s" % (
                hs, urllib.parse.quote(room, safe="")), {}, token=mine[0].token)
            assert st == 200, body
        setup_s = time.monotonic() - t_setup
        time.sleep(3)  # the joins reach the bridge (each rotates the session)
        for d in devices:  # nothing pending before the measured share
            d.room_keys()
        row = {"room": room, "devices": len(devices), "setup_s": setup_s}
        row["first"] = timed_message(stack, net, mm, chat, chat + "-a")
        sid_a, got_a, rows_a = verify_share(stack, agent, mm, devices, room, chat, chat + "-a")
        time.sleep(0.5)
        row["next"] = timed_message(stack, net, mm, chat, chat + "-b")
        sid_b, _, _ = verify_share(stack, agent, mm, devices, room, chat, chat + "-b")
        # A membership change: a new session, Olm sessions already there.
        lp = "b%drot" % (g + 1)
        stack.synapse.register(lp, pw)
        join_user(stack, agent, room, lp)
        st, body = http("POST", "%s/_matrix/client/v3/login" % hs, {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": lp},
            "password": pw}, token=None)
        assert st == 200, body
        st, body = http("POST", "%s/_matrix/client/v3/join/%s" % (
            hs, urllib.parse.quote(room, safe="")), {}, token=body["access_token"])
        assert st == 200, body
        time.sleep(3)
        row["rotated"] = timed_message(stack, net, mm, chat, chat + "-c")
        sid_c, got_c, rows_c = verify_share(stack, agent, mm, devices, room, chat, chat + "-c")
        time.sleep(0.5)
        row["rotated_next"] = timed_message(stack, net, mm, chat, chat + "-d")
        row["flood"] = flood(stack, net, mm, chat, chat + "-f", ARGS.big_flood)
        row.update({"session_first": sid_a, "devices_decrypted_first": got_a,
                    "shared_rows_first": rows_a, "same_session_next": sid_b == sid_a,
                    "session_rotated": sid_c, "new_session_rotated": sid_c != sid_a,
                    "devices_decrypted_rotated": got_c, "shared_rows_rotated": rows_c})
        print("  room %d: first %.3f s, next %.3f s, rotated %.3f s, next %.3f s; "
              "%d/%d devices decrypted the key (then %d/%d); %d in a row: %.1f msgs/s"
              % (g + 1, row["first"]["seconds"], row["next"]["seconds"],
                 row["rotated"]["seconds"], row["rotated_next"]["seconds"], got_a,
                 len(devices), got_c, len(devices), ARGS.big_flood, row["flood"]["rate"]),
              flush=True)
        out.append(row)
    results["share"] = out


# ------------------------------------------------------------------ 3. ghosts' devices


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def ro_db(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)


def db_query(db, sql, args=()):
    for _ in range(200):
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # busy during a checkpoint
            time.sleep(0.01)
    raise RuntimeError("database unreadable: " + sql)


def crypto_db_bytes(stack):
    """The crypto store's logical size (pages, the WAL's included)."""
    db = ro_db(os.path.join(stack.bridge.dir, "crypto.db"))
    try:
        return (db_query(db, "PRAGMA page_count")[0][0] * db_query(db, "PRAGMA page_size")[0][0])
    finally:
        db.close()


def crypto_rows(stack, mxid):
    """What crypto.db holds for one ghost identity: rows and their payload
    bytes per table (keys and values, before SQLite's own overhead)."""
    db = ro_db(os.path.join(stack.bridge.dir, "crypto.db"))
    q = {
        "identities": "SELECT count(*), coalesce(sum(length(user_id) + length(device_id) "
                      "+ length(pickle) + 3), 0) FROM identities WHERE user_id = ?",
        "cross_signing": "SELECT count(*), coalesce(sum(length(user_id) + length(sealed) "
                         "+ length(master) + length(self_signing) + length(user_signing)), 0) "
                         "FROM cross_signing WHERE user_id = ?",
        "olm_sessions": "SELECT count(*), coalesce(sum(length(session_id) + length(sender_key) "
                        "+ length(pickle) + length(owner) + 16), 0) FROM olm_sessions "
                        "WHERE owner = ?",
        "megolm_outbound": "SELECT count(*), coalesce(sum(length(owner) + length(room_id) "
                           "+ length(session_id) + length(pickle) + 16), 0) "
                           "FROM megolm_outbound WHERE owner = ?",
        "megolm_outbound_shared": "SELECT count(*), coalesce(sum(length(s.room_id) "
                                  "+ length(s.session_id) + length(s.user_id) "
                                  "+ length(s.device_id)), 0) FROM megolm_outbound_shared s "
                                  "JOIN megolm_outbound o ON o.session_id = s.session_id "
                                  "WHERE o.owner = ?",
        "megolm_inbound": "SELECT count(*), coalesce(sum(length(room_id) + length(sender_key) "
                          "+ length(session_id) + length(sender_ed25519) + length(pickle) + 16), "
                          "0) FROM megolm_inbound WHERE sender_key = (SELECT curve25519 "
                          "FROM devices WHERE user_id = ?)",
        "devices": "SELECT count(*), coalesce(sum(length(user_id) + length(device_id) "
                   "+ length(ed25519) + length(curve25519) + 2), 0) FROM devices "
                   "WHERE user_id = ?",
    }
    try:
        return {t: db_query(db, sql, (mxid,))[0] for t, sql in q.items()}
    finally:
        db.close()


HS_TABLES = {
    "devices": "SELECT count(*) FROM devices WHERE user_id = ? AND NOT hidden",
    "device_keys": "SELECT count(*) FROM e2e_device_keys_json WHERE user_id = ?",
    "one_time_keys": "SELECT count(*) FROM e2e_one_time_keys_json WHERE user_id = ?",
    "fallback_keys": "SELECT count(*) FROM e2e_fallback_keys_json WHERE user_id = ?",
    "cross_signing_keys": "SELECT count(*) FROM e2e_cross_signing_keys WHERE user_id = ?",
    "cross_signing_signatures": "SELECT count(*) FROM e2e_cross_signing_signatures "
                                "WHERE user_id = ?",
}


def hs_rows(stack, mxid):
    """The homeserver's rows for one ghost (its database, read-only)."""
    db = ro_db(os.path.join(stack.synapse.dir, "homeserver.db"))
    try:
        return {t: db_query(db, sql, (mxid,))[0][0] for t, sql in HS_TABLES.items()}
    finally:
        db.close()


def event_content(stack, agent, room, event_id):
    status, ev = http("GET", "%s/_matrix/client/v3/rooms/%s/event/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""),
        urllib.parse.quote(event_id, safe="")), token=agent.client.access_token)
    assert status == 200, ev
    return ev


def bridge_message(stack, net, mm, chat, who, mid):
    """One legacy message from `who`: seconds until the homeserver accepted
    it, the host's CPU meanwhile, the bridge's requests (as the bot or a
    ghost; the access log names the ghost a request is made as)."""
    access = stack.synapse.access_log
    off = log_size(access)
    cpu0 = cpu_s(stack.bridge.proc.pid)
    t0 = time.monotonic()
    net.deliver(LB_USER, {"ev": "message", "id": mid, "chat": chat, "chat_kind": "group",
                          "from": who, "text": "message " + mid})
    t1 = mm.wait_count(chat, mid, 1, timeout=120, interval=0.002)
    cpu1 = cpu_s(stack.bridge.proc.pid)
    time.sleep(0.3)  # the access log lines of the last requests
    reqs, _ = access_since(access, off, who=(BOT, "@_pa_"))
    return {"seconds": t1 - t0, "host_cpu_s": cpu1 - cpu0, "requests": reqs}


def bench_ghosts(stack, agent, net, mm, results):
    n = ARGS.ghosts
    chat = "ghosts"
    room = make_portal(agent, net, mm, chat, "Ghosts bench")
    names = ["g%03d" % i for i in range(n)]
    mxids = ["@_pa_loopback_%s:localhost" % g for g in names]
    # Every ghost joins first (the chat's members), so a first message
    # measures the device and the share, not the join.
    net.deliver(LB_USER, {"ev": "chat", "id": chat, "kind": "group", "name": "Ghosts bench",
                          "members": [{"id": LB_USER}, {"id": "bob"}]
                                     + [{"id": g, "name": "Ghost " + g} for g in names]})

    def joined():
        st, body = http("GET", "%s/_matrix/client/v3/rooms/%s/joined_members" % (
            stack.synapse.url, urllib.parse.quote(room, safe="")),
            token=agent.client.access_token)
        return st == 200 and set(mxids) <= set(body.get("joined", {}))
    harness.wait_until(joined, timeout=120 + n, what="the ghosts joining")
    time.sleep(3)  # the joins reach the bridge (each rotates the room's sessions)
    pid = stack.bridge.proc.pid
    bot_device = None
    rows = []
    db_bytes0 = crypto_db_bytes(stack)
    rss0 = vm_rss_kb(pid)
    for i, (g, mxid) in enumerate(zip(names, mxids)):
        time.sleep(0.3)
        rss_a = vm_rss_kb(pid)
        first = bridge_message(stack, net, mm, chat, g, "%s-1" % g)
        rss_b = vm_rss_kb(pid)
        time.sleep(0.3)
        second = bridge_message(stack, net, mm, chat, g, "%s-2" % g)
        rows.append({"ghost": mxid, "first": first, "second": second,
                     "rss_first_kb": rss_b - rss_a})
        if (i + 1) % 10 == 0:
            # The agent's client syncs as a live one would: it learns the
            # new devices and tops up its one-time keys (each new ghost
            # claims one; the agent's requests are not counted).
            agent.sync()
            print("  %d ghosts: last first %.0f ms, second %.0f ms" % (
                i + 1, first["seconds"] * 1000, second["seconds"] * 1000), flush=True)
    time.sleep(1)
    rss1 = vm_rss_kb(pid)
    db_bytes1 = crypto_db_bytes(stack)
    # Each first message was the ghost's own device's, and the homeserver
    # holds ciphertext.
    devices_seen = set()
    for g, mxid in zip(names, mxids):
        _, ev_id = mm.event(chat, "%s-1" % g)
        ev = event_content(stack, agent, room, ev_id)
        assert ev["type"] == "m.room.encrypted" and ev["sender"] == mxid, ev
        devices_seen.add(ev["content"]["device_id"])
    st, body = http("GET", "%s/_matrix/client/v3/rooms/%s/event/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""), urllib.parse.quote(
            mm.event(chat, chat + "-setup")[1], safe="")), token=agent.client.access_token)
    bot_device = body.get("content", {}).get("device_id")
    assert len(devices_seen) == n and bot_device not in devices_seen, devices_seen
    # The agent's device reads the ghosts' messages.
    bodies = {"message %s-%d" % (g, k) for g in names for k in (1, 2)}

    def read():
        return {e["content"].get("body") for e in agent.events.get(room, [])
                if "_e2e" in e} & bodies
    deadline = time.monotonic() + 60
    while len(read()) < len(bodies) and time.monotonic() < deadline:
        agent.sync(timeout_ms=1000)
    store = [crypto_rows(stack, m) for m in mxids]
    hs = [hs_rows(stack, m) for m in mxids]
    med = lambda xs: statistics.median(xs)  # noqa: E731
    reqs_first = [sum(c for c, _ in r["first"]["requests"].values()) for r in rows]
    reqs_second = [sum(c for c, _ in r["second"]["requests"].values()) for r in rows]
    kinds = {}
    for r in rows:
        for k, (c, secs) in r["first"]["requests"].items():
            kinds.setdefault(k, [0, 0.0])
            kinds[k][0] += c
            kinds[k][1] += secs
    per_table = {t: [sum(s[t][0] for s in store) / n, sum(s[t][1] for s in store) / n]
                 for t in store[0]}
    results["ghosts"] = {
        "count": n, "rows": rows, "device_ids": sorted(devices_seen),
        "agent_decrypted": len(read()), "messages": len(bodies),
        "first_ms": [r["first"]["seconds"] * 1000 for r in rows],
        "second_ms": [r["second"]["seconds"] * 1000 for r in rows],
        "first_ms_median": med([r["first"]["seconds"] * 1000 for r in rows]),
        "second_ms_median": med([r["second"]["seconds"] * 1000 for r in rows]),
        "first_host_cpu_ms_median": med([r["first"]["host_cpu_s"] * 1000 for r in rows]),
        "second_host_cpu_ms_median": med([r["second"]["host_cpu_s"] * 1000 for r in rows]),
        "requests_first": reqs_first, "requests_second": reqs_second,
        "requests_first_by_kind_per_ghost": {k: [c / n, secs * 1000 / n]
                                             for k, (c, secs) in kinds.items()},
        "crypto_db_bytes_before": db_bytes0, "crypto_db_bytes_after": db_bytes1,
        "crypto_db_bytes_per_ghost": (db_bytes1 - db_bytes0) / n,
        "crypto_rows_per_ghost": per_table,
        "crypto_row_bytes_per_ghost": sum(v[1] for v in per_table.values()),
        "rss_kb_before": rss0, "rss_kb_after": rss1, "rss_kb_per_ghost": (rss1 - rss0) / n,
        "rss_first_kb_median": med([r["rss_first_kb"] for r in rows]),
        "homeserver_rows": hs,
        "homeserver_rows_per_ghost": {t: sum(h[t] for h in hs) / n for t in HS_TABLES},
    }
    g = results["ghosts"]
    print("  first message %.1f ms, second %.1f ms (medians); requests per new ghost %s; "
          "crypto.db +%.0f B/ghost; RSS +%.1f KB/ghost" % (
              g["first_ms_median"], g["second_ms_median"], med(reqs_first),
              g["crypto_db_bytes_per_ghost"], g["rss_kb_per_ghost"]), flush=True)


# ------------------------------------------------------------------ report


def fmt_reqs(reqs):
    keep = [k for k, _ in KINDS if k in reqs and k != "send"]
    return ", ".join("%s %d×/%.0f ms" % (k, reqs[k][0], reqs[k][1] * 1000) for k in keep) or "-"


def report(results):
    rows = []
    t = results.get("throughput", {"rounds": []})
    for r in t["rounds"]:
        rows.append(("1. round %d, %s portal (%d msgs)" % (r["round"], r["side"], r["count"]),
                     "%.1f msgs/s (%.2f s; host %.2f, Synapse %.2f ms CPU/msg)" % (
                         r["rate"], r["seconds"], r["host_cpu_ms_per_msg"],
                         r["synapse_cpu_ms_per_msg"]), "", ""))
    if t["rounds"]:
        rows.append(("   encrypted / clear, each round",
                     ", ".join("%.3f" % x for x in t["ratios"]), "", ""))
        rows.append(("   encrypted / clear, median", "**%.3f**" % t["median_ratio"],
                     ">= %.1f" % AIM_RATIO, "%.2f (%s)" % (
                         t["median_ratio"] / AIM_RATIO,
                         "met" if t["median_ratio"] >= AIM_RATIO else "missed")))
    lat = results.get("latency")
    if lat:
        rows.append(("   one message alone, clear / encrypted (1 device), median of %d"
                     % len(lat["clear"]["each"]),
                     "%.1f / %.1f ms" % (lat["clear"]["median"] * 1000,
                                         lat["encrypted"]["median"] * 1000), "", ""))
    sh = results.get("share")
    if sh:
        ndev = sh[0]["devices"]
        for i, r in enumerate(sh):
            rows.append(("2. room %d, first message, new session to %d+1 devices" % (i + 1, ndev),
                         "%.1f ms (host CPU %.0f ms; %s)" % (
                             r["first"]["seconds"] * 1000, r["first"]["host_cpu_s"] * 1000,
                             fmt_reqs(r["first"]["requests"])), "", ""))
            rows.append(("   next message (session shared)",
                         "%.1f ms (host CPU %.0f ms)" % (r["next"]["seconds"] * 1000,
                                                         r["next"]["host_cpu_s"] * 1000), "", ""))
            rows.append(("   after a membership change (new session, Olm sessions kept)",
                         "%.1f ms (host CPU %.0f ms; %s)" % (
                             r["rotated"]["seconds"] * 1000, r["rotated"]["host_cpu_s"] * 1000,
                             fmt_reqs(r["rotated"]["requests"])), "", ""))
            rows.append(("   next message", "%.1f ms" % (r["rotated_next"]["seconds"] * 1000),
                         "", ""))
            f = r["flood"]
            rows.append(("   %d messages in a row into this room" % f["count"],
                         "%.1f msgs/s (host %.2f, Synapse %.2f ms CPU/msg; %s)" % (
                             f["rate"], f["host_cpu_ms_per_msg"], f["synapse_cpu_ms_per_msg"],
                             fmt_reqs(f["requests"])), "", ""))
            rows.append(("   devices that decrypted the m.room_key (crypto.db shared rows)",
                         "%d/%d (%d), after rotation %d/%d (%d)" % (
                             r["devices_decrypted_first"], ndev, r["shared_rows_first"],
                             r["devices_decrypted_rotated"], ndev, r["shared_rows_rotated"]),
                         "", ""))
        med = lambda k: statistics.median(r[k]["seconds"] for r in sh) * 1000  # noqa: E731
        rows.append(("   median: first / next / rotated / next (ms)",
                     "**%.1f / %.1f / %.1f / %.1f**" % (med("first"), med("next"),
                                                        med("rotated"), med("rotated_next")),
                     "", ""))
    g = results.get("ghosts")
    if g:
        rows.append(("3. %d new ghosts, first message (device, keys, cross-signing, share), "
                     "median" % g["count"],
                     "**%.1f ms** (min %.1f, max %.1f; host CPU %.1f ms)" % (
                         g["first_ms_median"], min(g["first_ms"]), max(g["first_ms"]),
                         g["first_host_cpu_ms_median"]), "", ""))
        rows.append(("   second message, median",
                     "**%.1f ms** (min %.1f, max %.1f; host CPU %.1f ms)" % (
                         g["second_ms_median"], min(g["second_ms"]), max(g["second_ms"]),
                         g["second_host_cpu_ms_median"]), "", ""))
        rows.append(("   bridge requests per new ghost (first message), median / second",
                     "%s / %s (%s)" % (
                         statistics.median(g["requests_first"]),
                         statistics.median(g["requests_second"]),
                         ", ".join("%s %.1f×/%.1f ms" % (k, c, ms) for k, (c, ms) in sorted(
                             g["requests_first_by_kind_per_ghost"].items()))), "", ""))
        rows.append(("   crypto.db per ghost: file growth / row payload",
                     "%.0f B / %.0f B (%s)" % (
                         g["crypto_db_bytes_per_ghost"], g["crypto_row_bytes_per_ghost"],
                         ", ".join("%s %.1f rows %.0f B" % (t, c, b) for t, (c, b) in
                                   g["crypto_rows_per_ghost"].items() if c)), "", ""))
        rows.append(("   host VmRSS per ghost: over all / median at the first message",
                     "%.1f KB / %d KB (%d → %d KB)" % (
                         g["rss_kb_per_ghost"], g["rss_first_kb_median"], g["rss_kb_before"],
                         g["rss_kb_after"]), "", ""))
        rows.append(("   messages the agent's device decrypted",
                     "%d/%d" % (g["agent_decrypted"], g["messages"]), "", ""))
        rows.append(("   homeserver rows per ghost",
                     ", ".join("%s %.1f" % kv for kv in g["homeserver_rows_per_ghost"].items()),
                     "", ""))
    print()
    print("| figure | measured | aim | ratio to aim |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s |" % " | ".join(r))
    print()
    print("machine:", results["machine"])
    print("Synapse %s (SQLite), %s" % (results["synapse"], results["date"]))
    print("reproduce: %s" % results["command"])


def main():
    for path in (harness.PASSERELLE, harness.LOOPBACK_SO):
        if not os.path.exists(path):
            sys.exit("missing %s: run `meson setup %s --buildtype=release && ninja -C %s`"
                     % (path, ARGS.build, ARGS.build))
    results = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
               "synapse": synapse_version(),
               "command": " ".join([sys.executable] + sys.argv)}
    with open("/proc/loadavg") as f:
        results["load_before"] = f.read().split()[0]
    t_start = time.monotonic()
    net = LoopNet()
    net.start()
    stack = BenchStack()
    agent = mm = None
    try:
        stack.start()
        agent = E2EAgent(stack, "bench", device_name="bench-agent")
        login(agent, net)
        mm = MessageMap(stack.bridge)
        if "throughput" in ARGS.parts:
            print("1. throughput, %d messages per side, %d rounds" % (ARGS.messages,
                                                                      ARGS.rounds), flush=True)
            bench_throughput(stack, agent, net, mm, results)
            latency_baseline(stack, net, mm, results)
        else:
            stack.set_encryption_default(True)
            net.wait_connected(LB_USER, 60, count=2)
        if "ghosts" in ARGS.parts:
            print("3. ghosts' devices, %d new ghosts in one room" % ARGS.ghosts, flush=True)
            bench_ghosts(stack, agent, net, mm, results)
        if "share" in ARGS.parts:
            print("2. room key share, %d users x %d devices, %d rooms"
                  % (ARGS.users, ARGS.devices, ARGS.shares), flush=True)
            perf = None
            if ARGS.perf:
                perf = subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph",
                                         "dwarf", "-p", str(stack.bridge.proc.pid), "-o", ARGS.perf],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)  # let perf attach
            try:
                bench_share(stack, agent, net, mm, results)
            finally:
                if perf is not None:
                    perf.send_signal(signal.SIGINT)
                    perf.wait(60)
    finally:
        if mm is not None:
            mm.close()
        if agent is not None:
            agent.close()
        stack.close()
        net.stop()
    results["wall_s"] = time.monotonic() - t_start
    report(results)
    print("load average before: %s; wall time: %.0f s" % (results["load_before"],
                                                          results["wall_s"]))
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
