# SPDX-License-Identifier: AGPL-3.0-or-later
"""`passerelle db migrate`: a SQLite store with rows is copied into an empty
PostgreSQL database (a throwaway cluster this test starts on 127.0.0.1),
table by table with matching counts; a second run refuses the non-empty
target (exit 3); the copied queue keeps its seqs and its heads."""
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile

import pytest

from harness import PASSERELLE

PG_BIN = "/usr/lib/postgresql/15/bin"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def cluster():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        pytest.skip("PostgreSQL 15 is not installed")
    d = tempfile.mkdtemp(prefix="pa-pg-")
    os.chmod(d, 0o755)
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
    port = _free_port()
    _as_postgres([f"{PG_BIN}/initdb", "-D", f"{d}/data", "-A", "trust", "-U", "postgres"])
    _as_postgres([f"{PG_BIN}/pg_ctl", "-D", f"{d}/data", "-w", "-l", f"{d}/log",
                  "-o", f"-k {d} -h 127.0.0.1 -p {port}", "start"])
    try:
        subprocess.run(["psql", "-q", f"postgresql://postgres@127.0.0.1:{port}/postgres",
                        "-c", "CREATE DATABASE bridge"], check=True)
        yield f"postgresql://postgres:unused-secret@127.0.0.1:{port}/bridge"
    finally:
        _as_postgres([f"{PG_BIN}/pg_ctl", "-D", f"{d}/data", "-m", "fast", "stop"])
        shutil.rmtree(d, ignore_errors=True)


def _migrate(src, uri):
    return subprocess.run([PASSERELLE, "db", "migrate", "--from", f"sqlite:{src}", "--to", uri],
                          capture_output=True, text=True, timeout=120)


def test_db_migrate(cluster, tmp_path):
    src = tmp_path / "passerelle.db"
    # an empty target first makes the SQLite store at the current schema
    out = _migrate(src, cluster)
    assert out.returncode == 0, out.stderr
    subprocess.run(["psql", "-q", cluster.replace(":unused-secret", ""), "-c",
                    "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
                    "DROP SCHEMA IF EXISTS crypto CASCADE"], check=True)
    db = sqlite3.connect(src)
    for i in range(30):
        db.execute("INSERT INTO outbound (txn_id, queue_key, method, path, body)"
                   " VALUES (?, ?, 'PUT', '/p', '{}')", (f"t{i}", f"!k{i % 4}"))
    db.execute("DELETE FROM outbound WHERE txn_id = 't0'")
    db.execute("INSERT INTO kv (key, value) VALUES ('k', 'v')")
    db.execute("INSERT INTO logins (id, owner, plugin, state) VALUES ('l1', '@a:x', 'p', 'on')")
    db.commit()
    db.close()

    out = _migrate(src, cluster)
    assert out.returncode == 0, out.stderr
    lines = {l.split()[0]: l for l in out.stdout.splitlines() if "rows in the source" in l}
    assert lines["outbound"].split()[1] == "29" and lines["outbound"].endswith("ok")
    assert lines["outbound_heads"].split()[1] == "4" and lines["outbound_heads"].endswith("ok")
    assert lines["kv"].endswith("ok") and lines["logins"].endswith("ok")
    assert "unused-secret" not in out.stdout + out.stderr

    plain = cluster.replace(":unused-secret", "")
    heads = subprocess.run(["psql", "-qtA", plain, "-c",
                            "SELECT queue_key, seq FROM outbound_heads ORDER BY seq"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert heads == ["!k1|2", "!k2|3", "!k3|4", "!k0|5"]
    nxt = subprocess.run(["psql", "-qtA", plain, "-c",
                          "INSERT INTO outbound (txn_id, queue_key, method, path, body)"
                          " VALUES ('new', '!k', 'PUT', '/p', '{}') RETURNING seq"],
                         capture_output=True, text=True, check=True).stdout.split()[0]
    assert int(nxt) == 31  # past the source's AUTOINCREMENT, never a reused seq

    again = _migrate(src, cluster)
    assert again.returncode == 3
    assert "not empty" in again.stderr
