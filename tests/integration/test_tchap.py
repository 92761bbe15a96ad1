# SPDX-License-Identifier: AGPL-3.0-or-later
"""The bridge's rooms under Tchap's homeserver rules (docs/tchap.md).

Runs on both homeserver flavours (PA_SYNAPSE_FLAVOUR): on plain Synapse the
rooms are version 12, on the Tchap flavour version 10 with the room access
rules module, which refuses what breaks the rules.  Either way the rooms
the bridge makes must be valid: the access rule, the power levels that fit
the room version, and no name, topic or avatar in a DM."""

import urllib.parse

import pytest

import harness
from harness import Agent, Stack, bot_says, http, open_management_room, wait_until
from conftest import running

BOT = "@passerelle:localhost"
TCHAP = harness.FLAVOUR == "tchap"
VERSION = "10" if TCHAP else "12"
PASSWORD = "pw-tchap-rules"


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack())


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def room_state(stack, agent, room_id):
    """The room's state events, by (type, state key)."""
    status, evs = http("GET", "%s/_matrix/client/v3/rooms/%s/state"
                       % (stack.synapse.url, urllib.parse.quote(room_id)),
                       token=agent.client.access_token)
    assert status == 200, evs
    return {(e["type"], e.get("state_key")): e for e in evs}


def power_users(state):
    return state[("m.room.power_levels", "")]["content"].get("users", {})


def check_admins(state, creator, admins):
    """`admins` have 100: listed below room version 12; from 12 on the
    creator and the additional creators are implicit and not listed."""
    create = state[("m.room.create", "")]
    assert create["content"].get("room_version") == VERSION
    assert create["sender"] == creator
    users = power_users(state)
    if VERSION == "10":
        for u in [creator] + admins:
            assert users.get(u) == 100, (u, users)
    else:
        assert creator not in users
        implicit = set(create["content"].get("additional_creators", []))
        for u in admins:
            assert u in implicit or users.get(u) == 100, (u, users, implicit)
        assert not implicit & set(users)


def test_homeserver_is_the_flavour(stack, alice):
    """The harness made the homeserver asked for: its default room
    version, and on the Tchap flavour the module refusing a DM's topic."""
    status, caps = http("GET", stack.synapse.url + "/_matrix/client/v3/capabilities",
                        token=alice.client.access_token)
    assert status == 200, caps
    assert caps["capabilities"]["m.room_versions"]["default"] == VERSION
    resp = alice.run(alice.client.room_create(is_direct=True))
    room = resp.room_id
    if TCHAP:  # the module gave it its rule
        rule = room_state(stack, alice, room)[("im.vector.room.access_rules", "")]
        assert rule["content"] == {"rule": "direct"}
    status, body = http("PUT", "%s/_matrix/client/v3/rooms/%s/state/m.room.topic/"
                        % (stack.synapse.url, urllib.parse.quote(room)),
                        {"topic": "refused by Tchap"}, token=alice.client.access_token)
    assert status == (403 if TCHAP else 200), body


def test_management_room_of_the_bot(stack, alice, net):
    """`newroom`: the bot's own management room is a `direct` room with no
    topic, the owner and the bot admins for the room version, and the bot
    deletes the password there."""
    net.add_user("alice-lb", PASSWORD, "Alice Legacy")
    mgmt = open_management_room(alice)
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "login loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    alice.text(mgmt, "127.0.0.1:%d" % net.port)
    alice.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    alice.text(mgmt, "alice-lb")
    alice.wait(lambda a: bot_says(a, mgmt, "cannot delete messages in this room", n0),
               what="the warning before the password")
    alice.text(mgmt, "newroom")
    new = alice.wait_invite(lambda a, r: a.inviter(r) == BOT and r != mgmt)
    alice.join(new)
    alice.wait(lambda a: bot_says(a, new, "Please send your password"), what="password prompt")
    alice.text(new, PASSWORD)
    alice.wait(lambda a: bot_says(a, new, "Logged in"), what="login complete")
    state = room_state(stack, alice, new)
    assert state[("im.vector.room.access_rules", "")]["content"] == {"rule": "direct"}
    for t in ("m.room.name", "m.room.topic", "m.room.avatar"):
        assert (t, "") not in state, t
    check_admins(state, BOT, [alice.mxid])

    def redacted(a):
        mine = [e for e in a.history(new) if e.get("sender") == a.mxid
                and e["type"] == "m.room.message"]
        return mine and all("body" not in e.get("content", {}) for e in mine)
    wait_until(lambda: redacted(alice), 30, what="the password redacted")


def test_dm_portal(stack, alice, net):
    """A DM portal: made by the contact's ghost, `direct`, no name, topic
    or avatar, the ghost and the agent admins for the room version; on the
    Tchap flavour no third member can come in."""
    net.deliver("alice-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("alice-lb", {"ev": "message", "id": "t-b1", "chat": "bob", "chat_kind": "dm",
                             "from": "bob", "from_name": "Bob Legacy", "ts": 1700000000000,
                             "text": "hello under the rules"})
    room = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("bob"))
    alice.join(room)
    alice.wait(lambda a: "hello under the rules" in a.bodies(room, ghost("bob")),
               what="bob's message")
    state = room_state(stack, alice, room)
    assert state[("im.vector.room.access_rules", "")]["content"] == {"rule": "direct"}
    for t in ("m.room.name", "m.room.topic", "m.room.avatar"):
        assert (t, "") not in state, t
    check_admins(state, ghost("bob"), [alice.mxid])
    members = {k for (t, k) in state if t == "m.room.member"}
    assert members == {ghost("bob"), alice.mxid}
    # Matrix → legacy works there.
    alice.text(room, "reply under the rules")
    net.wait_sent("alice-lb", lambda op: op.get("op") == "send"
                  and op.get("text") == "reply under the rules", 20)
    # A third member: refused by Tchap's `direct` rule.
    status, body = http("POST", "%s/_matrix/client/v3/rooms/%s/invite?user_id=%s"
                        % (stack.synapse.url, urllib.parse.quote(room),
                           urllib.parse.quote(ghost("bob"))),
                        {"user_id": ghost("third")}, token=stack.bridge.as_token)
    assert status == (403 if TCHAP else 200), body


def test_group_portal(stack, alice, net):
    """A group portal: made by the bot, `restricted`, named, the agent and
    the bot admins for the room version; ghosts join it."""
    net.deliver("alice-lb", {"ev": "chat", "id": "tg1", "kind": "group", "name": "Conseil",
                             "topic": "Ordre du jour",
                             "members": [{"id": "carl", "name": "Carl"},
                                         {"id": "alice-lb", "name": "Me"}]})
    net.deliver("alice-lb", {"ev": "message", "id": "tg1-1", "chat": "tg1", "chat_kind": "group",
                             "chat_name": "Conseil", "from": "carl", "ts": 1700000100000,
                             "text": "bonjour le conseil"})
    room = alice.wait_invite(lambda a, r: a.invite_name(r) == "Conseil")
    alice.join(room)
    alice.wait(lambda a: "bonjour le conseil" in a.bodies(room, ghost("carl")),
               what="carl's message")
    state = room_state(stack, alice, room)
    assert state[("im.vector.room.access_rules", "")]["content"] == {"rule": "restricted"}
    assert state[("m.room.name", "")]["content"]["name"] == "Conseil"
    assert state[("m.room.topic", "")]["content"]["topic"] == "Ordre du jour"
    check_admins(state, BOT, [alice.mxid])
    if TCHAP:  # the module's levels for what the bridge left out
        pl = state[("m.room.power_levels", "")]["content"]
        assert pl.get("invite") == 50 and pl.get("state_default") == 100


def test_bot_management_room_after_restart(stack, alice, net):
    """After a restart the bridge reads again whether it may delete a
    password in the management room it made: it may, listed at 100 below
    room version 12 and as the room's creator from 12 on, so the password
    is asked for at once."""
    mgmt = [r for r in alice.events if alice.inviter(r) == BOT][0]
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "logout loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "Logging out", n0), what="logging out")
    stack.bridge.stop()
    stack.bridge.start()
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "login loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    alice.text(mgmt, "127.0.0.1:%d" % net.port)
    alice.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    alice.text(mgmt, "alice-lb")
    alice.wait(lambda a: bot_says(a, mgmt, "Please send your password", n0),
               what="password prompt")
    assert not bot_says(alice, mgmt, "cannot delete messages", n0)
