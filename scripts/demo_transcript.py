# SPDX-License-Identifier: AGPL-3.0-or-later
"""The demo's terminal transcript: what the demo agent sees in its Matrix rooms, as plain
lines ("12:00:01  Marianne [loopback]: Bonjour !"), for a newcomer who has no Matrix client.

`Room` holds what a line needs from a room (its name, its members' names, the events seen, to
quote what a reply, an edit, a reaction or a redaction is about); `render(event, room)` turns
one event into its line (None for the events a reader does not need), and `Room.feed(event)`
renders it, then records it.  Everything that comes from the homeserver or a network is
untrusted: `clean()` neutralises control characters, ANSI escapes and bidirectional overrides
so that a message cannot move the cursor, recolour or rewrite the terminal, and cuts long
texts with an ellipsis.

`Transcript` drives a matrix-nio client (the demo's `Agent`): `print_all()` prints every room
the agent is in from its first visible event, `follow()` prints new events as `/sync` brings
them until interrupted."""

import asyncio
import time

MAX_BODY = 400       # characters of a body shown, then "…"
MAX_BODY_LINES = 8   # lines of a multi-line body shown, then "…"
MAX_NAME = 40        # characters of a display name or a room name
MAX_QUOTE = 40       # characters of a quoted message (replies, edits, reactions)
INDENT = " " * 12    # continuation lines of a multi-line body

# Invisible characters that reorder the rest of a line in terminals that apply the Unicode
# bidirectional algorithm (embeddings, overrides, isolates): shown as U+FFFD.  Right-to-left
# text itself, and the implicit marks (U+200E, U+200F, U+061C), are left alone.
_BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
_LINE_BREAKS = ("\r\n", "\r", "\x85", "\u2028", "\u2029")


def _char(c):
    o = ord(c)
    if c == "\t":
        return " "
    if o < 0x20:
        return chr(0x2400 + o)      # the control picture: ESC shows as ␛, CR as ␍
    if o == 0x7F:
        return "\u2421"             # ␡
    if o in (0x2028, 0x2029):
        return "\u2424"             # ␤ (line and paragraph separators, in one-line texts)
    if 0x80 <= o <= 0x9F or 0xD800 <= o <= 0xDFFF or o in _BIDI_CONTROLS:
        return "\ufffd"             # C1 controls (CSI 0x9B), lone surrogates, bidi overrides
    return c


def clean(text, limit=MAX_BODY, multiline=False):
    """`text` made safe to print: every control character visible and inert, one line (or,
    with `multiline`, lines joined with "\\n" + INDENT, at most MAX_BODY_LINES), at most
    `limit` characters of text.  Anything but a string gives ""."""
    if not isinstance(text, str):
        return ""
    if multiline:
        for br in _LINE_BREAKS:
            text = text.replace(br, "\n")
        lines = text.split("\n")
        cut = len(lines) > MAX_BODY_LINES
        lines = lines[:MAX_BODY_LINES]
    else:
        lines, cut = [text], False
    out, left = [], limit
    for line in lines:
        line = "".join(_char(c) for c in line)
        if len(line) > left:
            out.append(line[:max(left - 1, 0)] + "…")
            return ("\n" + INDENT).join(out)
        out.append(line)
        left -= len(line)
    if cut:
        out[-1] += "…"
    return ("\n" + INDENT).join(out)


def _content(event):
    c = event.get("content")
    return c if isinstance(c, dict) else {}


def _str(value):
    return value if isinstance(value, str) else None


def size_text(n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return "size unknown"
    if n < 1024:
        return "%d B" % n
    n /= 1024
    for unit in ("KiB", "MiB"):
        if n < 1024:
            return "%.1f %s" % (n, unit)
        n /= 1024
    return "%.1f GiB" % n


def strip_reply_fallback(body):
    """A reply's body without the quoted lines ("> <@x> …") clients put before the text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:])


class Room:
    """What the transcript knows of one room, from its state and the events seen so far."""

    def __init__(self, room_id, own_mxid=None, ghost_prefix="_pa_"):
        self.room_id = room_id
        self.own_mxid = own_mxid
        self.ghost_prefix = ghost_prefix
        self.name = None
        self.topic = None
        self.encrypted = False
        self.names = {}         # mxid -> display name (as set, not cleaned)
        self.members = set()    # mxids joined
        self.events = {}        # event_id -> event, to quote
        self.last_day = None    # the day of the last line printed (a date line when it changes)

    def seed(self, state_events):
        """The room's current state, before its timeline: names of members whose join the
        agent cannot see (they joined before it was invited)."""
        for ev in state_events:
            if isinstance(ev, dict) and _str(ev.get("state_key")) is not None:
                self.apply(ev)

    def apply(self, event):
        """Records `event`: state changes, and the event itself for later quotes."""
        eid = _str(event.get("event_id"))
        if eid:
            self.events[eid] = event
        if _str(event.get("state_key")) is None:
            return
        kind, c, key = event.get("type"), _content(event), event["state_key"]
        if kind == "m.room.member":
            if c.get("membership") == "join":
                self.members.add(key)
            else:
                self.members.discard(key)
            if _str(c.get("displayname")):
                self.names[key] = c["displayname"]
        elif kind == "m.room.name":
            self.name = _str(c.get("name"))
        elif kind == "m.room.topic":
            self.topic = _str(c.get("topic"))
        elif kind == "m.room.encryption":
            self.encrypted = True

    def who(self, mxid, name=None):
        """A member as the transcript names it: `name` or the display name, and for a
        bridge's ghost the network it stands for ("Marianne [loopback]") unless the name
        says it already ("Maître Durand (WhatsApp)")."""
        mxid = _str(mxid) or "?"
        local = mxid[1:].split(":", 1)[0]
        shown = clean(_str(name) or self.names.get(mxid) or local, MAX_NAME)
        if local.startswith(self.ghost_prefix):
            network = local[len(self.ghost_prefix):].split("_", 1)[0]
            if network and network.lower() not in shown.lower():
                shown += " [%s]" % clean(network, 20)
        return shown

    def title(self):
        """The room's header: its name, or whom it is with."""
        if self.name:
            title = clean(self.name, MAX_NAME)
        else:
            others = sorted(m for m in self.members if m != self.own_mxid)
            title = ("with " + ", ".join(self.who(m) for m in others[:3])
                     + (" and %d more" % (len(others) - 3) if len(others) > 3 else "")
                     if others else "(empty room)")
        if self.topic:
            title += " — " + clean(self.topic, 60)
        if self.encrypted:
            title += " (encrypted)"
        return title

    def quote(self, event_id, with_sender=True):
        """`Name "text…"` (or only `"text…"`) for a message of this room seen earlier."""
        ev = self.events.get(event_id) if isinstance(event_id, str) else None
        if ev is None:
            return "an earlier message"
        body = _str(_content(ev).get("body"))
        if body is None:
            return "%s's message" % self.who(ev.get("sender")) if with_sender else "a message"
        text = '"%s"' % clean(strip_reply_fallback(body).replace("\n", " "), MAX_QUOTE)
        return "%s %s" % (self.who(ev.get("sender")), text) if with_sender else text

    def feed(self, event):
        """The lines for `event` (a date line first when the day changed), then records it."""
        if not isinstance(event, dict):
            return []
        out = []
        line = render(event, self)
        if line is not None:
            day = _day(event)
            if day != self.last_day and day is not None:
                out.append("  — %s —" % day)
                self.last_day = day
            out.append(line)
        self.apply(event)
        return out


def _ts(event):
    ts = event.get("origin_server_ts")
    if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts < 1 << 48:
        return None
    return ts / 1000


def _day(event):
    ts = _ts(event)
    return time.strftime("%Y-%m-%d", time.localtime(ts)) if ts is not None else None


def _message(event, room, c, who):
    """A m.room.message (or a sticker): the text, a file, a notice, an emote."""
    msgtype = _str(c.get("msgtype"))
    body = _str(c.get("body")) or ""
    rel = c.get("m.relates_to") if isinstance(c.get("m.relates_to"), dict) else {}
    if rel.get("rel_type") == "m.replace":
        new = c.get("m.new_content") if isinstance(c.get("m.new_content"), dict) else {}
        text = _str(new.get("body"))
        if text is None:
            text = body[2:] if body.startswith("* ") else body
        notice = " [notice]" if (new.get("msgtype") or msgtype) == "m.notice" else ""
        return "%s%s: %s  (edited; was %s)" % (who, notice, clean(text, multiline=True),
                                                room.quote(rel.get("event_id"), False))
    reply = rel.get("m.in_reply_to") if isinstance(rel.get("m.in_reply_to"), dict) else None
    prefix = ""
    if reply is not None:
        prefix = "↪ %s — " % room.quote(reply.get("event_id"))
        body = strip_reply_fallback(body)
    if msgtype in ("m.file", "m.image", "m.audio", "m.video") or event.get("type") == "m.sticker":
        info = c.get("info") if isinstance(c.get("info"), dict) else {}
        name = _str(c.get("filename")) or body or "unnamed"
        caption = body if _str(c.get("filename")) and body and body != name else ""
        kind = {"m.image": "image", "m.audio": "audio", "m.video": "video"}.get(
            msgtype, "sticker" if event.get("type") == "m.sticker" else "file")
        line = "%s: %s[%s] %s (%s, %s)" % (who, prefix, kind, clean(name, 80),
                                           size_text(info.get("size")),
                                           clean(_str(info.get("mimetype")) or "type unknown",
                                                 60))
        if caption:
            line += " — " + clean(caption, multiline=True)
        return line
    text = clean(body, multiline=True)
    if msgtype == "m.emote":
        return "* %s %s%s" % (who, prefix, text)
    if msgtype == "m.notice":
        return "%s [notice]: %s%s" % (who, prefix, text)
    if msgtype == "m.location":
        return "%s: %s[location] %s %s" % (who, prefix, text, clean(_str(c.get("geo_uri")), 80))
    if msgtype not in (None, "m.text"):
        return "%s: %s[%s] %s" % (who, prefix, clean(msgtype, 40), text)
    if "body" not in c and event.get("type") == "m.room.message":
        unsigned = event.get("unsigned") if isinstance(event.get("unsigned"), dict) else {}
        if "redacted_because" in unsigned:
            return "%s: [deleted message]" % who
        return "%s: [empty message]" % who
    return "%s: %s%s" % (who, prefix, text)


def _member(event, room, c, who):
    target = _str(event.get("state_key")) or "?"
    name = room.who(target)
    now = c.get("membership")
    unsigned = event.get("unsigned") if isinstance(event.get("unsigned"), dict) else {}
    prev = unsigned.get("prev_content") if isinstance(unsigned.get("prev_content"), dict) else {}
    before = prev.get("membership")
    if now == "join" and before == "join":
        old, new = _str(prev.get("displayname")), _str(c.get("displayname"))
        if old != new and new:
            return "%s is now known as %s" % (room.who(target, old), room.who(target, new))
        return None
    if now == "join":
        return "%s joined" % room.who(target, c.get("displayname"))
    if now == "invite":
        return "%s invited %s" % (who, room.who(target, c.get("displayname")))
    if now == "leave":
        if target == event.get("sender"):
            return "%s left" % name
        return "%s removed %s" % (who, name)
    if now == "ban":
        return "%s banned %s" % (who, name)
    if now == "knock":
        return "%s asks to join" % name
    return None


def render(event, room):
    """The line of one event (time, who, what), or None for an event a reader skips (power
    levels, join rules and the like)."""
    if not isinstance(event, dict):
        return None
    ts = _ts(event)
    stamp = time.strftime("%H:%M:%S", time.localtime(ts)) if ts is not None else "--:--:--"
    kind = _str(event.get("type")) or ""
    c = _content(event)
    who = room.who(event.get("sender"))
    line = None
    if kind in ("m.room.message", "m.sticker"):
        line = _message(event, room, c, who)
    elif kind == "m.reaction":
        rel = c.get("m.relates_to") if isinstance(c.get("m.relates_to"), dict) else {}
        line = "%s reacted %s to %s" % (who, clean(_str(rel.get("key")) or "?", 20),
                                        room.quote(rel.get("event_id")))
    elif kind == "m.room.redaction":
        target = _str(event.get("redacts")) or _str(c.get("redacts"))
        reason = _str(c.get("reason"))
        line = "%s deleted %s" % (who, room.quote(target))
        if reason:
            line += " (reason: %s)" % clean(reason, 80)
    elif kind == "m.room.encrypted":
        line = "%s: [encrypted message, not decrypted]" % who
    elif kind == "m.room.member":
        line = _member(event, room, c, who)
    elif kind == "m.room.name":
        name = _str(c.get("name"))
        line = ('%s named the room "%s"' % (who, clean(name, MAX_NAME)) if name
                else "%s removed the room's name" % who)
    elif kind == "m.room.topic":
        topic = _str(c.get("topic"))
        line = ('%s set the topic: "%s"' % (who, clean(topic, 120)) if topic
                else "%s removed the topic" % who)
    elif kind == "m.room.avatar":
        line = "%s changed the room's picture" % who
    elif kind == "m.room.encryption":
        line = "%s turned on end-to-end encryption" % who
    elif kind == "m.room.create":
        line = "%s created the room" % who
    elif kind == "m.room.tombstone":
        line = "%s replaced this room by another one" % who
    if line is None:
        return None
    return "%s  %s" % (stamp, line)


class Transcript:
    """Prints the rooms of a demo `Agent` (tests/integration/harness.py) and keeps the lines
    printed per room, for the demo's check."""

    def __init__(self, agent, write=print, ghost_prefix="_pa_", bot=None):
        self.agent = agent
        self.write = write
        self.ghost_prefix = ghost_prefix
        self.bot = bot
        self.rooms = {}      # room_id -> Room
        self.lines = {}      # room_id -> [lines printed]
        self.seen = set()    # event ids already fed
        self.current = None  # the room whose header was printed last

    def _emit(self, room, events):
        for ev in events:
            eid = _str(ev.get("event_id")) if isinstance(ev, dict) else None
            if eid in self.seen:
                continue
            if eid:
                self.seen.add(eid)
            for line in room.feed(ev):
                if self.current != room.room_id:
                    self._header(room)
                self.write(line)
                self.lines[room.room_id].append(line)

    def _skip(self, events):
        self.seen.update(_str(e.get("event_id")) for e in events if isinstance(e, dict))

    def _header(self, room):
        self.write("")
        self.write("══ %s ══" % room.title())
        self.current = room.room_id

    def _open(self, room_id):
        """A room's Room, seeded with its current state, and its history so far (oldest first)."""
        room = Room(room_id, self.agent.mxid, self.ghost_prefix)
        state = self.agent.run(self.agent.client.room_get_state(room_id))
        room.seed(getattr(state, "events", None) or [])
        self.rooms[room_id] = room
        self.lines.setdefault(room_id, [])
        return room, self.agent.history(room_id)

    def _show(self, room, history):
        self._header(room)
        self._emit(room, history)

    def print_all(self):
        """Every room the agent is in, each from its first event the agent may see, the rooms
        in the order the agent joined them."""
        opened = [self._open(r) for r in list(self.agent.client.rooms)]

        def joined_at(item):
            room, history = item
            for ev in history:
                if (ev.get("type") == "m.room.member" and ev.get("state_key") == self.agent.mxid
                        and _content(ev).get("membership") == "join"):
                    return _ts(ev) or 0
            return 0
        for room, history in sorted(opened, key=joined_at):
            self._show(room, history)
        # What the agent's own syncs gathered is in the history: not printed again.
        for events in self.agent.events.values():
            self._skip(events)

    def follow(self, timeout_ms=30000, stop=lambda: False, footer=None):
        """Prints new events as /sync brings them, until interrupted (or `stop()` is true
        after a sync); joins the rooms the bridge invites the agent to (new portals) and
        prints them whole.  `footer`: a line printed after each batch of new lines, so that
        it stays at the bottom of the terminal."""
        while not stop():
            printed = sum(len(lines) for lines in self.lines.values())
            before = {r: len(evs) for r, evs in self.agent.events.items()}
            try:
                self.agent.sync(timeout_ms=timeout_ms)
            except KeyboardInterrupt:
                # Ctrl-C lands inside the long poll: end it, so that the client closes cleanly.
                loop = self.agent.loop
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                raise
            for room_id in list(self.agent.invites):
                inviter = self.agent.inviter(room_id) or ""
                if inviter == self.bot or inviter[1:].startswith(self.ghost_prefix):
                    try:
                        self.agent.join(room_id)
                    except AssertionError as e:  # the harness's way of saying it failed
                        self.agent.invites.discard(room_id)
                        self.write("(could not join a room %s invited the agent to: %s)"
                                   % (clean(inviter, MAX_NAME), clean(str(e), 200)))
                        self.current = None
            for room_id, events in list(self.agent.events.items()):
                if room_id not in self.rooms:
                    room, history = self._open(room_id)
                    self._show(room, history)
                    self._skip(events)
                else:
                    self._emit(self.rooms[room_id], events[before.get(room_id, 0):])
            if footer and sum(len(lines) for lines in self.lines.values()) > printed:
                self.write(footer)
                self.current = None  # the next lines come under their room's header again

    def has(self, room_id, text):
        """Whether a line printed for the room contains `text`."""
        return any(text in line for line in self.lines.get(room_id, []))
