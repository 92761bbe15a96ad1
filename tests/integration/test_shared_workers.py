# SPDX-License-Identifier: AGPL-3.0-or-later
"""Several logins in one worker process (workers.logins_per_worker), against
a real Synapse with the loopback plugin: placement, messages both ways, a
kill -9 of one shared process, a logout inside one, and the refusal for a
plugin whose logins cannot share."""

import json
import os
import signal
import subprocess
import time

import pytest

from harness import (BUILD_ROOT, PASSERELLE, Agent, Bridge, Stack, bot_says, open_management_room,
                     wait_until)
from conftest import running
from test_core import dm_room, ghost, login

USERS = ["u%d-lb" % i for i in range(6)]


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack(workers={"logins_per_worker": {"loopback": 3}}))


@pytest.fixture(scope="module")
def agents(stack, net):
    out = {}
    for i, user in enumerate(USERS):
        net.add_user(user, "pw", "User %d" % i)
        a = Agent(stack, "agent%d" % i)
        a.mgmt = open_management_room(a)
        out[user] = a
    yield out
    for a in out.values():
        a.close()


def session_user(d):
    try:
        with open(os.path.join(d, "session.json")) as f:
            return json.load(f).get("user")
    except (OSError, ValueError):
        return None


def processes(stack):
    """{pid: [legacy users whose data dir it was given]} of the bridge's workers."""
    out = {}
    for pid, cmd in stack.bridge.worker_pids():
        dirs = [cmd[i + 1] for i, c in enumerate(cmd) if c == "--data-dir"]
        out[pid] = sorted(filter(None, (session_user(d) for d in dirs)))
    return out


def roundtrip(agent, net, user, tag):
    """A message each way for `user`'s login; returns its DM room."""
    peer = "peer-" + user
    net.deliver(user, {"ev": "message", "id": "%s-%s" % (tag, user), "chat": peer, "from": peer,
                       "chat_kind": "dm", "text": "%s to %s" % (tag, user)})
    room = agent.room_of_peer if hasattr(agent, "room_of_peer") else None
    if room is None:
        room = dm_room(agent, peer)
        agent.room_of_peer = room
    agent.wait(lambda a: "%s to %s" % (tag, user) in a.bodies(room, ghost(peer)),
               what="%s's message" % user)
    agent.text(room, "%s from %s" % (tag, user))
    net.wait_sent(user, lambda op: op.get("op") == "send"
                  and op.get("text") == "%s from %s" % (tag, user), 30)
    return room


def test_six_logins_in_two_processes(stack, agents, net):
    for user, a in agents.items():
        login(a, a.mgmt, net, user)
    # Logged in one by one, each login started a process of its own (a
    # running process's sandbox is closed); a restart places them by three.
    stack.bridge.stop()
    stack.bridge.start()
    for user in USERS:
        net.wait_connected(user, 60, count=2)
    procs = wait_until(lambda: (lambda p: p if sorted(map(len, p.values())) == [3, 3] else None)(
        processes(stack)), 30, what="two processes of three logins")
    assert sorted(u for us in procs.values() for u in us) == sorted(USERS)
    for user, a in agents.items():
        roundtrip(a, net, user, "first")


def test_kill9_one_shared_process(stack, agents, net):
    procs = processes(stack)
    victim, hit = next((pid, users) for pid, users in procs.items() if len(users) == 3)
    spared = sorted(set(USERS) - set(hit))
    before = {u: len(agents[u].messages(agents[u].mgmt, sender="@passerelle:localhost"))
              for u in USERS}
    os.kill(victim, signal.SIGKILL)
    # Messages for the three logins of the killed process, meanwhile.
    for user in hit:
        for i in range(5):
            net.deliver(user, {"ev": "message", "id": "down-%s-%d" % (user, i),
                               "chat": "peer-" + user, "from": "peer-" + user,
                               "text": "meanwhile %d" % i})
    for user in hit:
        a = agents[user]
        a.wait(lambda x, a=a: bot_says(x, a.mgmt, "crashed", before[user]),
               what="crash notice for %s" % user)
    for user in hit:
        net.wait_connected(user, 60, count=3)
    for user in hit:
        a = agents[user]
        room = a.room_of_peer
        a.wait(lambda x: len([b for b in x.bodies(room, ghost("peer-" + user))
                              if b.startswith("meanwhile ")]) >= 5, timeout=60,
               what="the messages sent meanwhile")
    time.sleep(2)
    for user in hit:
        a = agents[user]
        hist = [e["content"]["body"] for e in a.history(a.room_of_peer)
                if e["type"] == "m.room.message"
                and e["content"].get("body", "").startswith("meanwhile ")]
        assert hist == ["meanwhile %d" % i for i in range(5)], (user, hist)
        roundtrip(a, net, user, "after")
    # The other process's agents were told nothing; their logins kept going.
    for user in spared:
        a = agents[user]
        assert not bot_says(a, a.mgmt, "crashed", before[user])
        assert net.connections(user) == 2, user
        roundtrip(a, net, user, "spared")
    after = processes(stack)
    assert victim not in after
    assert sorted(map(len, after.values())) == [3, 3]


def test_logout_leaves_the_others_of_its_process(stack, agents, net):
    procs = processes(stack)
    pid, users = next((pid, users) for pid, users in procs.items() if len(users) == 3)
    gone, stay = users[0], users[1:]
    a = agents[gone]
    n0 = len(a.messages(a.mgmt, sender="@passerelle:localhost"))
    a.text(a.mgmt, "logout loopback")
    a.wait(lambda x: bot_says(x, a.mgmt, "Logging out", n0), what="logout confirmed")
    net.wait_disconnected(gone, 30)
    for user in stay:
        roundtrip(agents[user], net, user, "after-logout")
    assert pid in processes(stack)


def test_refused_for_a_plugin_that_cannot_share(tmp_path):
    skeleton = os.path.join(BUILD_ROOT, "tests", "plugins", "skeleton", "skeleton.so")
    b = Bridge(str(tmp_path), plugins=(skeleton,), ministry_plugins=("skeleton",),
               workers={"logins_per_worker": {"skeleton": 2}})
    b.write_config("http://127.0.0.1:1")
    b.generate_registration()
    r = subprocess.run([PASSERELLE, "-c", b.config], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "workers.logins_per_worker.skeleton" in r.stderr, r.stderr
    assert "cannot run several logins in one worker process" in r.stderr, r.stderr
