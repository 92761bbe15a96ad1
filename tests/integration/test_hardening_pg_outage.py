# SPDX-License-Identifier: AGPL-3.0-or-later
"""The PostgreSQL counterpart of test_hardening_disk.py: the bridge's
database server goes down mid-run (stopped as a crash would: every
connection drops) while messages flow both ways, then comes back.

While it is down, homeserver transactions are refused with 503 and the
legacy events are not acknowledged; once it is back, the bridge resumes by
itself, every message arrives exactly once and in order both ways, and the
agent and the admin are told it can write again once.  The server runs on a
cluster of the module's own, so that stopping it touches no other test."""

import time
import uuid

import pytest

import pg_harness
from conftest import running
from harness import Agent, Stack, bot_says, http, open_management_room, wait_until

pytestmark = pytest.mark.skipif(pg_harness.STORE != "postgres",
                                reason="stops the bridge's PostgreSQL server (PA_STORE=postgres)")

BOT = "@passerelle:localhost"
FAULT = "cannot write to its storage"
RECOVERED = "can write to its storage again"
N = 8  # messages each way once the bridge has seen the fault


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


@pytest.fixture(scope="module")
def cluster():
    c = pg_harness.PgCluster().start()
    yield c
    c.close()


@pytest.fixture(scope="module")
def stack(cluster):
    s = Stack()
    s.bridge.database = cluster.create_database()
    s.bridge.write_config(s.synapse.url)
    yield from running(s)


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


def empty_txn(stack, txn_id):
    return http("PUT", stack.bridge.url + "/_matrix/app/v1/transactions/" + txn_id,
                {"events": []}, token=stack.bridge.hs_token)


def test_server_down_holds_everything_and_recovers(stack, cluster, net):
    alice = Agent(stack, "alice")
    admin = Agent(stack, "admin")
    try:
        run(stack, cluster, net, alice, admin)
    finally:
        alice.close()
        admin.close()


def run(stack, cluster, net, alice, admin):
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

    cluster.stop_server()
    down_at = time.monotonic()
    # Both ways while the server is down, interleaved, until the bridge
    # refuses a homeserver transaction for it (503: the homeserver resends).
    legacy, matrix = [], []
    i = 0
    while empty_txn(stack, "down-%s-%d" % (tag, i))[0] != 503:
        assert time.monotonic() < down_at + 60, "the store never failed: " + stack.bridge.tail()
        body = "L-%s-%02d" % (tag, i)
        net.deliver("alice-lb", {"ev": "message", "chat": "bob", "from": "bob", "text": body})
        legacy.append(body)
        body = "M-%s-%02d" % (tag, i)
        alice.text(room, body)
        matrix.append(body)
        i += 1
        time.sleep(0.2)
    for _ in range(N):
        body = "L-%s-%02d" % (tag, i)
        net.deliver("alice-lb", {"ev": "message", "chat": "bob", "from": "bob", "text": body})
        legacy.append(body)
        body = "M-%s-%02d" % (tag, i)
        alice.text(room, body)
        matrix.append(body)
        i += 1
    status, body = empty_txn(stack, "down-%s-last" % tag)
    assert status == 503 and body["errcode"] == "M_UNKNOWN", (status, body)
    # What the network delivered during the outage is not acknowledged.
    time.sleep(3)
    unacked = [e.get("text") for e in net.unacked("alice-lb")]
    assert legacy[-1] in unacked, "a held event was acknowledged before it was durable"
    assert not bot_says(alice, mgmt, RECOVERED)

    cluster.start_server()
    print("server down for %.1f s" % (time.monotonic() - down_at))
    alice.wait(lambda a: bot_says(a, mgmt, RECOVERED), timeout=90,
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
    # The "cannot write" notice needs the management room, which is read
    # from the store: with the server down it cannot be found (the bridge
    # logs that), so it is sent at most once; the "recovered" one exactly once.
    assert len(bot_says(alice, mgmt, FAULT)) <= 1
    assert len(bot_says(alice, mgmt, RECOVERED)) == 1
    assert len(bot_says(admin, admin_mgmt, FAULT)) <= 1
    assert len(bot_says(admin, admin_mgmt, RECOVERED)) == 1
    # The bridge carries on normally.
    alice.text(room, "M-%s-after" % tag)
    net.wait_sent("alice-lb", lambda op: op.get("text") == "M-%s-after" % tag, 20)
