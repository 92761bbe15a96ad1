# SPDX-License-Identifier: AGPL-3.0-or-later
"""Integration harness: a real Synapse (from PyPI) and a real Passerelle on
loopback, each in a throwaway directory, plus matrix-nio clients.

Nothing here is mocked: Synapse loads the registration that `passerelle -g`
wrote, Passerelle talks to it over HTTP, and the agents are matrix-nio
clients.  The legacy network is loopnet (tests/integration/loopnet.py),
reached by the real loopback plugin inside a real worker process.
"""

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

import pg_harness

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get("PA_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
PASSERELLE = os.path.join(BUILD_ROOT, "src", "passerelle")
LOOPBACK_SO = os.path.join(BUILD_ROOT, "tests", "plugins", "loopback", "loopback.so")
SHARED_SECRET = "passerelle-test-shared-secret"
# Which homeserver the tests run on: "plain" (Synapse as shipped) or "tchap"
# (Synapse with Tchap's room access rules module, on room version 10).
FLAVOUR = os.environ.get("PA_SYNAPSE_FLAVOUR", "plain")
if FLAVOUR not in ("plain", "tchap"):
    raise RuntimeError("PA_SYNAPSE_FLAVOUR must be plain or tchap, not %r" % FLAVOUR)
# A server the `restricted` rule keeps out (Tchap lists its external servers).
TCHAP_FORBIDDEN_DOMAIN = "externe.example"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=30, raw=False, headers=None):
    """Plain HTTP for the tests that play the homeserver or poke the admin API."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if token:
        hdrs["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            payload = r.read()
            return r.status, (payload if raw else (json.loads(payload) if payload else {}))
    except urllib.error.HTTPError as e:
        payload = e.read()
        try:
            return e.code, json.loads(payload)
        except ValueError:
            return e.code, payload


def wait_until(pred, timeout=30, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Synapse:
    def __init__(self, workdir, registration):
        # registration: a file, or a list of them (several bridge instances).
        self.dir = os.path.join(workdir, "synapse")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.registration = registration
        self.proc = None
        self.config = os.path.join(self.dir, "homeserver.yaml")
        self._write_config()

    def _write_config(self):
        d = self.dir
        log_config = os.path.join(d, "log.yaml")
        with open(log_config, "w") as f:
            yaml.safe_dump({
                "version": 1,
                "formatters": {"p": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
                "handlers": {"file": {"class": "logging.FileHandler", "formatter": "p",
                                      "filename": os.path.join(d, "homeserver.log")}},
                "root": {"level": "WARNING", "handlers": ["file"]},
                "loggers": {"synapse.appservice": {"level": "INFO"}},
                "disable_existing_loggers": False,
            }, f)
        fast = {"per_second": 10000, "burst_count": 100000}
        cfg = {
            "server_name": "localhost",
            "pid_file": os.path.join(d, "homeserver.pid"),
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                           "tls": False, "x_forwarded": False,
                           "resources": [{"names": ["client", "openid"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": os.path.join(d, "homeserver.db")}},
            "log_config": log_config,
            "media_store_path": os.path.join(d, "media"),
            "signing_key_path": os.path.join(d, "signing.key"),
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "registration_shared_secret": SHARED_SECRET,
            "macaroon_secret_key": "test-macaroon",
            "form_secret": "test-form",
            "enable_registration": False,
            "app_service_config_files": ([self.registration] if isinstance(self.registration, str)
                                         else list(self.registration)),
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "max_upload_size": "100M",
            "rc_message": fast,
            "rc_registration": fast,
            "rc_login": {"address": fast, "account": fast, "failed_attempts": fast},
            "rc_joins": {"local": fast, "remote": fast},
            "rc_joins_per_room": fast,
            "rc_invites": {"per_room": fast, "per_user": fast, "per_issuer": fast},
            "rc_admin_redaction": fast,
            "rc_room_creation": fast,
            "rc_presence": {"per_user": fast},
            "rc_delayed_event_mgmt": fast,
        }
        if FLAVOUR == "tchap":
            # Tchap's rules: every room carries im.vector.room.access_rules,
            # a `direct` room holds only its two first members and has no
            # name, topic or avatar, and creation may not lower `invite` or
            # `state_default`.  The module's release predates room version
            # 12's creator rules, so the rooms are version 10 there.
            cfg["modules"] = [{"module": "room_access_rules.RoomAccessRules",
                               "config": {"id_server": "identite.localhost",
                                          "domains_forbidden_when_restricted":
                                              [TCHAP_FORBIDDEN_DOMAIN]}}]
            cfg["default_room_version"] = "10"
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)
        subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "-c", self.config,
                        "--generate-keys"], check=True, capture_output=True)

    def start(self):
        self.log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "synapse.app.homeserver",
                                      "-c", self.config], stdout=self.log, stderr=subprocess.STDOUT)
        def up():
            if self.proc.poll() is not None:
                raise AssertionError("synapse exited: see " + self.dir)
            try:
                return http("GET", self.url + "/_matrix/client/versions", timeout=2)[0] == 200
            except OSError:
                return False
        wait_until(up, timeout=90, what="synapse to start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def queued_for_appservice(self, event_ids):
        """Whether Synapse holds each of `event_ids` in a stored appservice
        transaction.  While the bridge is down, an event is stored in one
        before any retry; a test restarting the bridge waits for that, since
        Synapse can strand a transaction created just as its recoverer
        finishes (it is then sent only after the next failure)."""
        import sqlite3
        try:
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "homeserver.db"),
                                 uri=True, timeout=5)
            try:
                rows = db.execute("SELECT event_ids FROM application_services_txns").fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return False
        held = set()
        for (ids,) in rows:
            held.update(json.loads(ids))
        return set(event_ids) <= held

    def appservice_backlog(self):
        """How many transactions Synapse still holds for the appservice
        (-1 when its database cannot be read now)."""
        import sqlite3
        try:
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "homeserver.db"),
                                 uri=True, timeout=5)
            try:
                return db.execute("SELECT count(*) FROM application_services_txns").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return -1

    def register(self, user, password, admin=False):
        """Shared-secret registration (the admin API register_new_matrix_user uses)."""
        _, nonce = http("GET", self.url + "/_synapse/admin/v1/register")
        mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce["nonce"].encode(), user.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        status, body = http("POST", self.url + "/_synapse/admin/v1/register", {
            "nonce": nonce["nonce"], "username": user, "password": password,
            "admin": admin, "mac": mac.hexdigest()})
        assert status == 200, body
        return body["access_token"]


class Bridge:
    """A Passerelle process with its config, registration and data dir."""

    def __init__(self, workdir, plugins=(LOOPBACK_SO,), ministry_plugins=("loopback",),
                 limits=None, nofile=None, plugin_config=None, sandbox_read=(),
                 provisioning=None, name="bridge", appservice=None, workers=None):
        # limits: extra keys of the config's limits: section; nofile: the
        # process's RLIMIT_NOFILE (soft and hard), to test exhaustion;
        # plugin_config: the config's plugins: section ({name: {key: value}});
        # sandbox_read: folders the workers' sandbox may read besides its own;
        # name: its directory in workdir; appservice: keys of the config's
        # appservice: section replacing the defaults (another instance's id,
        # bot and ghost prefix).
        self.limits = dict(limits or {})
        self.plugin_config = dict(plugin_config or {})
        self.sandbox_read = list(sandbox_read)
        self.provisioning = provisioning  # the config's provisioning: section
        self.workers = dict(workers or {})  # more keys of the config's workers: section
        self.nofile = nofile
        self.appservice = dict(appservice or {})
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        # A file here, or a database of its own on the tests' PostgreSQL
        # (PA_STORE=postgres; pg_harness.py).
        self.database = pg_harness.bridge_database(self.dir)
        self.plugin_dir = os.path.join(self.dir, "plugins")
        os.makedirs(self.plugin_dir, exist_ok=True)
        for p in plugins:
            dst = os.path.join(self.plugin_dir, os.path.basename(p))
            if not os.path.exists(dst):
                os.symlink(p, dst)
        self.as_port = free_port()
        self.config = os.path.join(self.dir, "config.yaml")
        self.registration = os.path.join(self.dir, "registration.yaml")
        self.ministry_plugins = list(ministry_plugins)
        self.proc = None
        self.log_path = os.path.join(self.dir, "passerelle.log")

    def write_config(self, hs_url):
        cfg = {
            "homeserver": {"address": hs_url, "domain": "localhost"},
            "appservice": {
                "id": "passerelle",
                "address": "http://127.0.0.1:%d" % self.as_port,
                "bind": "127.0.0.1",
                "port": self.as_port,
                "bot": {"localpart": "passerelle", "displayname": "Passerelle"},
                "ghost_prefix": "_pa_",
                **self.appservice,
            },
            "database": self.database,
            "data_dir": os.path.join(self.dir, "data"),
            "plugin_dir": self.plugin_dir,
            "bridge": {"encryption_default": False, "history_visibility": "invited",
                       "command_prefix": "!pa"},
            "workers": {"restart_max_delay_s": 2,
                        **({"sandbox_read": self.sandbox_read} if self.sandbox_read else {}),
                        **self.workers},
            **({"limits": self.limits} if self.limits else {}),
            **({"plugins": self.plugin_config} if self.plugin_config else {}),
            **({"provisioning": self.provisioning} if self.provisioning else {}),
            "ministries": [{"name": "test", "domains": ["localhost"],
                            "plugins": self.ministry_plugins}],
            "permissions": {"*": "relay", "localhost": "user", "@admin:localhost": "admin",
                            "@blocked:localhost": "block"},
        }
        # Keep tokens across rewrites (the registration Synapse loaded has them).
        if os.path.exists(self.config):
            with open(self.config) as f:
                old = yaml.safe_load(f)
            for k in ("as_token", "hs_token"):
                if old["appservice"].get(k):
                    cfg["appservice"][k] = old["appservice"][k]
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)

    def generate_registration(self):
        subprocess.run([PASSERELLE, "-g", "-c", self.config, "-r", self.registration],
                       check=True, capture_output=True)
        with open(self.config) as f:
            cfg = yaml.safe_load(f)
        self.as_token = cfg["appservice"]["as_token"]
        self.hs_token = cfg["appservice"]["hs_token"]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.as_port

    def db(self, sql, params=()):
        """The rows of one read of the store, whichever its backend
        (pg_harness.query; raises pg_harness.StoreError)."""
        return pg_harness.query(self.database, sql, params)

    def store_files(self):
        return pg_harness.store_files(self.database)

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self._log_start = self.log.tell()
        env = dict(os.environ, G_MESSAGES_DEBUG=os.environ.get("PA_TEST_DEBUG", ""))
        cmd = [PASSERELLE, "-c", self.config]
        if os.environ.get("PA_VALGRIND"):
            # memcheck on the host (workers are separate processes, not traced).
            self.valgrind_log = os.path.join(self.dir, "valgrind-%d.log" % time.time_ns())
            supp = os.path.join(SOURCE_ROOT, "tests", "valgrind.supp")
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--suppressions=" + supp,
                   "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                   "--log-file=" + self.valgrind_log] + cmd
        preexec = None
        if self.nofile:
            import resource
            nofile = self.nofile

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=preexec)
        if wait:
            wait_until(lambda: self._log_contains("ready as") or self._dead(), timeout=120,
                       what="passerelle to start")
            assert not self._dead(), "passerelle exited: " + self.tail()
            pg_harness.check_opened(self.database)

    def _dead(self):
        return self.proc.poll() is not None

    def _log_contains(self, text):
        """Whether this run's part of the log (not an earlier run's) has text."""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return text.encode() in f.read()

    def tail(self, n=40):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60 if os.environ.get("PA_VALGRIND") else 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if os.environ.get("PA_VALGRIND"):
                with open(self.valgrind_log) as f:
                    report = f.read()
                assert self.proc.returncode != 99, "valgrind found errors:\n" + report[-4000:]

    def worker_pids(self):
        """PIDs of this bridge's worker processes (children running passerelle-worker)."""
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if ppid == self.proc.pid and os.path.basename(cmd[0]) == b"passerelle-worker":
                pids.append((int(pid), [c.decode(errors="replace") for c in cmd]))
        return pids


class Stack:
    """Synapse + Passerelle in one throwaway directory."""

    def __init__(self, **bridge_kwargs):
        self.workdir = tempfile.mkdtemp(prefix="passerelle-it-")
        self.bridge = Bridge(self.workdir, **bridge_kwargs)
        self.bridge.write_config("http://127.0.0.1:1")  # address fixed below
        self.synapse = Synapse(self.workdir, self.bridge.registration)
        self.bridge.write_config(self.synapse.url)
        self.bridge.generate_registration()

    def start(self):
        self.synapse.start()
        self.bridge.start()

    def close(self):
        self.bridge.stop()
        self.synapse.stop()
        if os.environ.get("PA_KEEP_TEST_DIRS"):
            print("kept", self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


# Matrix's default sync shows 10 events per room and cuts the rest (a
# "limited" timeline); tests ask for more, and fill any cut (Agent.gap).
SYNC_FILTER = {"room": {"timeline": {"limit": 200}}}


class Agent:
    """A matrix-nio client driven synchronously (one private event loop)."""

    def __init__(self, stack, localpart, password="secret-password", admin=False):
        from nio import AsyncClient
        self.loop = asyncio.new_event_loop()
        self.mxid = "@%s:localhost" % localpart
        stack.synapse.register(localpart, password, admin=admin)
        self.client = AsyncClient(stack.synapse.url, self.mxid)
        self.events = {}   # room_id -> [event dicts (source)]
        self.invites = set()
        self.invite_state = {}  # room_id -> stripped state events of the invite
        resp = self.run(self.client.login(password))
        assert getattr(resp, "access_token", None), resp
        self.since = None
        self.sync()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def sync(self, timeout_ms=0):
        before = self.since
        resp = self.run(self.client.sync(timeout=timeout_ms, since=self.since, full_state=False,
                                         sync_filter=SYNC_FILTER))
        self.since = resp.next_batch
        for room_id, info in resp.rooms.invite.items():
            self.invites.add(room_id)
            self.invite_state.setdefault(room_id, []).extend(
                getattr(e, "source", None) or {} for e in info.invite_state)
        for room_id, info in resp.rooms.join.items():
            lst = self.events.setdefault(room_id, [])
            lst.extend(self.gap(room_id, info.timeline, before))
            for ev in info.timeline.events:
                lst.append(ev.source)
            for ev in info.state:
                lst.append(ev.source)
        return resp

    def gap(self, room_id, timeline, before):
        """The events a limited sync left out, oldest first: a real client
        back-paginates them, and a test that skipped them would miss messages
        that did arrive."""
        if not timeline.limited or before is None or not timeline.prev_batch:
            return []
        from nio import RoomMessagesResponse
        out, token = [], timeline.prev_batch
        while True:
            resp = self.run(self.client.room_messages(room_id, start=token, end=before, limit=100))
            assert isinstance(resp, RoomMessagesResponse), resp
            out.extend(e.source for e in resp.chunk)
            if not resp.chunk or not resp.end or resp.end == token:
                break
            token = resp.end
        out.reverse()
        return out

    def wait(self, pred, timeout=30, what="event"):
        deadline = time.monotonic() + timeout
        while True:
            found = pred(self)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s" % what)
            self.sync(timeout_ms=500)

    def inviter(self, room_id):
        for e in self.invite_state.get(room_id, []):
            if e.get("type") == "m.room.member" and e.get("state_key") == self.mxid:
                return e.get("sender")
        return None

    def invite_name(self, room_id):
        for e in self.invite_state.get(room_id, []):
            if e.get("type") == "m.room.name":
                return e.get("content", {}).get("name")
        return None

    def join(self, room_id):
        resp = self.run(self.client.join(room_id))
        assert getattr(resp, "room_id", None), resp
        self.invites.discard(room_id)
        self.events.setdefault(room_id, [])
        self.sync()
        return room_id

    def wait_invite(self, pred=lambda a, r: True, timeout=30):
        def check(a):
            for r in list(a.invites):
                if pred(a, r):
                    return r
            return None
        return self.wait(check, timeout, "an invite")

    def send(self, room_id, content, event_type="m.room.message"):
        resp = self.run(self.client.room_send(room_id, event_type, content,
                                              ignore_unverified_devices=True))
        assert getattr(resp, "event_id", None), resp
        return resp.event_id

    def text(self, room_id, body):
        return self.send(room_id, {"msgtype": "m.text", "body": body})

    def messages(self, room_id, sender=None, msgtype=None):
        out = []
        for ev in self.events.get(room_id, []):
            if ev.get("type") not in ("m.room.message", "m.sticker"):
                continue
            if sender and ev.get("sender") != sender:
                continue
            if msgtype and ev.get("content", {}).get("msgtype") != msgtype:
                continue
            out.append(ev)
        return out

    def bodies(self, room_id, sender=None):
        return [e["content"].get("body") for e in self.messages(room_id, sender)]

    def state(self, room_id, event_type, state_key=""):
        resp = self.run(self.client.room_get_state_event(room_id, event_type, state_key))
        return getattr(resp, "content", None)

    def history(self, room_id, limit=1000):
        """All events of a room, oldest first, straight from /messages."""
        from nio import RoomMessagesResponse
        out, token = [], ""
        while True:
            resp = self.run(self.client.room_messages(room_id, start=token, limit=100,
                                                      direction="f"))
            assert isinstance(resp, RoomMessagesResponse), resp
            out.extend(e.source for e in resp.chunk)
            if not resp.end or not resp.chunk or len(out) >= limit:
                return out
            token = resp.end

    def upload(self, data, mimetype, name):
        import io
        resp, _ = self.run(self.client.upload(io.BytesIO(data), content_type=mimetype,
                                              filename=name, filesize=len(data)))
        return resp.content_uri

    def download(self, mxc):
        resp = self.run(self.client.download(mxc=mxc))
        return resp.body

    def close(self):
        self.run(self.client.close())
        self.loop.close()


def open_management_room(agent, bridge_bot="@passerelle:localhost"):
    """The agent opens a DM with the bot, the way a Tchap user would."""
    resp = agent.run(agent.client.room_create(invite=[bridge_bot], is_direct=True))
    room_id = resp.room_id
    agent.events.setdefault(room_id, [])
    agent.wait(lambda a: any(e.get("sender") == bridge_bot and e.get("type") == "m.room.message"
                             for e in a.events.get(room_id, [])), what="the bot's welcome")
    return room_id


def bot_says(agent, room_id, fragment, after=0, bot="@passerelle:localhost"):
    """The bot's messages in a room (from index `after`) containing fragment."""
    msgs = agent.messages(room_id, sender=bot)[after:]
    return [m for m in msgs if fragment.lower() in m["content"].get("body", "").lower()]
