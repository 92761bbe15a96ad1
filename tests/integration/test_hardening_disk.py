# SPDX-License-Identifier: AGPL-3.0-or-later
"""Issue #10, case 4: a full disk loses nothing and tells the people once.

The bridge's store lives on a small size-limited tmpfs; the disk is filled
while messages flow both ways, then space is freed.  Every message must
arrive exactly once and in order in both directions, the legacy events of
the fault must stay unacknowledged until they are durable, a homeserver
transaction must be refused with 503 while the store cannot write, and the
agent and the admin must get the "cannot write" notice once and the
"recovered" notice once."""

import errno
import os
import subprocess
import tempfile
import time
import uuid

import pytest
import yaml

from harness import Agent, Stack, bot_says, http, open_management_room, wait_until
from conftest import running
import pg_harness

# test_hardening_pg_outage.py is its PostgreSQL counterpart: the server
# stopped mid-run.
pytestmark = pytest.mark.skipif(pg_harness.STORE != "sqlite",
                                reason="fills the disk under the SQLite store's file")

BOT = "@passerelle:localhost"
FAULT = "cannot write to its storage"
RECOVERED = "can write to its storage again"
N = 8  # messages each way during the fault
PAD = "x" * 1500  # makes each event grow the WAL


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


@pytest.fixture(scope="module")
def disk():
    """An 8 MiB tmpfs for the store (skipped where mounting is not allowed)."""
    d = tempfile.mkdtemp(prefix="passerelle-disk-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", d],
                           capture_output=True, text=True)
        why = r.stderr.strip() or "mount failed" if r.returncode != 0 else None
    except OSError as e:
        why = "no mount command: %s" % e
    if why is not None:
        os.rmdir(d)
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): " + why)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d], check=False)
        os.rmdir(d)


@pytest.fixture(scope="module")
def stack(disk):
    s = Stack()
    with open(s.bridge.config) as f:
        cfg = yaml.safe_load(f)
    cfg["database"] = os.path.join(disk, "passerelle.db")
    with open(s.bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)
    yield from running(s)


def fill(path):
    """Write `path` until the filesystem is full; returns the bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            chunk = b"\0" * size
            while True:
                try:
                    f.write(chunk)
                    n += size
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return n


def login(agent, mgmt, net, user):
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, user)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0), what="password prompt")
    agent.text(mgmt, "pw")
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")
    net.wait_connected(user, 20)


def sent_texts(net, user, prefix):
    return [op["text"] for op in net.sent(user)
            if op.get("op") == "send" and op.get("text", "").startswith(prefix)]


def test_full_disk_holds_everything_and_tells_once(stack, disk, net):
    alice = Agent(stack, "alice")
    admin = Agent(stack, "admin")
    try:
        run(stack, disk, net, alice, admin)
    finally:
        alice.close()
        admin.close()


def run(stack, disk, net, alice, admin):
    tag = uuid.uuid4().hex[:6]
    net.add_user("alice-lb", "pw", "Alice Legacy")
    mgmt = open_management_room(alice)
    admin_mgmt = open_management_room(admin)
    login(alice, mgmt, net, "alice-lb")
    net.deliver("alice-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("alice-lb", {"ev": "message", "chat": "bob", "chat_kind": "dm", "from": "bob",
                             "from_name": "Bob Legacy", "text": "hello before"})
    room = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("bob"))
    alice.join(room)
    alice.wait(lambda a: "hello before" in a.bodies(room, ghost("bob")), what="first message")
    alice.text(room, "M-%s-before" % tag)
    net.wait_sent("alice-lb", lambda op: op.get("text") == "M-%s-before" % tag, 20)

    filler = os.path.join(disk, "filler")
    fill(filler)
    # Both ways while the disk is full, interleaved, until SQLite says so (in the
    # log, whatever the bridge then does with it).
    legacy, matrix = [], []
    i = 0
    deadline = time.time() + 60
    while not stack.bridge._log_contains("database or disk is full"):
        assert time.time() < deadline, "the store never failed: " + stack.bridge.tail()
        body = "L-%s-%02d %s" % (tag, i, PAD)
        net.deliver("alice-lb", {"ev": "message", "chat": "bob", "from": "bob", "text": body})
        legacy.append(body)
        body = "M-%s-%02d %s" % (tag, i, PAD)
        alice.text(room, body)
        matrix.append(body)
        i += 1
        time.sleep(0.2)
    for _ in range(N):
        body = "L-%s-%02d %s" % (tag, i, PAD)
        net.deliver("alice-lb", {"ev": "message", "chat": "bob", "from": "bob", "text": body})
        legacy.append(body)
        body = "M-%s-%02d %s" % (tag, i, PAD)
        alice.text(room, body)
        matrix.append(body)
        i += 1

    # Told, once each, while the store cannot write.
    alice.wait(lambda a: bot_says(a, mgmt, FAULT), what="the agent's 'cannot write' notice")
    admin.wait(lambda a: bot_says(a, admin_mgmt, FAULT), what="the admin's 'cannot write' notice")
    # The homeserver's transactions are refused so that it sends them again.
    status, body = http("PUT", stack.bridge.url + "/_matrix/app/v1/transactions/full-" + tag,
                        {"events": []}, token=stack.bridge.hs_token)
    assert status == 503 and body["errcode"] == "M_UNKNOWN", (status, body)
    # What the network delivered during the fault is not acknowledged.
    time.sleep(3)
    unacked = [e.get("text") for e in net.unacked("alice-lb")]
    assert legacy[-1] in unacked, "a held event was acknowledged before it was durable"
    assert not bot_says(alice, mgmt, RECOVERED)

    os.unlink(filler)
    alice.wait(lambda a: bot_says(a, mgmt, RECOVERED), timeout=60,
               what="the agent's 'recovered' notice")
    admin.wait(lambda a: bot_says(a, admin_mgmt, RECOVERED), timeout=60,
               what="the admin's 'recovered' notice")

    # Everything arrives, exactly once, in order, both ways.
    def legacy_in_matrix(a):
        got = [b for b in a.bodies(room, ghost("bob")) if b.startswith("L-%s-" % tag)]
        return got if len(got) >= len(legacy) else None
    alice.wait(legacy_in_matrix, timeout=90, what="every legacy message in the room")
    wait_until(lambda: len(sent_texts(net, "alice-lb", "M-%s-" % tag)) >= len(matrix) + 1,
               timeout=90, what="every Matrix message on the legacy side")
    wait_until(lambda: not net.unacked("alice-lb"), timeout=30, what="every legacy event acked")
    time.sleep(3)
    alice.sync()
    admin.sync()
    got = [b for b in alice.bodies(room, ghost("bob")) if b.startswith("L-%s-" % tag)]
    assert got == legacy
    assert sent_texts(net, "alice-lb", "M-%s-" % tag) == ["M-%s-before" % tag] + matrix
    assert len(bot_says(alice, mgmt, FAULT)) == 1
    assert len(bot_says(alice, mgmt, RECOVERED)) == 1
    assert len(bot_says(admin, admin_mgmt, FAULT)) == 1
    assert len(bot_says(admin, admin_mgmt, RECOVERED)) == 1
    # The bridge carries on normally.
    alice.text(room, "M-%s-after" % tag)
    net.wait_sent("alice-lb", lambda op: op.get("text") == "M-%s-after" % tag, 20)
