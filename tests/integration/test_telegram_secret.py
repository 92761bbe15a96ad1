# SPDX-License-Identifier: AGPL-3.0-or-later
"""A Telegram secret chat end to end: the telegram plugin's test build with the
fake TDLib, a real Synapse, the bridge's encryption on (encryption.default
false) and the agent on matrix-js-sdk with its Rust crypto (the agent of
test_crypto_js.py), logged in to Telegram through its encrypted management
room.  A ready secret chat gets an encrypted portal marked secret, next to
an ordinary DM with the same contact that stays in clear; the contact's
message decrypts and the agent's encrypted answer becomes a sendMessage to
the secret chat.  A secret chat still waiting for its key exchange is
read-only until it is ready, and a closed one is read-only again, and says
so."""

import time
import urllib.parse

import pytest

import harness
from conftest import running
from e2e import EncryptedBridge
from harness import http, wait_until
from test_crypto import BOT
from test_crypto_js import JSAgent, require_js_sdk
from test_secret_chat import SECRET_EVENT, ExtensionsSynapse
from test_telegram_outgoing import sent_ok
from tg_harness import available, login_telegram, tg_bridge_kwargs
from wa_canned import ghost_mxid

pytestmark = pytest.mark.skipif(not available(), reason="needs the telegram plugin's test build")

BOB = 43
CAROL = 44
ZERO_SECRET = -2000000000000   # TDLib: a secret chat's chat id is this + its id
SECRET_ID = 777
PENDING_ID = 778
NOW = int(time.time())
NOT_DELIVERED = "⚠ Not delivered: this chat is read-only on Telegram."


def ghost(uid):
    return ghost_mxid(str(uid), plugin="telegram")


def secret_chat_id(sid):
    return ZERO_SECRET + sid


# ------------------------------------------------------------ TDLib objects

def user(uid, first):
    return {"@type": "user", "id": uid, "first_name": first, "last_name": "",
            "usernames": {"@type": "usernames", "active_usernames": [],
                          "disabled_usernames": [], "editable_username": "",
                          "collectible_usernames": []},
            "phone_number": "", "is_contact": True, "is_mutual_contact": True,
            "is_close_friend": False, "is_premium": False, "is_support": False,
            "restricts_new_chats": False, "have_access": True,
            "status": {"@type": "userStatusRecently", "by_my_privacy_settings": False},
            "type": {"@type": "userTypeRegular"}, "language_code": "fr"}


def chat(cid, ctype, title):
    return {"@type": "chat", "id": cid, "type": ctype, "title": title, "positions": [],
            "chat_lists": [], "has_protected_content": False, "is_marked_as_unread": False,
            "unread_count": 0, "last_read_inbox_message_id": 0,
            "last_read_outbox_message_id": 0, "message_auto_delete_time": 0}


def private_chat(uid, title):
    return chat(uid, {"@type": "chatTypePrivate", "user_id": uid}, title)


def secret_chat(sid, uid, title):
    return chat(secret_chat_id(sid),
                {"@type": "chatTypeSecret", "secret_chat_id": sid, "user_id": uid}, title)


def secret_state(sid, uid, state):
    return {"@type": "updateSecretChat", "secret_chat": {
        "@type": "secretChat", "id": sid, "user_id": uid, "state": {"@type": state},
        "is_outbound": False, "key_hash": "", "layer": 144}}


def message(mid, chat_id, frm, text, outgoing=False):
    return {"@type": "message", "id": mid, "chat_id": chat_id,
            "sender_id": {"@type": "messageSenderUser", "user_id": frm},
            "is_outgoing": outgoing, "is_pinned": False, "is_from_offline": False,
            "can_be_saved": False, "has_timestamped_media": True, "is_channel_post": False,
            "contains_unread_mention": False, "date": NOW, "edit_date": 0,
            "unread_reactions": [], "media_album_id": "0", "effect_id": "0",
            "author_signature": "", "self_destruct_in": 0.0, "auto_delete_in": 0.0,
            "content": {"@type": "messageText",
                        "text": {"@type": "formattedText", "text": text, "entities": []}}}


# ----------------------------------------------------------------- stack


class TgSecretStack(harness.Stack):
    """Telegram's test build with the bridge's encryption allowed but off by
    default, on a Synapse with the appservice extensions the bot device needs
    (and no encryption of its own)."""

    def __init__(self):  # pylint: disable=super-init-not-called
        import tempfile
        self.workdir = tempfile.mkdtemp(prefix="passerelle-tgsecret-")
        self.bridge = EncryptedBridge(self.workdir, **tg_bridge_kwargs())
        self.bridge.encryption_extra = {"allow": True, "default": False}
        self.bridge.write_config("http://127.0.0.1:1")
        self.synapse = ExtensionsSynapse(self.workdir, self.bridge.registration)
        self.bridge.write_config(self.synapse.url)
        self.bridge.generate_registration()


@pytest.fixture(scope="module")
def stack():
    require_js_sdk()
    yield from running(TgSecretStack())


@pytest.fixture(scope="module")
def agent(stack):
    a = JSAgent(stack, "tg-secret")
    a.mgmt = a.call("create_dm", invitee=BOT)["room"]
    a.call("wait_message", room=a.mgmt, sender=BOT, timeout=60)
    a.data_dir, a.td = login_telegram(stack.bridge, a)
    a.td.deliver({"@type": "updateUser", "user": user(BOB, "Bob")})
    a.td.deliver({"@type": "updateUser", "user": user(CAROL, "Carol")})
    yield a
    a.td.close()
    a.close()


def state(stack, room, event_type, as_user):
    """A state event's content (None when absent), read as a member of the room."""
    url = "%s/_matrix/client/v3/rooms/%s/state/%s?user_id=%s" % (
        stack.synapse.url, urllib.parse.quote(room), event_type, urllib.parse.quote(as_user))
    status, body = http("GET", url, token=stack.bridge.as_token)
    return body if status == 200 else None


def join_portal(agent, uid, exclude=()):
    room = agent.call("wait_invite", inviter=ghost(uid), exclude=list(exclude),
                      timeout=60)["room"]
    agent.call("join", room=room, timeout=90)
    return room


def bodies(agent, room):
    return [m["content"].get("body", "") for m in agent.messages(room)]


def wait_body(agent, room, prefix, n=1, what=None):
    return agent.wait(lambda a: len([b for b in bodies(a, room) if b.startswith(prefix)]) >= n,
                      timeout=30, what=what or repr(prefix))


# ----------------------------------------------------------------- tests


def test_secret_chat_is_encrypted_next_to_a_clear_dm(stack, agent):
    assert agent.info["crypto"] and "Rust" in agent.info["crypto"], agent.info
    assert agent.undecryptable(agent.mgmt) == []
    td = agent.td
    # The ordinary DM with Bob: encryption.default is false, it stays in clear.
    td.deliver({"@type": "updateNewChat", "chat": private_chat(BOB, "Bob")})
    td.deliver({"@type": "updateNewMessage", "message": message(1 << 20, BOB, BOB, "en clair")})
    plain = join_portal(agent, BOB)
    msg = agent.call("wait_message", room=plain, sender=ghost(BOB), body="en clair", timeout=60)
    assert not msg["encrypted"], msg
    assert not agent.call("is_encrypted", room=plain)
    assert state(stack, plain, "m.room.encryption", ghost(BOB)) is None
    assert state(stack, plain, SECRET_EVENT, ghost(BOB)) is None

    # A secret chat with Bob, ready, and his message in it.
    sid = secret_chat_id(SECRET_ID)
    td.deliver(secret_state(SECRET_ID, BOB, "secretChatStateReady"))
    td.deliver({"@type": "updateNewChat", "chat": secret_chat(SECRET_ID, BOB, "Bob")})
    td.deliver({"@type": "updateNewMessage",
                "message": message(2 << 20, sid, BOB, "rien que nous deux")})
    room = join_portal(agent, BOB, exclude=[plain])
    assert room != plain
    msg = agent.call("wait_message", room=room, sender=ghost(BOB), body="rien que nous deux",
                     timeout=60)
    assert msg["encrypted"] and msg["_e2e"]["session_id"], msg
    assert agent.call("is_encrypted", room=room)
    assert state(stack, room, "m.room.encryption", ghost(BOB)) == {
        "algorithm": "m.megolm.v1.aes-sha2"}
    assert state(stack, room, SECRET_EVENT, ghost(BOB)) == {"secret": True}
    notes = [b for b in bodies(agent, room) if b.startswith("🔒 Secret chat: Telegram")]
    assert len(notes) == 1, bodies(agent, room)
    # Ready: the agent may write, and no read-only notice was posted.
    assert not [b for b in bodies(agent, room) if b.startswith("🔇")]
    assert agent.undecryptable(room) == []

    # The agent's answer, encrypted, becomes a sendMessage to the secret chat.
    m = td.mark()
    agent.text(room, "bien reçu")
    req = td.wait_request("sendMessage", lambda r: r.get("chat_id") == sid, after=m)
    assert req["input_message_content"]["text"]["text"] == "bien reçu"
    sent_ok(td, req, 3 << 20, "bien reçu")
    # Nothing went to the ordinary chat.
    assert not [r for r in td.sent("sendMessage") if r.get("chat_id") == BOB]
    # The agent's own message written on the phone: said by Bob's ghost, marked.
    td.deliver({"@type": "updateNewMessage",
                "message": message(6 << 20, sid, 1000, "du téléphone", outgoing=True)})
    mine = agent.call("wait_message", room=room, sender=ghost(BOB),
                      body="📱 You, from your phone: du téléphone", timeout=30)
    assert mine["encrypted"], mine
    td.check_schema()


def test_pending_secret_chat_is_read_only_until_ready_then_closed(stack, agent):
    td = agent.td
    sid = secret_chat_id(PENDING_ID)
    # Carol's secret chat is still waiting for its key exchange.
    td.deliver(secret_state(PENDING_ID, CAROL, "secretChatStatePending"))
    td.deliver({"@type": "updateNewChat", "chat": secret_chat(PENDING_ID, CAROL, "Carol")})
    td.deliver({"@type": "updateNewMessage",
                "message": message(4 << 20, sid, CAROL, "en attente")})
    room = join_portal(agent, CAROL)
    agent.call("wait_message", room=room, sender=ghost(CAROL), body="en attente", timeout=60)
    assert agent.call("is_encrypted", room=room)
    assert state(stack, room, SECRET_EVENT, ghost(CAROL)) == {"secret": True}
    wait_body(agent, room, "🔇 This chat is read-only on Telegram")
    wait_until(lambda: (state(stack, room, "m.room.power_levels", ghost(CAROL)) or {})
               .get("events_default") == 50, 20, what="the read-only power levels")
    # The agent is the DM's other admin, so Matrix takes the message; the
    # bridge keeps it and answers.
    agent.text(room, "trop tôt")
    wait_body(agent, room, NOT_DELIVERED)
    assert not [r for r in td.sent("sendMessage") if r.get("chat_id") == sid]

    # The key exchange is done: the agent may write.
    td.deliver(secret_state(PENDING_ID, CAROL, "secretChatStateReady"))
    wait_body(agent, room, "✏️ You can write in this chat again on Telegram")
    wait_until(lambda: (state(stack, room, "m.room.power_levels", ghost(CAROL)) or {})
               .get("events_default", 0) == 0, 20, what="the power levels restored")
    m = td.mark()
    agent.text(room, "enfin")
    req = td.wait_request("sendMessage", lambda r: r.get("chat_id") == sid, after=m)
    assert req["input_message_content"]["text"]["text"] == "enfin"
    sent_ok(td, req, 5 << 20, "enfin")

    # Carol closes the chat: read-only again, and told once more.
    td.deliver(secret_state(PENDING_ID, CAROL, "secretChatStateClosed"))
    wait_body(agent, room, "🔇 This chat is read-only on Telegram", n=2)
    wait_until(lambda: (state(stack, room, "m.room.power_levels", ghost(CAROL)) or {})
               .get("events_default") == 50, 20, what="the read-only power levels again")
    agent.text(room, "trop tard")
    wait_body(agent, room, NOT_DELIVERED, n=2)
    assert len([r for r in td.sent("sendMessage") if r.get("chat_id") == sid]) == 1
    assert agent.undecryptable(room) == []
    td.check_schema()
