# SPDX-License-Identifier: AGPL-3.0-or-later
"""Issue #10, cases 9 and 11 against a real Synapse: secrets at rest (the
store files and the data dir after a password login, the config written by
`-g`), a worker that stops answering (SIGSTOP) and a plugin flooding its
agent with notices."""

import os
import signal
import stat
import subprocess
import time

import pytest
import yaml

from harness import PASSERELLE, Agent, Stack, bot_says, open_management_room, wait_until
from conftest import running

BOT = "@passerelle:localhost"
PASSWORD = "Tr0ub4dor-secret-%d" % os.getpid()

# Short watchdog and notice limits, so that the tests take seconds.
WORKERS = {"restart_max_delay_s": 2, "ping_interval_s": 1, "ping_timeout_s": 4,
           "notice_burst": 5, "notice_every_s": 3}


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    with open(s.bridge.config) as f:
        cfg = yaml.safe_load(f)
    cfg["workers"] = dict(WORKERS)
    with open(s.bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)
    yield from running(s)


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def login_in_room(agent, mgmt, net, user, password):
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, user)
    return n0


def store_files(stack):
    """SQLite's files, or on PostgreSQL the database's files and the WAL."""
    return stack.bridge.store_files()


def grep_store(stack, needle):
    hits = []
    for p in store_files(stack):
        with open(p, "rb") as f:
            if needle.encode() in f.read():
                hits.append(p)
    return hits


def test_agent_room_warns_before_password_and_newroom_redacts(stack, alice, net):
    """The agent created the management room: the bot cannot redact there,
    says so before asking, and `newroom` moves the login to a room of its
    own where the password is deleted; the password never reaches the
    store files."""
    net.add_user("alice-lb", PASSWORD, "Alice Legacy")
    mgmt = open_management_room(alice)
    n0 = login_in_room(alice, mgmt, net, "alice-lb", PASSWORD)
    warn = alice.wait(lambda a: bot_says(a, mgmt, "cannot delete messages in this room", n0),
                      what="the warning before the password")
    assert "newroom" in warn[0]["content"]["body"]
    assert not bot_says(alice, mgmt, "your password (your message", n0), "asked anyway"
    alice.text(mgmt, "newroom")
    new = alice.wait_invite(lambda a, r: a.inviter(r) == BOT and r != mgmt)
    alice.join(new)
    alice.wait(lambda a: bot_says(a, new, "Please send your password"), what="password prompt")
    alice.text(new, PASSWORD)
    alice.wait(lambda a: bot_says(a, new, "Logged in"), what="login complete")
    # Deleted from the room (the bot is its admin).
    def redacted(a):
        a.sync()
        hist = a.history(new)
        mine = [e for e in hist if e.get("sender") == a.mxid and e["type"] == "m.room.message"]
        return all("body" not in e.get("content", {}) for e in mine) and mine
    wait_until(lambda: redacted(alice), 30, what="the password redacted")
    assert not bot_says(alice, new, "could not delete")
    # Nothing of it in the store, its WAL or its shared memory (on PostgreSQL:
    # the database's files, the server's WAL).
    time.sleep(1)
    assert store_files(stack)
    assert grep_store(stack, PASSWORD) == []
    # The legacy network got it (the login worked through the worker).
    wait_until(lambda: net.connected("alice-lb"), 20, what="alice-lb connected")


def test_store_and_data_dir_modes(stack):
    for p in store_files(stack):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    data = os.path.join(stack.bridge.dir, "data")
    seen = 0
    secrets = []
    for root, dirs, files in os.walk(data):
        for d in dirs:
            m = stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode)
            assert m & 0o077 == 0, (os.path.join(root, d), oct(m))
        for f in files:
            m = stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode)
            assert m & 0o077 == 0, (os.path.join(root, f), oct(m))
            seen += 1
            # Credentials are encrypted with the host's key (secret_store).
            with open(os.path.join(root, f), "rb") as fh:
                assert PASSWORD.encode() not in fh.read(), os.path.join(root, f)
            secrets.append(f)
    assert seen >= 1  # the loopback session file at least
    assert "password.secret" in secrets


def test_generate_registration_leaves_config_0600(tmp_path):
    cfg = tmp_path / "config.yaml"
    subprocess.run([PASSERELLE, "-e", str(cfg)], check=True, capture_output=True)
    os.chmod(cfg, 0o644)
    reg = tmp_path / "registration.yaml"
    subprocess.run([PASSERELLE, "-g", "-c", str(cfg), "-r", str(reg)], check=True,
                   capture_output=True)
    with open(cfg) as f:
        tokens = yaml.safe_load(f)["appservice"]
    assert tokens.get("as_token") and tokens.get("hs_token")
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(reg).st_mode) == 0o600
    # No temporary file left next to it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "registration.yaml"]


def mgmt_of(agent):
    """The management room the bot made (the one the login ran in)."""
    for room_id in agent.events:
        if bot_says(agent, room_id, "your new management room"):
            return room_id
    raise AssertionError("no management room")


def alice_worker(stack):
    for pid, cmd in stack.bridge.worker_pids():
        return pid
    return None


def test_stopped_worker_reported_restarted_nothing_lost(stack, alice, net):
    mgmt = mgmt_of(alice)
    net.deliver("alice-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("alice-lb", {"ev": "message", "id": "wd-0", "chat": "bob", "chat_kind": "dm",
                             "from": "bob", "from_name": "Bob Legacy", "ts": 1700000000000,
                             "text": "hello alice"})
    room = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("bob"))
    alice.join(room)
    alice.wait(lambda a: "hello alice" in a.bodies(room, ghost("bob")), what="bob's message")
    pid = alice_worker(stack)
    assert pid
    n0 = len(alice.messages(mgmt, sender=BOT))
    os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(3):
            alice.text(room, "while stopped %d" % i)
        alice.wait(lambda a: bot_says(a, mgmt, "stopped answering", n0), timeout=30,
                   what="the watchdog notice")
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    wait_until(lambda: not os.path.exists("/proc/%d" % pid)
               or open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z", 10,
               what="the stopped worker killed")
    new_pid = wait_until(lambda: alice_worker(stack), 20, what="a new worker")
    assert new_pid != pid
    for i in range(3):
        net.wait_sent("alice-lb", lambda o, i=i: o.get("op") == "send"
                      and o.get("text") == "while stopped %d" % i, 40)
    alice.text(room, "after restart")
    net.wait_sent("alice-lb", lambda o: o.get("op") == "send" and o.get("text") == "after restart",
                  30)
    time.sleep(2)
    texts = [o.get("text") for o in net.sent("alice-lb") if o.get("op") == "send"]
    for i in range(3):
        assert texts.count("while stopped %d" % i) == 1, texts
    assert texts.count("after restart") == 1
    assert not [m for m in alice.messages(room) if "Not delivered" in m["content"].get("body", "")]


def test_notice_flood_is_bounded(stack, alice, net):
    mgmt = mgmt_of(alice)
    net.wait_connected("alice-lb", 30)
    n0 = len(alice.messages(mgmt, sender=BOT))
    t0 = time.monotonic()
    for i in range(2000):
        net.deliver("alice-lb", {"ev": "notice", "text": "flood %d" % i})
    wait_until(lambda: not net.unacked("alice-lb"), 60, what="the flood taken by the plugin")
    alice.wait(lambda a: bot_says(a, mgmt, "more notices from Loopback suppressed", n0),
               timeout=30, what="the summary notice")
    elapsed = time.monotonic() - t0
    time.sleep(WORKERS["notice_every_s"] + 1)
    alice.sync()
    msgs = alice.messages(mgmt, sender=BOT)[n0:]
    floods = [m for m in msgs if m["content"].get("body", "").startswith("flood ")]
    summaries = [m for m in msgs if "suppressed" in m["content"].get("body", "")]
    allowed = WORKERS["notice_burst"] + int(elapsed / WORKERS["notice_every_s"]) + 2
    assert 1 <= len(floods) <= allowed, (len(floods), allowed)
    assert [m["content"]["body"] for m in floods[:5]] == ["flood %d" % i for i in range(5)]
    suppressed = 0
    for m in summaries:
        suppressed += int(m["content"]["body"].split("and ")[1].split(" ")[0])
    assert len(floods) + suppressed == 2000, (len(floods), suppressed)


def test_logout_forgets_the_key(stack, alice, net):
    import glob
    mgmt = mgmt_of(alice)

    def keys():
        return stack.bridge.db("SELECT key FROM kv WHERE key LIKE 'secret-key:%'")
    assert len(keys()) == 1
    secret = glob.glob(os.path.join(stack.bridge.dir, "data", "*", "password.secret"))
    assert len(secret) == 1
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "logout loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "Logging out", n0), what="logging out")
    # Whatever copy of the secret file remains cannot be opened any more.
    wait_until(lambda: keys() == [], 10, what="the login's key deleted")
