# SPDX-License-Identifier: AGPL-3.0-or-later
"""Controller of the fake TDLib (tests/plugins/faketd/), the stand-in for
libtdjson.so that the Telegram plugin's test build loads.

The plugin's real code runs in a real worker; only TDLib is replaced.  The
fake writes the port it listens on to <login data dir>/tdlib/faketd.port
(TDLib's database_directory) once the plugin sent setTdlibParameters; this
class connects there, sees every request the plugin sends (JSON lines
{"request": ...}) and answers or pushes TDLib objects ({"deliver": ...}).

    td = FakeTd.connect(data_dir)            # waits for the port file
    td.on("getMe", lambda req: {...})        # answer rule; None leaves it
    td.scenario(path)                        # rules + updates from a file
    td.deliver(obj)                          # an update (or an answer)
    req = td.wait_request("sendMessage", pred, timeout=30)
    td.answer(req, obj)                      # obj with req's @extra
    td.requests                              # every request, in order
    td.check_schema()                        # each request against td_api.tl
    td.close()

Scenario files (tests/data/tdlib/scenarios/*.json) hold
{"answers": {method: object or [objects in turn, the last repeating]},
 "after": {method: [objects delivered after answering it]},
 "updates": [objects delivered at once]}: TDLib objects as in td_api.tl.
"""

import copy
import glob
import json
import os
import socket
import threading
import time

from td_schema import Schema, names_missing_from_lib, request_names

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(SOURCE_ROOT, "tests", "data", "tdlib", "scenarios")
# The directory under a login's data dir that TDLib (and so the fake) uses.
TD_DIR = "tdlib"
PORT_FILE = "faketd.port"

_schema = None


def schema():
    global _schema
    if _schema is None:
        _schema = Schema()
    return _schema


def fake_lib(build_root):
    return os.path.join(build_root, "tests", "plugins", "faketd", "libtdjson.so")


def fake_plugin(build_root):
    return os.path.join(build_root, "tests", "plugins", "telegram-fake", "telegram.so")


def port_files(bridge_dir):
    return glob.glob(os.path.join(bridge_dir, "data", "**", TD_DIR, PORT_FILE), recursive=True)


def find_data_dir(bridge_dir, exclude=(), newer_than=0.0, timeout=60):
    """The data dir of the newest login whose fake TDLib is listening, not
    among `exclude` (data dirs), port written after `newer_than`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cands = []
        for p in port_files(bridge_dir):
            d = os.path.dirname(os.path.dirname(p))
            try:
                m = os.stat(p).st_mtime
            except OSError:
                continue
            if d not in exclude and m >= newer_than:
                cands.append((m, d))
        if cands:
            return max(cands)[1]
        time.sleep(0.05)
    raise AssertionError("no fake TDLib listening under %s" % bridge_dir)


class FakeTd:
    def __init__(self, data_dir, sock):
        self.data_dir = data_dir
        self.sock = sock
        self.requests = []       # every request seen, in order
        self.answered = set()    # indexes of answered requests
        self.taken = set()       # indexes returned by wait_request
        self.rules = {}          # method -> fn(req) -> object or None
        self.after = {}          # method -> [objects delivered after its answer]
        self.cond = threading.Condition()
        self.wlock = threading.Lock()
        self.closed = False
        self.send_errors = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def connect(cls, data_dir, timeout=30):
        """Connects to the fake of the login whose data dir is data_dir."""
        path = os.path.join(data_dir, TD_DIR, PORT_FILE)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    port = int(f.read().strip())
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.settimeout(None)
                return cls(data_dir, sock)
            except (OSError, ValueError) as e:
                last = e
                time.sleep(0.05)
        raise AssertionError("cannot reach the fake TDLib of %s: %r" % (data_dir, last))

    # ------------------------------------------------------------ wire

    def _send(self, obj):
        line = (json.dumps({"deliver": obj}) + "\n").encode()
        with self.wlock:
            try:
                self.sock.sendall(line)
            except OSError as e:
                # The worker went away (a login ended, the bridge stopped):
                # what it would have read is of no use now.
                self.send_errors.append(e)

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                req = msg.get("request")
                if isinstance(req, dict):
                    self._on_request(req)
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _on_request(self, req):
        with self.cond:
            i = len(self.requests)
            self.requests.append(req)
            self.cond.notify_all()
        self._apply_rule(i)

    def _apply_rule(self, i):
        with self.cond:
            if i in self.answered:
                return
            req = self.requests[i]
            fn = self.rules.get(req.get("@type"))
        if fn is None:
            return
        obj = fn(req)
        if obj is None:
            return
        with self.cond:
            if i in self.answered:
                return
            self.answered.add(i)
        self.answer(req, obj)
        for u in self.after.get(req.get("@type"), []):
            self.deliver(copy.deepcopy(u))

    # ------------------------------------------------------------- API

    def on(self, method, fn):
        """Answers `method` with fn(request) (None: leave it unanswered),
        including requests already seen and not yet answered."""
        with self.cond:
            self.rules[method] = fn
            todo = [i for i, r in enumerate(self.requests)
                    if r.get("@type") == method and i not in self.answered]
        for i in todo:
            self._apply_rule(i)

    def on_list(self, method, objects):
        """Answers `method` with these objects in turn, the last repeating."""
        objects = list(objects) if isinstance(objects, list) else [objects]
        state = {"n": 0}

        def fn(req):
            obj = objects[min(state["n"], len(objects) - 1)]
            state["n"] += 1
            return copy.deepcopy(obj)
        self.on(method, fn)

    def scenario(self, path):
        """Loads a scenario file (a name is looked up in tests/data/tdlib/scenarios)."""
        if not os.path.exists(path) and os.path.exists(os.path.join(SOURCE_ROOT, path)):
            path = os.path.join(SOURCE_ROOT, path)
        elif not os.path.exists(path):
            path = os.path.join(SCENARIOS, path if path.endswith(".json") else path + ".json")
        with open(path) as f:
            sc = json.load(f)
        for method, objs in sc.get("after", {}).items():
            self.after[method] = list(objs)
        for method, objs in sc.get("answers", {}).items():
            self.on_list(method, objs)
        for u in sc.get("updates", []):
            self.deliver(copy.deepcopy(u))
        return sc

    def deliver(self, obj):
        """Pushes one TDLib object out of the plugin's td_receive."""
        self._send(obj)

    def state(self, state_type, **fields):
        """Delivers updateAuthorizationState with that state."""
        st = {"@type": state_type}
        st.update(fields)
        self.deliver({"@type": "updateAuthorizationState", "authorization_state": st})

    def answer(self, req, obj):
        """Answers the request req with obj (its @extra added)."""
        obj = dict(obj)
        obj["@extra"] = req.get("@extra")
        with self.cond:
            for i, r in enumerate(self.requests):
                if r is req:
                    self.answered.add(i)
        self._send(obj)

    def error(self, req, code, message):
        self.answer(req, {"@type": "error", "code": code, "message": message})

    def mark(self):
        with self.cond:
            return len(self.requests)

    def wait_request(self, method, pred=lambda r: True, timeout=30, after=0):
        """The first request of `method` (from index `after`) for which
        pred holds, not returned by an earlier wait_request."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.requests)):
                    r = self.requests[i]
                    if i not in self.taken and r.get("@type") == method and pred(r):
                        self.taken.add(i)
                        return r
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    seen = [r.get("@type") for r in self.requests[after:]]
                    raise AssertionError("no %s request from the plugin (saw %s)" % (method, seen))
                self.cond.wait(min(left, 0.5))

    def sent(self, method):
        with self.cond:
            return [r for r in self.requests if r.get("@type") == method]

    def check_schema(self):
        """Every request so far against td_api.tl (and its names against the
        real libtdjson.so of PA_FAKE_TDJSON_REAL); raises listing the problems."""
        problems = []
        with self.cond:
            reqs = list(self.requests)
        names = set()
        for r in reqs:
            problems += schema().check_request(r)
            names |= request_names(r)
        # The names also against the TDLib the tests run, when there is one.
        real = os.environ.get("PA_FAKE_TDJSON_REAL")
        if real and os.path.exists(real):
            problems += ["%s is not in %s" % (n, real) for n in names_missing_from_lib(real, names)]
        if problems:
            raise AssertionError("requests that TDLib would refuse:\n  " + "\n  ".join(problems))
        return len(reqs)

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
