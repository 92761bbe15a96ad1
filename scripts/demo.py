# SPDX-License-Identifier: AGPL-3.0-or-later
"""Local demo: real Synapse + Passerelle + the loopback demo network, a WhatsApp history
import, and Olvid coexistence: a cabinet member on Olvid (a stand-in of Olvid's bot daemon,
since the real one cannot run here) and the demo agent on Tchap exchanging messages and a
file.  Then it prints what the agent sees, room by room (scripts/demo_transcript.py), and
follows new messages until Ctrl-C; with --check it prints that transcript once and fails when
a line the demo's exchanges must produce is missing."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))

from demo_transcript import Transcript  # noqa: E402

from harness import (BUILD_ROOT, LOOPBACK_SO, PASSERELLE, Agent, Stack, bot_says,  # noqa: E402
                     open_management_room, wait_until)
from loopnet import LoopNet  # noqa: E402
from olvid_harness import (OLVID_SO, login_olvid, olvid_plugin_config,  # noqa: E402
                           start_standin, user_id_of)
from wa_canned import ghost_mxid  # noqa: E402

BOT = "@passerelle:localhost"
NOTE = "Note du cabinet : la messagerie professionnelle passe sur Tchap.\n".encode()


def main():
    check = "--check" in sys.argv
    net = LoopNet()
    net.start()
    net.add_user("agent-legacy", "demo", "Agent (legacy account)")
    # Olvid's daemon ships only as Olvid's container image: the demo runs the test suite's
    # stand-in, and the plugin build that accepts it (the installed one refuses it).
    standin = start_standin()
    plugins = [LOOPBACK_SO, OLVID_SO] + [os.path.join(BUILD_ROOT, "plugins", p, p + ".so")
                                         for p in ("whatsapp", "telegram")]
    stack = Stack(plugins=plugins, ministry_plugins=("loopback", "whatsapp", "telegram", "olvid"),
                  plugin_config=olvid_plugin_config(standin))
    print("Starting Synapse and Passerelle in", stack.workdir, flush=True)
    stack.start()
    agent = Agent(stack, "agent", password="agent-password")
    agent.run(agent.client.set_displayname("Agent (Tchap)"))
    try:
        mgmt = open_management_room(agent)
        asked = len(agent.messages(mgmt, sender=BOT))
        agent.text(mgmt, "login loopback")
        for prompt, answer in (("your server", "127.0.0.1:%d" % net.port),
                               ("your user name", "agent-legacy"), ("password", "demo")):
            # Each answer after its own question (the transcript shows the order).
            agent.wait(lambda a, p=prompt, n=asked: bot_says(a, mgmt, p, after=n), what=prompt)
            asked = len(agent.messages(mgmt, sender=BOT))
            agent.text(mgmt, answer)
        agent.wait(lambda a: bot_says(a, mgmt, "Logged in"), what="login")
        net.deliver("agent-legacy", {"ev": "contact", "id": "marianne", "name": "Marianne"})
        now = int(time.time() * 1000)
        for i, text in enumerate(["Bonjour ! Tu as vu la note du cabinet ?",
                                  "Je te l'envoie sur Tchap désormais.",
                                  "À demain."]):
            net.deliver("agent-legacy", {"ev": "message", "id": "demo-%d" % i, "chat": "marianne",
                                         "chat_kind": "dm", "from": "marianne",
                                         "from_name": "Marianne", "ts": now - 60000 + i * 1000,
                                         "text": text})
        room = agent.wait_invite(lambda a, r: a.inviter(r) == "@_pa_loopback_marianne:localhost")
        agent.join(room)
        agent.wait(lambda a: len(a.bodies(room)) >= 3, what="the bridged messages")
        live_exchange(agent, net, room)
        # A sample history import: a French Android WhatsApp export, named the way
        # WhatsApp names it, through the same command an admin would use.
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                           "whatsapp", "fr-android.txt")
        export = os.path.join(tempfile.mkdtemp(), "Discussion WhatsApp avec Cabinet.txt")
        shutil.copy(src, export)
        imp = subprocess.run([PASSERELLE, "import", "whatsapp", export, "-c", stack.bridge.config,
                              "--user", agent.mxid], capture_output=True, text=True, timeout=300)
        print(imp.stdout.strip())
        if imp.returncode != 0:
            print(imp.stderr, file=sys.stderr)
            return 1
        hist = agent.wait_invite(lambda a, r: (a.invite_name(r) or "").endswith("(WhatsApp)"))
        agent.join(hist)
        olvid_room = olvid_coexistence(stack, agent, mgmt, standin)
        print_access(stack)
        transcript = Transcript(agent, bot=BOT, write=lambda line: print(line, flush=True))
        transcript.print_all()
        if check:
            return check_transcript(transcript, {"management": mgmt, "live": room,
                                                 "import": hist, "olvid": olvid_room})
        print_access(stack)
        print("\nNew messages appear below as they arrive. Ctrl-C stops the demo.", flush=True)
        transcript.follow(footer="  (%s — agent / agent-password — Ctrl-C stops the demo)"
                          % stack.synapse.url)
    except KeyboardInterrupt:
        print("\nStopping the demo…", flush=True)
        return 0
    finally:
        agent.close()
        stack.close()
        net.stop()
        standin.stop()


def print_access(stack):
    print()
    print("Passerelle is running.")
    print("  Homeserver:   ", stack.synapse.url, "(server name: localhost)")
    print("  Log in as:     agent / agent-password   (any Matrix client, e.g. Element)")
    print("  Look at:       the DM with 'Passerelle' (send `help`), the DM from")
    print("                 'Marianne' bridged from the demo network, and the room")
    print("                 'Cabinet (WhatsApp)' holding an imported WhatsApp history.")
    print("                 Olvid: the DM from 'Claire (cabinet, Olvid)', a cabinet member on")
    print("                 Olvid talking with the agent's Olvid identity 'Agent Démo (Tchap)'")
    print("                 (Olvid's daemon is played by the test suite's STAND-IN here).")
    print("  Bridge log:   ", stack.bridge.log_path, flush=True)


def live_exchange(agent, net, room):
    """The agent answers Marianne from Matrix (a reply); on the demo network she reacts to
    the answer and corrects her last message."""
    agent.send(room, {"msgtype": "m.text", "body": "Oui, je l'ai lue. On en parle demain ?",
                      "m.relates_to": {"m.in_reply_to": {
                          "event_id": agent.messages(room)[0]["event_id"]}}})
    answer = wait_until(lambda: [m for m in net.messages("marianne")
                                 if m.get("from") == "agent-legacy"], what="the answer")[0]
    net.deliver("agent-legacy", {"ev": "reaction", "chat": "marianne", "from": "marianne",
                                 "target": answer["id"], "key": "👍"})
    net.deliver("agent-legacy", {"ev": "edit", "chat": "marianne", "from": "marianne",
                                 "target": "demo-2", "text": "À demain, 9 h à la DINUM."})
    agent.wait(lambda a: {"m.reaction", "m.replace"} <= {
        e.get("type") if e.get("type") == "m.reaction"
        else e.get("content", {}).get("m.relates_to", {}).get("rel_type")
        for e in a.events.get(room, [])}, what="the reaction and the edit")


# What the demo's own traffic must show in the transcript (scripts/test runs --check): the
# bot's answers, the live exchange with the demo network, the imported history, the Olvid
# coexistence exchange and its file.  Each: the room, then a piece of one line.
EXPECTED = [
    ("management", "Passerelle [notice]: "),
    ("management", "Agent (Tchap): login loopback"),
    ("live", "Marianne [loopback]: Bonjour ! Tu as vu la note du cabinet ?"),
    ("live", "Marianne [loopback]: Je te l'envoie sur Tchap désormais."),
    ("live", 'Agent (Tchap): ↪ Marianne [loopback] "Bonjour ! Tu as vu la note du cabinet ?" '
     "— Oui, je l'ai lue. On en parle demain ?"),
    ("live", "Marianne [loopback] reacted 👍 to Agent (Tchap) \"Oui, je l'ai lue."),
    ("live", 'Marianne [loopback]: À demain, 9 h à la DINUM.  (edited; was "À demain.")'),
    ("import", "Maître Durand (WhatsApp): Bonjour à tous"),
    ("import", "Maître Durand (WhatsApp): Rendez-vous à 10h (edited)"),
    ("import", "+33 6 12 34 56 78 (WhatsApp) [notice]: file not included: "
     "PTT-20190927-WA0001.opus"),
    # (The ghost's first messages may come before its name: the sender is not checked.)
    ("olvid", ": Bonjour, je reste sur Olvid pendant la période de transition."),
    ("olvid", ": [file] note-du-cabinet.txt (%d B, text/plain)" % len(NOTE)),
    ("olvid", "Agent (Tchap): Bien reçu, merci ! Je vous réponds depuis Tchap."),
]


def check_transcript(transcript, rooms):
    """0 when every line the demo's traffic must produce was printed, else 1 (and which)."""
    missing = [(where, text) for where, text in EXPECTED
               if not transcript.has(rooms[where], text)]
    for where, text in missing:
        print("demo --check: the %s room's transcript lacks: %s" % (where, text),
              file=sys.stderr)
    for where in dict.fromkeys(where for where, _ in missing):
        print("demo --check: the %s room's transcript:" % where, file=sys.stderr)
        print("\n".join(transcript.lines.get(rooms[where], [])) or "(empty)", file=sys.stderr)
    return 1 if missing else 0


def olvid_coexistence(stack, agent, mgmt, standin):
    """The agent logs in to Olvid (a new identity in the ministry's daemon); a cabinet member
    on Olvid writes and sends a file; the agent answers from Tchap and the member reads it."""
    agent.mgmt = mgmt
    me = login_olvid(stack, agent, standin, flow="invitation", name="Agent Démo")
    member_id, member_key = standin.new_identity("Claire (cabinet, Olvid)")
    ghost = ghost_mxid(user_id_of(standin, member_id), plugin="olvid")
    contact, _ = standin.connect_contacts(member_key, me["client_key"])

    async def member_writes(c):
        d = (await c.discussion_get_by_contact(contact)).id
        await c.message_send(d, "Bonjour, je reste sur Olvid pendant la période de transition.")
        await c.message_send_with_attachments(
            d, [("note-du-cabinet.txt", NOTE)], body="La note du cabinet")
    run_member(standin, member_key, member_writes)
    room = agent.wait_invite(lambda a, r: a.inviter(r) == ghost, timeout=60)
    agent.join(room)
    agent.wait(lambda a: len(a.bodies(room)) >= 3, what="the Olvid messages and the file")
    agent.text(room, "Bien reçu, merci ! Je vous réponds depuis Tchap.")

    async def member_reads(c):
        d = (await c.discussion_get_by_contact(contact)).id
        for _ in range(120):
            async for m in c.message_list():
                if m.discussion_id == d and m.body.startswith("Bien reçu"):
                    return m.body
            await asyncio.sleep(0.5)
        raise AssertionError("the agent's answer did not reach Olvid")
    print("Olvid side received:", run_member(standin, member_key, member_reads))
    return room


def run_member(standin, key, fn):
    """`await fn(client)` with the official Olvid client of `key`, in its own event loop."""
    async def go():
        c = standin.client(key)
        try:
            return await fn(c)
        finally:
            await c.stop()
    return asyncio.run(asyncio.wait_for(go(), 120))


if __name__ == "__main__":
    sys.exit(main())
