# SPDX-License-Identifier: AGPL-3.0-or-later
"""History import against a real Synapse: the CLI queues a job, the running
bridge parses the export in a worker and sends it oldest first with the
original timestamps; kill -9 resumes without gap or duplicate."""

import json
import os
import subprocess
import time

import pytest

from harness import (BUILD_ROOT, LOOPBACK_SO, PASSERELLE, Agent, Stack, bot_says,
                     open_management_room, wait_until)

IMPORT_MARK = "fr.passerelle.import"
WA_SO = os.path.join(BUILD_ROOT, "plugins", "whatsapp", "whatsapp.so")
TG_SO = os.path.join(BUILD_ROOT, "plugins", "telegram", "telegram.so")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
       b"\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(scope="module")
def stack():
    s = Stack(plugins=(LOOPBACK_SO, WA_SO, TG_SO),
              ministry_plugins=("loopback", "whatsapp", "telegram"))
    # Double puppeting on: the agent's own exported messages are sent as them.
    import yaml
    with open(s.bridge.config) as f:
        cfg = yaml.safe_load(f)
    cfg["appservice"]["double_puppet"] = True
    with open(s.bridge.config, "w") as f:
        yaml.safe_dump(cfg, f)
    s.bridge.generate_registration()
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def loopback_export(path, chat_id, name, n, t0=1600000000000):
    """An export in the loopback plugin's format, with replies."""
    msgs = []
    for i in range(n):
        m = {"id": "%s-%d" % (chat_id, i), "from": "u%d" % (i % 3), "from_name": "User %d" % (i % 3),
             "ts": t0 + i * 60000, "text": "message %d" % i}
        if i % 10 == 9:
            m["reply_to"] = "%s-%d" % (chat_id, i - 5)
        msgs.append(m)
    with open(path, "w") as f:
        json.dump({"chats": [{"id": chat_id, "name": name, "messages": msgs}]}, f)
    return msgs


def run_import(stack, path, *extra, check=True, timeout=300, plugin="loopback"):
    cmd = [PASSERELLE, "import", plugin, path, "-c", stack.bridge.config,
           "--user", "@alice:localhost"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr + "\n" + stack.bridge.tail()
    return p


def import_room(agent, title):
    """The room the import made: invited to it, or already joined in it
    (double puppeting joins the agent when their own first message comes)."""
    def find(a):
        for r in list(a.invites):
            if a.invite_name(r) == title:
                return ("invite", r)
        for r, evs in a.events.items():
            if any(e.get("type") == "m.room.name" and e.get("content", {}).get("name") == title
                   for e in evs):
                return ("join", r)
        return None
    kind, room = agent.wait(find, timeout=60, what="the import room " + title)
    if kind == "invite":
        agent.join(room)
    return room


def imported(agent, room):
    return [e for e in agent.history(room, limit=100000)
            if e["type"] == "m.room.message" and IMPORT_MARK in e["content"]]


def test_dry_run_touches_nothing(stack, tmp_path):
    path = str(tmp_path / "dry.json")
    loopback_export(path, "dry", "Dry chat", 25)
    p = run_import(stack, path, "--dry-run")
    assert "Dry run" in p.stdout
    assert "25 messages" in p.stdout
    assert "User 0" in p.stdout and "User 2" in p.stdout


def test_import_order_senders_ts_replies(stack, alice, tmp_path):
    path = str(tmp_path / "cabinet.json")
    msgs = loopback_export(path, "cab", "Cabinet", 120)
    p = run_import(stack, path)
    assert "Imported" in p.stdout, p.stdout
    room = import_room(alice, "Cabinet (Loopback)")
    assert alice.state(room, "im.vector.room.access_rules") == {"rule": "restricted"}
    got = imported(alice, room)
    assert [e["content"]["body"] for e in got] == [m["text"] for m in msgs]
    assert [e["origin_server_ts"] for e in got] == [m["ts"] for m in msgs]
    assert [e["sender"] for e in got] == ["@_pa_loopback_%s:localhost" % m["from"] for m in msgs]
    assert got[0]["content"][IMPORT_MARK] == {"source": "loopback", "id": "cab-0"}
    by_id = {e["content"][IMPORT_MARK]["id"]: e["event_id"] for e in got}
    for e, m in zip(got, msgs):
        if "reply_to" in m:
            assert e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == by_id[m["reply_to"]]
    name = alice.run(alice.client.get_displayname("@_pa_loopback_u1:localhost")).displayname
    assert name == "User 1 (Loopback)"
    # The agent is admin of the room.
    pl = alice.state(room, "m.room.power_levels")
    assert pl["users"].get(alice.mxid) == 100
    # Same command again: a no-op.
    p = run_import(stack, path)
    assert "nothing to do" in p.stdout
    time.sleep(2)
    assert len(imported(alice, room)) == 120


def test_kill9_mid_import_resumes_exactly(stack, alice, tmp_path):
    path = str(tmp_path / "big.json")
    msgs = loopback_export(path, "big", "Big chat", 600, t0=1610000000000)
    p = run_import(stack, path, "--no-wait")
    job = p.stdout.split()[2]

    def sent():
        rows = stack.bridge.db("SELECT state, summary FROM import_jobs WHERE id = ?", (job,))
        if not rows or not rows[0][1]:
            return 0
        return json.loads(rows[0][1]).get("sent", 0)
    wait_until(lambda: sent() >= 150, timeout=120, what="the import to be under way")
    stack.bridge.kill9()
    stack.bridge.start()
    p = run_import(stack, path)          # re-running the command follows the same job
    assert "Imported" in p.stdout or "nothing to do" in p.stdout, p.stdout
    room = import_room(alice, "Big chat (Loopback)")
    got = imported(alice, room)
    ids = [e["content"][IMPORT_MARK]["id"] for e in got]
    assert len(ids) == len(set(ids)), "duplicates after kill -9"
    assert ids == [m["id"] for m in msgs]
    # Synapse replays what it queued while the bridge was down one stored
    # transaction at a time (its recovery), often one event each: the
    # next tests start once that backlog is gone, not behind it.
    wait_until(lambda: stack.synapse.appservice_backlog() == 0, timeout=180,
               what="Synapse's appservice backlog to drain")


def test_bad_file_is_refused_clearly(stack, tmp_path):
    path = str(tmp_path / "garbage.json")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot an export at all")
    p = run_import(stack, path, check=False)
    assert p.returncode == 1
    assert "Import failed" in p.stderr


WA_CHAT = """\
01/02/2024 à 09:15 - Les messages et les appels sont chiffrés de bout en bout.
01/02/2024 à 09:16 - Marianne Martin: Bonjour Jean,
voici la note du cabinet.
01/02/2024 à 09:17 - Marianne Martin: IMG-20240201-WA0001.png (fichier joint)
la photo du tableau
01/02/2024 à 09:18 - Jean Dupont: PTT-20240201-WA0002.opus (fichier joint)
01/02/2024 à 09:19 - Marianne Martin: Ce message a été supprimé
13/02/2024 à 18:05 - Jean Dupont: Merci, à demain
"""


def test_whatsapp_zip_with_media(stack, alice, tmp_path):
    import zipfile
    path = str(tmp_path / "WhatsApp Chat with Marianne Martin.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Discussion WhatsApp avec Marianne Martin.txt", WA_CHAT)
        z.writestr("IMG-20240201-WA0001.png", PNG)
        z.writestr("PTT-20240201-WA0002.opus", b"OggS" + b"\x00" * 60)
    p = run_import(stack, path, "--me", "Jean Dupont", plugin="whatsapp")
    assert "6 messages" in p.stdout, p.stdout
    room = import_room(alice, "Marianne Martin (WhatsApp)")
    got = imported(alice, room)
    assert len(got) == 6
    system, text, image, voice, deleted, last = got
    assert system["content"]["msgtype"] == "m.notice"
    assert text["content"]["body"] == "Bonjour Jean,\nvoici la note du cabinet."
    # 01/02/2024 09:16 in Paris (UTC+1) is 08:16 UTC.
    assert text["origin_server_ts"] == 1706775360000
    assert image["content"]["msgtype"] == "m.image"
    assert image["content"]["info"]["mimetype"] == "image/png"
    assert image["content"]["info"]["w"] == 1 and image["content"]["info"]["h"] == 1
    assert alice.download(image["content"]["url"]) == PNG
    assert voice["content"]["msgtype"] == "m.audio"
    assert "org.matrix.msc3245.voice" in voice["content"]
    assert deleted["content"]["msgtype"] == "m.notice"
    assert deleted["content"][IMPORT_MARK].get("deleted") is True
    assert last["origin_server_ts"] == 1707843900000
    # --me "Jean Dupont" with double puppeting: Jean's messages are the agent's.
    assert last["sender"] == alice.mxid and voice["sender"] == alice.mxid
    assert text["sender"].startswith("@_pa_whatsapp_")


TG_EXPORT = {
    "name": "Cabinet DINUM", "type": "private_group", "id": 4242,
    "messages": [
        {"id": 1, "type": "service", "date": "2023-03-01T10:00:00", "date_unixtime": "1677661200",
         "actor": "Alice", "actor_id": "user1", "action": "create_group", "title": "Cabinet DINUM",
         "text": ""},
        {"id": 2, "type": "message", "date": "2023-03-01T10:01:00", "date_unixtime": "1677661260",
         "from": "Alice", "from_id": "user1",
         "text": ["Voir ", {"type": "bold", "text": "le document"}]},
        {"id": 3, "type": "message", "date": "2023-03-01T10:02:00", "date_unixtime": "1677661320",
         "from": "Bruno", "from_id": "user2", "reply_to_message_id": 2,
         "photo": "photos/photo_1.png", "width": 1, "height": 1, "text": "la photo"},
    ],
}


def test_telegram_export_with_reply_and_photo(stack, alice, tmp_path):
    d = tmp_path / "tg"
    (d / "photos").mkdir(parents=True)
    (d / "photos" / "photo_1.png").write_bytes(PNG)
    (d / "result.json").write_text(json.dumps(TG_EXPORT))
    p = run_import(stack, str(d / "result.json"), plugin="telegram")
    assert "3 messages" in p.stdout, p.stdout
    room = import_room(alice, "Cabinet DINUM (Telegram)")
    got = imported(alice, room)
    assert [e["content"]["msgtype"] for e in got] == ["m.notice", "m.text", "m.image"]
    assert got[1]["content"]["formatted_body"] == "Voir <b>le document</b>"
    assert got[1]["sender"] == "@_pa_telegram_user1:localhost"
    assert got[2]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == got[1]["event_id"]
    assert got[2]["origin_server_ts"] == 1677661320000
    assert alice.download(got[2]["content"]["url"]) == PNG


def test_upload_to_management_room(stack, alice):
    mgmt = open_management_room(alice)
    n0 = len(alice.messages(mgmt, sender="@passerelle:localhost"))
    data = WA_CHAT.replace("Marianne Martin", "Paul Durand").encode()
    mxc = alice.upload(data, "text/plain", "WhatsApp Chat with Paul Durand.txt")
    alice.send(mgmt, {"msgtype": "m.file", "body": "WhatsApp Chat with Paul Durand.txt",
                      "url": mxc, "info": {"mimetype": "text/plain", "size": len(data)}})
    alice.wait(lambda a: bot_says(a, mgmt, "Which sender is you", n0), timeout=60,
               what="the summary and the question")
    summary = bot_says(alice, mgmt, "Which sender is you", n0)[0]["content"]["body"]
    assert "6 messages" in summary and "Paul Durand" in summary and "Jean Dupont" in summary
    lines = [l for l in summary.splitlines() if "Jean Dupont" in l and l[:1].isdigit()]
    alice.text(mgmt, lines[0].split(".")[0])
    room = import_room(alice, "Paul Durand (WhatsApp)")
    alice.wait(lambda a: bot_says(a, mgmt, "History imported", n0), timeout=60, what="done")
    assert len(imported(alice, room)) == 6

    # One status notice, edited with the progress, ends on the final count.
    def final_edit(a):
        return [e for e in a.events.get(mgmt, [])
                if e.get("sender") == "@passerelle:localhost"
                and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
                and e["content"]["m.new_content"]["body"].startswith("Import finished: 6/6")]
    edit = alice.wait(final_edit, timeout=30, what="the status notice's final edit")[-1]
    target = edit["content"]["m.relates_to"]["event_id"]
    original = [e for e in alice.events[mgmt] if e.get("event_id") == target]
    assert original and original[0]["content"]["body"].startswith("Importing…")
