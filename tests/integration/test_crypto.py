# SPDX-License-Identifier: AGPL-3.0-or-later
"""End-to-bridge encryption against a real Synapse that encrypts every new
room, with a matrix-nio agent that has E2EE (libolm through python-olm):
the bridge's bot device must decrypt what the agent sends and encrypt what
the ghosts send, across a restart, rotating keys on membership changes."""

import json
import os
import subprocess
import time
import urllib.parse
import uuid

import pytest

from harness import PASSERELLE, bot_says, http, open_management_room
from conftest import running
import pg_harness

import olm  # noqa: F401,E402  (python-olm, from requirements.txt: a hard requirement)
from e2e import E2EAgent, EncryptedStack  # noqa: E402

BOT = "@passerelle:localhost"


@pytest.fixture(scope="module")
def stack():
    yield from running(EncryptedStack())


@pytest.fixture(scope="module")
def alice(stack):
    a = E2EAgent(stack, "alice")
    yield a
    a.close()


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def login(agent, mgmt, net, user, password="pw"):
    """The login conversation of test_core.py, in an encrypted management room."""
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, user)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0), what="password prompt")
    agent.text(mgmt, password)
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")


def is_encrypted_room(stack, agent, room_id):
    return agent.state(room_id, "m.room.encryption") is not None


def ghost_texts(agent, room, user):
    return [m for m in agent.messages(room, sender=ghost(user)) if "_e2e" in m]


def dm_room(agent, user):
    return agent.wait_invite(lambda a, r: a.inviter(r) == ghost(user), timeout=60)


# ----------------------------------------------------------------- tests


def test_encrypted_management_room_and_login(stack, alice, net):
    net.add_user("alice-lb", "pw", "Alice Legacy")
    mgmt = open_management_room(alice)
    assert is_encrypted_room(stack, alice, mgmt)
    # The welcome and every answer were decrypted by nio (the bot device's
    # session), and the agent's encrypted commands were understood.
    assert all("_e2e" in m for m in alice.messages(mgmt, sender=BOT))
    login(alice, mgmt, net, "alice-lb")
    net.wait_connected("alice-lb", 20)
    # The bridge logged in one device for its bot, stored in its own file
    # (on PostgreSQL, in the store's database: no file).
    crypto_db = os.path.join(stack.bridge.dir, "crypto.db")
    if pg_harness.is_uri(stack.bridge.database):
        assert not os.path.exists(crypto_db)
    else:
        assert os.stat(crypto_db).st_mode & 0o077 == 0


def test_legacy_message_decrypts_in_nio(stack, alice, net):
    net.deliver("alice-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("alice-lb", {"ev": "message", "id": "e-1", "chat": "bob", "chat_kind": "dm",
                             "from": "bob", "text": "secret hello"})
    room = dm_room(alice, "bob")
    alice.join(room)
    assert is_encrypted_room(stack, alice, room)
    msg = alice.wait(lambda a: [m for m in ghost_texts(a, room, "bob")
                                if m["content"].get("body") == "secret hello"],
                     what="the decrypted legacy message")[0]
    assert msg["_e2e"]["session_id"]
    # What the homeserver stored is ciphertext.
    status, raw = http("GET", "%s/_matrix/client/v3/rooms/%s/event/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""),
        urllib.parse.quote(msg["event_id"], safe="")), token=alice.client.access_token)
    assert status == 200, raw
    assert raw["type"] == "m.room.encrypted" and raw["sender"] == ghost("bob")
    assert "body" not in raw["content"] and raw["content"]["ciphertext"]
    # Encrypted by the ghost's own device, in a room of two: the agent and
    # the ghost (Tchap's "direct" rule), the bot not in it.
    assert raw["content"]["device_id"] == ghost_device_id(stack, "bob")
    status, members = http("GET", "%s/_matrix/client/v3/rooms/%s/joined_members" % (
        stack.synapse.url, urllib.parse.quote(room, safe="")), token=alice.client.access_token)
    assert status == 200 and sorted(members["joined"]) == sorted([alice.mxid, ghost("bob")])


def test_agent_encrypted_message_reaches_legacy(stack, alice, net):
    room = [r for r in alice.events if ghost_texts(alice, r, "bob")][0]
    alice.text(room, "encrypted reply")
    op = net.wait_sent("alice-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "encrypted reply", 30)
    assert op["chat"] == "bob"


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f0e1a80000"
                    "000049454e44ae426082")


def test_encrypted_attachments_both_ways(stack, alice, net):
    """Media in an encrypted portal are encrypted files (the homeserver holds
    ciphertext only), and the agent's encrypted files reach the legacy side
    decrypted."""
    import base64
    from nio.crypto.attachments import decrypt_attachment, encrypt_attachment
    room = [r for r in alice.events if ghost_texts(alice, r, "bob")][0]
    net.deliver("alice-lb", {"ev": "message", "id": "e-img", "chat": "bob", "from": "bob",
                             "media": {"name": "photo.png", "mimetype": "image/png",
                                       "data_b64": base64.b64encode(PNG).decode(),
                                       "width": 1, "height": 1}})
    img = alice.wait(lambda a: [m for m in ghost_texts(a, room, "bob")
                                if m["content"].get("msgtype") == "m.image"],
                     what="the decrypted image event")[0]
    content = img["content"]
    assert "url" not in content, content
    f = content["file"]
    assert f["v"] == "v2" and f["key"]["alg"] == "A256CTR"
    assert content["info"]["mimetype"] == "image/png"
    stored = alice.download(f["url"])
    assert stored != PNG and PNG not in stored
    assert decrypt_attachment(stored, f["key"]["k"], f["hashes"]["sha256"], f["iv"]) == PNG

    # The agent's encrypted file, the way Element sends one.
    secret = b"%PDF-1.4 note for the cabinet\n" + bytes(range(256)) * 20
    cipher, keys = encrypt_attachment(secret)
    mxc = alice.upload(cipher, "application/octet-stream", "note.pdf")
    keys["url"] = mxc
    alice.send(room, {"msgtype": "m.file", "body": "note.pdf", "filename": "note.pdf",
                      "file": keys, "info": {"mimetype": "application/pdf",
                                             "size": len(secret)}})
    op = net.wait_sent("alice-lb", lambda o: o.get("op") == "send" and o.get("media"), 30)
    assert base64.b64decode(op["media"]["data_b64"]) == secret
    assert op["media"]["mimetype"] == "application/pdf"

    # A file whose ciphertext does not match its hash is refused, and said.
    bad = dict(keys)
    bad["hashes"] = {"sha256": keys["hashes"]["sha256"][::-1]}
    before = len(alice.messages(room))
    alice.send(room, {"msgtype": "m.file", "body": "tampered.pdf", "file": bad,
                      "info": {"mimetype": "application/pdf"}})
    alice.wait(lambda a: [m for m in a.messages(room)[before:]
                          if "could not decrypt the media" in m["content"].get("body", "")],
               what="the tampered-file notice")


def test_restart_keeps_device_and_sessions(stack, alice, net):
    room = [r for r in alice.events if ghost_texts(alice, r, "bob")][0]
    with open(os.path.join(stack.bridge.dir, "passerelle.log"), "rb") as f:
        before = [l for l in f.read().decode(errors="replace").splitlines()
                  if "bot device" in l][-1].split("bot device ")[1].split()[0]
    stack.bridge.stop()
    stack.bridge.start()
    net.wait_connected("alice-lb", 30)
    with open(os.path.join(stack.bridge.dir, "passerelle.log"), "rb") as f:
        after = [l for l in f.read().decode(errors="replace").splitlines()
                 if "bot device" in l][-1].split("bot device ")[1].split()[0]
    assert before == after
    net.deliver("alice-lb", {"ev": "message", "id": "e-2", "chat": "bob", "from": "bob",
                             "text": "after restart"})
    alice.wait(lambda a: [m for m in ghost_texts(a, room, "bob")
                          if m["content"].get("body") == "after restart"],
               what="the message sent after the restart")
    alice.text(room, "to bob after restart")
    net.wait_sent("alice-lb", lambda o: o.get("op") == "send"
                  and o.get("text") == "to bob after restart", 30)
    # Nothing stayed undecryptable, old or new.
    assert alice.encrypted_raw(room) == []
    assert [m for m in ghost_texts(alice, room, "bob")
            if m["content"].get("body") == "secret hello"]


def test_membership_change_rotates_key(stack, alice, net):
    net.deliver("alice-lb", {"ev": "chat", "id": "g-e", "kind": "group", "name": "Secret cabinet",
                             "members": ["alice-lb", "carl"]})
    net.deliver("alice-lb", {"ev": "message", "id": "g-e-1", "chat": "g-e", "chat_kind": "group",
                             "from": "carl", "text": "first"})
    room = alice.wait_invite(lambda a, r: a.invite_name(r) and "Secret cabinet" in a.invite_name(r),
                             timeout=60)
    alice.join(room)
    first = alice.wait(lambda a: [m for m in ghost_texts(a, room, "carl")
                                  if m["content"].get("body") == "first"], what="first")[0]
    net.deliver("alice-lb", {"ev": "message", "id": "g-e-2", "chat": "g-e", "from": "carl",
                             "text": "second"})
    second = alice.wait(lambda a: [m for m in ghost_texts(a, room, "carl")
                                   if m["content"].get("body") == "second"], what="second")[0]
    assert first["_e2e"]["session_id"] == second["_e2e"]["session_id"]
    # A Matrix user joins, then leaves: the session must change.
    dora = E2EAgent(stack, "dora")
    try:
        alice.run(alice.client.room_invite(room, dora.mxid))
        dora.wait_invite(lambda a, r: r == room)
        dora.join(room)
        alice.sync()
        net.deliver("alice-lb", {"ev": "message", "id": "g-e-3", "chat": "g-e", "from": "carl",
                                 "text": "with dora"})
        with_dora = alice.wait(lambda a: [m for m in ghost_texts(a, room, "carl")
                                          if m["content"].get("body") == "with dora"],
                               what="message with dora")[0]
        dora.wait(lambda a: [m for m in ghost_texts(a, room, "carl")
                             if m["content"].get("body") == "with dora"], what="dora decrypts")
        dora.run(dora.client.room_leave(room))
    finally:
        dora.close()
    alice.wait(lambda a: any(e.get("type") == "m.room.member" and e.get("state_key") == dora.mxid
                             and e["content"].get("membership") == "leave"
                             for e in a.events.get(room, [])), what="dora's leave")
    time.sleep(1)  # the leave reaches the bridge through its own transaction
    net.deliver("alice-lb", {"ev": "message", "id": "g-e-4", "chat": "g-e", "from": "carl",
                             "text": "after dora"})
    after = alice.wait(lambda a: [m for m in ghost_texts(a, room, "carl")
                                  if m["content"].get("body") == "after dora"],
                       what="message after dora left")[0]
    sessions = [second["_e2e"]["session_id"], with_dora["_e2e"]["session_id"],
                after["_e2e"]["session_id"]]
    assert len(set(sessions)) == 3, sessions


def test_garbage_ciphertext_rejected(stack, alice, net):
    room = [r for r in alice.events if ghost_texts(alice, r, "bob")][0]
    before = len(alice.messages(room))
    # Raw events (nio would encrypt them again) the bridge cannot decrypt:
    # a session nobody shared, then an unknown algorithm with nonsense.
    garbage = [{"algorithm": "m.megolm.v1.aes-sha2", "sender_key": "A" * 43,
                "ciphertext": "not base64 !!", "session_id": "unknown-session",
                "device_id": alice.client.device_id},
               {"algorithm": "m.nonsense", "ciphertext": {"x": [1, 2]}}]
    for content in garbage:
        url = "%s/_matrix/client/v3/rooms/%s/send/m.room.encrypted/%s" % (
            stack.synapse.url, urllib.parse.quote(room, safe=""), uuid.uuid4().hex)
        status, body = http("PUT", url, content, token=alice.client.access_token)
        assert status == 200, body
    notices = alice.wait(lambda a: len([m for m in a.messages(room)[before:]
                                        if "could not decrypt" in m["content"].get("body", "")]) >= 2,
                         timeout=60, what="two could-not-decrypt notices")
    assert notices
    # Still alive and bridging.
    sent = alice.text(room, "still fine")
    net.wait_sent("alice-lb", lambda o: o.get("op") == "send" and o.get("text") == "still fine", 30)
    assert stack.bridge.proc.poll() is None

    # A replay: the same ciphertext (same session, same message index) sent
    # again as a new event is refused, not bridged twice.
    status, raw = http("GET", "%s/_matrix/client/v3/rooms/%s/event/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""),
        urllib.parse.quote(sent, safe="")), token=alice.client.access_token)
    assert status == 200 and raw["type"] == "m.room.encrypted", raw
    before = len(alice.messages(room))
    url = "%s/_matrix/client/v3/rooms/%s/send/m.room.encrypted/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""), uuid.uuid4().hex)
    status, body = http("PUT", url, raw["content"], token=alice.client.access_token)
    assert status == 200, body
    alice.wait(lambda a: [m for m in a.messages(room)[before:]
                          if "could not decrypt" in m["content"].get("body", "")
                          and "replay" in m["content"].get("body", "")],
               timeout=30, what="the replay notice")
    assert len([o for o in net.sent("alice-lb") if o.get("op") == "send"
                and o.get("text") == "still fine"]) == 1
    assert stack.bridge.proc.poll() is None


def bot_device_id(stack):
    with open(os.path.join(stack.bridge.dir, "passerelle.log"), "rb") as f:
        lines = [l for l in f.read().decode(errors="replace").splitlines() if "bot device" in l]
    return lines[-1].split("bot device ")[1].split()[0]


def ghost_device_id(stack, user):
    """The device the bridge made for the ghost of legacy `user` (its log)."""
    mark = "ghost %s has device " % ghost(user)
    with open(stack.bridge.log_path, "rb") as f:
        lines = [l for l in f.read().decode(errors="replace").splitlines() if mark in l]
    return lines[-1].split(mark)[1].split()[0]


def to_device_request(stack, agent, content, to_user=BOT, to_device=None):
    url = "%s/_matrix/client/v3/sendToDevice/m.room_key_request/%s" % (
        stack.synapse.url, uuid.uuid4().hex)
    body = {"messages": {to_user: {to_device or bot_device_id(stack): content}}}
    status, resp = http("PUT", url, body, token=agent.client.access_token)
    assert status == 200, resp


def test_key_requests_both_ways(stack, alice, net):
    from nio import ForwardedRoomKeyEvent, RoomKeyRequest
    room = [r for r in alice.events if ghost_texts(alice, r, "bob")][0]
    bob, bob_dev = ghost("bob"), ghost_device_id(stack, "bob")

    # 1. An event of a session the bridge never got: it asks the sender's
    #    devices for the key, once, then tells the agent it could not read it.
    #    In a DM portal the bot is not a member: the ghost's device asks.
    lost = "lost-" + uuid.uuid4().hex
    content = {"algorithm": "m.megolm.v1.aes-sha2",
               "sender_key": alice.client.olm.account.identity_keys["curve25519"],
               "ciphertext": "AwgAEhAB" + "A" * 60, "session_id": lost,
               "device_id": alice.client.device_id}
    before = len(alice.messages(room))
    for _ in range(2):
        url = "%s/_matrix/client/v3/rooms/%s/send/m.room.encrypted/%s" % (
            stack.synapse.url, urllib.parse.quote(room, safe=""), uuid.uuid4().hex)
        status, body = http("PUT", url, content, token=alice.client.access_token)
        assert status == 200, body
    reqs = alice.wait(lambda a: [e for e in a.to_device if isinstance(e, RoomKeyRequest)
                                 and e.session_id == lost], what="the bridge's key request")
    assert reqs[0].sender == bob and reqs[0].requesting_device_id == bob_dev
    assert reqs[0].room_id == room
    alice.wait(lambda a: len([m for m in a.messages(room)[before:]
                              if "could not decrypt" in m["content"].get("body", "")]) >= 2,
               timeout=60, what="could-not-decrypt notices after the request")
    assert len([e for e in alice.to_device if isinstance(e, RoomKeyRequest)
                and e.session_id == lost]) == 1  # asked once per session

    # 2. The agent's device asks for the session of a ghost message it holds
    #    (a client that lost its keys): the bridge forwards it over Olm.
    msg = [m for m in ghost_texts(alice, room, "bob")
           if m["content"].get("body") == "secret hello"][0]
    sid, skey = msg["_e2e"]["session_id"], msg["_e2e"]["sender_key"]
    request = {"action": "request", "request_id": uuid.uuid4().hex,
               "requesting_device_id": alice.client.device_id,
               "body": {"algorithm": "m.megolm.v1.aes-sha2", "room_id": room,
                        "sender_key": skey, "session_id": sid}}
    # nio takes forwarded keys from its own user's devices only: for this
    # test it takes the one it asked the bridge for (its Olm decryption and
    # the key import are nio's own).
    from nio.crypto.key_request import OutgoingKeyRequest
    alice.client.olm.outgoing_key_requests[sid] = OutgoingKeyRequest(
        request["request_id"], sid, room, "m.megolm.v1.aes-sha2")
    alice.client.olm._should_accept_forward = (  # pylint: disable=protected-access
        lambda sender, sender_key, event: sender == bob and event.session_id == sid)
    to_device_request(stack, alice, request, to_user=bob, to_device=bob_dev)
    fwd = alice.wait(lambda a: [e for e in a.to_device if isinstance(e, ForwardedRoomKeyEvent)
                                and e.session_id == sid], timeout=30,
                     what="the forwarded room key")[0]
    assert fwd.sender == bob and fwd.room_id == room and fwd.sender_key == skey

    # 3. A device the session never went to (another user, not in the room):
    #    withheld, with the reason.
    erin = E2EAgent(stack, "erin")
    try:
        request2 = dict(request, request_id=uuid.uuid4().hex,
                        requesting_device_id=erin.client.device_id)
        to_device_request(stack, erin, request2, to_user=bob, to_device=bob_dev)
        withheld = erin.wait(lambda a: [e for e in a.to_device
                                        if (getattr(e, "source", None) or {}).get("type")
                                        == "m.room_key.withheld"], timeout=30,
                             what="the withheld notice")[0]
        assert withheld.source["content"]["code"] == "m.unauthorised"
        assert withheld.source["content"]["session_id"] == sid
        assert not [e for e in erin.to_device if isinstance(e, ForwardedRoomKeyEvent)]
    finally:
        erin.close()
    assert stack.bridge.proc.poll() is None


def test_late_room_key_bridges_the_message(stack, alice, net):
    """The agent's client leaves the ghost's device (the bridge's only
    device in a DM portal) out of a new session (here nio is told to
    blacklist it) and answers the bridge's key request only after the bridge
    gave up waiting: the message is bridged when the forwarded key comes,
    late rather than never, and the agent is told."""
    room = [r for r in alice.events if ghost_texts(alice, r, "bob")][0]
    c = alice.client
    bot = c.device_store[ghost("bob")][ghost_device_id(stack, "bob")]
    c.olm.outbound_group_sessions.pop(room, None)
    c.blacklist_device(bot)
    before = len(alice.messages(room))
    try:
        alice.text(room, "the key comes late")
        gs = c.olm.outbound_group_sessions[room]
        alice.wait(lambda a: [m for m in a.messages(room)[before:]
                              if "could not decrypt your message yet" in
                              m["content"].get("body", "")],
                   timeout=60, what="the could-not-decrypt-yet notice")
    finally:
        c.unblacklist_device(bot)
    assert [e for e in alice.to_device if getattr(e, "session_id", None) == gs.id
            and getattr(e, "requesting_device_id", None) == bot.id], "no key request"
    # The answer Element gives: the session forwarded from its first index,
    # over the Olm session with the bot device.
    own = c.olm.inbound_group_store.get(room, c.olm.account.identity_keys["curve25519"], gs.id)
    olm_session = c.olm.session_store.get(bot.curve25519)
    assert own is not None and olm_session is not None
    msg = c.olm._encrypt_forwarding_key(room, own, olm_session, bot)  # pylint: disable=W0212
    resp = alice.run(c.to_device(msg))
    assert not hasattr(resp, "status_code") or resp.status_code is None, resp
    op = net.wait_sent("alice-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "the key comes late", 30)
    assert op["chat"] == "bob"
    alice.wait(lambda a: [m for m in a.messages(room)[before:]
                          if "bridged now" in m["content"].get("body", "")],
               what="the late-key notice")


def test_history_import_into_encrypted_room(stack, alice, tmp_path):
    path = str(tmp_path / "history.json")
    msgs = [{"id": "h-%d" % i, "from": "u%d" % (i % 2), "from_name": "User %d" % (i % 2),
             "ts": 1600000000000 + i * 60000, "text": "old secret %d" % i} for i in range(15)]
    with open(path, "w") as f:
        json.dump({"chats": [{"id": "hist", "name": "Old cabinet", "messages": msgs}]}, f)
    p = subprocess.run([PASSERELLE, "import", "loopback", path, "-c", stack.bridge.config,
                        "--user", alice.mxid], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    room = alice.wait_invite(lambda a, r: a.invite_name(r) == "Old cabinet (Loopback)", timeout=60)
    alice.join(room)
    assert is_encrypted_room(stack, alice, room)
    # nio decrypts the history (with the original timestamps) ...
    got = [e for e in alice.history(room) if e["type"] == "m.room.message"
           and "fr.passerelle.import" in e["content"]]
    assert [e["content"]["body"] for e in got] == [m["text"] for m in msgs]
    assert [e["origin_server_ts"] for e in got] == [m["ts"] for m in msgs]
    # ... which the homeserver only holds encrypted.
    status, body = http("GET", "%s/_matrix/client/v3/rooms/%s/messages?dir=f&limit=100" % (
        stack.synapse.url, urllib.parse.quote(room, safe="")), token=alice.client.access_token)
    assert status == 200, body
    senders = {e["sender"] for e in body["chunk"] if e["type"] == "m.room.encrypted"}
    assert {ghost("u0"), ghost("u1")} <= senders  # (and the bot's notices)
    assert not [e for e in body["chunk"] if e["type"] == "m.room.message"]
