# SPDX-License-Identifier: AGPL-3.0-or-later
"""Shared portals against a real Synapse, with the loopback network: a group
chat is ONE room shared by every agent whose login is in it.  Two agents
(alice, bob) are logged in to two loopnet accounts that are both in one
group: one room for the group, one copy of each message whichever login
delivers it, each agent's own legacy messages shown as the agent (double
puppeting on), each agent writing through their own login, a third agent
without a login told so, and a relay-level user relayed as "Name: text"."""

import time

import pytest
import yaml

from harness import Agent, Stack, open_management_room, wait_until
from test_core import BOT, ghost, login

GROUP = "gs"
NAME = "Shared cabinet"


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    with open(s.bridge.config) as f:
        cfg = yaml.safe_load(f)
    # "Shown as the agent" needs the appservice to act as the agents.
    cfg["appservice"]["double_puppet"] = True
    cfg["permissions"]["@dora:localhost"] = "relay"
    with open(s.bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)
    s.bridge.generate_registration()
    s.start()
    yield s
    s.close()


def agent_fixture(name):
    @pytest.fixture(scope="module")
    def fixture(stack):
        a = Agent(stack, name)
        yield a
        a.close()
    return fixture


alice = agent_fixture("alice")
bob = agent_fixture("bob")
carol = agent_fixture("carol")
dora = agent_fixture("dora")


def copies(agent, room, body):
    return [m for m in agent.messages(room) if m["content"].get("body") == body]


def settle(*agents):
    """Leave time for a duplicate to show up, then read everything."""
    time.sleep(2)
    for a in agents:
        a.sync()


def deliver_to_both(net, ev):
    """The network gives the same message (same id) to both accounts."""
    net.deliver("alice-lb", ev)
    net.deliver("bob-lb", ev)


@pytest.fixture(scope="module")
def room(stack, net, alice, bob):
    for user, agent in (("alice-lb", alice), ("bob-lb", bob)):
        net.add_user(user, "pw", "%s Legacy" % user.split("-")[0].title())
        login(agent, open_management_room(agent), net, user)
        net.wait_connected(user, 20)
    net.add_contact("zed", "Zed Legacy")
    members = [{"id": "alice-lb", "name": "Alice Legacy"}, {"id": "bob-lb", "name": "Bob Legacy"},
               {"id": "zed", "name": "Zed Legacy"}]
    for user in ("alice-lb", "bob-lb"):
        net.deliver(user, {"ev": "chat", "id": GROUP, "kind": "group", "name": NAME,
                           "members": members})
    ra = alice.wait_invite(lambda a, r: a.invite_name(r) == NAME)
    rb = bob.wait_invite(lambda a, r: a.invite_name(r) == NAME)
    assert ra == rb, "one room for the group, both agents invited to it"
    alice.join(ra)
    bob.join(ra)
    return ra


def test_one_room_for_a_shared_group(stack, alice, bob, net, room):
    # Each agent is in the room as themself; the other's legacy account has no ghost.
    ids = {m.user_id for m in alice.run(alice.client.joined_members(room)).members}
    assert alice.mxid in ids and bob.mxid in ids
    assert ghost("zed") in ids
    assert ghost("alice-lb") not in ids and ghost("bob-lb") not in ids
    # Both agents at power 100, the second one too.
    wait_until(lambda: (alice.state(room, "m.room.power_levels") or {}).get("users", {})
               .get(bob.mxid) == 100, 20, what="bob at power 100")
    assert alice.state(room, "m.room.power_levels")["users"][alice.mxid] == 100
    # A second chat event from either login does not make another room.
    net.deliver("bob-lb", {"ev": "chat", "id": GROUP, "kind": "group", "name": NAME})
    settle(alice, bob)
    assert not [r for r in bob.invites if bob.invite_name(r) == NAME]


def test_one_copy_of_each_message(stack, alice, bob, net, room):
    deliver_to_both(net, {"ev": "message", "id": "gs-1", "chat": GROUP, "chat_kind": "group",
                          "chat_name": NAME, "from": "zed", "from_name": "Zed Legacy",
                          "text": "bonjour à tous", "ts": 1700000200000})
    alice.wait(lambda a: copies(a, room, "bonjour à tous"), what="zed's message")
    # A message only one login has yet (the other gets it later) is not lost.
    net.deliver("bob-lb", {"ev": "message", "id": "gs-2", "chat": GROUP, "chat_kind": "group",
                           "from": "zed", "text": "seen by bob first", "ts": 1700000201000})
    bob.wait(lambda a: copies(a, room, "seen by bob first"), what="the message bob's login saw")
    net.deliver("alice-lb", {"ev": "message", "id": "gs-2", "chat": GROUP, "chat_kind": "group",
                             "from": "zed", "text": "seen by bob first", "ts": 1700000201000})
    # A reaction both logins see is one reaction.
    deliver_to_both(net, {"ev": "reaction", "chat": GROUP, "from": "zed", "target": "gs-1",
                          "key": "👍", "ts": 1700000202000})
    alice.wait(lambda a: [e for e in a.events.get(room, []) if e.get("type") == "m.reaction"],
               what="zed's reaction")
    settle(alice, bob)
    assert len(copies(alice, room, "bonjour à tous")) == 1
    assert len(copies(bob, room, "seen by bob first")) == 1
    assert copies(alice, room, "bonjour à tous")[0]["sender"] == ghost("zed")
    assert len([e for e in alice.events[room] if e.get("type") == "m.reaction"]) == 1


def test_own_legacy_messages_shown_as_the_agent(stack, alice, bob, net, room):
    # Alice writes from her phone: her login sees it as hers (from_me), bob's as from
    # alice-lb.  One copy, sent as alice's own Matrix user, not a ghost.
    deliver_to_both(net, {"ev": "message", "id": "gs-3", "chat": GROUP, "chat_kind": "group",
                          "from": "alice-lb", "text": "written on alice's phone",
                          "ts": 1700000203000})
    bob.wait(lambda a: copies(a, room, "written on alice's phone"), what="alice's phone message")
    settle(alice, bob)
    got = copies(bob, room, "written on alice's phone")
    assert len(got) == 1
    assert got[0]["sender"] == alice.mxid
    # Sent as alice, it is not taken for something alice wrote in Tchap: not sent back.
    assert not [o for o in net.sent("alice-lb")
                if o.get("op") == "send" and o.get("text") == "written on alice's phone"]


def test_each_agent_writes_through_their_own_login(stack, alice, bob, net, room):
    alice.text(room, "alice from tchap")
    op = net.wait_sent("alice-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "alice from tchap", 20)
    assert op["chat"] == GROUP
    bob.text(room, "bob from tchap")
    op = net.wait_sent("bob-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "bob from tchap", 20)
    assert op["chat"] == GROUP
    assert not [o for o in net.sent("alice-lb") if o.get("text") == "bob from tchap"]
    # Both reached the group once; the other login's copy was not bridged back.
    wait_until(lambda: len([m for m in net.messages(GROUP)
                            if m.get("text") in ("alice from tchap", "bob from tchap")]) == 2,
               20, what="both messages on the network")
    settle(alice, bob)
    assert len(copies(alice, room, "alice from tchap")) == 1
    assert len(copies(alice, room, "bob from tchap")) == 1
    assert copies(alice, room, "bob from tchap")[0]["sender"] == bob.mxid


def test_agent_without_a_login_is_told(stack, alice, carol, net, room):
    alice.run(alice.client.room_invite(room, carol.mxid))
    carol.wait_invite(lambda a, r: r == room)
    carol.join(room)
    def sends():
        return [o for u in ("alice-lb", "bob-lb") for o in net.sent(u) if o.get("op") == "send"]
    sent_before = len(sends())
    ev = carol.text(room, "hello from carol")

    def told(a):
        return [m for m in a.messages(room, sender=BOT)
                if "no Loopback login in this group" in m["content"].get("body", "")
                or "no loopback login in this group" in m["content"].get("body", "")]
    notice = carol.wait(told, what="the no-login notice")[0]
    assert "login loopback" in notice["content"]["body"]
    assert notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == ev
    time.sleep(1)
    assert not [m for m in net.messages(GROUP) if "hello from carol" in m.get("text", "")]
    assert len(sends()) == sent_before


def test_relay_level_user_is_relayed(stack, alice, bob, dora, net, room):
    alice.run(alice.client.room_invite(room, dora.mxid))
    dora.wait_invite(lambda a, r: r == room)
    dora.join(room)
    dora.text(room, "relay me")
    wait_until(lambda: [m for m in net.messages(GROUP) if m.get("text") == "dora: relay me"],
               20, what="the relayed message on the network")
    settle(alice, bob)
    # Relayed once, and not bridged back by the other login.
    assert len([m for m in net.messages(GROUP) if m.get("text") == "dora: relay me"]) == 1
    assert not copies(alice, room, "dora: relay me")
    assert len(copies(alice, room, "relay me")) == 1


def test_own_dm_messages_from_the_phone_as_the_agent(stack, alice, net, room):
    """In a DM (two members under Tchap's rules: the agent and the contact), the
    agent's own message written on the phone is sent as the agent (double
    puppeting on), and not sent back to the network."""
    net.deliver("alice-lb", {"ev": "message", "id": "dm-z1", "chat": "zed", "chat_kind": "dm",
                             "from": "zed", "from_name": "Zed Legacy", "text": "zed in private",
                             "ts": 1700000300000})
    dm = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("zed"))
    alice.join(dm)
    alice.wait(lambda a: copies(a, dm, "zed in private"), what="zed's DM")
    net.deliver("alice-lb", {"ev": "message", "id": "dm-a1", "chat": "zed", "chat_kind": "dm",
                             "from": "alice-lb", "text": "my answer from the phone",
                             "ts": 1700000301000})
    got = alice.wait(lambda a: copies(a, dm, "my answer from the phone"), what="the own message")
    assert len(got) == 1 and got[0]["sender"] == alice.mxid
    settle(alice)
    assert not [o for o in net.sent("alice-lb") if o.get("op") == "send"
                and o.get("text") == "my answer from the phone"]
    members = {m.user_id for m in alice.run(alice.client.joined_members(dm)).members}
    assert members == {alice.mxid, ghost("zed")}


def test_without_double_puppeting_one_ghost_copy(stack, alice, bob, net, room):
    """With appservice.double_puppet off, a logged-in agent's legacy account keeps
    its ghost; the agent's own login's from_me copy and the other login's copy of
    the same message are still one message."""
    n_a, n_b = net.connections("alice-lb"), net.connections("bob-lb")
    stack.bridge.stop()
    with open(stack.bridge.config) as f:
        cfg = yaml.safe_load(f)
    cfg["appservice"]["double_puppet"] = False
    with open(stack.bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)
    stack.bridge.start()
    net.wait_connected("alice-lb", 30, n_a + 1)
    net.wait_connected("bob-lb", 30, n_b + 1)
    deliver_to_both(net, {"ev": "message", "id": "gs-9", "chat": GROUP, "chat_kind": "group",
                          "from": "alice-lb", "text": "phone, no double puppet",
                          "ts": 1700000209000})
    alice.wait(lambda a: copies(a, room, "phone, no double puppet"), what="the phone message")
    settle(alice, bob)
    got = copies(alice, room, "phone, no double puppet")
    assert len(got) == 1
    assert got[0]["sender"] == ghost("alice-lb")


def test_upsert_replaces_a_known_message(stack, alice, net, room):
    """MESSAGE_UPSERT of a message already bridged replaces it (an edit of its
    event: a placeholder becomes the message); of an unknown one, creates it."""
    dm = [r for r in alice.events if copies(alice, r, "zed in private")][0]
    net.deliver("alice-lb", {"ev": "message", "id": "dm-z2", "chat": "zed", "chat_kind": "dm",
                             "from": "zed", "text": "⏳ Waiting for this message",
                             "ts": 1700000303000})
    first = alice.wait(lambda a: copies(a, dm, "⏳ Waiting for this message"),
                       what="the placeholder")[0]
    net.deliver("alice-lb", {"ev": "message", "id": "dm-z2", "chat": "zed", "chat_kind": "dm",
                             "from": "zed", "text": "the real text", "upsert": True,
                             "ts": 1700000303000})
    edit = alice.wait(lambda a: [e for e in a.events.get(dm, []) if e.get("content", {})
                                 .get("m.relates_to", {}).get("rel_type") == "m.replace"
                                 and e["content"]["m.relates_to"]["event_id"]
                                 == first["event_id"]], what="the replacement")[0]
    assert edit["content"]["m.new_content"]["body"] == "the real text"
    assert edit["sender"] == ghost("zed")
    net.deliver("alice-lb", {"ev": "message", "id": "dm-z3", "chat": "zed", "chat_kind": "dm",
                             "from": "zed", "text": "new by upsert", "upsert": True,
                             "ts": 1700000304000})
    alice.wait(lambda a: copies(a, dm, "new by upsert"), what="an upsert of a new message")


def test_own_dm_messages_without_double_puppeting(stack, alice, net, room):
    """Double puppeting off: the agent's own DM message from the phone is said by
    the contact's ghost (the only other member), marked as the agent's."""
    net.deliver("alice-lb", {"ev": "message", "id": "dm-a2", "chat": "zed", "chat_kind": "dm",
                             "from": "alice-lb", "text": "second answer", "ts": 1700000302000})
    dm = [r for r in alice.events if copies(alice, r, "zed in private")][0]
    got = alice.wait(lambda a: copies(a, dm, "📱 You, from your phone: second answer"),
                     what="the marked own message")
    assert len(got) == 1 and got[0]["sender"] == ghost("zed")
    members = {m.user_id for m in alice.run(alice.client.joined_members(dm)).members}
    assert members == {alice.mxid, ghost("zed")}


def test_a_login_leaving_the_group_leaves_the_portal(stack, alice, bob, net, room):
    """CHAT_DELETE from one login of a shared group: that login is out of the
    portal (its agent is told when writing), the others keep it."""
    net.deliver("bob-lb", {"ev": "chat_delete", "chat": GROUP})
    alice.wait(lambda a: [m for m in a.messages(room, sender=BOT)
                          if "login is no longer in this group" in m["content"].get("body", "")],
               what="the notice that bob's login left")
    assert not [m for m in alice.messages(room, sender=BOT)
                if "deleted on the legacy network" in m["content"].get("body", "")]
    ev = bob.text(room, "bob after leaving")
    bob.wait(lambda a: [m for m in a.messages(room, sender=BOT)
                        if m["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
                        .get("event_id") == ev], what="the no-login notice for bob")
    alice.text(room, "alice still here")
    net.wait_sent("alice-lb", lambda o: o.get("op") == "send"
                  and o.get("text") == "alice still here", 20)
