# SPDX-License-Identifier: AGPL-3.0-or-later
"""WhatsApp exports in other languages against a real Synapse (issue 15): a
Japanese iPhone export whose photo is named by "<添付: …>" is uploaded from
the zip, its "image omitted" phrase becomes a notice, and an afternoon
written "午後2:03" lands at 14:03."""

import os
import subprocess
import zipfile

import pytest

from harness import BUILD_ROOT, PASSERELLE, Agent, Stack

IMPORT_MARK = "fr.passerelle.import"
WA_SO = os.path.join(BUILD_ROOT, "plugins", "whatsapp", "whatsapp.so")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
       b"\x84\x00\x00\x00\x00IEND\xaeB`\x82")
LRM = "\u200e"
JA_CHAT = ("[2024/03/05 14:00:00] 太郎: こんにちは\n"
           + LRM + "[2024/03/05 14:01:00] 太郎: " + LRM + "<添付: 00000012-PHOTO-2024-03-05.png>\n"
           + LRM + "[2024/03/05 14:02:00] 花子: " + LRM + "画像は省略されました\n"
           "[2024/03/05 午後2:03:00] 花子: またね\n")


@pytest.fixture(scope="module")
def stack():
    s = Stack(plugins=(WA_SO,), ministry_plugins=("whatsapp",))
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def test_japanese_ios_zip_uploads_the_attached_photo(stack, alice, tmp_path):
    path = str(tmp_path / "WhatsApp Chat - 家族.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_chat.txt", JA_CHAT)
        z.writestr("00000012-PHOTO-2024-03-05.png", PNG)
    p = subprocess.run([PASSERELLE, "import", "whatsapp", path, "-c", stack.bridge.config,
                        "--user", "@alice:localhost"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr + "\n" + stack.bridge.tail()
    assert "4 messages" in p.stdout, p.stdout

    def find(a):
        for r in list(a.invites):
            if a.invite_name(r) == "家族 (WhatsApp)":
                return r
        return None
    room = alice.wait(find, timeout=60, what="the import room")
    alice.join(room)
    got = alice.wait(lambda a: (lambda ms: ms if len(ms) == 4 else None)(
        [e for e in a.history(room, limit=1000)
         if e["type"] == "m.room.message" and IMPORT_MARK in e["content"]]),
        timeout=60, what="the 4 imported messages")
    hello, photo, omitted, bye = got
    assert hello["content"]["body"] == "こんにちは"
    # 05/03/2024 14:00 in Paris (UTC+1) is 13:00 UTC
    assert hello["origin_server_ts"] == 1709643600000
    assert photo["content"]["msgtype"] == "m.image"
    assert alice.download(photo["content"]["url"]) == PNG
    assert photo["sender"] == hello["sender"]
    assert omitted["content"]["msgtype"] == "m.notice"
    assert omitted["sender"] != hello["sender"]
    assert bye["content"]["body"] == "またね"
    assert bye["origin_server_ts"] == 1709643780000
