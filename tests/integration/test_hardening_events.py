# SPDX-License-Identifier: AGPL-3.0-or-later
"""Issue 10, cases 2 and 3, against a real Synapse: an event the bridge
cannot handle is kept aside and answered, never fatal to its transaction
(a NUL from a real user, an invite reason with a NUL from a blocked user,
a field of the wrong type); the bot invited into a portal, or into a room
that is not its management room, stays silent except for the command
prefix, and the portal keeps bridging; what the bot says is true."""

import re
import time
import uuid
import urllib.parse

import pytest

from harness import Agent, Stack, bot_says, http, open_management_room
from conftest import running

BOT = "@passerelle:localhost"
GREETING = "Hello! I am Passerelle"


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack())


def agent_fixture(name, admin=False):
    @pytest.fixture(scope="module")
    def fixture(stack):
        a = Agent(stack, name, admin=admin)
        yield a
        a.close()
    return fixture


alice = agent_fixture("alice")
bob = agent_fixture("bob")
blocked = agent_fixture("blocked")
admin = agent_fixture("admin")


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def login(agent, mgmt, net, user, password="pw"):
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, user)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0), what="password prompt")
    agent.text(mgmt, password)
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")


def sent_text(net, user, text, timeout=20):
    return net.wait_sent(user, lambda op: op.get("op") == "send" and op.get("text") == text,
                         timeout)


def said(agent, room, fragment, after=0):
    """Every message in the room (bot or ghost) containing fragment."""
    return [m for m in agent.messages(room)[after:]
            if fragment.lower() in (m["content"].get("body") or "").lower()]


def quarantined(stack, event_id):
    return stack.bridge.db("SELECT reason, event FROM quarantine WHERE event_id = ?", (event_id,))


def txn_refusals(stack):
    """Transactions the bridge did not answer 200 (Synapse retries those)."""
    return re.findall(r"transaction \S+ (?:refused|not processed)", log_text(stack))


def log_text(stack):
    with open(stack.bridge.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def dm_portal(alice, net, contact):
    """A DM portal of alice's to her legacy contact."""
    net.deliver("alice-lb", {"ev": "contact", "id": contact, "name": contact.title()})
    net.deliver("alice-lb", {"ev": "message", "id": "%s-1" % contact, "chat": contact,
                             "chat_kind": "dm", "from": contact, "from_name": contact.title(),
                             "ts": int(time.time() * 1000), "text": "hello from " + contact})
    room = alice.wait_invite(lambda a, r: a.inviter(r) == ghost(contact))
    alice.join(room)
    alice.wait(lambda a: "hello from " + contact in a.bodies(room), what="the first message")
    return room


@pytest.fixture(scope="module")
def portal(stack, net, alice):
    """alice logged in on loopback, with a DM portal to her contact carol."""
    net.add_user("alice-lb", "pw", "Alice Legacy")
    mgmt = open_management_room(alice)
    login(alice, mgmt, net, "alice-lb")
    return {"room": dm_portal(alice, net, "carol"), "mgmt": mgmt}


@pytest.fixture(scope="module")
def bob_mgmt(stack, bob):
    return open_management_room(bob)


# ------------------------------------------------------ poisoned events


def test_nul_in_a_body_is_bridged_and_nothing_stops(stack, net, alice, portal):
    room = portal["room"]
    alice.text(room, "before\u0000after")
    # Replaced by U+FFFD and bridged (a NUL cannot go to a legacy network).
    sent_text(net, "alice-lb", "before\ufffdafter")
    alice.text(room, "the next one")
    sent_text(net, "alice-lb", "the next one")
    assert not txn_refusals(stack)


def test_blocked_user_invite_with_a_nul_reason(stack, net, alice, blocked, portal):
    room = portal["room"]
    resp = blocked.run(blocked.client.room_create(name="junk"))
    junk = resp.room_id
    path = "/_matrix/client/v3/rooms/%s/invite" % urllib.parse.quote(junk)
    status, body = http("POST", stack.synapse.url + path,
                        {"user_id": BOT, "reason": "look\u0000here"},
                        token=blocked.client.access_token)
    assert status == 200, body
    # Meanwhile another agent's portal message still reaches the network.
    alice.text(room, "while blocked junk arrives")
    sent_text(net, "alice-lb", "while blocked junk arrives")
    # The invite was handled (refused: the bot leaves), once, and no
    # transaction was refused, so Synapse has nothing to retry.
    wait_for = "invite from @blocked:localhost refused"
    deadline = time.monotonic() + 20
    while wait_for not in log_text(stack) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    log = log_text(stack)
    assert log.count(wait_for) == 1, log[-3000:]
    assert not txn_refusals(stack), log[-3000:]
    # Nothing answered to the blocked user.
    blocked.sync()
    assert not blocked.messages(junk, sender=BOT)


def test_wrong_typed_field_is_quarantined_and_told(stack, net, alice, portal):
    room = portal["room"]
    bad_id = "$poison-%s" % uuid.uuid4().hex
    good_id = "$fine-%s" % uuid.uuid4().hex
    now = int(time.time() * 1000)
    bad = {"type": "m.room.message", "room_id": room, "sender": alice.mxid, "event_id": bad_id,
           "origin_server_ts": now, "content": {"msgtype": "m.text", "body": 42}}
    good = {"type": "m.room.message", "room_id": room, "sender": alice.mxid,
            "event_id": good_id, "origin_server_ts": now,
            "content": {"msgtype": "m.text", "body": "after the poison"}}
    url = stack.bridge.url + "/_matrix/app/v1/transactions/poison-%s" % uuid.uuid4().hex
    n0 = len(alice.messages(room))
    for _ in range(2):  # the homeserver's retry is recognised
        status, body = http("PUT", url, {"events": [bad, good]}, token=stack.bridge.hs_token)
        assert status == 200 and body == {}
    sent_text(net, "alice-lb", "after the poison")
    rows = quarantined(stack, bad_id)
    assert len(rows) == 1
    assert rows[0][0] == "content.body is a number, not a string"
    assert '"body":42' in rows[0][1]
    notice = alice.wait(lambda a: said(a, room, "could not bridge this message", n0),
                        what="the quarantine notice")[0]
    assert "content.body is a number, not a string" in notice["content"]["body"]
    assert notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == bad_id
    time.sleep(2)
    alice.sync()
    assert len(said(alice, room, "could not bridge this message", n0)) == 1
    assert not [op for op in net.sent("alice-lb") if op.get("text") == "42"]
    assert bad_id in log_text(stack)


def test_nul_in_a_key_is_quarantined_and_nothing_stops(stack, net, alice, portal):
    """A NUL in a key spoils the transaction's JSON for the bridge's decoder
    (not for Synapse's): the event is kept aside and answered, the next one
    flows."""
    room = portal["room"]
    n0 = len(alice.messages(room))
    bad = alice.send(room, {"msgtype": "m.text", "body": "odd key", "k\u0000": 1})
    alice.text(room, "after the odd key")
    sent_text(net, "alice-lb", "after the odd key")
    rows = quarantined(stack, bad)
    assert len(rows) == 1 and rows[0][0].startswith("the event is not valid JSON"), rows
    alice.wait(lambda a: said(a, room, "could not bridge this message", n0),
               what="the quarantine notice")
    assert not [op for op in net.sent("alice-lb") if op.get("text") == "odd key"]
    assert not txn_refusals(stack)


def test_only_invalid_transactions_are_refused(stack):
    url = stack.bridge.url + "/_matrix/app/v1/transactions/bad-%s" % uuid.uuid4().hex
    status, body = http("PUT", url, b"{not json", token=stack.bridge.hs_token)
    assert status == 400 and body["errcode"] == "M_NOT_JSON"
    status, body = http("PUT", url, {"events": {"a": 1}}, token=stack.bridge.hs_token)
    assert status == 400 and body["errcode"] == "M_BAD_JSON"
    # Events that are not even objects are kept aside, the rest accepted.
    status, body = http("PUT", url, {"events": ["x", 3, None]}, token=stack.bridge.hs_token)
    assert status == 200


# ------------------------------------------------------ the bot in portals


def bot_joined(agent, room):
    member = agent.state(room, "m.room.member", BOT)
    return member and member.get("membership") == "join"


def assert_silent_portal(net, agent, room, n0, bare, owner_login="alice-lb"):
    """No greeting, bare words bridged and not answered, prefix answered."""
    time.sleep(2)
    agent.sync()
    assert not said(agent, room, GREETING, n0)
    agent.text(room, bare)
    sent_text(net, owner_login, bare)
    agent.text(room, "!pa version")
    # (in a DM portal the contact's ghost speaks for the bridge)
    agent.wait(lambda a: said(a, room, "Passerelle 0.", n0), what="the prefixed command")
    time.sleep(2)
    agent.sync()
    assert not said(agent, room, "Unknown command", n0)
    assert not said(agent, room, "Commands (", n0)
    assert not said(agent, room, "I did not understand", n0)
    assert not [op for op in net.sent(owner_login) if op.get("text") == "!pa version"]


def test_agent_invites_the_bot_into_her_portal(stack, net, alice, portal):
    room = dm_portal(alice, net, "dave")
    n0 = len(alice.messages(room))
    alice.run(alice.client.room_invite(room, BOT))
    alice.wait(lambda a: bot_joined(a, room), what="the bot in the portal")
    assert_silent_portal(net, alice, room, n0, "help")
    # The portal keeps bridging, and her management room is still hers.
    alice.text(room, "still bridged")
    sent_text(net, "alice-lb", "still bridged")
    mgmt = portal["mgmt"]
    m0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "version")
    alice.wait(lambda a: bot_says(a, mgmt, "Passerelle 0.", m0), what="version in management")
    # `login` is not run in a portal: its questions would be asked here.
    alice.text(room, "!pa login loopback")
    alice.wait(lambda a: said(a, room, "Passerelle room", n0), what="login refused here")
    # The help says how commands work here.
    alice.text(room, "!pa help")
    helptext = alice.wait(lambda a: said(a, room, "Commands (", n0), what="help")[-1]
    assert "start them with `!pa`" in helptext["content"]["body"]


def test_second_agent_invites_the_bot_into_a_portal(stack, net, alice, bob, bob_mgmt, portal):
    room = portal["room"]
    alice.run(alice.client.room_invite(room, bob.mxid))
    bob.wait_invite(lambda a, r: r == room)
    bob.join(room)
    assert not bot_joined(alice, room)
    n0 = len(alice.messages(room))
    bob.run(bob.client.room_invite(room, BOT))
    alice.wait(lambda a: bot_joined(a, room), what="the bot back in the portal")
    time.sleep(2)
    alice.sync()
    assert not said(alice, room, GREETING, n0)
    # bob's bare words are not commands (he is told only alice sends here).
    bob.text(room, "ping")
    time.sleep(3)
    alice.sync()
    assert not said(alice, room, "Pong", n0)
    # alice's messages still reach the network.
    alice.text(room, "after bob's invite")
    sent_text(net, "alice-lb", "after bob's invite")
    # bob's management room is still his.
    m0 = len(bob.messages(bob_mgmt, sender=BOT))
    bob.text(bob_mgmt, "version")
    bob.wait(lambda a: bot_says(a, bob_mgmt, "Passerelle 0.", m0), what="bob's management room")


def test_unrelated_room_is_not_a_new_management_room(stack, bob, bob_mgmt):
    mgmt = bob_mgmt
    resp = bob.run(bob.client.room_create(name="team room", invite=[BOT]))
    room = resp.room_id
    bob.events.setdefault(room, [])
    bob.wait(lambda a: bot_joined(a, room), what="the bot in bob's room")
    time.sleep(2)
    bob.sync()
    assert not said(bob, room, GREETING)
    bob.text(room, "help")
    bob.text(room, "!pa version")
    bob.wait(lambda a: bot_says(a, room, "Passerelle 0.", 0), what="prefixed version")
    time.sleep(2)
    bob.sync()
    assert not bot_says(bob, room, "Commands (")
    m0 = len(bob.messages(mgmt, sender=BOT))
    bob.text(mgmt, "version")
    bob.wait(lambda a: bot_says(a, mgmt, "Passerelle 0.", m0), what="the management room")


# ------------------------------------------------------ true notices


def test_disabled_plugin_is_said_in_the_portal(stack, net, alice, admin, portal):
    room = portal["room"]
    amgmt = open_management_room(admin)
    # The admins see how many events were kept aside (two in this module).
    a0 = len(admin.messages(amgmt, sender=BOT))
    admin.text(amgmt, "status")
    status = admin.wait(lambda a: bot_says(a, amgmt, "kept aside (quarantine)", a0),
                        what="status")[0]["content"]["body"]
    assert int(re.search(r"quarantine\): (\d+)", status).group(1)) >= 2, status
    a0 = len(admin.messages(amgmt, sender=BOT))
    admin.text(amgmt, "ministry disable test loopback")
    admin.wait(lambda a: bot_says(a, amgmt, "loopback", a0), what="disable confirmed")
    time.sleep(2)
    n0 = len(alice.messages(room))
    alice.text(room, "while disabled")
    notice = alice.wait(lambda a: said(a, room, "Not delivered", n0), what="the notice")[0]
    text = notice["content"]["body"]
    assert "disabled for your ministry (test)" in text, text
    assert "log in again" not in text
    a0 = len(admin.messages(amgmt, sender=BOT))
    admin.text(amgmt, "ministry enable test loopback")
    admin.wait(lambda a: bot_says(a, amgmt, "loopback", a0), what="enable confirmed")
    net.wait_connected("alice-lb", timeout=30)
    alice.text(room, "enabled again")
    sent_text(net, "alice-lb", "enabled again", timeout=40)
