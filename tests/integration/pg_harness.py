# SPDX-License-Identifier: AGPL-3.0-or-later
"""The bridge's store in the integration tests: SQLite (a file in the
bridge's directory, the default) or PostgreSQL (PA_STORE=postgres).

On PostgreSQL the tests start one throwaway cluster per session (Debian's
PostgreSQL 15, run as the `postgres` user since it refuses root), listening
on 127.0.0.1 on a free port and on a unix socket in its own directory, with
`trust` for loopback; each Bridge gets a database of its own on it, so the
tests stay independent.  The cluster is tuned for speed, not for surviving
the machine: fsync and full-page writes are off (an operating system crash
could corrupt it; a crash of the server or of the bridge loses nothing, as
commits stay synchronous).  It is stopped and removed at the end of the
session, and by a watchdog process if the session dies first.

`query` reads a store whichever its backend, with SQLite's `?` parameters;
the SQL must be valid on both (the PostgreSQL schema has SQLite's tables
and columns, docs/store.md).

Run as a program, it starts a cluster, creates an empty database, runs the
command given with PA_TEST_PG_URI set to that database's URI, and stops the
cluster (scripts/with-test-postgres)."""

import atexit
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

STORE = os.environ.get("PA_STORE", "sqlite")
if STORE not in ("sqlite", "postgres"):
    raise RuntimeError("PA_STORE must be sqlite or postgres, not %r" % STORE)
PG_BIN = os.environ.get("PA_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"

# Appended to the cluster's postgresql.conf.  fsync and full_page_writes off:
# the test cluster never has to survive an operating system crash.  Commits
# stay synchronous, so a server killed mid-run (test_hardening_pg_outage.py)
# keeps every transaction it acknowledged, as a production server does.
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sock}'
max_connections = 200
shared_buffers = 64MB
fsync = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
"""

# The watchdog: waits for its standard input to close (the session's normal
# end, or its death), then stops the cluster and removes its directory.
WATCHDOG = r"""
import shutil, subprocess, sys
keep, top, *stop = sys.argv[1:]
sys.stdin.buffer.read()
subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if keep != "1":
    shutil.rmtree(top, ignore_errors=True)
"""


class StoreError(Exception):
    """The store could not be read (either backend)."""


def is_uri(database):
    return database.startswith(("postgres://", "postgresql://"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd):
    """cmd, run as the server's user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--"] + cmd
    return cmd


class PgCluster:
    """One throwaway PostgreSQL cluster (see the module's docstring)."""

    def __init__(self):
        self.top = None
        self.port = None
        self._watchdog = None
        self._databases = 0

    def start(self):
        t0 = time.monotonic()
        self.top = tempfile.mkdtemp(prefix="passerelle-pg-")
        self.data = os.path.join(self.top, "data")
        self.sock = os.path.join(self.top, "sock")
        os.mkdir(self.sock, 0o700)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            for d in (self.top, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        self.log = os.path.join(self.top, "server.log")
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", PG_USER, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
        self.port = _free_port()
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(SETTINGS.format(port=self.port, sock=self.sock))
        keep = "1" if os.environ.get("PA_KEEP_TEST_DIRS") else "0"
        stop = _as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m",
                                "immediate", "-w", "stop"])
        self._watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, keep, self.top] + stop,
                                          stdin=subprocess.PIPE, start_new_session=True)
        self.start_server()
        _by_port[self.port] = self
        self.started_in = time.monotonic() - t0
        return self

    def _run(self, cmd):
        r = subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (os.path.basename(cmd[0]), r.returncode,
                                                         r.stdout, r.stderr))
        return r.stdout

    def start_server(self):
        """Starts the server (again, after stop_server: same port, same data)."""
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-w",
                   "-t", "60", "start"])

    def stop_server(self, mode="immediate"):
        """Stops the server, by default as a crash would (its clients see
        their connections drop); start_server brings it back."""
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"])

    def psql(self, sql, dbname="postgres"):
        return self._run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v",
                          "ON_ERROR_STOP=1", "-h", self.sock, "-p", str(self.port), "-U", PG_USER,
                          "-d", dbname, "-c", sql])

    def uri(self, dbname):
        return "postgres://%s@127.0.0.1:%d/%s" % (PG_USER, self.port, dbname)

    def create_database(self, prefix="bridge"):
        """A new empty database; returns its URI."""
        self._databases += 1
        name = "%s_%d" % (prefix, self._databases)
        self.psql('CREATE DATABASE "%s" TEMPLATE template0 STRATEGY FILE_COPY' % name)
        return self.uri(name)

    def close(self):
        """Stops the server and removes the cluster (kept with
        PA_KEEP_TEST_DIRS)."""
        w, self._watchdog = self._watchdog, None
        if w is None:
            return
        _by_port.pop(self.port, None)
        w.stdin.close()
        w.wait(60)
        if os.environ.get("PA_KEEP_TEST_DIRS"):
            print("kept", self.top)


_session = None
_by_port = {}  # port -> the PgCluster listening there


def session_cluster():
    """The session's cluster, started on first use."""
    global _session
    if _session is None:
        _session = PgCluster().start()
        atexit.register(close_session_cluster)
    return _session


def close_session_cluster():
    global _session
    if _session is not None:
        _session.close()
        _session = None


def bridge_database(bridge_dir):
    """What a Bridge writes as `database:`: a file in its directory, or a new
    database on the session's cluster."""
    if STORE == "postgres":
        return session_cluster().create_database()
    return os.path.join(bridge_dir, "passerelle.db")


def query(database, sql, params=()):
    """The rows of one statement on the store `database` (a path or a URI),
    read in a connection of its own; `?` marks the parameters."""
    if is_uri(database):
        import psycopg
        if params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        try:
            with psycopg.connect(database, autocommit=True, connect_timeout=5) as con:
                return con.execute(sql, params or None).fetchall()
        except psycopg.Error as e:
            raise StoreError(str(e)) from e
    try:
        con = sqlite3.connect("file:%s?mode=ro" % database, uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise StoreError(str(e)) from e


def check_opened(database):
    """After a bridge's start: on PostgreSQL, its store's tables are in its
    database (a bridge that took the URI for a file name would otherwise
    pass the tests on SQLite)."""
    if is_uri(database):
        n = query(database, "SELECT count(*) FROM information_schema.tables"
                            " WHERE table_name = 'logins'")[0][0]
        assert n == 1, "the bridge did not open its store in " + database


def store_files(database):
    """The files that hold the store: SQLite's database, WAL and shared
    memory; on PostgreSQL the database's own files and the cluster's WAL
    (after a checkpoint, so that they hold what was committed)."""
    if not is_uri(database):
        return [p for p in (database, database + "-wal", database + "-shm")
                if os.path.exists(p)]
    rest = database.split("@", 1)[1]
    c = _by_port[int(rest.split("/", 1)[0].rsplit(":", 1)[1])]
    name = rest.split("/", 1)[1]
    c.psql("CHECKPOINT")
    oid = c.psql("SELECT oid FROM pg_database WHERE datname = '%s'" % name).strip()
    out = []
    for sub in (os.path.join("base", oid), "pg_wal"):
        d = os.path.join(c.data, sub)
        out.extend(os.path.join(d, f) for f in sorted(os.listdir(d))
                   if os.path.isfile(os.path.join(d, f)))
    return out


def main(argv):
    if not argv:
        sys.exit("usage: pg_harness.py COMMAND [ARG...]")
    c = PgCluster().start()
    try:
        env = dict(os.environ, PA_TEST_PG_URI=c.create_database("unit"))
        print("PostgreSQL test cluster on 127.0.0.1:%d, started in %.1f s" % (c.port, c.started_in),
              file=sys.stderr)
        return subprocess.run(argv, env=env).returncode
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
