# SPDX-License-Identifier: AGPL-3.0-or-later
"""Client of the WhatsApp plugin's test source ("canned", test build only).

The test build of the whatsapp plugin never dials WhatsApp: its whatsmeow
client is fed by this client over TCP, one JSON object a line (the contract
is the shared test-source protocol: commands `cmd` one way; `ready`,
`acked`, `sent`, `upload` and `call` lines the other way).  Incoming
messages are built here as protojson of whatsmeow's real waE2E protobufs
(field names as in the .proto: `stanzaID`, `remoteJID`, `ID`, …), history
syncs as protojson of waHistorySync.HistorySync.
"""

import base64
import glob
import hashlib
import json
import os
import socket
import threading
import time

# The test build's plugin file (meson builds it next to the other test plugins).
def canned_so(build_root):
    return os.path.join(build_root, "tests", "plugins", "whatsapp-canned", "whatsapp.so")


# The login's own identity, and a few contacts: LID first, phone number as
# the alternate (WhatsApp's addressing since 2025).
ME_PN = "33612345678:12@s.whatsapp.net"
ME_LID = "98765:12@lid"


class Contact:
    def __init__(self, phone, lid, name):
        self.phone = phone            # digits
        self.pn = phone + "@s.whatsapp.net"
        self.lid = lid + "@lid"
        self.name = name


BOB = Contact("33611111111", "111111", "Bob Martin")
CAROL = Contact("33622222222", "222222", "Carol Durand")
DAVE = Contact("33633333333", "333333", "Dave Petit")


def ghost_mxid(legacy_id, plugin="whatsapp", prefix="_pa_", domain="localhost"):
    """The ghost of a legacy user id (the host's escaping of ghost localparts)."""
    out = []
    for ch in legacy_id.encode():
        c = chr(ch)
        if c.isdigit() or ("a" <= c <= "z") or c in ".-/":
            out.append(c)
        else:
            out.append("=%02x" % ch)
    return "@%s%s_%s:%s" % (prefix, plugin, "".join(out), domain)


def b64(data):
    return base64.b64encode(data).decode()


# ------------------------------------------------------------- the source


def port_files(bridge_dir):
    return glob.glob(os.path.join(bridge_dir, "data", "**", "canned.port"), recursive=True)


def find_port_file(bridge_dir, newer_than=0.0, exclude=(), timeout=60):
    """The newest canned.port under the bridge's data dir written after
    `newer_than` (a time.time()), not among `exclude`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cands = []
        for p in port_files(bridge_dir):
            try:
                m = os.stat(p).st_mtime
            except OSError:
                continue
            if m >= newer_than and p not in exclude:
                cands.append((m, p))
        if cands:
            return max(cands)[1]
        time.sleep(0.05)
    raise AssertionError("no canned.port under %s (newer than %s)" % (bridge_dir, newer_than))


def read_port(path):
    with open(path) as f:
        text = f.read()
    assert text.endswith("\n") and text.strip().isdigit(), "canned.port holds %r" % text
    return int(text)


class Canned:
    """One connection to a login's test source.  Lines from the plugin are
    kept in order in `lines`; waits look at them from an index on."""

    def __init__(self, port_file, timeout=30):
        self.port_file = port_file
        self.lines = []
        self.cond = threading.Condition()
        self.sock = None
        self.connect(timeout)

    def connect(self, timeout=30, port_file=None):
        """(Re)connect, e.g. after the worker restarted and wrote a new port."""
        if port_file:
            self.port_file = port_file
        self.close()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                port = read_port(self.port_file)
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except (OSError, AssertionError, ValueError) as e:
                last = e
                time.sleep(0.1)
        else:
            raise AssertionError("cannot connect to the test source: %r" % last)
        self.sock.settimeout(None)
        self.mark_ready = len(self.lines)
        self.reader = threading.Thread(target=self._read, args=(self.sock,), daemon=True)
        self.reader.start()
        self.wait(lambda l: l.get("ready") is True, after=self.mark_ready, timeout=timeout,
                  what="ready")

    def _read(self, sock):
        buf = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    obj = json.loads(line.decode("utf-8"))
                    with self.cond:
                        self.lines.append(obj)
                        self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.cond.notify_all()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def send(self, obj):
        data = (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        self.sock.sendall(data)

    def cmd(self, _cmd, **fields):
        fields["cmd"] = _cmd
        self.send(fields)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait(self, pred, after=0, timeout=30, what="a line"):
        """The first line (from index `after`) for which pred is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines[after:]:
                    if pred(l):
                        return l
                    if "error" in l:
                        # The test source could not carry out a command.
                        raise AssertionError("the test source answered %r while waiting for %s"
                                             % (l, what))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s from the test source; "
                                         "last lines: %r" % (what, self.lines[-5:]))
                self.cond.wait(min(left, 0.5))

    def since(self, after, key):
        """The payloads of `key` lines from index `after` (e.g. "sent", "call")."""
        with self.cond:
            return [l[key] for l in self.lines[after:] if key in l]

    # --- commands with their answers

    def message(self, info, message, retry=None, wait=True, timeout=30):
        m = self.mark()
        body = {"info": info, "message": message}
        if retry is not None:
            body["retry"] = retry
        self.cmd("message", **body)
        if not wait:
            return None
        ack = self.wait(lambda l: l.get("acked") == info["id"], m, timeout,
                        "the ack of %s" % info["id"])
        return ack

    def history(self, sync, timeout=120):
        m = self.mark()
        self.cmd("history", sync=sync)
        return self.wait(lambda l: l.get("acked") == "history", m, timeout, "the history ack")

    def acked_ids(self):
        with self.cond:
            return {l["acked"] for l in self.lines if "acked" in l and not l.get("failed")}

    def wait_sent(self, pred, after=0, timeout=30, what="a sent message"):
        return self.wait(lambda l: "sent" in l and pred(l["sent"]), after, timeout, what)["sent"]

    def wait_call(self, name, pred=lambda c: True, after=0, timeout=30):
        return self.wait(lambda l: l.get("call") == name and pred(l), after, timeout,
                         "call %s" % name)

    def wait_upload(self, pred=lambda u: True, after=0, timeout=30):
        return self.wait(lambda l: "upload" in l and pred(l["upload"]), after, timeout,
                         "an upload")["upload"]


# ------------------------------------------------------------- builders

def info(chat, sender, msg_id, ts, from_me=False, is_group=None, push_name="", sender_alt="",
         mtype="text", edit=""):
    """types.MessageInfo as the test source reads it."""
    if is_group is None:
        is_group = chat.endswith("@g.us")
    return {"chat": chat, "sender": sender, "sender_alt": sender_alt, "id": msg_id, "ts": ts,
            "from_me": from_me, "is_group": is_group, "push_name": push_name, "type": mtype,
            "edit": edit}


def key(remote_jid, msg_id, from_me=False, participant=None):
    """WACommon.MessageKey."""
    k = {"remoteJID": remote_jid, "fromMe": from_me, "ID": msg_id}
    if participant:
        k["participant"] = participant
    return k


def text(body):
    return {"conversation": body}


def context(reply_id=None, reply_sender=None, quoted=None, mentions=None, expiration=None):
    c = {}
    if reply_id:
        c["stanzaID"] = reply_id
        c["participant"] = reply_sender
        c["quotedMessage"] = quoted or text("")
    if mentions:
        c["mentionedJID"] = list(mentions)
    if expiration:
        c["expiration"] = expiration
    return c


def extended_text(body, **ctx):
    m = {"text": body}
    c = context(**ctx)
    if c:
        m["contextInfo"] = c
    return {"extendedTextMessage": m}


def _media_fields(direct_path, data, mimetype):
    return {"mimetype": mimetype, "directPath": direct_path, "fileLength": str(len(data)),
            "fileSHA256": b64(hashlib.sha256(data).digest()),
            "fileEncSHA256": b64(hashlib.sha256(b"enc" + data).digest()),
            "mediaKey": b64(hashlib.sha256(b"key" + data).digest()),
            "mediaKeyTimestamp": str(int(time.time()))}


def image(direct_path, data, mimetype="image/jpeg", caption=None, width=4, height=3,
          view_once=False):
    m = _media_fields(direct_path, data, mimetype)
    m.update({"width": width, "height": height})
    if caption:
        m["caption"] = caption
    if view_once:
        m["viewOnce"] = True
    return {"imageMessage": m}


def video(direct_path, data, mimetype="video/mp4", caption=None, seconds=3):
    m = _media_fields(direct_path, data, mimetype)
    m["seconds"] = seconds
    if caption:
        m["caption"] = caption
    return {"videoMessage": m}


def audio(direct_path, data, mimetype="audio/ogg; codecs=opus", seconds=2, ptt=False):
    m = _media_fields(direct_path, data, mimetype)
    m["seconds"] = seconds
    m["PTT"] = ptt
    return {"audioMessage": m}


def document(direct_path, data, file_name, mimetype="application/pdf", caption=None):
    m = _media_fields(direct_path, data, mimetype)
    m["fileName"] = file_name
    m["title"] = file_name
    if caption:
        m["caption"] = caption
    return {"documentMessage": m}


def sticker(direct_path, data, mimetype="image/webp", width=64, height=64):
    m = _media_fields(direct_path, data, mimetype)
    m.update({"width": width, "height": height})
    return {"stickerMessage": m}


def location(lat, lon, name=None, address=None):
    m = {"degreesLatitude": lat, "degreesLongitude": lon}
    if name:
        m["name"] = name
    if address:
        m["address"] = address
    return {"locationMessage": m}


def live_location(lat, lon, caption=None, seq=1):
    m = {"degreesLatitude": lat, "degreesLongitude": lon, "sequenceNumber": str(seq)}
    if caption:
        m["caption"] = caption
    return {"liveLocationMessage": m}


def vcard(name, phone):
    return ("BEGIN:VCARD\nVERSION:3.0\nN:;%s;;;\nFN:%s\n"
            "TEL;type=CELL;waid=%s:+%s\nEND:VCARD" % (name, name, phone, phone))


def contact(name, phone):
    return {"contactMessage": {"displayName": name, "vcard": vcard(name, phone)}}


def poll(name, options, secret, selectable=1):
    """A poll creation; `secret` (32 bytes) is what votes are encrypted with."""
    return {"pollCreationMessage": {"name": name,
                                    "options": [{"optionName": o} for o in options],
                                    "selectableOptionsCount": selectable},
            "messageContextInfo": {"messageSecret": b64(secret)}}


def _pb_bytes_field(field, data):
    out = bytes([(field << 3) | 2])
    n = len(data)
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            out += bytes([b])
            break
    return out + data


def non_ad(jid):
    """A JID without its device part (types.JID.ToNonAD().String())."""
    user, server = jid.split("@", 1)
    return user.split(":", 1)[0] + "@" + server


def poll_vote(poll_key, poll_creator, voter, secret, selected, ts_ms):
    """An encrypted vote (waE2E.PollUpdateMessage), as WhatsApp clients make
    it: AES-GCM over a PollVoteMessage of the options' SHA-256, with a key
    from HKDF-SHA256(message secret, info = poll id + creator + voter +
    "Poll Vote") and the additional data "<poll id>\\0<voter>"."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    poll_id = poll_key["ID"]
    creator, voter = non_ad(poll_creator), non_ad(voter)
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
             info=(poll_id + creator + voter + "Poll Vote").encode()).derive(secret)
    plain = b"".join(_pb_bytes_field(1, hashlib.sha256(o.encode()).digest()) for o in selected)
    iv = os.urandom(12)
    payload = AESGCM(k).encrypt(iv, plain, ("%s\x00%s" % (poll_id, voter)).encode())
    return {"pollUpdateMessage": {"pollCreationMessageKey": poll_key,
                                  "vote": {"encPayload": b64(payload), "encIV": b64(iv)},
                                  "senderTimestampMS": str(ts_ms)}}


def reaction(target_key, emoji, ts_ms):
    return {"reactionMessage": {"key": target_key, "text": emoji,
                                "senderTimestampMS": str(ts_ms)}}


def revoke(target_key):
    return {"protocolMessage": {"key": target_key, "type": "REVOKE"}}


def edit(target_key, new_message, ts_ms):
    """An edit as phones send it: editedMessage wrapping a MESSAGE_EDIT."""
    return {"editedMessage": {"message": {"protocolMessage": {
        "key": target_key, "type": "MESSAGE_EDIT", "editedMessage": new_message,
        "timestampMS": str(ts_ms)}}}}


def ephemeral_setting(seconds):
    return {"protocolMessage": {"type": "EPHEMERAL_SETTING", "ephemeralExpiration": seconds}}


def view_once(inner):
    return {"viewOnceMessage": {"message": inner}}


def call():
    return {"call": {"callKey": b64(os.urandom(32))}}


def history_sync(conversations, sync_type="INITIAL_BOOTSTRAP"):
    """waHistorySync.HistorySync.  `conversations` is a list of
    (chat_jid, [dict(id, sender, ts, message, from_me)], name) oldest
    message first; WhatsApp lists a conversation's messages newest first,
    and so does this."""
    convs = []
    for chat, msgs, name in conversations:
        items = []
        for i, m in enumerate(reversed(msgs)):
            wmi = {"key": key(chat, m["id"], m.get("from_me", False),
                              m["sender"] if chat.endswith("@g.us") else None),
                   "message": m["message"], "messageTimestamp": str(m["ts"])}
            if chat.endswith("@g.us"):
                wmi["participant"] = m["sender"]
            if m.get("push_name"):
                wmi["pushName"] = m["push_name"]
            items.append({"message": wmi, "msgOrderID": str(len(msgs) - i)})
        c = {"ID": chat, "messages": items}
        if name:
            c["name"] = name
        convs.append(c)
    return {"syncType": sync_type, "conversations": convs}


# ------------------------------------------------------------- reading sends

def unwrap(msg):
    """The innermost content of a captured waE2E.Message (through the
    FutureProof wrappers whatsmeow's builders add)."""
    for wrapper in ("editedMessage", "ephemeralMessage", "viewOnceMessage",
                    "viewOnceMessageV2", "documentWithCaptionMessage"):
        if wrapper in msg and "message" in msg[wrapper]:
            return unwrap(msg[wrapper]["message"])
    return msg


def sent_text(msg):
    m = unwrap(msg)
    if "conversation" in m:
        return m["conversation"]
    return m.get("extendedTextMessage", {}).get("text")


def context_of(msg):
    m = unwrap(msg)
    for v in m.values():
        if isinstance(v, dict) and "contextInfo" in v:
            return v["contextInfo"]
    return {}


# ------------------------------------------------------------- logins

BOT = "@passerelle:localhost"


def bot_messages(agent, room=None):
    return agent.messages(room or agent.mgmt, sender=BOT)


def wait_bot(agent, fragment, after=0, timeout=30, room=None):
    """The bot's first message (from index `after`) containing fragment."""
    room = room or agent.mgmt

    def found(a):
        for m in a.messages(room, sender=BOT)[after:]:
            if fragment.lower() in m["content"].get("body", "").lower():
                return m
        return None
    try:
        return agent.wait(found, timeout, "the bot to say %r" % fragment)
    except AssertionError as e:
        said = [m["content"].get("body", "")[:200] for m in agent.messages(room, sender=BOT)[after:]]
        raise AssertionError("%s; the bot said: %r" % (e, said)) from None


def bot_images(agent, after=0):
    return [m for m in bot_messages(agent)[after:] if m["content"].get("msgtype") == "m.image"]


def decode_qr(agent, event):
    """The text of the QR code in an m.image the bot posted."""
    import io

    import zxingcpp
    from PIL import Image
    c = event["content"]
    data = agent.download(c["url"])
    img = Image.open(io.BytesIO(data))
    return [r.text for r in zxingcpp.read_barcodes(img)]


def start_login(stack, agent, flow="qr"):
    """`login whatsapp <flow>`; returns the Canned of the new login and the
    index of the bot's messages before it."""
    known = set(port_files(stack.bridge.dir))
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "login whatsapp " + flow)
    pf = find_port_file(stack.bridge.dir, exclude=known)
    return Canned(pf), n0


def own_id(lid):
    return non_ad(lid)


def login_qr(stack, agent, pn=ME_PN, lid=ME_LID, push_name="Agent", code=None):
    """A whole QR login: one code shown, then the phone pairs."""
    c, n0 = start_login(stack, agent, "qr")
    code = code or "2@%s,%s,%s,%s" % (os.urandom(12).hex(), b64(os.urandom(32)),
                                      b64(os.urandom(32)), b64(os.urandom(32)))
    c.cmd("qr_code", code=code)
    agent.wait(lambda a: bot_images(a, n0), 60, "the QR image")
    c.cmd("pair_success", id=pn, lid=lid, push_name=push_name, business_name="")
    wait_bot(agent, "Logged in", n0, timeout=60)
    c.me_pn, c.me_lid = pn, lid
    return c


# ------------------------------------------------------------- portals

def accept_invites(agent, from_prefix=("@_pa_whatsapp_", BOT)):
    for r in list(agent.invites):
        inviter = agent.inviter(r) or ""
        if inviter.startswith(from_prefix) and r != agent.mgmt:
            agent.join(r)


def find_event(agent, pred, timeout=30, what="an event"):
    """(room_id, event) of the first event for which pred(event) holds, in
    any room; the agent joins the invitations of the bot and of ghosts."""
    def look(a):
        accept_invites(a)
        for room, evs in a.events.items():
            for ev in evs:
                if pred(ev):
                    return room, ev
        return None
    try:
        return agent.wait(look, timeout, what)
    except AssertionError as e:
        raise AssertionError("%s; invites: %r; rooms: %r" % (
            e, {r: agent.inviter(r) for r in agent.invites}, list(agent.events))) from None


def find_body(agent, body, timeout=30, sender=None):
    return find_event(agent, lambda e: e.get("type") in ("m.room.message", "m.sticker")
                      and e.get("content", {}).get("body") == body
                      and (sender is None or e.get("sender") == sender),
                      timeout, "a message %r" % body)
