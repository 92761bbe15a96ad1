# SPDX-License-Identifier: AGPL-3.0-or-later
"""Every kind of WhatsApp content both ways, with the whatsapp plugin's test
build: incoming messages are real waE2E protobufs handed to whatsmeow's
dispatcher by the test source (wa_canned.py); what the plugin sends is the
real waE2E.Message it built, captured by the test source."""

import base64
import hashlib
import os
import re
import time

import pytest

from ghost_names import name_on_arrival
from harness import BUILD_ROOT, Agent, Stack, open_management_room, wait_until
from pg_harness import StoreError
import wa_canned as wa
from wa_canned import BOB, CAROL, DAVE, find_body, info, sent_text, unwrap

WA_SO = wa.canned_so(BUILD_ROOT)
pytestmark = pytest.mark.skipif(not os.path.exists(WA_SO),
                                reason="needs the whatsapp plugin's test build")

ME2_PN = "33655555555:7@s.whatsapp.net"
ME2_LID = "555555:7@lid"
GROUP = "120363000000000042@g.us"
GROUP_NAME = "Cellule de crise"
GROUP_TOPIC = "Coordination inter-services"


def ghost(jid):
    return wa.ghost_mxid(wa.non_ad(jid))


BOB_GHOST = ghost(BOB.lid)
CAROL_GHOST = ghost(CAROL.lid)

_seq = [0]


def mid(prefix="M"):
    _seq[0] += 1
    return "%s%04d%s" % (prefix, _seq[0], os.urandom(4).hex().upper())


def now():
    return int(time.time())


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stack():
    s = Stack(plugins=(WA_SO,), ministry_plugins=("whatsapp",))
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = Agent(stack, "wa-msg1")
    a.mgmt = open_management_room(a)
    a.wa = wa.login_qr(stack, a, push_name="Agent One")
    yield a
    a.wa.close()
    a.close()


@pytest.fixture(scope="module")
def dm(agent):
    """The DM portal with Bob, made by his first message."""
    c = agent.wa
    ack = c.message(info(BOB.lid, BOB.lid, mid(), now(), push_name=BOB.name, sender_alt=BOB.pn),
                    wa.text("hello from bob"))
    assert ack["failed"] is False
    room, ev = find_body(agent, "hello from bob")
    assert ev["sender"] == BOB_GHOST
    return room


def bob_says(agent, room, message, msg_id=None, ts=None, chat=None, sender=None):
    """Bob's message through the test source; returns (id, ack)."""
    msg_id = msg_id or mid()
    ack = agent.wa.message(info(chat or BOB.lid, sender or BOB.lid, msg_id, ts or now(),
                                push_name=BOB.name, sender_alt=BOB.pn), message)
    assert ack["failed"] is False, ack
    return msg_id


def wait_in(agent, room, pred, what, timeout=30):
    def look(a):
        return [e for e in a.events.get(room, []) if pred(e)]
    try:
        return agent.wait(look, timeout, what)[0]
    except AssertionError as e:
        last = [(x.get("type"), x.get("sender"), x.get("content")) for x in
                agent.events.get(room, [])[-6:]]
        raise AssertionError("%s; the room's last events: %r" % (e, last)) from None


def by_body(body):
    return lambda e: (e.get("type") in ("m.room.message", "m.sticker")
                      and e.get("content", {}).get("body") == body)


def agent_sends(agent, room, content, what):
    """The agent's message in the portal and what the plugin sent for it."""
    c = agent.wa
    m = c.mark()
    eid = agent.send(room, content)
    sent = c.wait_sent(lambda s: True, m, 30, what)
    return eid, sent


def same_user(jid_a, jid_b):
    return wa.non_ad(jid_a) == wa.non_ad(jid_b)


# ----------------------------------------------------------------- text


def test_text_and_formatting_in(agent, dm):
    bob_says(agent, dm, wa.text("plain words only"))
    ev = wait_in(agent, dm, by_body("plain words only"), "the plain text")
    assert ev["sender"] == BOB_GHOST
    assert ev["content"]["msgtype"] == "m.text"
    assert "formatted_body" not in ev["content"]
    # Bob's ghost made the DM and spoke first with the name his message gave.
    name = agent.run(agent.client.get_displayname(BOB_GHOST)).displayname
    assert BOB.name in name and name_on_arrival(agent, dm, BOB_GHOST) == (name, name)

    bob_says(agent, dm, wa.text("a *bold* and _italic_ and ~gone~ and ```mono```"))
    ev = wait_in(agent, dm, lambda e: "italic" in e.get("content", {}).get("body", ""),
                 "the formatted text")
    html = ev["content"]["formatted_body"]
    assert ev["content"]["format"] == "org.matrix.custom.html"
    assert re.search(r"<(b|strong)>bold</(b|strong)>", html), html
    assert re.search(r"<(i|em)>italic</(i|em)>", html), html
    assert re.search(r"<(del|s|strike)>gone</(del|s|strike)>", html), html
    assert re.search(r"<(code|pre)>mono</(code|pre)>", html), html


def test_text_and_formatting_out(agent, dm):
    _, sent = agent_sends(agent, dm, {"msgtype": "m.text", "body": "hi bob <&>"}, "plain text")
    assert same_user(sent["to"], BOB.lid) or same_user(sent["to"], BOB.pn)
    assert sent_text(sent["message"]) == "hi bob <&>"
    _, sent = agent_sends(agent, dm, {"msgtype": "m.text", "body": "bold move",
                                      "format": "org.matrix.custom.html",
                                      "formatted_body": "<b>bold</b> <em>move</em>"}, "html")
    assert sent_text(sent["message"]) == "*bold* _move_"


# ----------------------------------------------------------------- replies


def test_reply_both_ways(agent, dm):
    orig = bob_says(agent, dm, wa.text("question for you"))
    orig_ev = wait_in(agent, dm, by_body("question for you"), "the question")
    bob_says(agent, dm, wa.extended_text("and its answer", reply_id=orig, reply_sender=BOB.lid,
                                         quoted=wa.text("question for you")))
    rep = wait_in(agent, dm, lambda e: e.get("content", {}).get("body", "")
                  .endswith("and its answer"), "the reply")
    assert rep["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == orig_ev["event_id"]

    _, sent = agent_sends(agent, dm, {"msgtype": "m.text", "body": "my reply",
                                      "m.relates_to": {"m.in_reply_to":
                                                       {"event_id": orig_ev["event_id"]}}},
                          "the agent's reply")
    assert sent_text(sent["message"]) == "my reply"
    ctx = wa.context_of(sent["message"])
    assert ctx["stanzaID"] == orig
    assert same_user(ctx["participant"], BOB.lid) or same_user(ctx["participant"], BOB.pn)
    # WhatsApp's clients find the quoted message by its id; an empty quote
    # is what the plugin may send when it does not hold the text.
    assert "quotedMessage" in ctx, sent


# ----------------------------------------------------------------- edits


def test_edit_in(agent, dm):
    orig = bob_says(agent, dm, wa.text("first version"))
    ev = wait_in(agent, dm, by_body("first version"), "the first version")
    bob_says(agent, dm, wa.edit(wa.key(BOB.lid, orig), wa.text("second version"),
                                now() * 1000))
    ed = wait_in(agent, dm, lambda e: e.get("content", {}).get("m.relates_to", {})
                 .get("rel_type") == "m.replace", "the edit")
    assert ed["content"]["m.relates_to"]["event_id"] == ev["event_id"]
    assert ed["content"]["m.new_content"]["body"] == "second version"
    assert ed["sender"] == BOB_GHOST


def test_edit_out(agent, dm):
    eid, sent = agent_sends(agent, dm, {"msgtype": "m.text", "body": "tpyo"}, "to be edited")
    _, edit = agent_sends(agent, dm, {"msgtype": "m.text", "body": "* typo",
                                      "m.new_content": {"msgtype": "m.text", "body": "typo"},
                                      "m.relates_to": {"rel_type": "m.replace",
                                                       "event_id": eid}}, "the edit")
    pm = unwrap(edit["message"])["protocolMessage"]
    assert pm["type"] == "MESSAGE_EDIT"
    assert pm["key"]["ID"] == sent["id"]
    assert pm["key"]["fromMe"] is True
    assert sent_text(pm["editedMessage"]) == "typo"


# ----------------------------------------------------------------- revokes


def test_revoke_both_ways(agent, dm):
    gone = bob_says(agent, dm, wa.text("sent by mistake"))
    ev = wait_in(agent, dm, by_body("sent by mistake"), "the mistake")
    bob_says(agent, dm, wa.revoke(wa.key(BOB.lid, gone)))
    red = wait_in(agent, dm, lambda e: e.get("type") == "m.room.redaction"
                  and e.get("redacts", e.get("content", {}).get("redacts")) == ev["event_id"],
                  "the redaction")
    assert red["sender"] == BOB_GHOST

    eid, sent = agent_sends(agent, dm, {"msgtype": "m.text", "body": "oops mine"}, "to revoke")
    m = agent.wa.mark()
    agent.run(agent.client.room_redact(dm, eid))
    rv = agent.wa.wait_sent(lambda s: "protocolMessage" in unwrap(s["message"]), m, 30,
                            "the revoke")
    pm = unwrap(rv["message"])["protocolMessage"]
    assert pm["type"] == "REVOKE"
    assert pm["key"]["ID"] == sent["id"]
    assert pm["key"]["fromMe"] is True


# ----------------------------------------------------------------- reactions


def test_reactions_both_ways(agent, dm):
    target = bob_says(agent, dm, wa.text("react to this"))
    ev = wait_in(agent, dm, by_body("react to this"), "the target")
    bob_says(agent, dm, wa.reaction(wa.key(BOB.lid, target), "👍", now() * 1000))
    r = wait_in(agent, dm, lambda e: e.get("type") == "m.reaction", "the reaction")
    assert r["sender"] == BOB_GHOST
    assert r["content"]["m.relates_to"] == {"rel_type": "m.annotation",
                                            "event_id": ev["event_id"], "key": "👍"}
    # An empty reaction removes it.
    bob_says(agent, dm, wa.reaction(wa.key(BOB.lid, target), "", now() * 1000))
    wait_in(agent, dm, lambda e: e.get("type") == "m.room.redaction"
            and e.get("redacts", e.get("content", {}).get("redacts")) == r["event_id"],
            "the reaction removed")

    m = agent.wa.mark()
    agent.send(dm, {"m.relates_to": {"rel_type": "m.annotation", "event_id": ev["event_id"],
                                     "key": "❤️"}}, event_type="m.reaction")
    s = agent.wa.wait_sent(lambda s: "reactionMessage" in unwrap(s["message"]), m, 30,
                           "the agent's reaction")
    rm = unwrap(s["message"])["reactionMessage"]
    assert rm["text"] == "❤️"
    assert rm["key"]["ID"] == target
    assert rm["key"]["fromMe"] is False


# ----------------------------------------------------------------- receipts, typing


def ephemeral_seen(agent, room, pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = agent.sync(timeout_ms=500)
        inf = resp.rooms.join.get(room)
        if inf is None:
            continue
        for ev in inf.ephemeral:
            if pred(ev):
                return True
    return False


def mapped(stack, legacy_id):
    """Whether the host's message map holds a legacy id (the plugin's send
    result was stored): a receipt for it can only land after that."""
    try:
        return stack.bridge.db("SELECT count(*) FROM messages WHERE legacy_id=?",
                               (legacy_id,))[0][0] > 0
    except StoreError:
        return False


def test_receipts_and_typing_both_ways(stack, agent, dm):
    eid, sent = agent_sends(agent, dm, {"msgtype": "m.text", "body": "did you read this?"},
                            "the message to be read")
    wait_until(lambda: mapped(stack, sent["id"]), 20, what="the sent message mapped")
    agent.wa.cmd("receipt", chat=BOB.lid, sender=BOB.lid, ids=[sent["id"]], type="read",
                 ts=now())
    assert ephemeral_seen(agent, dm, lambda ev: any(
        r.event_id == eid and r.user_id == BOB_GHOST and r.receipt_type == "m.read"
        for r in getattr(ev, "receipts", []))), "Bob's read receipt did not reach Tchap"

    agent.wa.cmd("chat_presence", chat=BOB.lid, sender=BOB.lid, state="composing", media="")
    assert ephemeral_seen(agent, dm, lambda ev: BOB_GHOST in (getattr(ev, "users", None) or [])), \
        "Bob's typing did not reach Tchap"
    agent.wa.cmd("chat_presence", chat=BOB.lid, sender=BOB.lid, state="paused", media="")

    theirs = bob_says(agent, dm, wa.text("read me please"))
    ev = wait_in(agent, dm, by_body("read me please"), "Bob's message")
    m = agent.wa.mark()
    agent.run(agent.client.update_receipt_marker(dm, ev["event_id"]))
    call = agent.wa.wait_call("mark_read", after=m)
    assert theirs in call["ids"]
    assert same_user(call["chat"], BOB.lid) or same_user(call["chat"], BOB.pn)

    m = agent.wa.mark()
    agent.run(agent.client.room_typing(dm, True, timeout=10000))
    call = agent.wa.wait_call("chat_presence", lambda c: c.get("state") == "composing", after=m)
    assert same_user(call["chat"], BOB.lid) or same_user(call["chat"], BOB.pn)
    agent.run(agent.client.room_typing(dm, False))


# ----------------------------------------------------------------- media


MEDIA = [
    # (builder, msgtype or event type, mimetype, extra check)
    ("image", "m.image", "image/jpeg"),
    ("video", "m.video", "video/mp4"),
    ("audio", "m.audio", "audio/ogg; codecs=opus"),
    ("voice", "m.audio", "audio/ogg; codecs=opus"),
    ("document", "m.file", "application/pdf"),
    ("sticker", "m.sticker", "image/webp"),
]


@pytest.mark.parametrize("kind,msgtype,mimetype", MEDIA)
def test_media_in(agent, dm, kind, msgtype, mimetype):
    data = os.urandom(3000 + 17 * [k for k, _, _ in MEDIA].index(kind))
    path = "/v/t62.%s/%s" % (kind, hashlib.sha256(data).hexdigest())
    agent.wa.cmd("media", direct_path=path, data_b64=base64.b64encode(data).decode())
    if kind == "image":
        msg = wa.image(path, data, caption="image caption")
    elif kind == "video":
        msg = wa.video(path, data, caption="video caption")
    elif kind == "audio":
        msg = wa.audio(path, data)
    elif kind == "voice":
        msg = wa.audio(path, data, ptt=True)
    elif kind == "document":
        msg = wa.document(path, data, "report-%s.pdf" % kind)
    else:
        msg = wa.sticker(path, data)
    bob_says(agent, dm, msg)

    def is_it(e):
        c = e.get("content", {})
        if msgtype == "m.sticker":
            return e.get("type") == "m.sticker"
        if c.get("msgtype") != msgtype:
            return False
        return kind != "voice" or "org.matrix.msc3245.voice" in c
    ev = wait_in(agent, dm, lambda e: is_it(e) and e.get("content", {}).get("info", {})
                 .get("size") == len(data), "the %s" % kind, timeout=40)
    c = ev["content"]
    assert ev["sender"] == BOB_GHOST
    assert c["info"]["mimetype"] == mimetype
    assert agent.download(c["url"]) == data
    if kind == "image":
        assert c["body"] == "image caption"
    if kind == "video":
        assert c["body"] == "video caption"
    if kind == "document":
        assert c.get("filename", c["body"]) == "report-document.pdf"
    if kind == "audio":
        assert "org.matrix.msc3245.voice" not in c


def test_media_out(agent, dm):
    c = agent.wa
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Dw"
                           "HwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
    for msgtype, data, mime, name, field in (
            ("m.image", png, "image/png", "dot.png", "imageMessage"),
            ("m.file", b"%PDF-1.4 tiny" + os.urandom(64), "application/pdf", "note.pdf",
             "documentMessage"),
            ("m.audio", b"OggS" + os.urandom(200), "audio/ogg", "voice.ogg", "audioMessage")):
        mxc = agent.upload(data, mime, name)
        content = {"msgtype": msgtype, "body": name, "url": mxc,
                   "info": {"mimetype": mime, "size": len(data)}}
        if msgtype == "m.audio":
            content["org.matrix.msc3245.voice"] = {}
        m = c.mark()
        agent.send(dm, content)
        up = c.wait_upload(after=m, timeout=40)
        sha = hashlib.sha256(data).hexdigest()
        assert up["sha256"] == sha and up["size"] == len(data)
        s = c.wait_sent(lambda s: field in unwrap(s["message"]), m, 30, "the %s" % msgtype)
        body = unwrap(s["message"])[field]
        assert body["directPath"] == "/canned/" + sha
        assert base64.b64decode(body["fileSHA256"]).hex() == sha
        assert int(body["fileLength"]) == len(data)
        assert body["mimetype"].split(";")[0] == mime
        if field == "documentMessage":
            assert body["fileName"] == name
        if field == "audioMessage":
            assert body.get("PTT") is True


# ----------------------------------------------------------------- other kinds


def test_location_live_location_contact_in(agent, dm):
    bob_says(agent, dm, wa.location(48.8566, 2.3522, name="Hôtel de Ville"))
    ev = wait_in(agent, dm, lambda e: e.get("content", {}).get("msgtype") == "m.location",
                 "the location")
    assert ev["content"]["geo_uri"] == "geo:48.856600,2.352200"
    assert "Hôtel de Ville" in ev["content"]["body"]

    bob_says(agent, dm, wa.live_location(45.764, 4.8357, caption="on my way"))
    ev = wait_in(agent, dm, lambda e: e.get("content", {}).get("geo_uri")
                 == "geo:45.764000,4.835700", "the live location")
    assert "live" in ev["content"]["body"].lower()

    bob_says(agent, dm, wa.contact("Eve Lambert", "33688888888"))
    ev = wait_in(agent, dm, lambda e: "Eve Lambert" in e.get("content", {}).get("body", "")
                 and e.get("content", {}).get("msgtype") in ("m.text", "m.notice"),
                 "the contact card")
    assert "+33688888888" in ev["content"]["body"].replace(" ", "")
    # The card itself: on the message, or as a file of its own.
    if "url" not in ev["content"]:
        ev = wait_in(agent, dm, lambda e: e.get("content", {}).get("msgtype") == "m.file"
                     and e.get("content", {}).get("info", {}).get("mimetype", "")
                     .startswith("text/"), "the vCard file")
    assert ev["content"]["info"]["mimetype"] in ("text/vcard", "text/x-vcard")
    card = agent.download(ev["content"]["url"]).decode()
    assert card.replace("\r\n", "\n").strip() == wa.vcard("Eve Lambert", "33688888888")


def test_location_out(agent, dm):
    _, sent = agent_sends(agent, dm, {"msgtype": "m.location", "body": "here",
                                      "geo_uri": "geo:43.2965,5.3698"}, "the location")
    loc = unwrap(sent["message"])["locationMessage"]
    assert abs(loc["degreesLatitude"] - 43.2965) < 1e-9
    assert abs(loc["degreesLongitude"] - 5.3698) < 1e-9


def test_view_once_and_call_in(agent, dm):
    data = os.urandom(500)
    path = "/v/view-once/" + hashlib.sha256(data).hexdigest()
    agent.wa.cmd("media", direct_path=path, data_b64=base64.b64encode(data).decode())
    bob_says(agent, dm, wa.view_once(wa.image(path, data, caption="only once",
                                              view_once=True)))
    ev = wait_in(agent, dm, lambda e: "once" in e.get("content", {}).get("body", "").lower(),
                 "the view-once message")
    if ev["content"].get("url"):
        assert agent.download(ev["content"]["url"]) == data

    bob_says(agent, dm, wa.call())
    ev = wait_in(agent, dm, lambda e: "call" in e.get("content", {}).get("body", "").lower(),
                 "the call notice")
    assert ev["content"]["msgtype"] == "m.notice"


def test_disappearing_timer_in(agent, dm):
    bob_says(agent, dm, wa.ephemeral_setting(86400))
    ev = wait_in(agent, dm, lambda e: "disappear" in e.get("content", {}).get("body", "")
                 .lower(), "the disappearing timer notice")
    assert re.search(r"(24 ?h|1 day|one day|24 hours)", ev["content"]["body"], re.I), \
        ev["content"]["body"]


def test_undecryptable_placeholder_replaced(agent, dm):
    u = mid("UND")
    inf = info(BOB.lid, BOB.lid, u, now(), push_name=BOB.name, sender_alt=BOB.pn)
    n0 = len(agent.events.get(dm, []))
    agent.wa.cmd("undecryptable", info=inf)
    ph = agent.wait(lambda a: [e for e in a.events.get(dm, [])[n0:]
                               if e.get("sender") == BOB_GHOST
                               and e.get("type") == "m.room.message"], 30,
                    "the placeholder")[0]
    # WhatsApp re-sends it once the phone answered the retry receipt.
    ack = agent.wa.message(inf, wa.text("decrypted at last"), retry=1)
    assert ack["failed"] is False
    ed = wait_in(agent, dm, lambda e: e.get("content", {}).get("m.relates_to", {})
                 .get("event_id") == ph["event_id"]
                 and e["content"]["m.relates_to"].get("rel_type") == "m.replace",
                 "the placeholder edited")
    assert ed["content"]["m.new_content"]["body"] == "decrypted at last"


def test_status_broadcast_ignored_by_default(agent, dm):
    ack = agent.wa.message(info("status@broadcast", BOB.lid, mid("ST"), now(),
                                push_name=BOB.name, sender_alt=BOB.pn, is_group=False),
                           wa.text("my status of the day"))
    assert ack["failed"] is False
    bob_says(agent, dm, wa.text("after the status"))
    wait_in(agent, dm, by_body("after the status"), "the marker")
    time.sleep(1)
    agent.sync()
    for room, evs in agent.events.items():
        assert not [e for e in evs if e.get("content", {}).get("body") ==
                    "my status of the day"], room


# ----------------------------------------------------------------- groups


def register_group(c, me_lid, me_pn):
    c.cmd("group", jid=GROUP, name=GROUP_NAME, topic=GROUP_TOPIC, ephemeral_s=0,
          participants=[{"jid": BOB.pn, "lid": BOB.lid, "admin": True, "super": True},
                        {"jid": CAROL.pn, "lid": CAROL.lid, "admin": False, "super": False},
                        {"jid": wa.non_ad(me_pn), "lid": wa.non_ad(me_lid), "admin": False,
                         "super": False}])


@pytest.fixture(scope="module")
def group(agent):
    register_group(agent.wa, wa.ME_LID, wa.ME_PN)
    ack = agent.wa.message(info(GROUP, BOB.lid, mid("G"), now(), push_name=BOB.name,
                                sender_alt=BOB.pn), wa.text("welcome to the group"))
    assert ack["failed"] is False
    room, ev = find_body(agent, "welcome to the group", timeout=40)
    assert ev["sender"] == BOB_GHOST
    return room


def test_group_portal(agent, group):
    assert agent.state(group, "m.room.name")["name"] == GROUP_NAME
    assert agent.state(group, "m.room.topic")["topic"] == GROUP_TOPIC
    _, sent = agent_sends(agent, group, {"msgtype": "m.text", "body": "hello group"},
                          "the group message")
    assert sent["to"] == GROUP
    assert sent_text(sent["message"]) == "hello group"


def test_group_admins_have_power(agent, group):
    # Bob is the group's super admin (75: a ghost never outranks the agents at 100), Carol is
    # a member (the room's default).
    def users():
        return (agent.state(group, "m.room.power_levels") or {}).get("users", {})
    wait_until(lambda: users().get(BOB_GHOST) == 75, 20, what="Bob's power level")
    assert CAROL_GHOST not in users()
    assert users()[agent.mxid] == 100


def test_poll_and_vote_in_group(agent, group):
    secret = os.urandom(32)
    pid = mid("POLL")
    ack = agent.wa.message(info(GROUP, BOB.lid, pid, now(), push_name=BOB.name,
                                sender_alt=BOB.pn),
                           wa.poll("Lunch where?", ["Canteen", "Bistro", "Desk"], secret))
    assert ack["failed"] is False
    ev = wait_in(agent, group, lambda e: "Lunch where?" in e.get("content", {}).get("body", ""),
                 "the poll")
    for opt in ("Canteen", "Bistro", "Desk"):
        assert opt in ev["content"]["body"]
    vote = wa.poll_vote(wa.key(GROUP, pid, participant=BOB.lid), BOB.lid, CAROL.lid, secret,
                        ["Bistro"], now() * 1000)
    ack = agent.wa.message(info(GROUP, CAROL.lid, mid("VOTE"), now(), push_name=CAROL.name,
                                sender_alt=CAROL.pn), vote)
    assert ack["failed"] is False
    v = wait_in(agent, group, lambda e: e.get("sender") == CAROL_GHOST
                and "Bistro" in e.get("content", {}).get("body", ""), "the decrypted vote")
    assert v["content"]["body"] == "%s voted for: Bistro" % CAROL.name


def test_edit_after_15_minutes_is_refused_and_told(agent, group):
    # A message of the agent's own, sent from the phone 20 minutes ago.
    old = mid("OLD")
    ack = agent.wa.message(info(GROUP, wa.ME_LID, old, now() - 20 * 60, from_me=True,
                                sender_alt=wa.ME_PN), wa.text("said long ago"))
    assert ack["failed"] is False
    ev = wait_in(agent, group, by_body("said long ago"), "the agent's old message")
    m = agent.wa.mark()
    n0 = len(agent.events.get(group, [])), len(agent.events.get(agent.mgmt, []))
    agent.send(group, {"msgtype": "m.text", "body": "* said recently",
                    "m.new_content": {"msgtype": "m.text", "body": "said recently"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": ev["event_id"]}})

    def told(a):
        new = a.events.get(group, [])[n0[0]:] + a.events.get(a.mgmt, [])[n0[1]:]
        return [e for e in new if e.get("sender") != a.mxid
                and "15 min" in e.get("content", {}).get("body", "")]
    agent.wait(told, 30, "the 15-minute limit told to the agent")
    assert not [s for s in agent.wa.since(m, "sent")
                if "protocolMessage" in unwrap(s["message"])]


@pytest.fixture(scope="module")
def agent2(stack):
    a = Agent(stack, "wa-msg2")
    a.mgmt = open_management_room(a)
    a.wa = wa.login_qr(stack, a, pn=ME2_PN, lid=ME2_LID, push_name="Agent Two")
    yield a
    a.wa.close()
    a.close()


def test_group_shared_by_two_agents_is_one_portal(agent, agent2, group):
    register_group(agent2.wa, ME2_LID, ME2_PN)
    # The second login learns of the group (its first message there): the
    # host records it in the shared portal and invites the second agent.
    first = info(GROUP, BOB.lid, mid("SH"), now(), push_name=BOB.name, sender_alt=BOB.pn)
    for c in (agent.wa, agent2.wa):
        assert c.message(first, wa.text("seen by both logins"))["failed"] is False
    agent2.wait(lambda a: group in a.invites or group in a.events, 30, "agent2's invite")
    if group in agent2.invites:
        agent2.join(group)
    # Both logins are in the group: WhatsApp delivers each message to both.
    gid = mid("SH")
    inf = info(GROUP, CAROL.lid, gid, now(), push_name=CAROL.name, sender_alt=CAROL.pn)
    for c in (agent.wa, agent2.wa):
        assert c.message(inf, wa.text("one copy only"))["failed"] is False
    try:
        wait_until(lambda: "one copy only" in [e.get("content", {}).get("body")
                                               for e in agent2.history(group)], 40,
                   what="the shared message seen by agent2")
    except AssertionError as e:
        raise AssertionError("%s: %r" % (e, [(x.get("type"), x.get("sender"),
                                              x.get("content", {}).get("body"))
                                             for x in agent2.history(group)][-8:])) from None
    wait_in(agent, group, by_body("one copy only"), "the shared message")
    time.sleep(1)
    hist = agent.history(group)
    bodies = [e["content"].get("body") for e in hist if e.get("type") == "m.room.message"]
    assert bodies.count("one copy only") == 1
    assert bodies.count("seen by both logins") == 1
    members = agent.run(agent.client.joined_members(group))
    ids = {m.user_id for m in members.members}
    assert agent.mxid in ids and agent2.mxid in ids


# ----------------------------------------------------------------- history


def test_history_sync_backfill_in_order_with_timestamps(agent):
    t0 = now() - 3 * 86400
    msgs = [{"id": mid("H"), "sender": DAVE.lid, "ts": t0 + 60 * i, "push_name": DAVE.name,
             "message": wa.text("history line %02d" % i)} for i in range(20)]
    ack = agent.wa.history(wa.history_sync([(DAVE.lid, msgs, DAVE.name)]))
    assert ack.get("failed") in (None, False)
    room, _ = find_body(agent, "history line 19", timeout=60)
    got = [e for e in agent.history(room) if e.get("type") == "m.room.message"
           and e["content"].get("body", "").startswith("history line")]
    assert [e["content"]["body"] for e in got] == ["history line %02d" % i for i in range(20)]
    assert [e["origin_server_ts"] for e in got] == [m["ts"] * 1000 for m in msgs]
    assert {e["sender"] for e in got} == {ghost(DAVE.lid)}


def test_own_messages_from_the_phone_in_a_dm(agent, dm):
    # A DM holds the agent and the contact (Tchap's direct rule): without double puppeting the
    # contact's ghost says the agent's own message, marked as the agent's.
    ack = agent.wa.message(info(BOB.lid, wa.ME_LID, mid("ME"), now(), from_me=True,
                                sender_alt=wa.ME_PN), wa.text("written on my phone"))
    assert ack["failed"] is False
    ev = wait_in(agent, dm, by_body("📱 You, from your phone: written on my phone"),
                 "the agent's own message", 15)
    assert ev["sender"] == ghost(BOB.lid)
