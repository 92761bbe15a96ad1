# SPDX-License-Identifier: AGPL-3.0-or-later
"""The purple plugin (libpurple in a real worker) against real legacy
servers: prosody for XMPP and ngircd for IRC, each with an independent
client (slixmpp; a plain IRC socket), and a real Synapse with matrix-nio
agents on the Tchap side."""

import glob
import os
import signal
import stat
import tempfile
import time

import pytest

from ghost_names import name_on_arrival
from harness import BUILD_ROOT, Agent, Stack, bot_says, open_management_room, wait_until

try:
    import slixmpp  # noqa: F401
    HAVE_SLIXMPP = True
except ImportError:
    HAVE_SLIXMPP = False
from xmpp_peer import IrcPeer, Ngircd, Prosody, XmppPeer, have

PURPLE_SO = os.path.join(BUILD_ROOT, "plugins", "purple", "purple.so")
BOT = "@passerelle:localhost"
ROOM = "room@conference.localhost"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(PURPLE_SO) and HAVE_SLIXMPP and have("prosody", "prosodyctl", "ngircd")),
    reason="needs the purple plugin, slixmpp, prosody and ngircd")


def ghost(legacy_id):
    out = []
    for ch in legacy_id.encode():
        c = chr(ch)
        if c.isdigit() or ("a" <= c <= "z") or c in ".-/":
            out.append(c)
        else:
            out.append("=%02x" % ch)
    return "@_pa_purple_%s:localhost" % "".join(out)


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="passerelle-purple-")
    yield d
    if not os.environ.get("PA_KEEP_TEST_DIRS"):
        import shutil
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def prosody(workdir):
    p = Prosody(workdir)
    for u in ("alice", "bob", "carol"):
        p.register(u, "pw-" + u)
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def ircd(workdir):
    n = Ngircd(workdir)
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def bob(prosody):
    b = XmppPeer("bob@localhost/peer", "pw-bob", prosody.port)
    # bob makes the room first, so the bridge joins an existing one.
    b.join(ROOM, "bob")
    wait_until(lambda: any(r == ROOM and n == "bob" for r, n, _ in b.muc_presence), 20,
               what="bob in the room")
    holder = {"peer": b}
    yield holder
    holder["peer"].close()


@pytest.fixture(scope="module")
def stack():
    s = Stack(plugins=(PURPLE_SO,), ministry_plugins=("purple",))
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = Agent(stack, "agent1")
    a.mgmt = open_management_room(a)
    yield a
    a.close()


@pytest.fixture(scope="module")
def agent2(stack):
    a = Agent(stack, "agent2")
    a.mgmt = open_management_room(a)
    yield a
    a.close()


def prompt_label(body):
    if not body.startswith("Please send your "):
        return None
    label = body[len("Please send your "):]
    for stop in (" (your message", " — or", ". Choices:", ". Send `cancel`"):
        label = label.split(stop)[0]
    return label.lower()


def run_login(agent, answers, done="Logged in", timeout=90):
    """Answer the login prompts in order; `answers` maps label fragments to values."""
    n0 = len(agent.messages(agent.mgmt, sender=BOT))
    agent.text(agent.mgmt, "login purple")
    answered = n0
    deadline = time.monotonic() + timeout
    asked = []
    while time.monotonic() < deadline:
        agent.sync(timeout_ms=500)
        msgs = agent.messages(agent.mgmt, sender=BOT)
        for m in msgs[answered:]:
            answered += 1
            body = m["content"].get("body", "")
            if done in body:
                return asked
            if "`newroom`" in body:
                # The agent made this room: the bot could not delete the
                # password here, so the login goes on in a room of its own.
                old = agent.mgmt
                agent.text(old, "newroom")
                agent.mgmt = agent.wait_invite(lambda a, r: a.inviter(r) == BOT and r != old)
                agent.join(agent.mgmt)
                answered = 0
                break
            label = prompt_label(body)
            if label is None:
                continue
            asked.append(label)
            assert asked.count(label) <= 3, "asked %r again and again: %r" % (label, asked)
            value = "-"
            for frag, v in answers:
                if frag in label:
                    value = v
                    break
            agent.text(agent.mgmt, value)
    raise AssertionError("login did not complete; asked %r; bot said %r" % (
        asked, [m["content"].get("body") for m in agent.messages(agent.mgmt, sender=BOT)[n0:]]))


def dm_room(agent, legacy_id, timeout=40):
    g = ghost(legacy_id)
    for r, evs in agent.events.items():
        if any(e.get("sender") == g for e in evs):
            return r
    room = agent.wait_invite(lambda a, r: a.inviter(r) == g, timeout=timeout)
    agent.join(room)
    return room


def typing_seen(agent, room, user, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = agent.sync(timeout_ms=500)
        info = resp.rooms.join.get(room)
        if info is None:
            continue
        for ev in info.ephemeral:
            src = getattr(ev, "source", {}) or {}
            if src.get("type") == "m.typing" and user in src.get("content", {}).get("user_ids", []):
                return True
            if getattr(ev, "users", None) and user in ev.users:
                return True
    return False


# ----------------------------------------------------------------- XMPP


def xmpp_answers(prosody, autojoin):
    return [("protocol", "prpl-jabber"), ("user name", "alice"), ("domain", "localhost"),
            ("resource", "passerelle"), ("password", "pw-alice"),
            ("connection security", "opportunistic_tls"), ("plaintext", "true"),
            ("connect port", str(prosody.port)), ("connect server", "127.0.0.1"),
            ("rooms to join", autojoin)]


def test_xmpp_login(stack, agent, prosody, bob):
    asked = run_login(agent, xmpp_answers(prosody, ROOM))
    # The protocol list came first, then the prpl's own fields, typed.
    assert asked[0] == "protocol"
    assert "password" in asked and "domain" in asked and any("port" in a for a in asked)
    sessions = glob.glob(os.path.join(stack.bridge.dir, "data", "**", "purple-session.json"),
                         recursive=True)
    assert len(sessions) == 1
    assert stat.S_IMODE(os.stat(sessions[0]).st_mode) == 0o600
    with open(stack.bridge.log_path, "rb") as f:
        assert b"pw-alice" not in f.read()


def test_xmpp_dm_both_ways(agent, bob):
    peer = bob["peer"]
    # A subscription with a nick: the plugin accepts it and names the contact.
    peer.subscribe("alice@localhost", nick="Bob Peer")
    time.sleep(2)
    peer.send("alice@localhost", "hello from bob", html="<p>hello from <strong>bob</strong></p>")
    room = dm_room(agent, "bob@localhost")
    m = agent.wait(lambda a: [e for e in a.messages(room, ghost("bob@localhost"))
                              if e["content"]["body"] == "hello from bob"], what="bob's DM")[0]
    assert "<b>bob</b>" in m["content"].get("formatted_body", "")
    prof = agent.run(agent.client.get_displayname(ghost("bob@localhost")))
    assert prof.displayname == "Bob Peer"
    # The nick came with the subscription, before the message: on the join and the message.
    assert name_on_arrival(agent, room, ghost("bob@localhost")) == ("Bob Peer",) * 2

    agent.text(room, "hi bob <&> friends")
    got = peer.wait_message(lambda m: m["body"] == "hi bob <&> friends")
    assert got["from"].startswith("alice@localhost")
    agent.send(room, {"msgtype": "m.text", "body": "bold move", "format": "org.matrix.custom.html",
                      "formatted_body": "<b>bold</b> move"})
    got = peer.wait_message(lambda m: m["body"] == "bold move")
    assert got["html"] and "bold" in got["html"]

    # Emotes both ways.
    agent.send(room, {"msgtype": "m.emote", "body": "waves"})
    peer.wait_message(lambda m: m["body"] == "/me waves")
    peer.send("alice@localhost", "/me dances")
    agent.wait(lambda a: [e for e in a.messages(room, ghost("bob@localhost"), "m.emote")
                          if e["content"]["body"] == "dances"], what="bob's emote")


def test_xmpp_typing_both_ways(agent, bob):
    peer = bob["peer"]
    room = dm_room(agent, "bob@localhost")
    peer.chatstate("alice@localhost", "composing")
    assert typing_seen(agent, room, ghost("bob@localhost")), "bob's typing did not reach Tchap"
    peer.chatstate("alice@localhost", "active")
    agent.run(agent.client.room_typing(room, True, timeout=10000))
    wait_until(lambda: ("alice@localhost", "composing") in peer.chatstates, 20,
               what="alice's typing at bob")
    agent.run(agent.client.room_typing(room, False))


def test_xmpp_message_while_idle(agent, bob):
    room = dm_room(agent, "bob@localhost")
    time.sleep(5)
    bob["peer"].send("alice@localhost", "after a quiet while")
    agent.wait(lambda a: "after a quiet while" in a.bodies(room, ghost("bob@localhost")),
               what="the late message")


def test_xmpp_contacts_and_start(agent, prosody):
    n0 = len(agent.messages(agent.mgmt, sender=BOT))
    agent.text(agent.mgmt, "contacts purple")
    agent.wait(lambda a: bot_says(a, a.mgmt, "bob@localhost", n0), what="the contact list")
    assert bot_says(agent, agent.mgmt, "Bob Peer", n0)
    # A conversation with someone new, who is offline: prosody keeps the
    # message and carol gets it when she connects.
    agent.text(agent.mgmt, "start purple carol@localhost")
    room = dm_room(agent, "carol@localhost")
    agent.text(room, "hello carol, from tchap")
    time.sleep(1)
    carol = XmppPeer("carol@localhost/peer", "pw-carol", prosody.port)
    try:
        carol.wait_message(lambda m: m["body"] == "hello carol, from tchap")
    finally:
        carol.close()


def group_room(agent, timeout=40):
    for r in list(agent.events):
        if agent.events[r] and any(e.get("type") == "m.room.name" and
                                   e.get("content", {}).get("name", "").startswith("room")
                                   for e in agent.events[r]):
            return r
    room = agent.wait_invite(lambda a, r: a.inviter(r) == BOT and r != a.mgmt, timeout=timeout)
    agent.join(room)
    return room


def joined_members(agent, room):
    resp = agent.run(agent.client.joined_members(room))
    return {m.user_id for m in resp.members}


def test_xmpp_muc_both_ways(agent, bob, prosody):
    peer = bob["peer"]
    room = group_room(agent)
    bob_ghost = ghost(ROOM + "/bob")
    wait_until(lambda: bob_ghost in joined_members(agent, room), 30, what="bob's ghost joined")
    peer.send(ROOM, "hello room", mtype="groupchat", chatstate=None)
    agent.wait(lambda a: "hello room" in a.bodies(room, bob_ghost), what="bob's room message")
    agent.text(room, "hi room from tchap")
    got = peer.wait_message(lambda m: m["type"] == "groupchat"
                            and m["body"] == "hi room from tchap")
    assert got["from"] == ROOM + "/alice"
    # No echo: the bridge did not bridge its own reflection back.
    time.sleep(1)
    agent.sync()
    assert agent.bodies(room).count("hi room from tchap") == 1

    # Membership follows the occupants.
    carol = XmppPeer("carol@localhost/peer", "pw-carol", prosody.port)
    try:
        carol.join(ROOM, "carol")
        carol_ghost = ghost(ROOM + "/carol")
        wait_until(lambda: carol_ghost in joined_members(agent, room), 30, what="carol joined")
        carol.leave(ROOM, "carol")
        wait_until(lambda: carol_ghost not in joined_members(agent, room), 30, what="carol left")
    finally:
        carol.close()


def test_xmpp_join_command(agent, bob, prosody):
    """`join purple <room>` joins a MUC the login did not autojoin; `leave` leaves it."""
    peer = bob["peer"]
    other = "second@conference.localhost"
    peer.join(other, "bob")
    n0 = len(agent.messages(agent.mgmt, sender=BOT))
    agent.text(agent.mgmt, "join purple " + other)
    agent.wait(lambda a: bot_says(a, a.mgmt, "Joined " + other, n0), what="the join answer")
    room = agent.wait_invite(lambda a, r: a.inviter(r) == BOT and
                             (a.invite_name(r) or "").startswith("second"), timeout=40)
    agent.join(room)
    peer.send(other, "hello second room", mtype="groupchat", chatstate=None)
    agent.wait(lambda a: "hello second room" in a.bodies(room, ghost(other + "/bob")),
               what="a message in the joined room")

    # `leave purple <room>` leaves it again: the answer, and bob no longer
    # reaches alice there.
    n1 = len(agent.messages(agent.mgmt, sender=BOT))
    agent.text(agent.mgmt, "leave purple " + other)
    agent.wait(lambda a: bot_says(a, a.mgmt, "Left " + other, n1), what="the leave answer")
    peer.send(other, "after alice left", mtype="groupchat", chatstate=None)
    time.sleep(3)
    agent.sync()
    assert "after alice left" not in agent.bodies(room)


def test_xmpp_prosody_restart(agent, bob, prosody):
    room = dm_room(agent, "bob@localhost")
    bob["peer"].close()
    prosody.stop()
    time.sleep(1)
    prosody.start()
    # bob is back first and writes while the bridge is still reconnecting:
    # prosody keeps it offline and delivers it when the bridge is back.
    peer = XmppPeer("bob@localhost/peer", "pw-bob", prosody.port)
    bob["peer"] = peer
    peer.send("alice@localhost", "sent during the reconnect")
    agent.wait(lambda a: "sent during the reconnect" in a.bodies(room, ghost("bob@localhost")),
               timeout=60, what="the message sent during the reconnect")
    agent.text(room, "are you back?")
    peer.wait_message(lambda m: m["body"] == "are you back?", timeout=60)
    msgs = [e for e in agent.history(room) if e.get("type") == "m.room.message"
            and e["content"].get("body") == "sent during the reconnect"]
    assert len(msgs) == 1


# ----------------------------------------------------------------- IRC


@pytest.fixture(scope="module")
def carol_irc(ircd):
    c = IrcPeer(ircd.port, "carol")
    c.join("#test")
    time.sleep(0.5)
    yield c
    c.close()


def test_irc_channel_both_ways(agent2, ircd, carol_irc):
    run_login(agent2, [("protocol", "prpl-irc"), ("user name", "dave"), ("server", "127.0.0.1"),
                       ("password", "-"), ("port", str(ircd.port)), ("ssl", "false"),
                       ("rooms to join", "#test")])
    room = agent2.wait_invite(lambda a, r: a.inviter(r) == BOT and r != a.mgmt, timeout=40)
    agent2.join(room)
    wait_until(lambda: ghost("carol") in joined_members(agent2, room), 30, what="carol's ghost")
    carol_irc.say("#test", "hello channel")
    agent2.wait(lambda a: "hello channel" in a.bodies(room, ghost("carol")), what="carol's line")
    agent2.text(room, "hi carol")
    who, target, text = carol_irc.wait_privmsg(lambda p: p[2] == "hi carol")
    assert who == "dave" and target == "#test"
    agent2.room = room


# ----------------------------------------------------------------- restarts


def test_kill9_worker_restarts(stack, agent, agent2, bob, carol_irc):
    sessions = glob.glob(os.path.join(stack.bridge.dir, "data", "**", "purple-session.json"),
                         recursive=True)
    xmpp_dir = [os.path.dirname(s) for s in sessions if "prpl-jabber" in open(s).read()][0]
    pids = [pid for pid, cmd in stack.bridge.worker_pids() if xmpp_dir in cmd]
    assert len(pids) == 1
    n0 = len(agent.messages(agent.mgmt, sender=BOT))
    os.kill(pids[0], signal.SIGKILL)
    agent.wait(lambda a: bot_says(a, a.mgmt, "crashed", n0), what="the crash notice")
    # Kill the restarted worker too: the next restart waits 2 s, long enough
    # for a message to sit in prosody's offline store across a second.
    again = wait_until(lambda: [p for p, cmd in stack.bridge.worker_pids() if xmpp_dir in cmd
                                and p != pids[0]], 30, what="the first restart")[0]
    os.kill(again, signal.SIGKILL)
    pids.append(again)
    time.sleep(0.3)
    sent_at = time.time()
    bob["peer"].send("alice@localhost", "sent while the worker was down")
    # The IRC login of the other agent is untouched.
    agent2.text(agent2.room, "still here")
    carol_irc.wait_privmsg(lambda p: p[2] == "still here")
    # The XMPP worker is back (a new process) and bridges again.
    wait_until(lambda: [p for p, cmd in stack.bridge.worker_pids() if xmpp_dir in cmd
                        and p not in pids], 30, what="the restarted worker")
    room = dm_room(agent, "bob@localhost")
    deadline = time.monotonic() + 60
    while True:
        bob["peer"].send("alice@localhost", "after the crash")
        try:
            agent.wait(lambda a: "after the crash" in a.bodies(room, ghost("bob@localhost")),
                       timeout=10, what="a message after the crash")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    late = agent.wait(lambda a: [e for e in a.messages(room, ghost("bob@localhost"))
                                 if e["content"]["body"] == "sent while the worker was down"],
                      what="the message sent while the worker was down")[0]
    # A delayed message keeps the server's stamp (whole seconds), not the
    # time the restarted worker received it.
    assert late["origin_server_ts"] % 1000 == 0
    assert late["origin_server_ts"] <= sent_at * 1000 + 1000


def test_irc_logout(stack, agent2, carol_irc):
    n0 = len(agent2.messages(agent2.mgmt, sender=BOT))
    agent2.text(agent2.mgmt, "logout purple")
    agent2.wait(lambda a: bot_says(a, a.mgmt, "Logging out", n0), what="the logout")
    # The account was disabled on the network side and its login forgotten.
    wait_until(lambda: any("QUIT" in line and line.startswith(":dave!")
                           for line in list(carol_irc.lines)), 20, what="dave's QUIT")
    sessions = glob.glob(os.path.join(stack.bridge.dir, "data", "**", "purple-session.json"),
                         recursive=True)
    assert not [s for s in sessions if "prpl-irc" in open(s).read()]
