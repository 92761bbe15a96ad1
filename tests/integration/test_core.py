# SPDX-License-Identifier: AGPL-3.0-or-later
"""The core host against a real Synapse, driven by matrix-nio, with the
loopback plugin in real worker processes talking to loopnet."""

import os
import signal
import time
import uuid

import pytest

from ghost_names import name_on_arrival
from harness import Agent, Stack, bot_says, http, open_management_room, wait_until
from conftest import running

BOT = "@passerelle:localhost"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
       b"\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack())


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


@pytest.fixture(scope="module")
def admin(stack):
    a = Agent(stack, "admin")
    yield a
    a.close()


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def login(agent, mgmt, net, user, password="pw", pairing=False):
    """Run the whole login conversation in the management room."""
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, user)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0), what="password prompt")
    agent.text(mgmt, password)
    if pairing:
        img = agent.wait(lambda a: [m for m in a.messages(mgmt, sender=BOT, msgtype="m.image")],
                         what="the pairing image")[-1]
        return img
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")
    return None


# ----------------------------------------------------------------- tests


def test_registration_and_ping(stack):
    b = stack.bridge
    status, body = http("POST", stack.synapse.url +
                        "/_matrix/client/v1/appservice/passerelle/ping",
                        {"transaction_id": "t-ping"}, token=b.as_token)
    assert status == 200, body
    assert "duration_ms" in body
    # The bot exists: Synapse accepted the registration and our register call.
    status, body = http("GET", stack.synapse.url + "/_matrix/client/v3/profile/" + BOT,
                        token=b.as_token)
    assert status == 200 and body.get("displayname") == "Passerelle"


def test_appservice_auth_and_routes(stack):
    b = stack.bridge
    url = b.url + "/_matrix/app/v1/transactions/auth-1"
    status, body = http("PUT", url, {"events": []})
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"
    status, body = http("PUT", url, {"events": []}, token="wrong")
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
    status, body = http("PUT", url + "?access_token=" + b.hs_token, {"events": []})
    assert status == 200 and body == {}
    status, body = http("PUT", url, b"{not json", token=b.hs_token)
    assert status == 400 and body["errcode"] == "M_NOT_JSON"
    status, body = http("PUT", url.replace("auth-1", "auth-2"), {"events": 3}, token=b.hs_token)
    assert status == 400 and body["errcode"] == "M_BAD_JSON"
    status, body = http("GET", b.url + "/_matrix/app/v1/nope", token=b.hs_token)
    assert status == 404 and body["errcode"] == "M_UNRECOGNIZED"
    status, body = http("GET", url, token=b.hs_token)
    assert status == 405 and body["errcode"] == "M_UNRECOGNIZED"
    status, body = http("POST", b.url + "/_matrix/app/v1/ping", {}, token=b.hs_token)
    assert status == 200
    # User queries: ours → created; foreign → 404.
    status, _ = http("GET", b.url + "/_matrix/app/v1/users/" + ghost("query-me"),
                     token=b.hs_token)
    assert status == 200
    status, _ = http("GET", b.url + "/_matrix/app/v1/users/@someone:localhost", token=b.hs_token)
    assert status == 404
    status, body = http("GET", b.url + "/_matrix/app/v1/thirdparty/protocol/loopback",
                        token=b.hs_token)
    assert status == 200 and body["instances"][0]["network_id"] == "loopback"
    status, _ = http("GET", b.url + "/_matrix/app/v1/thirdparty/protocol/nothing",
                     token=b.hs_token)
    assert status == 404


def test_management_room_and_replayed_txn(stack, alice):
    mgmt = open_management_room(alice)
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "version")
    alice.wait(lambda a: bot_says(a, mgmt, "Passerelle 0.", n0), what="version reply")
    # Play the homeserver: the same transaction twice gives one answer.
    ev = {"type": "m.room.message", "room_id": mgmt, "sender": alice.mxid,
          "event_id": "$replay-%s" % uuid.uuid4().hex, "origin_server_ts": int(time.time() * 1000),
          "content": {"msgtype": "m.text", "body": "ping"}}
    url = stack.bridge.url + "/_matrix/app/v1/transactions/replay-%s" % uuid.uuid4().hex
    n1 = len(alice.messages(mgmt, sender=BOT))
    for _ in range(2):
        status, _ = http("PUT", url, {"events": [ev]}, token=stack.bridge.hs_token)
        assert status == 200
    alice.wait(lambda a: bot_says(a, mgmt, "Pong", n1), what="pong")
    time.sleep(2)
    alice.sync()
    assert len(bot_says(alice, mgmt, "Pong", n1)) == 1


def test_login_with_image_step(stack, alice, net):
    net.add_user("alice-lb", "pw", "Alice Legacy", need_pairing=True)
    mgmt = open_management_room(alice) if False else stack_mgmt(alice)
    img = login(alice, mgmt, net, "alice-lb", pairing=True)
    assert img["content"]["url"].startswith("mxc://")
    assert img["content"]["info"]["mimetype"] == "image/png"
    data = alice.download(img["content"]["url"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # The password answer was redacted from the room.
    net.complete_pairing("alice-lb")
    alice.wait(lambda a: bot_says(a, mgmt, "Logged in"), what="login complete")
    net.wait_connected("alice-lb", 20)
    # Once logged in, the code is taken out of the room (it must not be scanned again).
    alice.wait(lambda a: [e for e in a.events.get(mgmt, []) if e.get("type") == "m.room.redaction"
                          and e.get("redacts") == img["event_id"]], what="the code redacted")


def stack_mgmt(agent):
    """The agent's management room (first room where the bot spoke)."""
    for room_id, evs in agent.events.items():
        if any(e.get("sender") == BOT and "Passerelle" in e.get("content", {}).get("body", "")
               for e in evs):
            return room_id
    return open_management_room(agent)


def dm_room(agent, user):
    """Wait for the DM portal the ghost of `user` invites the agent to."""
    g = ghost(user)
    room = agent.wait_invite(lambda a, r: a.inviter(r) == g)
    agent.join(room)
    return room


def test_messages_both_ways(stack, alice, net):
    # Legacy → Matrix: a DM from bob creates a Tchap-style DM portal.
    net.deliver("alice-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("alice-lb", {"ev": "message", "id": "m-b1", "chat": "bob", "chat_kind": "dm",
                             "from": "bob", "from_name": "Bob Legacy", "ts": 1700000000000,
                             "text": "hello from bob"})
    room = dm_room(alice, "bob")
    rule = alice.state(room, "im.vector.room.access_rules")
    assert rule == {"rule": "direct"}
    assert alice.state(room, "m.room.history_visibility")["history_visibility"] == "invited"
    alice.wait(lambda a: "hello from bob" in a.bodies(room, ghost("bob")), what="bob's message")
    first = [m for m in alice.messages(room, ghost("bob")) if m["content"]["body"] == "hello from bob"][0]
    assert first["origin_server_ts"] == 1700000000000
    prof = alice.run(alice.client.get_displayname(ghost("bob")))
    assert prof.displayname == "Bob Legacy"

    # Matrix → legacy: text, reply, edit, redaction, media.
    e1 = alice.text(room, "hi bob")
    sent = net.wait_sent("alice-lb", lambda op: op.get("op") == "send" and op.get("text") == "hi bob", 20)
    assert sent["chat"] == "bob"
    alice.send(room, {"msgtype": "m.text", "body": "> <@x> hello\n\nreplying",
                      "m.relates_to": {"m.in_reply_to": {"event_id": first["event_id"]}}})
    rep = net.wait_sent("alice-lb", lambda op: op.get("op") == "send" and op.get("text") == "replying", 20)
    assert rep["reply_to"] == "m-b1"
    alice.send(room, {"msgtype": "m.text", "body": "* hi bob!", "m.new_content":
                      {"msgtype": "m.text", "body": "hi bob!"},
                      "m.relates_to": {"rel_type": "m.replace", "event_id": e1}})
    legacy_e1 = [m for m in net.messages("bob") if m.get("text") in ("hi bob", "hi bob!")][0]["id"]
    ed = net.wait_sent("alice-lb", lambda op: op.get("op") == "edit", 20)
    assert ed["text"] == "hi bob!"
    assert ed["target"] == legacy_e1
    alice.run(alice.client.room_redact(room, e1))
    rd = net.wait_sent("alice-lb", lambda op: op.get("op") == "redact", 20)
    assert rd["target"] == legacy_e1
    mxc = alice.upload(PNG, "image/png", "dot.png")
    alice.send(room, {"msgtype": "m.image", "body": "dot.png", "url": mxc,
                      "info": {"mimetype": "image/png", "size": len(PNG)}})
    md = net.wait_sent("alice-lb", lambda op: op.get("op") == "send" and op.get("media"), 20)
    import base64
    assert base64.b64decode(md["media"]["data_b64"]) == PNG
    assert md["media"]["mimetype"] == "image/png"

    # Legacy → Matrix: reply, edit, delete, media.
    net.deliver("alice-lb", {"ev": "message", "id": "m-b2", "chat": "bob", "from": "bob",
                             "ts": 1700000001000, "text": "reply from bob", "reply_to": "m-b1"})
    net.deliver("alice-lb", {"ev": "edit", "id": "m-b3", "chat": "bob", "from": "bob",
                             "target": "m-b2", "text": "reply from bob (edited)", "ts": 1700000002000})
    net.deliver("alice-lb", {"ev": "message", "id": "m-b4", "chat": "bob", "from": "bob",
                             "ts": 1700000003000,
                             "media": {"name": "photo.png", "mimetype": "image/png",
                                       "data_b64": base64.b64encode(PNG).decode(),
                                       "width": 1, "height": 1}})
    net.deliver("alice-lb", {"ev": "delete", "chat": "bob", "from": "bob", "target": "m-b1",
                             "ts": 1700000004000})
    def got_all(a):
        msgs = a.messages(room, ghost("bob"))
        reply = [m for m in msgs if m["content"].get("body") == "reply from bob"]
        edit = [m for m in msgs if m["content"].get("m.new_content")]
        img = [m for m in msgs if m["content"].get("msgtype") == "m.image"]
        red = [e for e in a.events.get(room, []) if e.get("type") == "m.room.redaction"
               and e.get("sender") == ghost("bob")]
        return (reply, edit, img, red) if reply and edit and img and red else None
    reply, edit, img, red = alice.wait(got_all, what="reply, edit, image and redaction")
    assert reply[0]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == first["event_id"]
    assert edit[0]["content"]["m.relates_to"] == {"rel_type": "m.replace",
                                                  "event_id": reply[0]["event_id"]}
    assert edit[0]["content"]["m.new_content"]["body"] == "reply from bob (edited)"
    assert img[0]["content"]["info"]["mimetype"] == "image/png"
    assert alice.download(img[0]["content"]["url"]) == PNG
    assert red[0]["redacts"] == first["event_id"]
    # Our own message was not echoed back into the room by a ghost.
    time.sleep(1)
    alice.sync()
    assert "hi bob" not in alice.bodies(room, ghost("alice-lb"))

    # Media files are handed over (plugin.h, FILES): the one the worker wrote
    # for bob's photo is deleted once bridged, and the one the host downloaded
    # for alice's image once the worker answered.
    data = os.path.join(stack.bridge.dir, "data")
    def leftovers(sub):
        return [os.path.join(r, f) for r, _, fs in os.walk(data) for f in fs
                if os.sep + sub + os.sep in os.path.join(r, f) + os.sep]
    wait_until(lambda: not leftovers("media") and not leftovers("outgoing"), 10,
               what="media files deleted (left: %r)" % (leftovers("media") + leftovers("outgoing")))


def test_typed_failures_retried_or_told(stack, alice, net):
    """SDK 2 typed results: a temporary or rate-limited answer is retried by
    the host (the message reaches the network once); a final one is told to
    the agent as a notice replying to the message."""
    room = [r for r in alice.events if alice.inviter(r) == ghost("bob")][0]

    net.fail_next("alice-lb", "send", "try again later")
    net.fail_next("alice-lb", "send", "rate limited")
    alice.text(room, "retried twice")
    wait_until(lambda: [m for m in net.messages("bob") if m.get("text") == "retried twice"],
               30, what="the retried message on the network")
    time.sleep(1)
    assert len([m for m in net.messages("bob") if m.get("text") == "retried twice"]) == 1

    net.fail_next("alice-lb", "send", "too large: 3 bytes over")
    big = alice.text(room, "too big")
    def told(a):
        return [m for m in a.messages(room) if m["content"].get("msgtype") == "m.notice"
                and "too large for loopback" in m["content"].get("body", "")]
    notice = alice.wait(told, what="the too-large notice")[0]
    assert notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == big
    assert not [m for m in net.messages("bob") if m.get("text") == "too big"]
    # The retried message was not reported as failed.
    assert not [m for m in alice.messages(room) if "retried twice" in m["content"].get("body", "")
                and m["content"].get("msgtype") == "m.notice"]


def test_reaction_sync(stack, alice, net):
    """REACTION_SYNC (SDK 2): the sender's whole set of reactions on a message;
    what is new is added, what is gone is redacted (never the message itself),
    and a key removed then added again comes back."""
    room = [r for r in alice.events if alice.inviter(r) == ghost("bob")][0]
    net.deliver("alice-lb", {"ev": "message", "id": "m-r1", "chat": "bob", "from": "bob",
                             "ts": 1700000100000, "text": "react to me"})
    msg = alice.wait(lambda a: [m for m in a.messages(room, ghost("bob"))
                                if m["content"].get("body") == "react to me"],
                     what="the message")[0]

    def reactions(a):
        evs = a.events.get(room, [])
        redacted = {e.get("redacts") for e in evs if e.get("type") == "m.room.redaction"}
        return {e["content"]["m.relates_to"]["key"]: e["event_id"] for e in evs
                if e.get("type") == "m.reaction" and e.get("sender") == ghost("bob")
                and e["content"]["m.relates_to"].get("event_id") == msg["event_id"]
                and e["event_id"] not in redacted}

    net.deliver("alice-lb", {"ev": "reactions", "chat": "bob", "from": "bob", "target": "m-r1",
                             "keys": ["👍", "❤️"], "ts": 1700000101000})
    alice.wait(lambda a: set(reactions(a)) == {"👍", "❤️"}, what="two reactions")
    net.deliver("alice-lb", {"ev": "reactions", "chat": "bob", "from": "bob", "target": "m-r1",
                             "keys": ["❤️"], "ts": 1700000102000})
    alice.wait(lambda a: set(reactions(a)) == {"❤️"}, what="👍 redacted")
    net.deliver("alice-lb", {"ev": "reactions", "chat": "bob", "from": "bob", "target": "m-r1",
                             "keys": ["👍", "❤️"], "ts": 1700000103000})
    alice.wait(lambda a: set(reactions(a)) == {"👍", "❤️"}, what="👍 back")
    # The message itself was never redacted.
    assert not [e for e in alice.events.get(room, []) if e.get("type") == "m.room.redaction"
                and e.get("redacts") == msg["event_id"]]


def test_group_portal(stack, alice, net):
    net.deliver("alice-lb", {"ev": "chat", "id": "g1", "kind": "group", "name": "Cabinet",
                             "topic": "Réunions", "members": [{"id": "bob", "name": "Bob Legacy"},
                                                              {"id": "carl", "name": "Carl"},
                                                              {"id": "alice-lb", "name": "Me"}]})
    net.deliver("alice-lb", {"ev": "message", "id": "g1-1", "chat": "g1", "chat_kind": "group",
                             "chat_name": "Cabinet", "from": "carl", "ts": 1700000100000,
                             "text": "bonjour le groupe"})
    room = alice.wait_invite(lambda a, r: a.invite_name(r) == "Cabinet")
    alice.join(room)
    assert alice.state(room, "im.vector.room.access_rules") == {"rule": "restricted"}
    bridge_state = alice.run(alice.client.room_get_state(room))
    kinds = {e["type"] for e in bridge_state.events}
    assert "m.bridge" in kinds
    alice.wait(lambda a: "bonjour le groupe" in a.bodies(room, ghost("carl")), what="group message")
    members = alice.run(alice.client.joined_members(room))
    ids = {m.user_id for m in members.members}
    assert ghost("bob") in ids and ghost("carl") in ids and alice.mxid in ids
    alice.text(room, "salut")
    op = net.wait_sent("alice-lb", lambda o: o.get("op") == "send" and o.get("chat") == "g1", 20)
    assert op["text"] == "salut"


def test_ghost_named_before_it_speaks(stack, alice, net):
    """A contact's name the network told before its first message is on the ghost's join and
    first message, however it was told: a DM's chat info (the room's creator), a contact info,
    a group's member list; its messages themselves carry no name."""
    net.deliver("alice-lb", {"ev": "chat", "id": "dora", "kind": "dm", "name": "Dora Legacy",
                             "members": [{"id": "dora", "name": "Dora Legacy"},
                                         {"id": "alice-lb", "name": "Me"}]})
    net.deliver("alice-lb", {"ev": "message", "id": "d-1", "chat": "dora", "from": "dora",
                             "ts": 1700000200000, "text": "first from dora"})
    net.deliver("alice-lb", {"ev": "contact", "id": "erin", "name": "Erin Legacy"})
    net.deliver("alice-lb", {"ev": "message", "id": "e-1", "chat": "erin", "chat_kind": "dm",
                             "from": "erin", "ts": 1700000201000, "text": "first from erin"})
    net.deliver("alice-lb", {"ev": "chat", "id": "g2", "kind": "group", "name": "Bureau",
                             "members": [{"id": "fred", "name": "Fred Legacy"},
                                         {"id": "alice-lb", "name": "Me"}]})
    net.deliver("alice-lb", {"ev": "message", "id": "g2-1", "chat": "g2", "from": "fred",
                             "ts": 1700000202000, "text": "first from fred"})
    dora, erin = dm_room(alice, "dora"), dm_room(alice, "erin")
    group = alice.wait_invite(lambda a, r: a.invite_name(r) == "Bureau")
    alice.join(group)
    seen = {}
    for room, user in ((dora, "dora"), (erin, "erin"), (group, "fred")):
        alice.wait(lambda a: a.bodies(room, ghost(user)), what="%s's message" % user)
        seen[user] = name_on_arrival(alice, room, ghost(user))
    assert seen == {"dora": ("Dora Legacy",) * 2, "erin": ("Erin Legacy",) * 2,
                    "fred": ("Fred Legacy",) * 2}


def test_ministry_enforced(stack, alice, admin, net):
    amgmt = open_management_room(admin)
    mgmt = stack_mgmt(alice)
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "ministry disable test loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "not allowed", n0), what="refusal")
    n1 = len(admin.messages(amgmt, sender=BOT))
    admin.text(amgmt, "ministry disable test loopback")
    admin.wait(lambda a: bot_says(a, amgmt, "is now disabled", n1), what="disabled")
    alice.wait(lambda a: bot_says(a, mgmt, "has disabled loopback", n0), what="told")
    n2 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "login loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "loopback is disabled for your ministry (test)", n2),
               what="login refused")
    n3 = len(admin.messages(amgmt, sender=BOT))
    admin.text(amgmt, "ministry list")
    admin.wait(lambda a: bot_says(a, amgmt, "no plugin enabled", n3), what="list")
    admin.text(amgmt, "ministry enable test loopback")
    admin.wait(lambda a: bot_says(a, amgmt, "is now enabled", n3), what="enabled")
    alice.wait(lambda a: bot_says(a, mgmt, "enabled loopback again", n2), what="resumed")
    net.wait_connected("alice-lb", 20)


def test_homeserver_restart_loses_nothing(stack, alice, net):
    room = [r for r in alice.events if alice.bodies(r, ghost("bob"))][0]
    stack.synapse.stop()
    for i in range(20):
        net.deliver("alice-lb", {"ev": "message", "id": "hs-%d" % i, "chat": "bob", "from": "bob",
                                 "ts": 1700001000000 + i, "text": "during outage %d" % i})
    wait_until(lambda: not net.unacked("alice-lb"), 30, what="events persisted by the bridge")
    time.sleep(1)
    stack.synapse.start()
    want = ["during outage %d" % i for i in range(20)]
    def all_there(a):
        got = [b for b in a.bodies(room, ghost("bob")) if b.startswith("during outage")]
        return got if len(got) >= 20 else None
    alice.wait(all_there, timeout=90, what="messages after the outage")
    time.sleep(2)
    alice.sync()
    hist = [e["content"]["body"] for e in alice.history(room)
            if e["type"] == "m.room.message" and e["content"].get("body", "").startswith("during outage")]
    assert hist == want


def test_host_kill9_loses_and_duplicates_nothing(stack, alice, net):
    room = [r for r in alice.events if alice.bodies(r, ghost("bob"))][0]
    for i in range(60):
        net.deliver("alice-lb", {"ev": "message", "id": "k-%d" % i, "chat": "bob", "from": "bob",
                                 "ts": 1700002000000 + i, "text": "stream %d" % i})
        if i == 30:
            stack.bridge.kill9()
    # Matrix → legacy while the host is down: Synapse keeps the transactions.
    sent = [alice.text(room, "while down %d" % i) for i in range(10)]
    wait_until(lambda: stack.synapse.queued_for_appservice(sent), 30,
               what="Synapse holding the transactions for the bridge")
    stack.bridge.start()
    alice.wait(lambda a: len([b for b in a.bodies(room, ghost("bob")) if b.startswith("stream ")]) >= 60,
               timeout=90, what="the whole stream")
    for i in range(10):
        net.wait_sent("alice-lb", lambda o, i=i: o.get("op") == "send" and o.get("text") == "while down %d" % i, 60)
    time.sleep(2)
    hist = [e["content"]["body"] for e in alice.history(room)
            if e["type"] == "m.room.message" and e["content"].get("body", "").startswith("stream ")]
    assert hist == ["stream %d" % i for i in range(60)]
    texts = [o.get("text") for o in net.sent("alice-lb") if o.get("op") == "send"]
    for i in range(10):
        assert texts.count("while down %d" % i) == 1


def worker_of(workers, legacy_user):
    """The worker whose saved session is legacy_user's (its --data-dir)."""
    import json
    for pid, cmd in workers:
        if "--data-dir" in cmd:
            d = cmd[cmd.index("--data-dir") + 1]
            try:
                with open(os.path.join(d, "session.json")) as f:
                    if json.load(f).get("user") == legacy_user:
                        return pid
            except (OSError, ValueError):
                continue
    return None


def test_worker_kill9_leaves_others_serving(stack, alice, net):
    carol = Agent(stack, "carol")
    try:
        net.add_user("carol-lb", "pw2", "Carol Legacy")
        cm = open_management_room(carol)
        login(carol, cm, net, "carol-lb", password="pw2")
        workers = stack.bridge.worker_pids()
        assert len(workers) >= 2, workers
        alice_pid = worker_of(workers, "alice-lb")
        assert worker_of(workers, "carol-lb") not in (None, alice_pid)
        mgmt = stack_mgmt(alice)
        n0 = len(alice.messages(mgmt, sender=BOT))
        os.kill(alice_pid, signal.SIGKILL)
        # Carol keeps working while alice's worker restarts.
        net.deliver("carol-lb", {"ev": "message", "id": "c-1", "chat": "dave", "from": "dave",
                                 "ts": 1700003000000, "text": "for carol"})
        croom = dm_room(carol, "dave")
        carol.wait(lambda a: "for carol" in a.bodies(croom, ghost("dave")), what="carol's message")
        alice.wait(lambda a: bot_says(a, mgmt, "crashed", n0), what="crash notice")
        net.wait_connected("alice-lb", 30)
        net.deliver("alice-lb", {"ev": "message", "id": "after-crash", "chat": "bob", "from": "bob",
                                 "ts": 1700003001000, "text": "after the crash"})
        room = [r for r in alice.events if alice.bodies(r, ghost("bob"))][0]
        alice.wait(lambda a: "after the crash" in a.bodies(room, ghost("bob")), what="alice again")
    finally:
        carol.close()
