# SPDX-License-Identifier: AGPL-3.0-or-later
"""The demo's transcript lines (scripts/demo_transcript.py), as a table: events in, lines out.
No homeserver: the rendering alone, including hostile bodies and names (control characters,
ANSI escapes, bidirectional overrides, lone surrogates, very long texts)."""

import os
import random
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))

from demo_transcript import INDENT, MAX_BODY, Room, clean, render  # noqa: E402

ME = "@agent:localhost"
BOT = "@passerelle:localhost"
MARIANNE = "@_pa_loopback_marianne:localhost"
T0 = 1765065600000  # 2025-12-07 00:00:00 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def ev(kind, sender, content, eid=None, ts=T0 + 61000, **extra):
    e = {"type": kind, "sender": sender, "content": content, "origin_server_ts": ts,
         "event_id": eid or "$%d" % random.randrange(1 << 30)}
    e.update(extra)
    return e


def member(who, membership="join", name=None, sender=None, **extra):
    c = {"membership": membership}
    if name is not None:
        c["displayname"] = name
    return ev("m.room.member", sender or who, c, state_key=who, **extra)


def text(sender, body, eid=None, **content):
    return ev("m.room.message", sender, dict({"msgtype": "m.text", "body": body}, **content),
              eid)


def room():
    """A portal: the agent, the bot and Marianne's ghost, and two messages to refer to."""
    r = Room("!portal:localhost", ME)
    for e in (member(ME, name="Agent Démo"), member(BOT, name="Passerelle"),
              member(MARIANNE, name="Marianne"),
              text(MARIANNE, "Bonjour ! Tu as vu la note du cabinet ?", "$hello"),
              text(ME, "Oui, je l'ai lue.", "$yes"),
              ev("m.room.message", MARIANNE,
                 {"msgtype": "m.file", "body": "note.pdf", "info": {"size": 12}}, "$file")):
        r.apply(e)
    return r


CASES = [
    # (what, event, line)
    ("a ghost's text: its network name and its network",
     text(MARIANNE, "Bonjour !"), "00:01:01  Marianne [loopback]: Bonjour !"),
    ("the agent's own text", text(ME, "Salut"), "00:01:01  Agent Démo: Salut"),
    ("a sender without a display name: its localpart",
     text("@zoe:localhost", "Coucou"), "00:01:01  zoe: Coucou"),
    ("a reply, its quoted fallback dropped",
     text(ME, "> <@_pa_loopback_marianne:localhost> Bonjour ! Tu as vu la note du cabinet ?\n\n"
          "Oui, à l'instant.",
          **{"m.relates_to": {"m.in_reply_to": {"event_id": "$hello"}}}),
     '00:01:01  Agent Démo: ↪ Marianne [loopback] "Bonjour ! Tu as vu la note du cabinet ?" '
     "— Oui, à l'instant."),
    ("a reply to a message not seen",
     text(ME, "Oui", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$gone"}}}),
     "00:01:01  Agent Démo: ↪ an earlier message — Oui"),
    ("an edit: the new text, marked edited, with the old one",
     text(ME, "* Oui, je l'ai lue hier.",
          **{"m.new_content": {"msgtype": "m.text", "body": "Oui, je l'ai lue hier."},
             "m.relates_to": {"rel_type": "m.replace", "event_id": "$yes"}}),
     "00:01:01  Agent Démo: Oui, je l'ai lue hier.  (edited; was \"Oui, je l'ai lue.\")"),
    ("an edited notice stays a notice",
     ev("m.room.message", BOT, {"msgtype": "m.notice", "body": "* Done.",
                                "m.new_content": {"msgtype": "m.notice", "body": "Done."},
                                "m.relates_to": {"rel_type": "m.replace", "event_id": "$gone"}}),
     "00:01:01  Passerelle [notice]: Done.  (edited; was an earlier message)"),
    ("a reaction", ev("m.reaction", MARIANNE, {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": "$yes", "key": "👍"}}),
     "00:01:01  Marianne [loopback] reacted 👍 to Agent Démo \"Oui, je l'ai lue.\""),
    ("a redaction, with its reason",
     ev("m.room.redaction", MARIANNE, {"reason": "oups"}, redacts="$hello"),
     '00:01:01  Marianne [loopback] deleted Marianne [loopback] "Bonjour ! Tu as vu la note du '
     'cabinet ?" (reason: oups)'),
    ("a redaction in the newer form (redacts in the content) of a file",
     ev("m.room.redaction", MARIANNE, {"redacts": "$file"}),
     '00:01:01  Marianne [loopback] deleted Marianne [loopback] "note.pdf"'),
    ("a message already redacted",
     ev("m.room.message", MARIANNE, {}, unsigned={"redacted_because": {}}),
     "00:01:01  Marianne [loopback]: [deleted message]"),
    ("a file with a caption: name, size, type, caption",
     ev("m.room.message", MARIANNE, {"msgtype": "m.file", "body": "La note du cabinet",
                                     "filename": "note-du-cabinet.txt", "url": "mxc://x/y",
                                     "info": {"size": 61, "mimetype": "text/plain"}}),
     "00:01:01  Marianne [loopback]: [file] note-du-cabinet.txt (61 B, text/plain) "
     "— La note du cabinet"),
    ("an image without filename or type",
     ev("m.room.message", MARIANNE, {"msgtype": "m.image", "body": "IMG_0001.jpg",
                                     "info": {"size": 2_500_000}}),
     "00:01:01  Marianne [loopback]: [image] IMG_0001.jpg (2.4 MiB, type unknown)"),
    ("a voice message", ev("m.room.message", MARIANNE, {
        "msgtype": "m.audio", "body": "PTT.opus", "info": {"size": 4096,
                                                           "mimetype": "audio/ogg"}}),
     "00:01:01  Marianne [loopback]: [audio] PTT.opus (4.0 KiB, audio/ogg)"),
    ("a notice", ev("m.room.message", BOT, {"msgtype": "m.notice", "body": "Logged in."}),
     "00:01:01  Passerelle [notice]: Logged in."),
    ("an emote", ev("m.room.message", ME, {"msgtype": "m.emote", "body": "arrive"}),
     "00:01:01  * Agent Démo arrive"),
    ("a location", ev("m.room.message", MARIANNE, {"msgtype": "m.location", "body": "Ici",
                                                   "geo_uri": "geo:48.85,2.35"}),
     "00:01:01  Marianne [loopback]: [location] Ici geo:48.85,2.35"),
    ("an unknown msgtype", ev("m.room.message", MARIANNE, {"msgtype": "org.x.poll",
                                                           "body": "Vote"}),
     "00:01:01  Marianne [loopback]: [org.x.poll] Vote"),
    ("a multi-line body: continuation lines indented",
     text(BOT, "Commands:\n  login\n  logout"),
     "00:01:01  Passerelle: Commands:\n" + INDENT + "  login\n" + INDENT + "  logout"),
    ("an encrypted event nio could not decrypt",
     ev("m.room.encrypted", MARIANNE, {"algorithm": "m.megolm.v1.aes-sha2"}),
     "00:01:01  Marianne [loopback]: [encrypted message, not decrypted]"),
    ("the room's name", ev("m.room.name", BOT, {"name": "Cabinet (WhatsApp)"}, state_key=""),
     '00:01:01  Passerelle named the room "Cabinet (WhatsApp)"'),
    ("the topic", ev("m.room.topic", BOT, {"topic": "Ordre du jour"}, state_key=""),
     '00:01:01  Passerelle set the topic: "Ordre du jour"'),
    ("encryption turned on", ev("m.room.encryption", BOT,
                                {"algorithm": "m.megolm.v1.aes-sha2"}, state_key=""),
     "00:01:01  Passerelle turned on end-to-end encryption"),
    ("a ghost joins under its network name",
     member("@_pa_whatsapp_=2b33612:localhost", name="+33 6 12"),
     "00:01:01  +33 6 12 [whatsapp] joined"),
    ("a ghost whose name says its network already",
     member("@_pa_whatsapp_=2b33612:localhost", name="+33 6 12 (WhatsApp)"),
     "00:01:01  +33 6 12 (WhatsApp) joined"),
    ("an invite", member(ME, "invite", sender=MARIANNE),
     "00:01:01  Marianne [loopback] invited Agent Démo"),
    ("a member leaves", member(MARIANNE, "leave"), "00:01:01  Marianne [loopback] left"),
    ("a member is removed", member(MARIANNE, "leave", sender=BOT),
     "00:01:01  Passerelle removed Marianne [loopback]"),
    ("a display name change",
     member(MARIANNE, name="Marianne D.", unsigned={"prev_content": {
         "membership": "join", "displayname": "Marianne"}}),
     "00:01:01  Marianne [loopback] is now known as Marianne D. [loopback]"),
    ("a profile change that is not the name: nothing",
     member(MARIANNE, name="Marianne", unsigned={"prev_content": {
         "membership": "join", "displayname": "Marianne"}}), None),
    ("power levels: nothing", ev("m.room.power_levels", BOT, {"users": {}}, state_key=""),
     None),
    ("no timestamp", dict(text(ME, "x"), origin_server_ts="soon"), "--:--:--  Agent Démo: x"),
    # Hostile content: nothing reaches the terminal as a control character.
    ("ANSI escapes in a body",
     text(MARIANNE, "\x1b[2J\x1b[31mrouge\x1b]8;;http://x\x07lien"),
     "00:01:01  Marianne [loopback]: ␛[2J␛[31mrouge␛]8;;http://x␇lien"),
    ("a carriage return that would overwrite the sender",
     text(MARIANNE, "innocent\rAdmin: lie"), "00:01:01  Marianne [loopback]: innocent\n"
     + INDENT + "Admin: lie"),
    ("C1 controls (the one-byte CSI), DEL, backspace, NUL",
     text(MARIANNE, "a\x9b2Jb\x7fc\x08d\x00e"),
     "00:01:01  Marianne [loopback]: a\ufffd2Jb␡c␈d␀e"),
    ("bidirectional overrides shown, right-to-left text kept",
     text(MARIANNE, "\u202eevil\u202c مرحبا بالعالم שלום"),
     "00:01:01  Marianne [loopback]: \ufffdevil\ufffd مرحبا بالعالم שלום"),
    ("a lone surrogate", text(MARIANNE, "a\ud800b"), "00:01:01  Marianne [loopback]: a\ufffdb"),
    ("a body that is not a string", ev("m.room.message", MARIANNE, {"msgtype": "m.text",
                                                                   "body": {"x": 1}}),
     "00:01:01  Marianne [loopback]: "),
    ("a file size that is not a number",
     ev("m.room.message", MARIANNE, {"msgtype": "m.file", "body": "a.bin",
                                     "info": {"size": "big", "mimetype": 7}}),
     "00:01:01  Marianne [loopback]: [file] a.bin (size unknown, type unknown)"),
    ("a very long body: cut with an ellipsis",
     text(MARIANNE, "x" * 5000), "00:01:01  Marianne [loopback]: " + "x" * (MAX_BODY - 1) + "…"),
    ("too many lines: cut with an ellipsis",
     text(MARIANNE, "\n".join(str(i) for i in range(20))),
     "00:01:01  Marianne [loopback]: " + ("\n" + INDENT).join(str(i) for i in range(8)) + "…"),
]


@pytest.mark.parametrize("what,event,line", CASES, ids=[c[0] for c in CASES])
def test_line(what, event, line):
    assert render(event, room()) == line, what


def test_hostile_name():
    r = room()
    r.apply(member("@evil:localhost", name="\x1b[1;32mPasserelle\x1b[0m\nAdmin: x\u202e"))
    assert (render(text("@evil:localhost", "hi"), r)
            == "00:01:01  ␛[1;32mPasserelle␛[0m␊Admin: x\ufffd: hi")


def test_long_name_cut():
    r = room()
    r.apply(member("@long:localhost", name="N" * 200))
    assert render(text("@long:localhost", "hi"), r) == "00:01:01  " + "N" * 39 + "…: hi"


def test_never_a_control_character():
    """Random bytes of every kind in bodies and names: the lines hold no control character
    but the newlines between a body's lines, each followed by the indent."""
    rng = random.Random(16)
    alphabet = ([chr(c) for c in range(0, 0x100)] + ["\u202e", "\u2066", "\u2028", "\ud800",
                                                    "é", "م", "👍"])
    for _ in range(500):
        r = room()
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        r.apply(member("@j:localhost", name=junk))
        for e in (text("@j:localhost", junk), ev("m.reaction", "@j:localhost", {
                "m.relates_to": {"event_id": "$yes", "key": junk}}),
                  ev("m.room.name", "@j:localhost", {"name": junk}, state_key="")):
            line = render(e, r)
            for i, ch in enumerate(line):
                o = ord(ch)
                assert not (o < 0x20 or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xDFFF
                            or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069
                            or ch in "\u2028\u2029") or (
                    ch == "\n" and line[i + 1:].startswith(INDENT)), (junk, line)
            line.encode("utf-8")  # printable: no lone surrogate left


def test_clean_limits():
    assert clean("abc", 3) == "abc"
    assert clean("abcd", 3) == "ab…"
    assert clean(None) == ""
    assert clean("a\nb") == "a␊b"  # one line unless asked


def test_feed_dates_and_state():
    """feed(): a date line when the day changes, and state applied after its own line."""
    r = Room("!r:localhost", ME)
    day1 = member(MARIANNE, name="Marianne")
    day1["origin_server_ts"] = T0 - 3600_000
    lines = r.feed(day1)
    assert lines == ["  — 2025-12-06 —", "23:00:00  Marianne [loopback] joined"]
    assert r.feed(text(MARIANNE, "Bonsoir")) == ["  — 2025-12-07 —",
                                                 "00:01:01  Marianne [loopback]: Bonsoir"]
    assert r.feed(text(MARIANNE, "Encore")) == ["00:01:01  Marianne [loopback]: Encore"]
    assert r.feed(ev("m.room.power_levels", BOT, {}, state_key="")) == []
    r.feed(ev("m.room.name", BOT, {"name": "Cabinet\x1b[2J"}, state_key=""))
    r.feed(member(ME, name="Agent"))
    assert r.title() == "Cabinet␛[2J"
    r.feed(ev("m.room.encryption", BOT, {}, state_key=""))
    r.name = None
    assert r.title() == "with Marianne [loopback] (encrypted)"


def test_seed_names_members_not_seen_join():
    r = Room("!r:localhost", ME)
    r.seed([member(MARIANNE, name="Marianne"), {"type": "m.room.name", "state_key": "",
                                                 "content": {"name": "Marianne"}}, "junk"])
    assert render(text(MARIANNE, "Hé"), r) == "00:01:01  Marianne [loopback]: Hé"
    assert r.title() == "Marianne"


# ------------------------------------------------ the transcript of a live agent (Synapse)

def test_follow_prints_what_arrives(net):
    """Transcript against a real Synapse and bridge: print_all() prints the management room,
    follow() prints the bot's next answers there, joins the portal the bridge invites the
    agent to and prints it whole, with a hostile ghost's name and message made inert on the
    way through the bridge."""
    from conftest import running
    from demo_transcript import Transcript
    from harness import Agent, Stack, bot_says, open_management_room

    for stack in running(Stack()):
        agent = Agent(stack, "transcript")
        try:
            mgmt = open_management_room(agent)
            lines = []
            tr = Transcript(agent, write=lines.append, bot=BOT)
            tr.print_all()
            assert lines[:2] == ["", "══ with Passerelle ══"]
            assert tr.has(mgmt, "Passerelle [notice]: Hello!")

            def follow_until(pred, what):
                deadline = time.monotonic() + 30
                tr.follow(timeout_ms=500, stop=lambda: pred() or time.monotonic() > deadline,
                          footer="(footer)")
                assert pred(), "%s not printed:\n%s" % (what, "\n".join(lines))

            net.add_user("tr-legacy", "pw", "Transcript")
            agent.text(mgmt, "login loopback")
            for prompt, answer in (("server", "127.0.0.1:%d" % net.port),
                                   ("user name", "tr-legacy"), ("password", "pw")):
                follow_until(lambda p=prompt: bot_says(agent, mgmt, p), prompt)
                agent.text(mgmt, answer)
            follow_until(lambda: tr.has(mgmt, "Passerelle [notice]: ✅ Logged in"), "the login")
            n = len(lines)
            net.deliver("tr-legacy", {"ev": "message", "id": "evil-1", "chat": "mallory",
                                      "chat_kind": "dm", "from": "mallory",
                                      "from_name": "\x1b[2JPasserelle\x1b[0m",
                                      "text": "\x1b]0;owned\x07\rAdmin: \u202etrust me"})
            follow_until(lambda: any("trust me" in line for line in lines[n:]),
                         "the new portal's message")
            printed = "\n".join(lines[n:])
            assert "══ with ␛[2JPasserelle␛[0m [loopback] ══" in printed, printed
            assert ("␛[2JPasserelle␛[0m [loopback]: ␛]0;owned␇\n" + INDENT
                    + "Admin: \ufffdtrust me") in printed, printed
            assert "\x1b" not in printed and "\x07" not in printed
            # After each batch the footer; the next batch starts with its room's header.
            assert "(footer)" in lines
            for i, line in enumerate(lines[:-1]):
                if line == "(footer)":
                    assert lines[i + 1] == "" and lines[i + 2][:3] == "══ ", lines
        finally:
            agent.close()


def test_encrypted_rooms_decrypted():
    """With an encrypting homeserver and bridge (the end-to-bridge encryption stack) and an
    agent with its crypto store, the transcript shows the decrypted messages, in the history
    as in what follow() brings."""
    from conftest import running
    from demo_transcript import Transcript
    from e2e import E2EAgent, EncryptedStack
    from harness import open_management_room

    for stack in running(EncryptedStack()):
        agent = E2EAgent(stack, "transcript-e2e")
        try:
            mgmt = open_management_room(agent)
            lines = []
            tr = Transcript(agent, write=lines.append, bot=BOT)
            tr.print_all()
            assert "══ with Passerelle (encrypted) ══" in lines, lines
            assert tr.has(mgmt, "turned on end-to-end encryption"), lines
            assert tr.has(mgmt, "Passerelle [notice]: Hello!"), lines
            agent.text(mgmt, "ping")
            deadline = time.monotonic() + 30
            tr.follow(timeout_ms=500, stop=lambda: tr.has(mgmt, "Passerelle [notice]: Pong")
                      or time.monotonic() > deadline)
            assert tr.has(mgmt, "transcript-e2e: ping"), lines
            assert tr.has(mgmt, "Passerelle [notice]: Pong"), lines
            assert not any("not decrypted" in line for line in lines), lines
        finally:
            agent.close()
