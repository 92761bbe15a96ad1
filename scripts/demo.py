# SPDX-License-Identifier: AGPL-3.0-or-later
"""Local demo: real Synapse + Passerelle + the loopback demo network."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))

from harness import (BUILD_ROOT, LOOPBACK_SO, PASSERELLE, Agent, Stack, bot_says,  # noqa: E402
                     open_management_room)
from loopnet import LoopNet  # noqa: E402

BOT = "@passerelle:localhost"


def main():
    check = "--check" in sys.argv
    net = LoopNet()
    net.start()
    net.add_user("agent-legacy", "demo", "Agent (legacy account)")
    plugins = [LOOPBACK_SO] + [os.path.join(BUILD_ROOT, "plugins", p, p + ".so")
                               for p in ("whatsapp", "telegram")]
    stack = Stack(plugins=plugins, ministry_plugins=("loopback", "whatsapp", "telegram"))
    print("Starting Synapse and Passerelle in", stack.workdir, flush=True)
    stack.start()
    agent = Agent(stack, "agent", password="agent-password")
    try:
        mgmt = open_management_room(agent)
        agent.text(mgmt, "login loopback")
        for prompt, answer in (("server", "127.0.0.1:%d" % net.port), ("user name", "agent-legacy"),
                               ("password", "demo")):
            agent.wait(lambda a, p=prompt: bot_says(a, mgmt, p), what=prompt)
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
        print()
        print("Passerelle is running.")
        print("  Homeserver:   ", stack.synapse.url, "(server name: localhost)")
        print("  Log in as:     agent / agent-password   (any Matrix client, e.g. Element)")
        print("  Look at:       the DM with 'Passerelle' (send `help`), the DM from")
        print("                 'Marianne' bridged from the demo network, and the room")
        print("                 'Cabinet (WhatsApp)' holding an imported WhatsApp history.")
        print("  Bridge log:   ", stack.bridge.log_path)
        print("  Bridged so far:", agent.bodies(room))
        if check:
            return 0
        print("Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        agent.close()
        stack.close()
        net.stop()


if __name__ == "__main__":
    sys.exit(main())
