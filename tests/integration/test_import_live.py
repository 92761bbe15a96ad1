# SPDX-License-Identifier: AGPL-3.0-or-later
"""An old WhatsApp export of a chat that is already a live portal (issue 12,
history on link): the loopback plugin bridges some messages live into a group
portal, then the agent imports an export of that chat with --room of the
portal.  The portal holds messages, so the export goes to an archive room,
and the messages the portal already shows (bridged live, one of them edited
since, one deleted, a photo, one the agent wrote from Matrix and corrected)
are not imported again: the archive room holds the older ones only (and a
third "ok" where the portal has two), and the count is reported."""

import base64
import datetime
import os
import subprocess
import time
import zoneinfo

import pytest

from conftest import running
from harness import (BUILD_ROOT, LOOPBACK_SO, PASSERELLE, Agent, Stack, bot_says,
                     open_management_room, wait_until)

BOT = "@passerelle:localhost"
IMPORT_MARK = "fr.passerelle.import"
WA_SO = os.path.join(BUILD_ROOT, "plugins", "whatsapp", "whatsapp.so")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
       b"\x84\x00\x00\x00\x00IEND\xaeB`\x82")
# 1 February 2024, 08:00 UTC: 09:00 in Paris, the export's time zone.
T0 = 1706774400000
MIN = 60000

# What the chat's members wrote after the agent linked it live (UTC).
LIVE = [
    ("lv-1", 20 * MIN + 15000, "Bonjour, on se voit à 10h ?"),
    ("lv-2", 21 * MIN + 5000, "ok"),
    ("lv-3", 21 * MIN + 40000, "ok"),
    ("lv-4", 22 * MIN + 30000, "helo"),      # edited live to "hello"
    ("lv-5", 23 * MIN + 10000, None),        # a photo, no caption
    ("lv-6", 24 * MIN, "à supprimer"),       # deleted live
]

# The export, made later on the phone: older messages, then those same
# messages as WhatsApp writes them (Paris time, minutes only), with one
# more "ok" in the minute of the two live ones.
WA_CHAT = """\
01/02/2024 à 09:10 - Marianne Martin: Un ancien message
01/02/2024 à 09:11 - Jean Dupont: Une ancienne réponse,
sur deux lignes
01/02/2024 à 09:12 - Marianne Martin: ok
01/02/2024 à 09:20 - Marianne Martin: Bonjour,  on se voit à 10h ?
01/02/2024 à 09:21 - Marianne Martin: ok
01/02/2024 à 09:21 - Marianne Martin: ok
01/02/2024 à 09:21 - Marianne Martin: ok
01/02/2024 à 09:22 - Marianne Martin: hello <Ce message a été modifié>
01/02/2024 à 09:23 - Marianne Martin: <Médias omis>
01/02/2024 à 09:24 - Marianne Martin: Ce message a été supprimé
"""


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack(plugins=(LOOPBACK_SO, WA_SO),
                             ministry_plugins=("loopback", "whatsapp")))


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def login(agent, mgmt, net, user):
    n0 = len(agent.messages(mgmt, sender=BOT))
    agent.text(mgmt, "login loopback")
    agent.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    agent.text(mgmt, "127.0.0.1:%d" % net.port)
    agent.wait(lambda a: bot_says(a, mgmt, "user name", n0), what="user name prompt")
    agent.text(mgmt, user)
    agent.wait(lambda a: bot_says(a, mgmt, "password", n0), what="password prompt")
    agent.text(mgmt, "pw")
    agent.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def test_export_of_a_live_portal_skips_what_was_bridged_live(stack, alice, net, tmp_path):
    net.add_user("alice-lb", "pw", "Alice Legacy")
    mgmt = open_management_room(alice)
    login(alice, mgmt, net, "alice-lb")
    net.wait_connected("alice-lb", 20)

    # Live: a group portal and its messages, one edited, one deleted.
    net.deliver("alice-lb", {"ev": "chat", "id": "g-wa", "kind": "group", "name": "Équipe",
                             "members": [{"id": "marianne", "name": "Marianne Martin"},
                                         {"id": "alice-lb", "name": "Me"}]})
    for mid, dt, text in LIVE:
        ev = {"ev": "message", "id": mid, "chat": "g-wa", "chat_kind": "group",
              "chat_name": "Équipe", "from": "marianne", "from_name": "Marianne Martin",
              "ts": T0 + dt}
        if text is None:
            ev["media"] = {"name": "photo.png", "mimetype": "image/png", "kind": "image",
                           "data_b64": base64.b64encode(PNG).decode()}
        else:
            ev["text"] = text
        net.deliver("alice-lb", ev)
    net.deliver("alice-lb", {"ev": "edit", "id": "lv-4e", "chat": "g-wa", "from": "marianne",
                             "target": "lv-4", "text": "hello", "ts": T0 + 25 * MIN})
    net.deliver("alice-lb", {"ev": "delete", "chat": "g-wa", "from": "marianne",
                             "target": "lv-6", "ts": T0 + 26 * MIN})
    portal = alice.wait_invite(lambda a, r: a.invite_name(r) == "Équipe")
    alice.join(portal)

    def live_done(a):
        evs = a.history(portal)
        edited = any(e.get("content", {}).get("m.new_content", {}).get("body") == "hello"
                     for e in evs)
        redacted = any(e.get("type") == "m.room.message" and e.get("content") == {}
                       for e in evs)
        images = [e for e in evs if e.get("content", {}).get("msgtype") == "m.image"]
        return edited and redacted and images
    alice.wait(live_done, timeout=60, what="the live messages, the edit and the deletion")

    # The agent writes from Matrix (not at the turn of a minute: the network
    # and the bridge each take the time).
    while time.time() % 60 > 50:
        time.sleep(1)
    alice.text(portal, "Je serai là")
    net.wait_sent("alice-lb",
                  lambda op: op.get("op") == "send" and op.get("text") == "Je serai là", 20)
    sent = wait_until(lambda: [m for m in net.messages("g-wa") if m.get("text") == "Je serai là"],
                      what="the agent's message on the network")[0]
    # ... and corrects it from Matrix: the export shows the latest text.
    mine = [e for e in alice.history(portal) if e.get("sender") == alice.mxid
            and e.get("content", {}).get("body") == "Je serai là"][0]
    alice.send(portal, {"msgtype": "m.text", "body": "* Je serai là à 10h",
                        "m.new_content": {"msgtype": "m.text", "body": "Je serai là à 10h"},
                        "m.relates_to": {"rel_type": "m.replace", "event_id": mine["event_id"]}})
    net.wait_sent("alice-lb", lambda op: op.get("op") == "edit" and op.get("target") == sent["id"],
                  20)
    at = datetime.datetime.fromtimestamp(sent["ts"] / 1000, zoneinfo.ZoneInfo("Europe/Paris"))

    # The export, imported into the portal by its room id.
    path = str(tmp_path / "WhatsApp Chat with Marianne Martin.txt")
    with open(path, "w") as f:
        f.write(WA_CHAT + at.strftime("%d/%m/%Y à %H:%M")
                + " - Jean Dupont: Je serai là à 10h <Ce message a été modifié>\n")
    p = subprocess.run([PASSERELLE, "import", "whatsapp", path, "-c", stack.bridge.config,
                        "--user", alice.mxid, "--me", "Jean Dupont", "--room", portal,
                        "--timezone", "Europe/Paris"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr + "\n" + stack.bridge.tail()
    assert "11 messages" in p.stdout, p.stdout
    assert "7 messages already bridged live were not imported again" in p.stdout, p.stdout
    archive = [line.split(": ", 1)[1].split(" — ")[0] for line in p.stdout.splitlines()
               if line.startswith("room: ")][0]
    assert archive != portal

    # The archive room: the older messages and the third "ok" of 09:21 only.
    alice.wait_invite(lambda a, r: r == archive)
    alice.join(archive)
    got = [e for e in alice.history(archive)
           if e["type"] == "m.room.message" and IMPORT_MARK in e["content"]]
    assert [(e["content"]["body"], e["origin_server_ts"]) for e in got] == [
        ("Un ancien message", T0 + 10 * MIN),
        ("Une ancienne réponse,\nsur deux lignes", T0 + 11 * MIN),
        ("ok", T0 + 12 * MIN),
        ("ok", T0 + 21 * MIN),
    ]
    # The agent is told, in the management room and the archive room; the
    # portal links to the archive.
    alice.wait(lambda a: bot_says(a, mgmt, "7 messages already bridged live were not imported"),
               what="the count in the management room")
    alice.wait(lambda a: bot_says(a, archive, "7 messages already bridged live"),
               what="the count in the archive room")
    alice.wait(lambda a: bot_says(a, portal, archive), what="the link to the archive")
    # Nothing was added to the portal but the link.
    assert not [e for e in alice.history(portal) if IMPORT_MARK in e.get("content", {})]
