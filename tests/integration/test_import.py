# SPDX-License-Identifier: AGPL-3.0-or-later
"""History import against a real Synapse: the CLI queues a job, the running
bridge parses the export in a worker and sends it oldest first with the
original timestamps; kill -9 resumes without gap or duplicate."""

import json
import os
import subprocess
import time

import pytest

from harness import PASSERELLE, Agent, Stack, wait_until

IMPORT_MARK = "fr.passerelle.import"


@pytest.fixture(scope="module")
def stack():
    s = Stack()
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


def run_import(stack, path, *extra, check=True, timeout=300):
    cmd = [PASSERELLE, "import", "loopback", path, "-c", stack.bridge.config,
           "--user", "@alice:localhost"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr + "\n" + stack.bridge.tail()
    return p


def import_room(agent, title):
    room = agent.wait_invite(lambda a, r: a.invite_name(r) == title, timeout=60)
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
    db = os.path.join(stack.bridge.dir, "passerelle.db")

    def sent():
        import sqlite3
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            row = c.execute("SELECT state, summary FROM import_jobs WHERE id = ?", (job,)).fetchone()
        finally:
            c.close()
        if not row or not row[1]:
            return 0
        return json.loads(row[1]).get("sent", 0)
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


def test_bad_file_is_refused_clearly(stack, tmp_path):
    path = str(tmp_path / "garbage.json")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot an export at all")
    p = run_import(stack, path, check=False)
    assert p.returncode == 1
    assert "Import failed" in p.stderr
