# SPDX-License-Identifier: AGPL-3.0-or-later
"""The purple plugin's contact features against real servers: presence
(with `bridge.presence` on and a Synapse that has presence), vCard avatars,
MUC invitations and file transfers both ways (SI + in-band bytestreams),
with a slixmpp peer on prosody and a matrix-nio agent on Synapse."""

import glob
import hashlib
import os
import struct
import tempfile
import time
import zlib

import pytest
import yaml

from harness import Agent, Stack, bot_says, http, open_management_room, wait_until
from test_purple import (BOT, HAVE_SLIXMPP, PURPLE_SO, dm_room, ghost, joined_members,
                         run_login, xmpp_answers)
from xmpp_peer import Prosody, XmppPeer, have

pytestmark = pytest.mark.skipif(
    not (os.path.exists(PURPLE_SO) and HAVE_SLIXMPP and have("prosody", "prosodyctl")),
    reason="needs the purple plugin, slixmpp and prosody")

BOB = "bob@localhost"
PARTY = "party@conference.localhost"


IDLE_S = 30  # Synapse's idle timeout here (default 5 min), below the test's length


class PresenceStack(Stack):
    """The harness stack with presence on: in Synapse and in the bridge."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        synapse_presence = {"enabled": True, "idle_timeout": IDLE_S * 1000,
                            "last_active_granularity": 10000}
        for path, patch in ((self.synapse.config, lambda c: c.update(presence=synapse_presence)),
                            (self.bridge.config, lambda c: c["bridge"].update(presence=True))):
            with open(path) as f:
                cfg = yaml.safe_load(f)
            patch(cfg)
            with open(path, "w") as f:
                yaml.safe_dump(cfg, f)


def png(width, height, seed):
    """A real PNG (RGB, unfiltered rows) whose pixels depend on seed."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\x00" + bytes((x * seed + y) % 256 for x in range(width * 3))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def prosody():
    d = tempfile.mkdtemp(prefix="passerelle-purple-extra-")
    p = Prosody(d)
    for u in ("alice", "bob"):
        p.register(u, "pw-" + u)
    p.start()
    yield p
    p.stop()
    if not os.environ.get("PA_KEEP_TEST_DIRS"):
        import shutil
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def bob(prosody):
    b = XmppPeer(BOB + "/peer", "pw-bob", prosody.port, files=True)
    yield b
    b.close()


@pytest.fixture(scope="module")
def stack():
    s = PresenceStack(plugins=(PURPLE_SO,), ministry_plugins=("purple",))
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack, prosody, bob):
    a = Agent(stack, "agent1")
    a.mgmt = open_management_room(a)
    run_login(a, xmpp_answers(prosody, "-"))
    # bob and alice become contacts both ways; bob's first line opens the DM.
    bob.subscribe("alice@localhost", nick="Bob Peer")
    time.sleep(2)
    bob.send("alice@localhost", "hello, this is bob")
    a.dm = dm_room(a, BOB)
    a.wait(lambda a: "hello, this is bob" in a.bodies(a.dm, ghost(BOB)), what="bob's line")
    yield a
    a.close()


def presence_of(stack, agent, user):
    status, body = http("GET", "%s/_matrix/client/v3/presence/%s/status" % (stack.synapse.url,
                                                                           user),
                        token=agent.client.access_token)
    assert status == 200, body
    return body


def wait_presence(stack, agent, user, state, timeout=30):
    return wait_until(lambda: (lambda p: p if p.get("presence") == state else None)(
        presence_of(stack, agent, user)), timeout, what="%s %s" % (user, state))


# ----------------------------------------------------------------- presence


def test_presence_follows_the_contact(stack, agent, bob):
    wait_presence(stack, agent, ghost(BOB), "online")
    bob.set_presence("away", "at lunch")
    away = wait_presence(stack, agent, ghost(BOB), "unavailable")
    # SDK 2 carries the status message too.
    assert away.get("status_msg") == "at lunch"
    bob.set_presence()
    wait_presence(stack, agent, ghost(BOB), "online")
    agent.online_since = time.monotonic()


# ----------------------------------------------------------------- avatars


def test_vcard_avatar_becomes_the_ghost_avatar(stack, agent, bob):
    picture = png(24, 16, 7)
    bob.set_avatar(picture, "image/png")

    def avatar():
        resp = agent.run(agent.client.get_avatar(ghost(BOB)))
        return getattr(resp, "avatar_url", None)
    mxc = wait_until(avatar, 40, what="bob's ghost avatar")
    assert agent.download(mxc) == picture
    # A new picture replaces it (kept in sync, not set once).
    second = png(20, 20, 3)
    bob.set_avatar(second, "image/png")
    mxc2 = wait_until(lambda: (lambda u: u if u and u != mxc else None)(avatar()), 40,
                      what="bob's new ghost avatar")
    assert agent.download(mxc2) == second


# ----------------------------------------------------------------- invitations


def test_muc_invitation(stack, agent, bob):
    bob.join(PARTY, "bob")
    wait_until(lambda: any(r == PARTY and n == "bob" for r, n, _ in bob.muc_presence), 20,
               what="bob in the new room")
    n0 = len(agent.messages(agent.mgmt, sender=BOT))
    bob.invite(PARTY, "alice@localhost", "come to the party")
    notice = agent.wait(lambda a: bot_says(a, a.mgmt, "invites you to the room " + PARTY, n0),
                        what="the invitation notice")[0]
    assert "come to the party" in notice["content"]["body"]
    # libpurple's question comes next, as a step of the login: accept.
    agent.wait(lambda a: bot_says(a, a.mgmt, "Choices: `Accept` `Cancel`", n0),
               what="the question")
    agent.text(agent.mgmt, "Accept")
    room = agent.wait_invite(lambda a, r: a.inviter(r) == BOT and
                             (a.invite_name(r) or "").startswith("party"), timeout=40)
    agent.join(room)
    wait_until(lambda: any(r == PARTY and n == "alice" for r, n, _ in bob.muc_presence), 20,
               what="alice in bob's room")
    bob.send(PARTY, "welcome to the party", mtype="groupchat", chatstate=None)
    agent.wait(lambda a: "welcome to the party" in a.bodies(room, ghost(PARTY + "/bob")),
               what="bob's line in the invited room")
    assert ghost(PARTY + "/bob") in joined_members(agent, room)
    # The accepted room is joined again after a restart, like `join` rooms.
    sessions = glob.glob(os.path.join(stack.bridge.dir, "data", "**", "purple-session.json"),
                         recursive=True)
    assert len(sessions) == 1 and PARTY in open(sessions[0]).read()


# ----------------------------------------------------------------- files


def test_file_from_xmpp(agent, bob):
    data = os.urandom(50000) + b"end of the file"
    bob.send_file("alice@localhost/passerelle", "report.bin", data)
    ev = agent.wait(lambda a: [e for e in a.messages(a.dm, ghost(BOB))
                               if e["content"].get("msgtype") == "m.file"
                               and e["content"].get("body") == "report.bin"],
                    timeout=60, what="bob's file")[0]
    assert ev["content"]["info"]["size"] == len(data)
    assert hashlib.sha256(agent.download(ev["content"]["url"])).digest() \
        == hashlib.sha256(data).digest()


def test_image_from_xmpp(agent, bob):
    picture = png(40, 30, 3)
    bob.send_file("alice@localhost/passerelle", "photo.png", picture)
    ev = agent.wait(lambda a: [e for e in a.messages(a.dm, ghost(BOB), "m.image")
                               if e["content"].get("body") == "photo.png"],
                    timeout=60, what="bob's picture")[0]
    assert ev["content"]["info"]["mimetype"] == "image/png"
    assert agent.download(ev["content"]["url"]) == picture


def send_file(agent, room, data, name, mimetype="application/octet-stream"):
    mxc = agent.upload(data, mimetype, name)
    return agent.send(room, {"msgtype": "m.file", "body": name, "url": mxc,
                             "info": {"mimetype": mimetype, "size": len(data)}})


def not_delivered(agent, room, fragment, after):
    """The bridge's failure notice for a message the agent sent."""
    return [m for m in agent.messages(room)[after:]
            if m["sender"] != agent.mxid and "Not delivered" in m["content"].get("body", "")
            and fragment in m["content"]["body"]]


def test_file_to_xmpp(agent, bob):
    data = os.urandom(30000) + b"from tchap"
    send_file(agent, agent.dm, data, "notes.bin")
    got = bob.wait_file(lambda f: f["name"] == "notes.bin", timeout=90)
    assert got["from"].startswith("alice@localhost")
    assert got["size"] == len(data)
    assert got["data"] == data


def test_file_declined_is_told(agent, bob):
    bob.decline_files = True
    try:
        n0 = len(agent.messages(agent.dm))
        send_file(agent, agent.dm, b"unwanted bytes", "unwanted.bin")
        agent.wait(lambda a: not_delivered(a, a.dm, "cancelled", n0), timeout=60,
                   what="the failure notice")
        # The management room says who refused what.
        assert bot_says(agent, agent.mgmt, "cancelled the transfer of unwanted.bin")
        assert not [f for f in bob.received_files if f["name"] == "unwanted.bin"]
    finally:
        bob.decline_files = False


# ----------------------------------------------------------------- last: bob leaves


def test_presence_is_kept_then_offline(stack, agent, bob):
    # Synapse turns a user who neither syncs nor acts idle, then offline,
    # once its idle timeout is over: the bridge re-sends the ghost's state,
    # so bob is still online well after that.
    left = IDLE_S + 15 - (time.monotonic() - agent.online_since)
    if left > 0:
        time.sleep(left)
    assert presence_of(stack, agent, ghost(BOB)).get("presence") == "online"
    bob.close()
    wait_presence(stack, agent, ghost(BOB), "offline")
    # A file for a contact who is offline fails at once, and the agent is told.
    n0 = len(agent.messages(agent.dm))
    send_file(agent, agent.dm, b"too late", "late.bin")
    agent.wait(lambda a: not_delivered(a, a.dm, "offline", n0), timeout=30,
               what="the offline failure notice")
