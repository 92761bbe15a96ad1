# SPDX-License-Identifier: AGPL-3.0-or-later
"""What an agent does in a Telegram portal, as the telegram plugin's test
build sends it to TDLib (the fake, td_fake.py): the recorded requests are
checked field by field and against TDLib's TL schema; the test answers as
TDLib does (a message under a temporary id first, its outcome later) and
checks that later edits, reactions and deletions name the FINAL id, that a
flood wait is honoured (sent again after Telegram's delay, once in the
end), and that what Telegram refuses reaches the agent with a sentence."""

import os
import time

import pytest

from harness import SOURCE_ROOT, Agent, open_management_room
from tg_harness import available, login_telegram, tg_stack
from wa_canned import accept_invites, wait_bot, bot_messages

pytestmark = pytest.mark.skipif(not available(), reason="needs the telegram plugin's test build")
# HTML → entities is tg-entities.c's, through TDLib's own parser.
HAS_ENTITIES = os.path.exists(os.path.join(SOURCE_ROOT, "plugins", "telegram", "tg-entities.c"))

BOB = 77
CAROL = 78
GROUP = -500            # a basic group (chat id = minus the group's id)
CHANNEL = -1000000000900

_tmp = [1048576]


def temp_id():
    _tmp[0] += 1
    return _tmp[0]


def usernames(*names):
    return {"@type": "usernames", "active_usernames": list(names), "disabled_usernames": [],
            "editable_username": names[0] if names else "", "collectible_usernames": []}


def user(uid, first, last="", username=None, phone=""):
    return {"@type": "user", "id": uid, "first_name": first, "last_name": last,
            "usernames": usernames(username) if username else usernames(),
            "phone_number": phone,
            "status": {"@type": "userStatusRecently", "by_my_privacy_settings": False},
            "is_contact": True, "is_mutual_contact": True, "is_close_friend": False,
            "is_premium": False, "is_support": False, "restricts_new_chats": False,
            "paid_message_star_count": 0, "have_access": True,
            "type": {"@type": "userTypeRegular"}, "language_code": "fr",
            "added_to_attachment_menu": False}


def permissions():
    keys = ["can_send_basic_messages", "can_send_audios", "can_send_documents", "can_send_photos",
            "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
            "can_send_other_messages", "can_add_link_previews", "can_change_info",
            "can_invite_users", "can_pin_messages", "can_create_topics"]
    p = {k: True for k in keys}
    p["@type"] = "chatPermissions"
    return p


def chat(cid, ctype, title):
    return {"@type": "chat", "id": cid, "type": ctype, "title": title,
            "permissions": permissions(), "positions": [], "chat_lists": [],
            "has_protected_content": False, "is_marked_as_unread": False,
            "unread_count": 0, "last_read_inbox_message_id": 0,
            "last_read_outbox_message_id": 0, "unread_mention_count": 0,
            "unread_reaction_count": 0, "message_auto_delete_time": 0,
            "view_as_topics": False, "client_data": ""}


def private_chat(uid, title):
    return chat(uid, {"@type": "chatTypePrivate", "user_id": uid}, title)


def text_content(text):
    return {"@type": "messageText",
            "text": {"@type": "formattedText", "text": text, "entities": []}}


def message(mid, chat_id, sender, text=None, content=None, outgoing=False, pending=False,
            date=None):
    m = {"@type": "message", "id": mid, "chat_id": chat_id,
         "sender_id": {"@type": "messageSenderUser", "user_id": sender},
         "is_outgoing": outgoing, "is_pinned": False, "is_from_offline": False,
         "can_be_saved": True, "has_timestamped_media": True, "is_channel_post": False,
         "contains_unread_mention": False, "date": date or int(time.time()), "edit_date": 0,
         "unread_reactions": [], "media_album_id": "0", "effect_id": "0",
         "author_signature": "", "content": content or text_content(text or "")}
    if pending:
        m["sending_state"] = {"@type": "messageSendingStatePending", "sending_id": 0}
    return m


def ok():
    return {"@type": "ok"}


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stack():
    s = tg_stack()
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = Agent(stack, "tg-out1")
    a.mgmt = open_management_room(a)
    a.data_dir, a.td = login_telegram(stack.bridge, a)
    td = a.td
    td.deliver({"@type": "updateUser", "user": user(BOB, "Bob", "Bleu", "bob_bleu", "33611111111")})
    td.deliver({"@type": "updateNewChat", "chat": private_chat(BOB, "Bob Bleu")})
    yield a
    td.close()
    a.close()


def wait_room_event(agent, room, pred, what, timeout=30):
    def look(a):
        accept_invites(a, ("@_pa_telegram_", "@passerelle:localhost"))
        return [e for e in a.events.get(room, []) if pred(e)]
    return agent.wait(look, timeout, what)[0]


def notices(agent, room):
    return [e["content"].get("body", "") for e in agent.messages(room)
            if e["content"].get("msgtype") == "m.notice"]


def sent_ok(td, req, final_id, text=None):
    """TDLib's way: the pending message at once, its final id later."""
    tmp = temp_id()
    chat_id = req["chat_id"]
    content = text_content(text) if text is not None else None
    pending = message(tmp, chat_id, 1000, text=text, content=content, outgoing=True, pending=True)
    td.deliver({"@type": "updateNewMessage", "message": pending})
    td.answer(req, pending)
    final = message(final_id, chat_id, 1000, text=text, content=content, outgoing=True)
    td.deliver({"@type": "updateMessageSendSucceeded", "message": final, "old_message_id": tmp})
    # The host records the final id when the op is answered: a follow-up
    # naming the Matrix event waits for that.
    time.sleep(1)
    return tmp


@pytest.fixture(scope="module")
def dm(stack, agent):
    """`start telegram @bob_bleu`: the DM portal with Bob."""
    td = agent.td
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "start telegram @bob_bleu")
    req = td.wait_request("searchPublicChat")
    assert req["username"] == "bob_bleu"
    td.answer(req, private_chat(BOB, "Bob Bleu"))
    wait_bot(agent, "opened", n0)

    def joined(a):
        accept_invites(a, ("@_pa_telegram_", "@passerelle:localhost"))
        return [r for r in a.events if r != a.mgmt]
    agent.wait(joined, 30, "the DM portal")
    room = [r for r in agent.events if r != agent.mgmt][0]
    td.check_schema()
    return room


# ----------------------------------------------------------------- tests


def test_text_with_formatting_gets_its_final_id(agent, dm):
    td = agent.td
    m = td.mark()
    eid = agent.send(dm, {"msgtype": "m.text", "body": "hello world",
                          "format": "org.matrix.custom.html",
                          "formatted_body": "hello <b>world</b>"})
    req = td.wait_request("sendMessage", after=m)
    assert req["chat_id"] == BOB
    text = req["input_message_content"]["text"]
    assert req["input_message_content"]["@type"] == "inputMessageText"
    assert text["text"] == "hello world"
    sent_ok(td, req, 5001, "hello world")

    # The edit names the final id: the message first, then its text.
    m = td.mark()
    agent.send(dm, {"msgtype": "m.text", "body": "* hello there",
                    "m.new_content": {"msgtype": "m.text", "body": "hello there"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": eid}})
    get = td.wait_request("getMessage", after=m)
    assert (get["chat_id"], get["message_id"]) == (BOB, 5001)
    td.answer(get, message(5001, BOB, 1000, "hello world", outgoing=True))
    edit = td.wait_request("editMessageText", after=m)
    assert edit["message_id"] == 5001
    assert edit["input_message_content"]["text"]["text"] == "hello there"
    td.answer(edit, message(5001, BOB, 1000, "hello there", outgoing=True))

    # A reaction (the variation selector dropped), then its removal.
    m = td.mark()
    rid = agent.send(dm, {"m.relates_to": {"rel_type": "m.annotation", "event_id": eid,
                                           "key": "\u2764\ufe0f"}}, "m.reaction")
    react = td.wait_request("addMessageReaction", after=m)
    assert react["message_id"] == 5001
    assert react["reaction_type"] == {"@type": "reactionTypeEmoji", "emoji": "\u2764"}
    td.answer(react, ok())
    time.sleep(1)  # the host records the reaction once answered
    m = td.mark()
    agent.run(agent.client.room_redact(dm, rid))
    unreact = td.wait_request("removeMessageReaction", after=m)
    assert unreact["message_id"] == 5001
    td.answer(unreact, ok())

    # The deletion, for everyone.
    m = td.mark()
    agent.run(agent.client.room_redact(dm, eid))
    delete = td.wait_request("deleteMessages", after=m)
    assert delete["message_ids"] == [5001] and delete["revoke"] is True
    td.answer(delete, ok())
    time.sleep(1)
    agent.sync()
    assert not [n for n in notices(agent, dm) if "Not delivered" in n], notices(agent, dm)
    # Telegram's echo of the pending message was not bridged back.
    assert agent.bodies(dm).count("hello world") <= 1
    td.check_schema()


@pytest.mark.skipif(not HAS_ENTITIES, reason="needs tg-entities.c")
def test_formatting_is_parsed_by_tdlib(agent, dm):
    td = agent.td
    m = td.mark()
    agent.send(dm, {"msgtype": "m.text", "body": "été **gras** et lien",
                    "format": "org.matrix.custom.html",
                    "formatted_body": 'été <b>gras</b> et <a href="https://example.org/">lien</a>'})
    req = td.wait_request("sendMessage", after=m)
    text = req["input_message_content"]["text"]
    assert text["text"] == "été gras et lien"
    # Offsets in UTF-16 code units, as TDLib's parseTextEntities gives them.
    assert [(e["offset"], e["length"], e["type"]["@type"]) for e in text["entities"]] \
        == [(4, 4, "textEntityTypeBold"), (12, 4, "textEntityTypeTextUrl")]
    assert text["entities"][1]["type"]["url"] == "https://example.org/"
    sent_ok(td, req, 5100, "été gras et lien")
    td.check_schema()


def test_reply_with_a_photo_sends_the_file(agent, dm):
    td = agent.td
    m = td.mark()
    first = agent.text(dm, "the photo follows")
    sent_ok(td, td.wait_request("sendMessage", after=m), 5002, "the photo follows")
    time.sleep(1)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    mxc = agent.upload(png, "image/png", "plan.png")
    m = td.mark()
    agent.send(dm, {"msgtype": "m.image", "body": "le plan", "filename": "plan.png", "url": mxc,
                    "info": {"mimetype": "image/png", "w": 40, "h": 30, "size": len(png)},
                    "m.relates_to": {"m.in_reply_to": {"event_id": first}}})
    req = td.wait_request("sendMessage", after=m)
    content = req["input_message_content"]
    assert content["@type"] == "inputMessagePhoto"
    assert content["caption"]["text"] == "le plan"
    assert (content["photo"]["width"], content["photo"]["height"]) == (40, 30)
    assert req["reply_to"]["@type"] == "inputMessageReplyToMessage"
    assert req["reply_to"]["message_id"] == 5002
    path = content["photo"]["photo"]["path"]
    assert path.startswith(agent.data_dir) and os.path.basename(path) == "plan.png"
    with open(path, "rb") as f:
        assert f.read() == png
    sent_ok(td, req, 5003)
    # Once Telegram took it, our copy goes.
    deadline = time.monotonic() + 10
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(path)
    td.check_schema()


def test_flood_wait_in_the_outcome_sends_again(agent, dm):
    td = agent.td
    m = td.mark()
    eid = agent.text(dm, "slow down")
    first = td.wait_request("sendMessage", after=m)
    tmp = temp_id()
    td.answer(first, message(tmp, BOB, 1000, "slow down", outgoing=True, pending=True))
    failed = message(tmp + 1, BOB, 1000, "slow down", outgoing=True)
    failed["sending_state"] = {"@type": "messageSendingStateFailed",
                               "error": {"@type": "error", "code": 429,
                                         "message": "Too Many Requests: retry after 3"},
                               "can_retry": True, "need_another_sender": False,
                               "need_another_reply_quote": False, "need_drop_reply": False,
                               "required_paid_message_star_count": 0, "retry_after": 3.0}
    t0 = time.monotonic()
    td.deliver({"@type": "updateMessageSendFailed", "message": failed, "old_message_id": tmp,
                "error": {"@type": "error", "code": 429,
                          "message": "Too Many Requests: retry after 3"}})
    # The failed copy leaves TDLib's chat; the host sends again after 3 s.
    cleanup = td.wait_request("deleteMessages", after=m)
    assert cleanup["message_ids"] == [tmp + 1] and cleanup["revoke"] is False
    td.answer(cleanup, ok())
    again = td.wait_request("sendMessage", after=m, timeout=30)
    waited = time.monotonic() - t0
    print("flood wait of 3 s: sent again after %.2f s" % waited)
    assert waited >= 2.5, waited
    assert again["input_message_content"]["text"]["text"] == "slow down"
    sent_ok(td, again, 5004, "slow down")
    # The agent saw the message pending, then sent; never a failure.
    agent.wait(lambda a: [n for n in notices(a, dm)
                          if "⏳ Pending: Telegram asks to slow down" in n and "in 3 s" in n],
               30, "the pending notice")
    agent.wait(lambda a: [n for n in notices(a, dm) if "✓ Sent to Telegram." in n], 30,
               "the sent notice")
    time.sleep(1.5)
    # Sent once in the end.
    assert [r for r in td.sent("sendMessage")
            if r["input_message_content"].get("text", {}).get("text") == "slow down"] \
        == [first, again]
    agent.sync()
    assert not [n for n in notices(agent, dm) if "Not delivered" in n]
    assert len([n for n in notices(agent, dm) if "⏳ Pending" in n]) == 1
    # The message is known under its final id.
    m = td.mark()
    agent.send(dm, {"m.relates_to": {"rel_type": "m.annotation", "event_id": eid,
                                     "key": "\U0001f44d"}}, "m.reaction")
    react = td.wait_request("addMessageReaction", after=m)
    assert react["message_id"] == 5004
    td.answer(react, ok())
    td.check_schema()


def test_flood_wait_on_the_request_sends_again(agent, dm):
    td = agent.td
    m = td.mark()
    agent.text(dm, "slow down twice")
    first = td.wait_request("sendMessage", after=m)
    t0 = time.monotonic()
    td.error(first, 429, "Too Many Requests: retry after 2")
    again = td.wait_request("sendMessage", after=m, timeout=30)
    print("flood wait of 2 s on the request: sent again after %.2f s" % (time.monotonic() - t0))
    assert time.monotonic() - t0 >= 1.5
    sent_ok(td, again, 5005, "slow down twice")
    agent.wait(lambda a: len([n for n in notices(a, dm) if "✓ Sent to Telegram." in n]) >= 2,
               30, "the second sent notice")
    agent.sync()
    assert not [n for n in notices(agent, dm) if "Not delivered" in n]
    assert len([n for n in notices(agent, dm) if "in 2 s" in n]) == 1
    td.check_schema()


def test_refusals_reach_the_agent(agent, dm):
    td = agent.td
    m = td.mark()
    eid = agent.text(dm, "old message")
    sent_ok(td, td.wait_request("sendMessage", after=m), 5006, "old message")
    time.sleep(1)
    # Past 48 hours TDLib refuses the edit.
    m = td.mark()
    agent.send(dm, {"msgtype": "m.text", "body": "* too late",
                    "m.new_content": {"msgtype": "m.text", "body": "too late"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": eid}})
    td.answer(td.wait_request("getMessage", after=m),
              message(5006, BOB, 1000, "old message", outgoing=True))
    td.error(td.wait_request("editMessageText", after=m), 400, "Message can't be edited")
    wait_room_event(agent, dm, lambda e: "48 hours" in e.get("content", {}).get("body", ""),
                    "the 48 hours notice")
    # An emoji the chat does not allow.
    m = td.mark()
    agent.send(dm, {"m.relates_to": {"rel_type": "m.annotation", "event_id": eid,
                                     "key": "\U0001f99c"}}, "m.reaction")
    td.error(td.wait_request("addMessageReaction", after=m), 400, "REACTION_INVALID")
    wait_room_event(agent, dm, lambda e: "does not take the reaction" in
                    e.get("content", {}).get("body", ""), "the reaction notice")
    td.check_schema()


def test_read_receipt_and_typing(agent, dm):
    td = agent.td
    td.deliver({"@type": "updateNewMessage",
                "message": message(6001, BOB, BOB, "read me please")})
    ev = wait_room_event(agent, dm, lambda e: e.get("content", {}).get("body") == "read me please",
                         "Bob's message")
    m = td.mark()
    agent.run(agent.client.update_receipt_marker(dm, ev["event_id"]))
    view = td.wait_request("viewMessages", after=m)
    assert view["chat_id"] == BOB and view["message_ids"] == [6001]
    assert view["force_read"] is True
    td.answer(view, ok())
    m = td.mark()
    agent.run(agent.client.room_typing(dm, True, timeout=10000))
    typing = td.wait_request("sendChatAction", after=m)
    assert typing["action"] == {"@type": "chatActionTyping"}
    td.answer(typing, ok())
    agent.run(agent.client.room_typing(dm, False))
    stop = td.wait_request("sendChatAction", after=m)
    assert stop["action"] == {"@type": "chatActionCancel"}
    td.answer(stop, ok())
    td.check_schema()


def test_start_by_phone_number(agent, dm):
    td = agent.td
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "start telegram +33622222222")
    req = td.wait_request("searchUserByPhoneNumber")
    assert req["phone_number"] == "+33622222222"
    td.deliver({"@type": "updateUser", "user": user(CAROL, "Carole", "Rouge", None, "33622222222")})
    td.answer(req, user(CAROL, "Carole", "Rouge", None, "33622222222"))
    create = td.wait_request("createPrivateChat")
    assert create["user_id"] == CAROL
    td.deliver({"@type": "updateNewChat", "chat": private_chat(CAROL, "Carole Rouge")})
    td.answer(create, private_chat(CAROL, "Carole Rouge"))
    wait_bot(agent, "Conversation %d opened" % CAROL, n0)
    # An unknown username is told as such.
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "start telegram @nobody_here")
    td.error(td.wait_request("searchPublicChat", lambda r: r["username"] == "nobody_here"), 400,
             "USERNAME_NOT_OCCUPIED")
    wait_bot(agent, "knows no user @nobody_here", n0)
    td.check_schema()


def basic_group(gid, status="chatMemberStatusCreator"):
    st = {"@type": status}
    if status == "chatMemberStatusCreator":
        st.update({"is_anonymous": False, "is_member": True})
    return {"@type": "basicGroup", "id": gid, "member_count": 3, "status": st,
            "is_active": True, "upgraded_to_supergroup_id": 0}


def supergroup(sid, is_channel, status):
    return {"@type": "supergroup", "id": sid, "usernames": usernames(), "date": 1700000000,
            "status": status, "member_count": 1000, "boost_level": 0,
            "has_automatic_translation": False, "has_linked_chat": False, "has_location": False,
            "sign_messages": False, "show_message_sender": False,
            "join_to_send_messages": False, "join_by_request": False,
            "is_slow_mode_enabled": False, "is_channel": is_channel,
            "is_broadcast_group": False, "is_forum": False, "is_direct_messages_group": False,
            "is_administered_direct_messages_group": False, "has_direct_messages_group": False,
            "has_forum_tabs": False, "paid_message_star_count": 0}


@pytest.fixture(scope="module")
def group(agent):
    """A basic group the agent created, made a portal by Bob's message."""
    td = agent.td
    td.deliver({"@type": "updateBasicGroup", "basic_group": basic_group(-GROUP)})
    td.deliver({"@type": "updateNewChat",
                "chat": chat(GROUP, {"@type": "chatTypeBasicGroup", "basic_group_id": -GROUP},
                             "Cellule de crise")})
    td.on("getBasicGroupFullInfo", lambda r: {
        "@type": "basicGroupFullInfo", "description": "", "creator_user_id": 1000,
        "members": [
            {"@type": "chatMember", "member_id": {"@type": "messageSenderUser", "user_id": uid},
             "tag": "", "inviter_user_id": 1000, "joined_chat_date": 1700000000,
             "status": {"@type": "chatMemberStatusCreator", "is_anonymous": False,
                        "is_member": True} if uid == 1000 else
             {"@type": "chatMemberStatusMember", "member_until_date": 0}}
            for uid in (1000, BOB)],
        "can_hide_members": False, "can_toggle_aggressive_anti_spam": False,
        "bot_commands": []})
    td.deliver({"@type": "updateNewMessage",
                "message": message(7001, GROUP, BOB, "bonjour le groupe")})

    def found(a):
        accept_invites(a, ("@_pa_telegram_", "@passerelle:localhost"))
        for room, evs in a.events.items():
            if any(e.get("content", {}).get("body") == "bonjour le groupe" for e in evs):
                return room
        return None
    return agent.wait(found, 30, "the group portal")


def test_group_name_topic_avatar(agent, group):
    td = agent.td
    m = td.mark()
    agent.run(agent.client.room_put_state(group, "m.room.name", {"name": "Cellule 2"}))
    title = td.wait_request("setChatTitle", after=m)
    assert (title["chat_id"], title["title"]) == (GROUP, "Cellule 2")
    td.answer(title, ok())
    agent.run(agent.client.room_put_state(group, "m.room.topic", {"topic": "Ordre du jour"}))
    desc = td.wait_request("setChatDescription", after=m)
    assert (desc["chat_id"], desc["description"]) == (GROUP, "Ordre du jour")
    td.answer(desc, ok())
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(1500)
    mxc = agent.upload(jpeg, "image/jpeg", "logo.jpg")
    agent.run(agent.client.room_put_state(group, "m.room.avatar", {"url": mxc}))
    photo = td.wait_request("setChatPhoto", after=m)
    assert photo["photo"]["@type"] == "inputChatPhotoStatic"
    path = photo["photo"]["photo"]["path"]
    with open(path, "rb") as f:
        assert f.read() == jpeg
    td.answer(photo, ok())
    deadline = time.monotonic() + 10
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(path)
    td.check_schema()


def test_read_only_channel_refuses(agent):
    td = agent.td
    td.deliver({"@type": "updateSupergroup", "supergroup": supergroup(
        900, True, {"@type": "chatMemberStatusMember", "member_until_date": 0})})
    td.deliver({"@type": "updateNewChat", "chat": chat(
        CHANNEL, {"@type": "chatTypeSupergroup", "supergroup_id": 900, "is_channel": True},
        "Annonces")})
    post = message(8001, CHANNEL, 0, "communiqué")
    post["sender_id"] = {"@type": "messageSenderChat", "chat_id": CHANNEL}
    post["is_channel_post"] = True
    td.deliver({"@type": "updateNewMessage", "message": post})

    def found(a):
        accept_invites(a, ("@_pa_telegram_", "@passerelle:localhost"))
        for room, evs in a.events.items():
            if any(e.get("content", {}).get("body") == "communiqué" for e in evs):
                return room
        return None
    room = agent.wait(found, 30, "the channel portal")
    # The room is read-only (the host tells the agent) and the plugin would
    # refuse too (FORBIDDEN, "This channel is read-only for you"): either
    # way nothing reaches TDLib.
    m = td.mark()
    try:
        agent.text(room, "can I post?")
    except AssertionError:
        return  # the portal itself refused it (the agent may not write there)
    wait_room_event(agent, room, lambda e: "read-only" in e.get("content", {}).get("body", ""),
                    "the read-only notice")
    assert not [r for r in td.requests[m:] if r.get("@type") == "sendMessage"]
    td.check_schema()


def test_location(agent, dm):
    td = agent.td
    m = td.mark()
    agent.send(dm, {"msgtype": "m.location", "body": "Place de la Concorde",
                    "geo_uri": "geo:48.8656,2.3212"})
    req = td.wait_request("sendMessage", after=m)
    loc = req["input_message_content"]
    assert loc["@type"] == "inputMessageLocation"
    assert (loc["location"]["latitude"], loc["location"]["longitude"]) == (48.8656, 2.3212)
    sent_ok(td, req, 5200)
    td.check_schema()


def test_file_and_voice(agent, dm):
    td = agent.td
    pdf = b"%PDF-1.4\n" + os.urandom(800)
    mxc = agent.upload(pdf, "application/pdf", "compte rendu.pdf")
    m = td.mark()
    agent.send(dm, {"msgtype": "m.file", "body": "compte rendu.pdf", "url": mxc,
                    "info": {"mimetype": "application/pdf", "size": len(pdf)}})
    req = td.wait_request("sendMessage", after=m)
    doc = req["input_message_content"]
    assert doc["@type"] == "inputMessageDocument"
    assert doc["document"]["disable_content_type_detection"] is True
    path = doc["document"]["document"]["path"]
    # Telegram shows the document under the file's own name.
    assert os.path.basename(path) == "compte rendu.pdf"
    with open(path, "rb") as f:
        assert f.read() == pdf
    sent_ok(td, req, 5300)

    ogg = b"OggS" + os.urandom(600)
    mxc = agent.upload(ogg, "audio/ogg", "voice.ogg")
    m = td.mark()
    agent.send(dm, {"msgtype": "m.audio", "body": "voice.ogg", "url": mxc,
                    "info": {"mimetype": "audio/ogg", "size": len(ogg), "duration": 4200},
                    "org.matrix.msc3245.voice": {}})
    req = td.wait_request("sendMessage", after=m)
    voice = req["input_message_content"]
    assert voice["@type"] == "inputMessageVoiceNote"
    assert voice["voice_note"]["duration"] == 4
    sent_ok(td, req, 5301)
    td.check_schema()


def test_forum_topic(agent):
    td = agent.td
    forum = -1000000000960
    sg = supergroup(960, False, {"@type": "chatMemberStatusMember", "member_until_date": 0})
    sg["is_forum"] = True
    td.deliver({"@type": "updateSupergroup", "supergroup": sg})
    td.deliver({"@type": "updateNewChat", "chat": chat(
        forum, {"@type": "chatTypeSupergroup", "supergroup_id": 960, "is_channel": False},
        "Projet")})
    td.deliver({"@type": "updateForumTopicInfo", "info": {
        "@type": "forumTopicInfo", "chat_id": forum, "forum_topic_id": 5, "name": "Releases",
        "icon": {"@type": "forumTopicIcon", "color": 7322096, "custom_emoji_id": "0"},
        "creation_date": 1700000000, "creator_id": {"@type": "messageSenderUser", "user_id": BOB},
        "is_general": False, "is_outgoing": False, "is_closed": False, "is_hidden": False,
        "is_name_implicit": False}})
    post = message(9001, forum, BOB, "v1.3 est sortie")
    post["topic_id"] = {"@type": "messageTopicForum", "forum_topic_id": 5}
    td.deliver({"@type": "updateNewMessage", "message": post})

    def found(a):
        accept_invites(a, ("@_pa_telegram_", "@passerelle:localhost"))
        for r, evs in a.events.items():
            for e in evs:
                if e.get("content", {}).get("body") == "v1.3 est sortie":
                    return r, e
        return None
    room, ev = agent.wait(found, 30, "the topic's room")
    m = td.mark()
    agent.send(room, {"msgtype": "m.text", "body": "bravo",
                      "m.relates_to": {"m.in_reply_to": {"event_id": ev["event_id"]}}})
    req = td.wait_request("sendMessage", after=m)
    assert req["chat_id"] == forum
    assert req["topic_id"] == {"@type": "messageTopicForum", "forum_topic_id": 5}
    assert req["reply_to"]["message_id"] == 9001
    sent_ok(td, req, 9002, "bravo")
    td.check_schema()


def test_contacts_and_join(agent):
    td = agent.td
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "contacts telegram")
    td.answer(td.wait_request("getContacts"),
              {"@type": "users", "total_count": 1, "user_ids": [BOB]})
    wait_bot(agent, "Bob Bleu (`77`)", n0)

    # `join telegram @name`: the public group found, then joined.
    pub = -1000000000950
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "join telegram @cellule_publique")
    req = td.wait_request("searchPublicChat", lambda r: r["username"] == "cellule_publique")
    td.deliver({"@type": "updateSupergroup", "supergroup": supergroup(
        950, False, {"@type": "chatMemberStatusLeft"})})
    group_chat = chat(pub, {"@type": "chatTypeSupergroup", "supergroup_id": 950,
                            "is_channel": False}, "Cellule publique")
    td.deliver({"@type": "updateNewChat", "chat": group_chat})
    td.answer(req, group_chat)
    join = td.wait_request("joinChat")
    assert join["chat_id"] == pub
    td.deliver({"@type": "updateSupergroup", "supergroup": supergroup(
        950, False, {"@type": "chatMemberStatusMember", "member_until_date": 0})})
    td.answer(join, {"@type": "chatJoinResultSuccess", "chat_id": pub})
    wait_bot(agent, "Joined", n0)
    agent.wait_invite(lambda a, r: a.invite_name(r) == "Cellule publique", 30)
    td.check_schema()


def test_pending_send_when_disconnected_is_uncertain(agent, dm):
    td = agent.td
    m = td.mark()
    agent.text(dm, "lost in transit")
    req = td.wait_request("sendMessage", after=m)
    td.answer(req, message(temp_id(), BOB, 1000, "lost in transit", outgoing=True, pending=True))
    time.sleep(0.5)
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "disconnect telegram")
    wait_room_event(agent, dm,
                    lambda e: "Maybe not delivered" in e.get("content", {}).get("body", ""),
                    "the maybe-not-delivered notice")
    wait_bot(agent, "disconnect", n0)
    td.check_schema()
