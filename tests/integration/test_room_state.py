# SPDX-License-Identifier: AGPL-3.0-or-later
"""A group portal's room state both ways, against a real Synapse with the loopback network:
the legacy group's topic, its admins (as power levels) and its disappearing-messages timer
reach the room; an agent's new room name and topic reach the legacy group (and its echo does
not loop); `history` and `disappearing` in a portal become the login's operations, and what the
network cannot do is told in the room."""

import pytest

from harness import Agent, Stack, open_management_room, wait_until
from test_core import BOT, ghost, login

GROUP = "rs"
NAME = "Cellule de crise"


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


@pytest.fixture(scope="module")
def room(stack, net, alice):
    net.add_user("alice-rs", "pw", "Alice Legacy")
    login(alice, open_management_room(alice), net, "alice-rs")
    net.wait_connected("alice-rs", 20)
    for who in ("zed", "yann", "xavier"):
        net.add_contact(who, who.title())
    net.deliver("alice-rs", {"ev": "chat", "id": GROUP, "kind": "group", "name": NAME,
                             "topic": "Ordre du jour : budget",
                             "members": [{"id": "alice-rs", "name": "Alice Legacy"},
                                         {"id": "zed", "name": "Zed", "power": 50},
                                         {"id": "yann", "name": "Yann", "power": 100},
                                         {"id": "xavier", "name": "Xavier"}]})
    r = alice.wait_invite(lambda a, r: a.invite_name(r) == NAME)
    alice.join(r)
    return r


def users(agent, room):
    return (agent.state(room, "m.room.power_levels") or {}).get("users", {})


def notices(agent, room):
    return [m["content"].get("body", "") for m in agent.messages(room, sender=BOT)]


def test_topic_and_admins_from_the_network(alice, room):
    wait_until(lambda: (alice.state(room, "m.room.topic") or {}).get("topic")
               == "Ordre du jour : budget", 20, what="the group's topic")
    wait_until(lambda: users(alice, room).get(ghost("zed")) == 50, 20, what="zed as moderator")
    # The network's owner never outranks the agent (100).
    assert users(alice, room).get(ghost("yann")) == 75
    assert ghost("xavier") not in users(alice, room)
    assert users(alice, room)[alice.mxid] == 100


def test_changes_from_the_network(alice, net, room):
    net.deliver("alice-rs", {"ev": "chat", "id": GROUP, "kind": "group", "name": NAME,
                             "topic": "Ordre du jour : effectifs", "disappearing": 604800,
                             "members": [{"id": "alice-rs", "name": "Alice Legacy"},
                                         {"id": "zed", "name": "Zed"},
                                         {"id": "yann", "name": "Yann", "power": 100},
                                         {"id": "xavier", "name": "Xavier", "power": 50}]})
    wait_until(lambda: (alice.state(room, "m.room.topic") or {}).get("topic")
               == "Ordre du jour : effectifs", 20, what="the new topic")
    wait_until(lambda: users(alice, room).get(ghost("xavier")) == 50, 20, what="xavier promoted")
    assert ghost("zed") not in users(alice, room), "zed demoted"
    assert alice.state(room, "fr.passerelle.disappearing") == {"seconds": 604800}
    alice.wait(lambda a: [n for n in notices(a, room) if "7 days" in n], what="timer notice")
    # The same info again changes nothing (no second notice).
    net.deliver("alice-rs", {"ev": "chat", "id": GROUP, "kind": "group", "name": NAME,
                             "topic": "Ordre du jour : effectifs", "disappearing": 604800})
    import time
    time.sleep(2)
    alice.sync()
    assert len([n for n in notices(alice, room) if "7 days" in n]) == 1


def test_agent_renames_and_retopics_the_group(alice, net, room):
    alice.run(alice.client.room_put_state(room, "m.room.name", {"name": "Cellule de crise 2"}))
    op = net.wait_sent("alice-rs", lambda o: o["op"] == "set_chat" and o.get("field") == "name",
                       timeout=20)
    assert op["value"] == "Cellule de crise 2"
    assert net.chat(GROUP)["name"] == "Cellule de crise 2"
    alice.run(alice.client.room_put_state(room, "m.room.topic", {"topic": "Nouvel ordre"}))
    op = net.wait_sent("alice-rs", lambda o: o["op"] == "set_chat" and o.get("field") == "topic",
                       timeout=20)
    assert op["value"] == "Nouvel ordre"
    # The network's echo (a chat event with these values) sets nothing again.
    import time
    time.sleep(2)
    alice.sync()
    names = [e for e in alice.events.get(room, []) if e.get("type") == "m.room.name"]
    assert [e["sender"] for e in names if e["content"].get("name") == "Cellule de crise 2"] \
        == [alice.mxid]
    assert len([o for o in net.sent("alice-rs") if o["op"] == "set_chat"]) == 2


def test_history_command(alice, net, room):
    alice.text(room, "!pa history 5")
    op = net.wait_sent("alice-rs", lambda o: o["op"] == "history", timeout=20)
    assert op["count"] == 5 and op["chat"] == GROUP and not op.get("forward")
    alice.wait(lambda a: [n for n in notices(a, room) if "up to 5 older messages" in n],
               what="history notice")
    alice.text(room, "!pa history 0")
    alice.wait(lambda a: [n for n in notices(a, room) if "Usage: `history [count]`" in n],
               what="history usage")


def test_disappearing_command_refused_by_the_network(alice, net, room):
    alice.text(room, "!pa disappearing soon")
    alice.wait(lambda a: [n for n in notices(a, room) if n.startswith("Usage: `disappearing")],
               what="usage")
    alice.text(room, "!pa disappearing 24h")
    alice.wait(lambda a: [n for n in notices(a, room)
                          if "no disappearing messages" in n], what="the refusal")
    # The timer the room knows is still the network's.
    assert alice.state(room, "fr.passerelle.disappearing") == {"seconds": 604800}


def test_disconnect_and_connect_commands(alice, net, room):
    """`disconnect <plugin>` takes the login offline and keeps its session; `connect
    <plugin>` brings it back (PaLoginOps.disconnect / connect)."""
    from test_core import stack_mgmt
    mgmt = stack_mgmt(alice)
    n = net.connections("alice-rs")
    alice.text(mgmt, "disconnect loopback")
    net.wait_disconnected("alice-rs", 20)
    alice.text(mgmt, "connect loopback")
    net.wait_connected("alice-rs", 20, n + 1)
    alice.text(mgmt, "connect nosuchplugin")
    alice.wait(lambda a: [m for m in a.messages(mgmt, sender=BOT)
                          if "nosuchplugin" in m["content"].get("body", "")
                          or "not logged in to that plugin" in m["content"].get("body", "")
                          or "Refused" in m["content"].get("body", "")],
               what="the refusal of an unknown plugin")


# ------------------------------------------------------------- read-only chats

CHANNEL = "ro-chan"


def levels(agent, room):
    return agent.state(room, "m.room.power_levels") or {}


def test_read_only_channel(alice, net, room):
    """A chat the agent may only read (PaChatInfo.read_only): the portal lets only the
    network's side post (events_default 50, the ghosts that post at 50, the agent at 0)."""
    net.deliver("alice-rs", {"ev": "chat", "id": CHANNEL, "kind": "group", "name": "Annonces",
                             "read_only": True,
                             "members": [{"id": "alice-rs", "name": "Alice Legacy"},
                                         {"id": "yann", "name": "Yann", "power": 100}]})
    r = alice.wait_invite(lambda a, r: a.invite_name(r) == "Annonces")
    alice.join(r)
    pl = levels(alice, r)
    assert pl.get("events_default") == 50
    assert pl.get("users", {}).get(alice.mxid, 0) == 0
    alice.wait(lambda a: [n for n in notices(a, r) if "read-only on Loopback" in n],
               what="the read-only notice")
    net.deliver("alice-rs", {"ev": "message", "chat": CHANNEL, "from": "zed",
                             "text": "Communiqué n°1"})
    alice.wait(lambda a: "Communiqué n°1" in a.bodies(r, ghost("zed")), what="the post")
    assert users(alice, r).get(ghost("zed")) == 50
    # The network's owner keeps their rank (75), above the post level.
    wait_until(lambda: users(alice, r).get(ghost("yann")) == 75, 20, what="yann's rank")
    # The homeserver itself refuses the agent's message.
    from nio import RoomSendError
    resp = alice.run(alice.client.room_send(r, "m.room.message",
                                            {"msgtype": "m.text", "body": "refused"}))
    assert isinstance(resp, RoomSendError), resp
    test_read_only_channel.room = r


def test_read_only_lifted_and_set_again(alice, net, room):
    """The agent became admin (read_only false): the power levels are restored and the agent
    writes; read-only again lowers the agent once more."""
    r = test_read_only_channel.room
    net.deliver("alice-rs", {"ev": "chat", "id": CHANNEL, "kind": "group", "name": "Annonces",
                             "read_only": False})
    wait_until(lambda: levels(alice, r).get("events_default", 0) == 0, 20,
               what="events_default back to 0")
    wait_until(lambda: users(alice, r).get(alice.mxid) == 100, 20, what="the agent at 100")
    assert ghost("zed") not in users(alice, r), "zed back to his rank on the network"
    assert users(alice, r).get(ghost("yann")) == 75
    alice.wait(lambda a: [n for n in notices(a, r) if "write in this chat again" in n],
               what="the writable notice")
    alice.text(r, "Bonjour à tous")
    op = net.wait_sent("alice-rs", lambda o: o["op"] == "send" and o.get("chat") == CHANNEL,
                       timeout=20)
    assert op["text"] == "Bonjour à tous"
    net.deliver("alice-rs", {"ev": "chat", "id": CHANNEL, "kind": "group", "name": "Annonces",
                             "read_only": True})
    wait_until(lambda: levels(alice, r).get("events_default") == 50, 20,
               what="events_default 50 again")
    assert users(alice, r).get(ghost("zed")) == 50
    import harness
    if harness.FLAVOUR != "tchap":
        # The bot made the room (version 12): it outranks the agent.
        wait_until(lambda: users(alice, r).get(alice.mxid, 0) == 0, 20,
                   what="the agent at 0 again")
        return
    # Room version 10: the agent is at 100 like the bot, which cannot lower them; the
    # message is answered instead.
    assert users(alice, r).get(alice.mxid) == 100
    sends = len([o for o in net.sent("alice-rs") if o["op"] == "send"])
    alice.text(r, "Encore moi")
    alice.wait(lambda a: [n for n in notices(a, r)
                          if n == "⚠ Not delivered: this chat is read-only on Loopback."],
               what="the refusal notice")
    assert len([o for o in net.sent("alice-rs") if o["op"] == "send"]) == sends


def test_read_only_dm_answers_with_a_notice(alice, net, room):
    """Where the agent cannot be lowered (a DM: the agent is one of its two admins), a
    message in a read-only chat is answered with a notice and never sent."""
    net.add_contact("vera", "Vera")
    net.deliver("alice-rs", {"ev": "message", "chat": "vera", "from": "vera", "text": "Allô"})
    r = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("vera"))
    alice.join(r)
    alice.wait(lambda a: "Allô" in a.bodies(r, ghost("vera")), what="the DM")
    net.deliver("alice-rs", {"ev": "chat", "id": "vera", "kind": "dm", "read_only": True})
    alice.wait(lambda a: [b for b in a.bodies(r, ghost("vera")) if "read-only on Loopback" in b],
               what="the read-only notice")
    # Set by the DM's ghost (a DM has no bot).
    wait_until(lambda: levels(alice, r).get("events_default") == 50, 20,
               what="events_default 50 in the DM")
    sends = len([o for o in net.sent("alice-rs") if o["op"] == "send"])
    alice.text(r, "Tu m'entends ?")
    alice.wait(lambda a: [b for b in a.bodies(r, ghost("vera"))
                          if b == "⚠ Not delivered: this chat is read-only on Loopback."],
               what="the refusal notice")
    assert len([o for o in net.sent("alice-rs") if o["op"] == "send"]) == sends
    # The contact still writes there (the DM's ghost is its creator, above events_default).
    net.deliver("alice-rs", {"ev": "message", "chat": "vera", "from": "vera", "text": "Oui"})
    alice.wait(lambda a: "Oui" in a.bodies(r, ghost("vera")), what="the contact's message")
