# SPDX-License-Identifier: AGPL-3.0-or-later
"""Two bridge instances against one homeserver (docs/instances.md): each has
its own registration (appservice id, tokens, bot, ghost prefix, port) and
its own store (its own database on the one PostgreSQL server with
PA_STORE=postgres, its own file otherwise), and one agent uses both.

Instance A is killed (-9) in the middle of traffic on both: B keeps
bridging, and all of B's messages arrive while A is down; A, restarted,
resumes its login and delivers what was held for it, and every message of
both arrives exactly once, in order.  Both run the loopback plugin, on
loopnet accounts of their own: what the plugins are does not matter to the
topology."""

import os
import shutil
import statistics
import tempfile
import time

import pytest

from conftest import running
from harness import Agent, Bridge, Synapse, bot_says, http, open_management_room, wait_until

BOT_A = "@passerelle:localhost"
BOT_B = "@passerelle_b:localhost"
BEFORE = 15  # messages each way on each instance before A is killed
DURING = 25  # messages each way on each instance while A is down


class Instances:
    """Synapse with two registrations, and two bridges."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="passerelle-it-")
        self.a = Bridge(self.workdir, name="bridge-a")
        self.b = Bridge(self.workdir, name="bridge-b",
                        appservice={"id": "passerelle-b",
                                    "bot": {"localpart": "passerelle_b",
                                            "displayname": "Passerelle B"},
                                    "ghost_prefix": "_pb_"})
        self.bridge = self.a  # the failure report shows its log
        for br in (self.a, self.b):
            br.write_config("http://127.0.0.1:1")
        self.synapse = Synapse(self.workdir, [self.a.registration, self.b.registration])
        for br in (self.a, self.b):
            br.write_config(self.synapse.url)
            br.generate_registration()

    def start(self):
        self.synapse.start()
        self.a.start()
        self.b.start()

    def close(self):
        self.a.stop()
        self.b.stop()
        self.synapse.stop()
        if os.environ.get("PA_KEEP_TEST_DIRS"):
            print("kept", self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack():
    yield from running(Instances())


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def ghost(prefix, user):
    return "@%sloopback_%s:localhost" % (prefix, user)


def login(agent, mgmt, net, user, bot):
    n0 = len(agent.messages(mgmt, sender=bot))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0, bot=bot), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0, bot=bot), what="user name prompt")
    agent.text(mgmt, user)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0, bot=bot), what="password prompt")
    agent.text(mgmt, "pw")
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0, bot=bot), what="login complete")
    net.wait_connected(user, 20)


def portal(agent, net, user, contact, sender):
    """The DM portal of user's legacy contact, joined."""
    net.deliver(user, {"ev": "contact", "id": contact, "name": contact.title()})
    net.deliver(user, {"ev": "message", "chat": contact, "chat_kind": "dm", "from": contact,
                       "from_name": contact.title(), "text": "hello from " + contact})
    room = agent.wait_invite(lambda a, r: a.inviter(r) == sender, timeout=60)
    agent.join(room)
    agent.wait(lambda a: "hello from " + contact in a.bodies(room, sender), what="first message")
    return room


def sent_texts(net, user, prefix):
    return [op["text"] for op in net.sent(user)
            if op.get("op") == "send" and op.get("text", "").startswith(prefix)]


def arrived(agent, room, sender, prefix):
    """Messages of `sender` in the room starting with prefix, in order."""
    return [b for b in agent.bodies(room, sender) if b.startswith(prefix)]


def want(tag, way):
    return ["%s-%s-%02d" % (tag, way, i) for i in range(BEFORE + DURING)]


def history(agent, room, sender, prefix):
    return [e["content"]["body"] for e in agent.history(room)
            if e["type"] == "m.room.message" and e.get("sender") == sender
            and e["content"].get("body", "").startswith(prefix)]


def test_registrations_and_stores_are_separate(stack):
    a, b = stack.a, stack.b
    assert a.as_token != b.as_token and a.hs_token != b.hs_token
    assert a.as_port != b.as_port
    assert a.database != b.database
    # Synapse loaded both: each answers its own ping, through its own token.
    for as_id, br in (("passerelle", a), ("passerelle-b", b)):
        status, body = http("POST", stack.synapse.url +
                            "/_matrix/client/v1/appservice/%s/ping" % as_id,
                            {"transaction_id": "ping-" + as_id}, token=br.as_token)
        assert status == 200, (as_id, body)
    status, _ = http("POST", stack.synapse.url + "/_matrix/client/v1/appservice/passerelle/ping",
                     {}, token=b.as_token)
    assert status == 403


def test_one_instance_killed_the_other_bridges(stack, alice, net):
    net.add_user("alice-a", "pw", "Alice on A")
    net.add_user("alice-b", "pw", "Alice on B")
    mgmt_a = open_management_room(alice, BOT_A)
    mgmt_b = open_management_room(alice, BOT_B)
    login(alice, mgmt_a, net, "alice-a", BOT_A)
    login(alice, mgmt_b, net, "alice-b", BOT_B)
    bob, carol = ghost("_pa_", "bob"), ghost("_pb_", "carol")
    room_a = portal(alice, net, "alice-a", "bob", bob)
    room_b = portal(alice, net, "alice-b", "carol", carol)
    assert room_a != room_b
    connections_a = net.connections("alice-a")

    # Traffic both ways on both instances; A is killed in the middle.  The
    # agent syncs as it goes: `seen` is when each of B's messages reached it.
    sent_at, seen = {}, {}
    matrix_a = []

    def see(a):
        for body in arrived(a, room_b, carol, "B-L-"):
            seen.setdefault(body, time.time())
        return len(seen) >= BEFORE + DURING
    for i in range(BEFORE + DURING):
        if i == BEFORE:
            stack.a.kill9()
            killed_at = time.monotonic()
        for user, chat, tag in (("alice-a", "bob", "A"), ("alice-b", "carol", "B")):
            body = "%s-L-%02d" % (tag, i)
            net.deliver(user, {"ev": "message", "chat": chat, "from": chat, "text": body})
            sent_at[body] = time.time()
        matrix_a.append(alice.text(room_a, "A-M-%02d" % i))
        alice.text(room_b, "B-M-%02d" % i)
        alice.sync(timeout_ms=100)
        see(alice)

    # B, alone, delivers everything, both ways, while A is still down.
    alice.wait(see, timeout=60, what="all of B's legacy messages")
    wait_until(lambda: len(sent_texts(net, "alice-b", "B-M-")) >= BEFORE + DURING, timeout=60,
               what="all of B's Matrix messages on the legacy side")
    b_done = time.monotonic() - killed_at
    assert stack.a.proc.poll() is not None
    wait_until(lambda: not net.connected("alice-a"), 10, what="A's worker gone with it")
    # B's legacy messages sent while A was down: from the network's delivery
    # to the agent's sync (which polls every 0.1 s here).
    lat = [seen[b] - sent_at[b] for b in want("B", "L")[BEFORE:]]
    print("B, A down: %d legacy messages, all in %.1f s after the kill; delivery to the agent"
          " median %.0f ms, max %.0f ms" % (len(lat), b_done, 1000 * statistics.median(lat),
                                            1000 * max(lat)))
    # None of A's arrived meanwhile; Synapse holds its Matrix messages.
    assert len(arrived(alice, room_a, bob, "A-L-")) <= BEFORE
    wait_until(lambda: stack.synapse.queued_for_appservice(matrix_a[BEFORE:]), 30,
               what="Synapse holding A's transactions")

    # A restarted: its login resumes and what was held for it arrives.
    restart = time.monotonic()
    stack.a.start()
    net.wait_connected("alice-a", 60, count=connections_a + 1)
    alice.wait(lambda a: len(arrived(a, room_a, bob, "A-L-")) >= BEFORE + DURING, timeout=90,
               what="all of A's legacy messages")
    wait_until(lambda: len(sent_texts(net, "alice-a", "A-M-")) >= BEFORE + DURING, timeout=90,
               what="all of A's Matrix messages on the legacy side")
    print("A: everything delivered %.1f s after its restart" % (time.monotonic() - restart))

    # Exactly once, in order, both ways, on both.
    time.sleep(2)
    assert history(alice, room_a, bob, "A-L-") == want("A", "L")
    assert history(alice, room_b, carol, "B-L-") == want("B", "L")
    assert sent_texts(net, "alice-a", "A-M-") == want("A", "M")
    assert sent_texts(net, "alice-b", "B-M-") == want("B", "M")
    wait_until(lambda: not net.unacked("alice-a") and not net.unacked("alice-b"), timeout=30,
               what="every legacy event acked")
