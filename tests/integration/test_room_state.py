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
