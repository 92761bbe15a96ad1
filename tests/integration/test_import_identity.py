# SPDX-License-Identifier: AGPL-3.0-or-later
"""Import identity against a real Synapse: the same chat imported again, from
another file or another container (a WhatsApp .txt then its zip; a Telegram
chat alone then within the full export), goes into the same room with one
copy of each message; a full Telegram export names every room it made; no
file is left in the job's folder after success, failure or cancel; a dry run
needs no config and no bridge; a real import with no bridge says so at once."""

import glob
import json
import os
import subprocess
import time
import zipfile

import pytest

from conftest import running
from harness import (BUILD_ROOT, PASSERELLE, Agent, Bridge, Stack, bot_says,
                     open_management_room, wait_until)

WA_SO = os.path.join(BUILD_ROOT, "plugins", "whatsapp", "whatsapp.so")
TG_SO = os.path.join(BUILD_ROOT, "plugins", "telegram", "telegram.so")
IMPORT_MARK = "fr.passerelle.import"


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack(plugins=(WA_SO, TG_SO), ministry_plugins=("whatsapp", "telegram")))


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def run_import(stack, path, plugin, *extra, check=True):
    cmd = [PASSERELLE, "import", plugin, str(path), "-c", stack.bridge.config,
           "--user", "@alice:localhost"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr + "\n" + stack.bridge.tail()
    return p


def imported(agent, room):
    return [e for e in agent.history(room, limit=100000)
            if e["type"] == "m.room.message" and IMPORT_MARK in e["content"]]


def join_room(agent, room):
    agent.wait(lambda a: room in a.invites or room in a.events, timeout=60,
               what="the invite to " + room)
    if room not in agent.events:
        agent.join(room)


def rooms_of(stdout):
    """Rooms the CLI names: "room: !id — name" and "name: already imported into !id"."""
    rooms = {}
    for line in stdout.splitlines():
        if line.startswith("room: "):
            room, _, name = line[len("room: "):].partition(" — ")
            rooms[name] = room
        elif ": already imported into " in line:
            name, _, rest = line.partition(": already imported into ")
            rooms[name] = rest.partition(":")[0]
    return rooms


def leftovers(stack):
    d = os.path.join(stack.bridge.dir, "data")
    return (glob.glob(os.path.join(d, "import:*", "**"), recursive=True)
            + glob.glob(os.path.join(d, "uploads", "*", "*")))


def wa_chat(lines, first=0, who=("Alice Martin", "Bruno Petit")):
    return "".join("13/03/2024, 10:%02d - %s: message %d of the team\n"
                   % (i, who[i % 2], i) for i in range(first, first + lines))


def test_whatsapp_txt_then_zip_one_room_one_copy(stack, alice, tmp_path):
    txt = tmp_path / "WhatsApp Chat with Team.txt"
    txt.write_text(wa_chat(6))
    p = run_import(stack, txt, "whatsapp")
    room = rooms_of(p.stdout)["Team"]
    join_room(alice, room)
    assert len(imported(alice, room)) == 6

    # The zip of a later export of the same chat: the six again, two more.
    z = tmp_path / "WhatsApp Chat with Team.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("WhatsApp Chat with Team.txt", wa_chat(8))
    dry = run_import(stack, z, "whatsapp", "--dry-run")
    assert "chat: Team (dm) — 8 messages (already imported into %s)" % room in dry.stdout, \
        dry.stdout
    p = run_import(stack, z, "whatsapp")
    assert ("Team: already imported into %s: 2 new messages added, 6 already there" % room
            in p.stdout), p.stdout
    got = imported(alice, room)
    assert [e["content"]["body"] for e in got] == ["message %d of the team" % i
                                                   for i in range(8)]

    # Another chat of the same name (other people, other messages): its own room.
    other = tmp_path / "other" / "WhatsApp Chat with Team.txt"
    other.parent.mkdir()
    other.write_text(wa_chat(3, who=("Chloé Roux", "David Lenoir")))
    p = run_import(stack, other, "whatsapp")
    assert "already imported" not in p.stdout, p.stdout
    assert rooms_of(p.stdout)["Team"] != room
    assert not leftovers(stack)


def tg_chat(chat_id, name, n, t0=1677661200):
    return {"name": name, "type": "private_group", "id": chat_id,
            "messages": [{"id": i + 1, "type": "message",
                          "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + 60 * i)),
                          "date_unixtime": str(t0 + 60 * i), "from": "Alice", "from_id": "user1",
                          "text": "%s %d" % (name, i)} for i in range(n)]}


def test_telegram_chat_alone_then_in_full_export(stack, alice, tmp_path):
    alone = tmp_path / "alone" / "result.json"
    alone.parent.mkdir()
    alone.write_text(json.dumps(tg_chat(777, "Bureau", 4)))
    p = run_import(stack, alone, "telegram")
    room = rooms_of(p.stdout)["Bureau"]

    # The full export: the same chat (two more messages since), and two others.
    full = tmp_path / "full" / "result.json"
    full.parent.mkdir()
    full.write_text(json.dumps({"chats": {"list": [
        tg_chat(777, "Bureau", 6), tg_chat(778, "Direction", 3), tg_chat(779, "Presse", 2)]}}))
    dry = run_import(stack, full, "telegram", "--dry-run")
    for line in ("chat: Bureau (group) — 6 messages (already imported into %s)\n" % room,
                 "chat: Direction (group) — 3 messages\n", "chat: Presse (group) — 2 messages\n"):
        assert line in dry.stdout, dry.stdout
    p = run_import(stack, full, "telegram")
    rooms = rooms_of(p.stdout)
    assert set(rooms) == {"Bureau", "Direction", "Presse"}, p.stdout
    assert rooms["Bureau"] == room
    assert ("Bureau: already imported into %s: 2 new messages added, 4 already there" % room
            in p.stdout), p.stdout
    join_room(alice, room)
    assert [e["content"]["body"] for e in imported(alice, room)] == ["Bureau %d" % i
                                                                     for i in range(6)]
    join_room(alice, rooms["Presse"])
    assert len(imported(alice, rooms["Presse"])) == 2
    assert not leftovers(stack)


def test_nothing_left_after_failure_and_cancel(stack, alice, tmp_path):
    # A truncated zip: refused, nothing left.
    z = tmp_path / "WhatsApp Chat with Cut.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("WhatsApp Chat with Cut.txt", wa_chat(50))
        f.writestr("IMG-1.jpg", os.urandom(200000))
    data = z.read_bytes()
    z.write_bytes(data[:len(data) // 2])
    p = run_import(stack, z, "whatsapp", check=False)
    assert p.returncode == 1 and "Import failed" in p.stderr, p.stdout + p.stderr
    wait_until(lambda: not leftovers(stack), timeout=30, what="the failed job's files to go")

    # An export uploaded to the management room, then cancelled.
    mgmt = open_management_room(alice)
    n0 = len(alice.messages(mgmt, sender="@passerelle:localhost"))
    buf = tmp_path / "up.zip"
    with zipfile.ZipFile(buf, "w") as f:
        f.writestr("WhatsApp Chat with Cancel.txt", wa_chat(5))
        f.writestr("IMG-2.jpg", os.urandom(1000))
    data = buf.read_bytes()
    mxc = alice.upload(data, "application/zip", "WhatsApp Chat with Cancel.zip")
    alice.send(mgmt, {"msgtype": "m.file", "body": "WhatsApp Chat with Cancel.zip", "url": mxc,
                      "info": {"mimetype": "application/zip", "size": len(data)}})
    alice.wait(lambda a: bot_says(a, mgmt, "Which sender is you", n0), timeout=60,
               what="the question")
    alice.text(mgmt, "cancel")
    alice.wait(lambda a: bot_says(a, mgmt, "Import cancelled", n0), timeout=60, what="the cancel")
    wait_until(lambda: not leftovers(stack), timeout=30, what="the cancelled job's files to go")


def test_dry_run_without_config_or_bridge(tmp_path):
    txt = tmp_path / "WhatsApp Chat with Dry.txt"
    txt.write_text(wa_chat(7))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    p = subprocess.run([PASSERELLE, "import", "whatsapp", str(txt), "--dry-run",
                        "--plugin-dir", os.path.dirname(WA_SO)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, TMPDIR=str(tmp)))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Dry run" in p.stdout and "7 messages" in p.stdout, p.stdout
    assert "chat: Dry (dm) — 7 messages" in p.stdout, p.stdout
    assert os.listdir(tmp) == []


def test_real_import_without_bridge_answers_at_once(tmp_path):
    b = Bridge(str(tmp_path), plugins=(WA_SO,), ministry_plugins=("whatsapp",))
    b.write_config("http://127.0.0.1:1")
    b.generate_registration()
    txt = tmp_path / "WhatsApp Chat with Nobody.txt"
    txt.write_text(wa_chat(3))
    t0 = time.monotonic()
    p = subprocess.run([PASSERELLE, "import", "whatsapp", str(txt), "-c", b.config,
                        "--user", "@alice:localhost"], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - t0 < 5
    assert p.returncode == 3, p.stdout + p.stderr
    assert "No bridge is running" in p.stderr, p.stderr
    assert "queued" in p.stdout
