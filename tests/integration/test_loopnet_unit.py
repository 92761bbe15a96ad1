# SPDX-License-Identifier: AGPL-3.0-or-later
"""End-to-end tests of loopnet.py and the loopback plugin, driven through
tests/plugins/loopback/driver.c (a minimal C host) instead of the real worker.

    python3 -m pytest tests/integration/test_loopnet_unit.py

The plugin and driver are found under $PA_BUILD_ROOT (default
the build/ folder of this checkout), or at $LOOPBACK_PLUGIN / $LOOPBACK_DRIVER.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopnet import LoopNet  # noqa: E402

BUILD = Path(os.environ.get("PA_BUILD_ROOT", Path(__file__).resolve().parents[2] / "build"))
PLUGIN = Path(os.environ.get("LOOPBACK_PLUGIN",
                             BUILD / "tests" / "plugins" / "loopback" / "loopback.so"))
DRIVER = Path(os.environ.get("LOOPBACK_DRIVER",
                             BUILD / "tests" / "plugins" / "loopback" / "loopback-driver"))

ALL_CAPS = (1 << 14) - 1
CAP_PRESENCE = 1 << 10
CAP_DISAPPEARING = 1 << 13

Line = dict[str, Any]


class Driver:
    """The C driver as a subprocess; every line it prints is kept in order."""

    def __init__(self, data_dir: Path, config: dict[str, str] | None = None):
        self.stderr = open(data_dir.parent / f"driver-{time.monotonic_ns()}.err", "w+")
        args = [f"{k}={v}" for k, v in (config or {}).items()]
        self.proc = subprocess.Popen([str(DRIVER), str(PLUGIN), str(data_dir), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        self.lines: list[Line] = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        # The driver runs network->init first, with `config`, as the worker does.
        self.ready = self.wait(lambda ln: ln["call"] == "ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(json.loads(raw))
                self.cond.notify_all()
        with self.cond:
            self.lines.append({"call": "<eof>"})
            self.cond.notify_all()

    def cmd(self, cmd: str, **kw: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def wait(self, pred: Callable[[Line], bool], timeout: float = 5, start: int = 0) -> Line:
        """The first line at index >= start matching pred."""
        found: list[Line] = []

        def match() -> bool:
            found[:] = [ln for ln in self.lines[start:] if pred(ln)][:1]
            return bool(found)

        with self.cond:
            if not self.cond.wait_for(match, timeout):
                dump = "\n".join(json.dumps(ln) for ln in self.lines[start:])
                raise AssertionError(f"no matching driver line in {timeout} s; got:\n{dump}")
        return found[0]

    def since(self, start: int) -> list[Line]:
        with self.cond:
            return list(self.lines[start:])

    def op(self, op: str, op_id: int, timeout: float = 5, **kw: Any) -> Line:
        start = self.mark()
        self.cmd("op", op=op, op_id=op_id, **kw)
        return self.wait(lambda ln: ln["call"] == "op_result" and ln["op_id"] == op_id,
                         timeout, start)

    def close(self) -> None:
        if self.stderr.closed:
            return
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.seek(0)
        err = self.stderr.read()
        self.stderr.close()
        # Sanitizer builds report here; a clean run prints nothing alarming.
        assert "Sanitizer" not in err, err
        assert "runtime error:" not in err, err
        assert "CRITICAL" not in err, err


def state(name: str) -> Callable[[Line], bool]:
    return lambda ln: ln["call"] == "login_state" and ln["state"] == name


def step(kind: str) -> Callable[[Line], bool]:
    return lambda ln: ln["call"] == "login_step" and ln["step"]["kind"] == kind


def emitted(pred: Callable[[dict], bool]) -> Callable[[Line], bool]:
    return lambda ln: ln["call"] == "emit" and pred(ln["event"])


@pytest.fixture()
def net():
    n = LoopNet()
    n.start()
    n.add_user("alice", "secret", "Alice")
    n.add_user("bob", "hunter2", "Bob")
    yield n
    n.stop()


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture()
def drivers(data_dir: Path):
    started: list[Driver] = []

    def make(config: dict[str, str] | None = None) -> Driver:
        drv = Driver(data_dir, config)
        started.append(drv)
        return drv

    yield make
    for drv in started:
        drv.close()


def login(drv: Driver, net: LoopNet, user: str = "alice", password: str = "secret") -> None:
    drv.cmd("new", saved=False)
    drv.wait(lambda ln: ln["call"] == "new" and ln["ok"])
    start = drv.mark()
    drv.cmd("login_start", flow="password")
    drv.wait(step("user_input"), start=start)
    drv.cmd("login_submit", step_id="credentials",
            values={"server": f"127.0.0.1:{net.port}", "username": user, "password": password})
    drv.wait(state("connected"), start=start)
    net.wait_connected(user)


# ---------------------------------------------------------------- descriptor


def test_describe(drivers) -> None:
    drv = drivers()
    drv.cmd("describe")
    d = drv.wait(lambda ln: ln["call"] == "describe")
    assert drv.ready["init_ok"] is True
    assert d["plugin"] == "loopback" and d["display_name"] == "Loopback" and d["version"]
    assert [(k["key"], k["type"], k["default"], k["secret"]) for k in d["config_keys"]] == [
        ("server", "string", "127.0.0.1:4000", False),
        ("reconnect_max_s", "int", "30", False)]
    assert d["capabilities"] == ALL_CAPS & ~CAP_PRESENCE & ~CAP_DISAPPEARING
    assert d["import"] is True and d["all_ops"] is True
    assert [f["id"] for f in d["flows"]] == ["password"]


# ---------------------------------------------------------------- login


def test_login_with_pairing(net: LoopNet, drivers, data_dir: Path) -> None:
    net.add_user("carol", "pw", "Carol", need_pairing=True)
    drv = drivers()
    drv.cmd("new", saved=False)
    drv.cmd("login_start", flow="password")
    form = drv.wait(step("user_input"))["step"]
    assert [(f["id"], f["type"]) for f in form["fields"]] == [
        ("server", "text"), ("username", "text"), ("password", "password")]
    drv.cmd("login_submit", step_id=form["step_id"],
            values={"server": f"127.0.0.1:{net.port}", "username": "carol", "password": "pw"})
    shown = drv.wait(step("display_and_wait"))["step"]
    assert shown["display_text"] == net.pairing_code("carol")
    png = Path(shown["image_path"])
    assert png.parent == data_dir and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not (data_dir / "session.json").exists()
    assert not net.connected("carol")  # no events before pairing

    net.complete_pairing("carol")
    done = drv.wait(step("complete"))["step"]
    assert done["remote_id"] == "carol" and done["remote_name"] == "Carol"
    drv.wait(state("connected"))
    session = data_dir / "session.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert json.loads(session.read_text()) == {
        "server": f"127.0.0.1:{net.port}", "user": "carol", "password": "pw"}
    net.wait_connected("carol")
    hello = net.sent("carol")[0]
    assert hello["op"] == "hello" and hello["password"] == "***"


def test_wrong_password_then_retry(net: LoopNet, drivers, data_dir: Path) -> None:
    drv = drivers()
    drv.cmd("new", saved=False)
    drv.cmd("login_start", flow="password")
    drv.wait(step("user_input"))
    start = drv.mark()
    drv.cmd("login_submit", step_id="credentials",
            values={"server": f"127.0.0.1:{net.port}", "username": "alice", "password": "nope"})
    bad = drv.wait(state("bad_credentials"), start=start)
    assert "refused" in bad["message"]
    again = drv.wait(step("user_input"), start=start)["step"]
    assert "refused" in again["instructions"] and "password" in again["instructions"]
    assert not (data_dir / "session.json").exists()
    assert not any(ln["call"] == "login_state" and ln["state"] == "connected"
                   for ln in drv.since(start))

    drv.cmd("login_submit", step_id="credentials",
            values={"server": f"127.0.0.1:{net.port}", "username": "alice", "password": "secret"})
    drv.wait(step("complete"), start=start)
    drv.wait(state("connected"), start=start)


def test_bad_form_values_ask_again(net: LoopNet, drivers) -> None:
    drv = drivers()
    drv.cmd("new", saved=False)
    start = drv.mark()
    drv.cmd("login_submit", step_id="credentials",
            values={"server": "no-port-here", "username": "alice", "password": "secret"})
    assert "host:port" in drv.wait(step("user_input"), start=start)["step"]["instructions"]
    start = drv.mark()
    drv.cmd("login_submit", step_id="credentials", values={"server": f"127.0.0.1:{net.port}"})
    assert "needed" in drv.wait(step("user_input"), start=start)["step"]["instructions"]
    start = drv.mark()
    drv.cmd("login_start", flow="qr")
    drv.wait(state("unknown_error"), start=start)


def test_login_to_unreachable_server(drivers) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    drv = drivers()
    drv.cmd("new", saved=False)
    drv.cmd("login_submit", step_id="credentials",
            values={"server": f"127.0.0.1:{port}", "username": "alice", "password": "x"})
    drv.wait(state("unknown_error"))
    assert "Could not log in" in drv.wait(step("user_input"))["step"]["instructions"]


def test_login_cancel_during_pairing(net: LoopNet, drivers, data_dir: Path) -> None:
    net.add_user("carol", "pw", "Carol", need_pairing=True)
    drv = drivers()
    drv.cmd("new", saved=False)
    drv.cmd("login_submit", step_id="credentials",
            values={"server": f"127.0.0.1:{net.port}", "username": "carol", "password": "pw"})
    drv.wait(step("display_and_wait"))
    drv.cmd("login_cancel")
    net.wait_disconnected("carol")  # the plugin hung up
    assert not (data_dir / "session.json").exists()


# ---------------------------------------------------------------- events


def test_message_with_media_is_acked_only_after_persisted(net: LoopNet, drivers,
                                                          data_dir: Path) -> None:
    drv = drivers()
    login(drv, net)
    drv.cmd("auto_persist", value=False)
    payload = os.urandom(200_000)
    ev = net.deliver("alice", {
        "ev": "message", "chat": "c1", "chat_kind": "group", "chat_name": "Team",
        "from": "bob", "from_name": "Bob", "text": "look", "ts": 1_700_000_000_000,
        "media": {"name": "../../etc/cat pic.png", "mimetype": "image/png",
                  "data_b64": base64.b64encode(payload).decode(), "width": 4, "height": 3}})
    line = drv.wait(emitted(lambda e: e["type"] == "message"))
    e = line["event"]
    assert e["message_id"] == ev["id"] and e["chat_id"] == "c1" and e["sender_id"] == "bob"
    assert e["ts"] == 1_700_000_000_000 and e["from_me"] is False and e["stream_order"] == ev["seq"]
    c = e["content"]
    assert c["kind"] == "image" and c["text"] == "look" and c["size"] == len(payload)
    assert (c["width"], c["height"], c["media_name"]) == (4, 3, "../../etc/cat pic.png")
    media = Path(c["media_path"])
    assert media.parent == data_dir / "media"  # no escape from the media dir
    assert media.read_bytes() == payload
    assert e["chat"]["kind"] == "group" and e["chat"]["name"] == "Team"
    assert e["contact"] == {"id": "bob", "name": "Bob", "power": 0}

    time.sleep(0.3)
    assert [u["id"] for u in net.unacked("alice")] == [ev["id"]]
    assert not any(op["op"] == "ack" for op in net.sent("alice"))
    drv.cmd("persist", seq=line["seq"])
    net.wait_acked("alice", ev["id"])
    assert net.unacked("alice") == []
    ack = net.wait_sent("alice", lambda op: op["op"] == "ack")
    assert ack["seq"] == ev["seq"]


def test_unacked_events_are_redelivered_after_reconnect(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    drv.cmd("auto_persist", value=False)
    first = net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob", "text": "one"})
    second = net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob", "text": "two"})
    l1 = drv.wait(emitted(lambda e: e.get("message_id") == first["id"]))
    drv.wait(emitted(lambda e: e.get("message_id") == second["id"]))
    drv.cmd("persist", seq=l1["seq"])  # only the first one is stored by the host
    net.wait_acked("alice", first["id"])
    time.sleep(0.3)
    assert [e["id"] for e in net.unacked("alice")] == [second["id"]]

    start = drv.mark()
    net.disconnect("alice")
    drv.wait(state("transient_disconnect"), start=start)
    net.wait_connected("alice", timeout=10, count=2)
    drv.wait(state("connected"), start=start)
    again = drv.wait(emitted(lambda e: e.get("message_id") == second["id"]), start=start)
    assert again["event"]["content"]["text"] == "two"
    assert not any(ln["call"] == "emit" and ln["event"].get("message_id") == first["id"]
                   for ln in drv.since(start))
    drv.cmd("persist", seq=again["seq"])
    net.wait_acked("alice", second["id"])
    assert net.unacked("alice") == []


def test_event_types(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    start = drv.mark()
    events = [
        {"ev": "message", "id": "x1", "chat": "c1", "from": "bob", "text": "hi",
         "html": "<b>hi</b>", "reply_to": "x0", "emote": True},
        {"ev": "edit", "chat": "c1", "from": "bob", "target": "x1", "text": "hey"},
        {"ev": "reaction", "chat": "c1", "from": "bob", "target": "x1", "key": "👍"},
        {"ev": "reaction", "chat": "c1", "from": "bob", "target": "x1", "key": "👍",
         "remove": True},
        {"ev": "delete", "chat": "c1", "from": "bob", "target": "x1"},
        {"ev": "typing", "chat": "c1", "from": "bob", "typing": True, "timeout_ms": 5000},
        {"ev": "read", "chat": "c1", "from": "bob", "id": "x1"},
        {"ev": "chat", "id": "c1", "kind": "group", "name": "Team", "topic": "t",
         "members": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob",
                                                       "power": 100}]},
        {"ev": "contact", "id": "bob", "name": "Bobby", "identifier": "bob@loop"},
        {"ev": "presence", "from": "bob", "presence": "online"},
        {"ev": "message", "chat": "c1", "from": "bob", "location": {"latitude": 48.85,
                                                                    "longitude": 2.35}},
    ]
    for ev in events:
        net.deliver("alice", ev)
    want = ["message", "edit", "reaction", "reaction_remove", "delete", "typing",
            "read_receipt", "chat_info", "contact_info", "presence", "message"]
    deadline = time.monotonic() + 5
    got: list[dict] = []
    while time.monotonic() < deadline and len(got) < len(want):
        got = [ln["event"] for ln in drv.since(start) if ln["call"] == "emit"]
        time.sleep(0.02)
    assert [e["type"] for e in got] == want
    msg, edit, react, unreact, delete, typing, read, chat, contact, presence, loc = got
    assert msg["content"]["kind"] == "emote" and msg["content"]["html"] == "<b>hi</b>"
    assert msg["content"]["reply_to"] == "x0"
    assert edit["target_id"] == "x1" and edit["content"]["text"] == "hey"
    assert react["reaction_key"] == "👍" and unreact["target_id"] == "x1"
    assert delete["target_id"] == "x1"
    assert typing["typing"] is True and typing["typing_timeout_ms"] == 5000
    assert read["message_id"] == "x1" and read["sender_id"] == "bob"
    assert chat["chat"]["members_complete"] is True and chat["chat"]["topic"] == "t"
    assert [m["power"] for m in chat["chat"]["members"]] == [0, 100]
    assert contact["contact"]["identifier"] == "bob@loop"
    assert presence["presence"] == "online"
    assert loc["content"]["kind"] == "location" and loc["content"]["latitude"] == 48.85
    deadline = time.monotonic() + 5
    while net.unacked("alice") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert net.unacked("alice") == []


def test_invalid_event_is_dropped_and_acked(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    drv.cmd("auto_persist", value=False)
    bad = net.deliver("alice", {"ev": "message", "from": "bob", "text": "no chat"})
    odd = net.deliver("alice", {"ev": "weather", "chat": "c1"})
    good = net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob", "text": "ok"})
    drv.wait(emitted(lambda e: e.get("message_id") == good["id"]))
    net.wait_acked("alice", bad["id"])
    net.wait_acked("alice", f"seq:{odd['seq']}")
    assert [e["id"] for e in net.unacked("alice")] == [good["id"]]
    drv.wait(lambda ln: ln["call"] == "log" and "unknown event type" in ln["message"])


# ---------------------------------------------------------------- sends and echoes


def test_send_is_echoed_with_txn(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    net.add_chat("c1", "group", ["alice", "bob"], name="Team")
    start = drv.mark()
    res = drv.op("send", 7, chat_id="c1", txn_id="txn-1",
                 content={"kind": "text", "text": "hello", "html": "<i>hello</i>",
                          "reply_to": None})
    assert res["ok"] is True and res["code"] == "ok" and res["legacy_id"]
    echo = drv.wait(emitted(lambda e: e["type"] == "message"), start=start)["event"]
    assert echo["from_me"] is True and echo["txn_id"] == "txn-1"
    assert echo["message_id"] == res["legacy_id"] and echo["sender_id"] == "alice"
    assert echo["content"]["html"] == "<i>hello</i>"
    sent = net.wait_sent("alice", lambda op: op["op"] == "send")
    assert sent["txn"] == "txn-1" and sent["text"] == "hello" and sent["emote"] is False
    # The other member got it, without our txn.
    bob = [e for e in net.unacked("bob") if e["ev"] == "message"]
    assert bob and bob[0]["id"] == res["legacy_id"] and "txn" not in bob[0]
    # The echo is acked once persisted, like any event.
    deadline = time.monotonic() + 5
    while net.unacked("alice") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert net.acked_ids("alice") == [res["legacy_id"]]


def test_send_media_and_errors(net: LoopNet, drivers, tmp_path: Path) -> None:
    drv = drivers()
    login(drv, net)
    net.add_chat("c1", "dm", ["alice", "bob"])
    f = tmp_path / "doc.pdf"
    blob = os.urandom(50_000)
    f.write_bytes(blob)
    res = drv.op("send", 1, chat_id="c1", txn_id="t1",
                 content={"kind": "file", "media_path": str(f), "mimetype": "application/pdf",
                          "media_name": "report.pdf"})
    assert res["ok"] is True
    sent = net.wait_sent("alice", lambda op: op["op"] == "send")
    assert sent["media"]["name"] == "report.pdf" and sent["media"]["kind"] == "file"
    assert base64.b64decode(sent["media"]["data_b64"]) == blob
    # The echo carries the media back as a file under data_dir/media.
    echo = drv.wait(emitted(lambda e: e.get("txn_id") == "t1"))["event"]
    assert Path(echo["content"]["media_path"]).read_bytes() == blob

    # Order is kept: a text sent right after a media send reaches the net after it.
    drv.cmd("op", op="send", op_id=2, chat_id="c1", txn_id="t2",
            content={"kind": "image", "media_path": str(f)})
    drv.cmd("op", op="send", op_id=3, chat_id="c1", txn_id="t3",
            content={"kind": "text", "text": "after"})
    drv.wait(lambda ln: ln["call"] == "op_result" and ln["op_id"] == 3)
    txns = [op.get("txn") for op in net.sent("alice") if op["op"] == "send"]
    assert txns == ["t1", "t2", "t3"]

    assert "no such chat" in drv.op("send", 4, chat_id="nope", txn_id="t4",
                                    content={"kind": "text", "text": "x"})["error"]
    missing = drv.op("send", 5, chat_id="c1", content={"kind": "image",
                                                        "media_path": str(tmp_path / "gone")})
    assert missing["ok"] is False
    net.fail_next("alice", "send", "rate limited")
    assert drv.op("send", 6, chat_id="c1", content={"kind": "text", "text": "x"})["error"] == \
        "rate limited"
    assert drv.op("send", 8, chat_id="c1", content={"kind": "text"})["ok"] is False


def test_operations(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    net.add_contact("dave", "Dave Delta", identifier="+33600000000")
    net.add_chat("g", "group", ["alice", "bob"], name="Group")
    ids = [drv.op("send", 100 + i, chat_id="g", content={"kind": "text", "text": f"m{i}"})
           ["legacy_id"] for i in range(5)]

    assert drv.op("edit", 1, chat_id="g", target_id=ids[0],
                  content={"kind": "text", "text": "edited"})["ok"]
    assert net.messages("g")[0]["text"] == "edited"
    assert drv.op("react", 2, chat_id="g", target_id=ids[1], key="🎉")["ok"]
    assert drv.op("react", 3, chat_id="g", target_id=ids[1], key="🎉", remove=True)["ok"]
    assert drv.op("redact", 4, chat_id="g", target_id=ids[4])["ok"]
    assert drv.op("redact", 5, chat_id="g", target_id="zzz")["ok"] is False
    assert drv.op("mark_read", 6, chat_id="g", message_id=ids[3])["ok"]
    assert drv.op("typing", 7, chat_id="g", typing=True)["ok"]
    assert drv.op("set_chat_info", 8, chat_id="g", field="name", value="Renamed")["ok"]
    assert net.chat("g")["name"] == "Renamed"
    assert drv.op("set_chat_info", 9, chat_id="g", field="disappearing", value="60")["ok"] is False
    assert drv.op("set_membership", 10, chat_id="g", user_id="dave", join=True)["ok"]
    assert "dave" in net.chat("g")["members"]
    bob_types = [e["ev"] for e in net.unacked("bob")]
    assert {"edit", "reaction", "delete", "read", "typing", "chat"} <= set(bob_types)

    start = drv.mark()
    assert drv.op("list_contacts", 11)["ok"]
    contacts = [ln["contact"]["id"] for ln in drv.since(start)
                if ln["call"] == "op_contact" and ln["op_id"] == 11]
    assert sorted(contacts) == ["bob", "dave"]

    start = drv.mark()
    assert drv.op("resolve_identifier", 12, identifier="+33600000000")["ok"]
    assert [ln["contact"]["id"] for ln in drv.since(start) if ln["call"] == "op_contact"] == \
        ["dave"]
    start = drv.mark()
    assert drv.op("resolve_identifier", 13, identifier="delta", mode="search")["ok"]
    assert [ln["contact"]["name"] for ln in drv.since(start) if ln["call"] == "op_contact"] == \
        ["Dave Delta"]

    start = drv.mark()
    res = drv.op("create_dm", 14, user_id="bob")
    assert res["ok"] and res["legacy_id"] == "dm:alice:bob"
    info = [ln for ln in drv.since(start) if ln["call"] in ("emit", "op_result")]
    assert info[0]["call"] == "emit" and info[0]["event"]["type"] == "chat_info"
    assert info[0]["event"]["chat"]["kind"] == "dm"
    assert drv.op("create_dm", 15, user_id="nobody")["ok"] is False

    start = drv.mark()
    res = drv.op("create_group", 16, name="New", user_ids=["bob", "dave"])
    assert res["ok"]
    chat = drv.wait(emitted(lambda e: e["type"] == "chat_info"), start=start)["event"]["chat"]
    assert chat["id"] == res["legacy_id"] and chat["name"] == "New"
    assert sorted(m["id"] for m in chat["members"]) == ["alice", "bob", "dave"]

    start = drv.mark()
    assert drv.op("get_chat_info", 17, chat_id="g")["legacy_id"] == "g"
    assert drv.wait(emitted(lambda e: e["type"] == "chat_info"), start=start)["event"][
        "chat"]["name"] == "Renamed"
    start = drv.mark()
    assert drv.op("get_user_info", 18, user_id="dave")["legacy_id"] == "dave"
    assert drv.wait(emitted(lambda e: e["type"] == "contact_info"), start=start)["event"][
        "contact"]["name"] == "Dave Delta"

    # History, backwards in pages of 2: [m2 m3] then [edited m1] (m4 was deleted).
    start = drv.mark()
    page = drv.op("fetch_history", 19, chat_id="g", count=2)
    assert page["ok"] and page["cursor"] == ids[2] and "legacy_id" not in page
    got = [ln["event"] for ln in drv.since(start) if ln["call"] == "emit"]
    assert [e["type"] for e in got] == ["message", "message", "backfill_end"]
    assert [e["message_id"] for e in got[:2]] == [ids[2], ids[3]]
    assert all(e["from_me"] for e in got[:2]) and got[2]["chat_id"] == "g"
    start = drv.mark()
    page = drv.op("fetch_history", 20, chat_id="g", count=2, cursor=ids[2])
    got = [ln["event"] for ln in drv.since(start) if ln["call"] == "emit"]
    assert [e.get("message_id") for e in got] == [ids[0], ids[1], None]
    assert got[0]["content"]["text"] == "edited"
    assert "cursor" not in page  # no more
    start = drv.mark()
    page = drv.op("fetch_history", 22, chat_id="g", count=3, forward=True, cursor=ids[0])
    got = [ln["event"]["message_id"] for ln in drv.since(start)
           if ln["call"] == "emit" and ln["event"]["type"] == "message"]
    assert got == [ids[1], ids[2], ids[3]] and "cursor" not in page


def test_ops_fail_when_offline(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    drv.cmd("disconnect")
    res = drv.op("send", 1, chat_id="c1", content={"kind": "text", "text": "x"})
    assert res["ok"] is False and "Not connected" in res["error"]
    assert res["code"] == "not_connected"  # the host retries it once connected
    time.sleep(1.3)  # no reconnect after an explicit disconnect
    assert not net.connected("alice") and net.connections("alice") == 1
    drv.cmd("connect")
    net.wait_connected("alice", count=2)


def test_logout(net: LoopNet, drivers, data_dir: Path) -> None:
    drv = drivers()
    login(drv, net)
    assert (data_dir / "session.json").exists()
    start = drv.mark()
    assert drv.op("logout", 1)["ok"]
    drv.wait(state("logged_out"), start=start)
    assert not (data_dir / "session.json").exists()
    time.sleep(1.3)
    assert not net.connected("alice") and net.connections("alice") == 1


# ---------------------------------------------------------------- saved sessions


def test_saved_session_reconnects_without_steps(net: LoopNet, drivers) -> None:
    first = drivers()
    login(first, net)
    first.close()
    drv = drivers()
    drv.cmd("new", saved=True)
    drv.wait(state("connected"))
    net.wait_connected("alice", count=2)
    assert not any(ln["call"] == "login_step" for ln in drv.since(0))
    ev = net.deliver("alice", {"ev": "message", "chat": "c9", "from": "bob", "text": "back"})
    drv.wait(emitted(lambda e: e.get("message_id") == ev["id"]))
    net.wait_acked("alice", ev["id"])


def test_saved_session_survives_network_outage(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    port = net.port
    start = drv.mark()
    net.stop()
    drv.wait(state("transient_disconnect"), start=start)
    held = net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob", "text": "held"})
    drv.wait(lambda ln: ln["call"] == "login_state" and ln["state"] == "transient_disconnect"
             and "retrying in 2 s" in ln["message"], timeout=5, start=start)
    net.start(port)
    net.wait_connected("alice", timeout=10, count=2)
    drv.wait(state("connected"), start=start)
    drv.wait(emitted(lambda e: e.get("message_id") == held["id"]), start=start)


def test_saved_session_with_changed_password(net: LoopNet, drivers) -> None:
    first = drivers()
    login(first, net)
    first.close()
    net.set_password("alice", "changed")
    drv = drivers()
    drv.cmd("new", saved=True)
    drv.wait(state("bad_credentials"))
    time.sleep(1.3)
    assert net.connections("alice") == 1  # no retry loop on refused credentials


def test_missing_saved_session(drivers) -> None:
    drv = drivers()
    drv.cmd("new", saved=True)
    assert drv.wait(lambda ln: ln["call"] == "new")["ok"] is True
    assert "log in again" in drv.wait(state("bad_credentials"))["message"]


# ---------------------------------------------------------------- import


def test_import_file(drivers, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"chats": [
        {"id": "c1", "name": "Old team", "messages": [
            {"id": "b", "from": "bob", "from_name": "Bob", "ts": 2000, "text": "second",
             "reply_to": "a"},
            {"id": "a", "from": "carol", "from_name": "Carol", "ts": 1000, "text": "first"},
            {"id": "bad", "from": "bob", "text": "no ts"}]},
        {"id": "c2", "messages": [
            {"id": "z", "from": "bob", "ts": 5, "text": "dm"}]}]}))
    drv = drivers()
    drv.cmd("import", path=str(export))
    done = drv.wait(lambda ln: ln["call"] == "import_done")
    assert done["ok"] is True
    evs = [ln["event"] for ln in drv.since(0) if ln["call"] == "emit"]
    assert [(e["type"], e.get("message_id")) for e in evs] == [
        ("chat_info", None), ("message", "a"), ("message", "b"),
        ("chat_info", None), ("message", "z")]
    assert evs[0]["chat"]["name"] == "Old team" and evs[0]["chat"]["kind"] == "group"
    assert evs[3]["chat"]["kind"] == "dm"
    assert evs[2]["content"]["reply_to"] == "a" and evs[2]["ts"] == 2000
    assert "skipped 1" in drv.wait(lambda ln: ln["call"] == "notice")["text"]

    start = drv.mark()
    drv.cmd("import", path=str(export), chat="c2")
    drv.wait(lambda ln: ln["call"] == "import_done", start=start)
    assert [ln["event"]["chat_id"] for ln in drv.since(start) if ln["call"] == "emit"] == \
        ["c2", "c2"]

    for bad in (tmp_path / "missing.json", tmp_path / "garbage.json"):
        if bad.name == "garbage.json":
            bad.write_text("{not json")
        start = drv.mark()
        drv.cmd("import", path=str(bad))
        done = drv.wait(lambda ln: ln["call"] == "import_done", start=start)
        assert done["ok"] is False and done["error"]


# ---------------------------------------------------------------- loopnet alone


def _raw(port: int) -> tuple[socket.socket, Any]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s, s.makefile("rb")


def _send(s: socket.socket, obj: dict) -> None:
    s.sendall(json.dumps(obj).encode() + b"\n")


def test_loopnet_protocol_directly(net: LoopNet) -> None:
    s, f = _raw(net.port)
    _send(s, {"op": "hello", "user": "alice", "password": "bad"})
    assert json.loads(f.readline()) == {"re": "hello", "ok": False,
                                        "error": "invalid user name or password"}
    assert f.readline() == b""  # the network hangs up
    s.close()

    ev = net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob", "text": "x"})
    s, f = _raw(net.port)
    _send(s, {"op": "send", "req": 1, "chat": "c1", "text": "early"})
    assert json.loads(f.readline())["ok"] is False  # not logged in yet
    _send(s, {"op": "hello", "user": "alice", "password": "secret"})
    hello = json.loads(f.readline())
    assert hello["ok"] and hello["user_id"] == "alice" and hello["need_pairing"] is False
    got = json.loads(f.readline())
    assert got["id"] == ev["id"] and got["seq"] == ev["seq"]
    net.wait_connected("alice")

    # A second session replaces the first one.
    s2, f2 = _raw(net.port)
    _send(s2, {"op": "hello", "user": "alice", "password": "secret"})
    assert json.loads(f2.readline())["ok"]
    assert json.loads(f2.readline())["id"] == ev["id"]  # still unacked: redelivered
    assert f.readline() == b""
    _send(s2, {"op": "ack", "seq": ev["seq"]})
    net.wait_acked("alice", ev["id"])
    _send(s2, {"op": "bogus", "req": 9})
    assert json.loads(f2.readline()) == {"re": 9, "ok": False, "error": "unknown op bogus"}
    s.close()
    s2.close()


def test_line_longer_than_16_mib_drops_the_connection(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    start = drv.mark()
    net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob",
                          "text": "x" * (16 * 1024 * 1024 + 10)})
    lost = drv.wait(state("transient_disconnect"), start=start, timeout=10)
    assert "longer than 16 MiB" in lost["message"]
    assert not any(ln["call"] == "emit" for ln in drv.since(start))


# ---------------------------------------------------------------- SDK 2: typed results


def test_result_codes(net: LoopNet, drivers, tmp_path: Path) -> None:
    """Each failure loopnet (or the plugin itself) can produce maps to one
    PaResultCode, which decides what the host does (retry, tell the agent)."""
    drv = drivers()
    login(drv, net)
    net.add_contact("dave", "Dave")
    net.add_chat("g", "group", ["alice", "bob"], name="Group")
    net.add_chat("dm", "dm", ["alice", "bob"])
    net.add_chat("theirs", "group", ["bob", "dave"])
    bobs = net.deliver("alice", {"ev": "message", "chat": "g", "from": "bob", "text": "mine"})
    n = iter(range(1, 100))

    def code(op: str, **kw: Any) -> str:
        res = drv.op(op, next(n), **kw)
        assert res["ok"] is (res["code"] == "ok") and (res["ok"] or res["error"])
        return res["code"]

    text = {"kind": "text", "text": "x"}
    assert code("send", chat_id="g", content=text) == "ok"
    assert code("send", chat_id="nope", content=text) == "not_found"
    assert code("send", chat_id="theirs", content=text) == "forbidden"
    assert code("edit", chat_id="g", target_id=bobs["id"], content=text) == "forbidden"
    assert code("redact", chat_id="g", target_id="zzz") == "not_found"
    assert code("react", chat_id="nope", target_id="x", key="👍") == "not_found"
    assert code("set_membership", chat_id="dm", user_id="dave", join=True) == "unsupported"
    assert code("set_membership", chat_id="g", user_id="nobody", join=True) == "not_found"
    assert code("set_chat_info", chat_id="g", field="disappearing", value="60") == "unsupported"
    assert code("create_dm", user_id="nobody") == "not_found"
    assert code("create_group", name="x", user_ids=["nobody"]) == "not_found"
    assert code("get_user_info", user_id="nobody") == "not_found"
    assert code("get_chat_info", chat_id="theirs") == "forbidden"
    # Refused by the plugin before the network sees them.
    assert code("send", chat_id="g", content={"kind": "text"}) == "permanent"
    assert code("send", chat_id="g", content={"kind": "image",
                                              "media_path": str(tmp_path / "gone")}) == "permanent"
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (5 * 1024 * 1024 + 1))
    assert code("set_chat_info", chat_id="g", field="avatar", value=str(big)) == "too_large"
    # Failures scripted on the network: its sentence decides the code.
    for error, want in (("rate limited", "rate_limited"), ("try again later", "temporary"),
                        ("too large for this chat", "too_large"), ("boom", "permanent")):
        net.fail_next("alice", "send", error)
        res = drv.op("send", next(n), chat_id="g", content=text)
        assert (res["code"], res["error"]) == (want, error)
    assert code("send", chat_id="g", content=text) == "ok"


def test_history_answers_with_a_cursor(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    net.add_chat("g", "group", ["alice", "bob"])
    ids = [drv.op("send", 10 + i, chat_id="g", content={"kind": "text", "text": f"m{i}"})
           ["legacy_id"] for i in range(3)]
    page = drv.op("fetch_history", 1, chat_id="g", count=2)
    # SDK 2: the next cursor has its own member; legacy_id stays for created ids.
    assert page["code"] == "ok" and page["cursor"] == ids[1] and "legacy_id" not in page


# ---------------------------------------------------------------- SDK 2: events


def test_reaction_sync_and_presence_status(net: LoopNet, drivers) -> None:
    drv = drivers()
    login(drv, net)
    start = drv.mark()
    net.deliver("alice", {"ev": "reactions", "chat": "c1", "from": "bob", "target": "x1",
                          "keys": ["👍", "🎉"]})
    net.deliver("alice", {"ev": "reactions", "chat": "c1", "from": "bob", "target": "x1",
                          "keys": []})
    net.deliver("alice", {"ev": "presence", "from": "bob", "presence": "unavailable",
                          "status": "at lunch"})
    bad = net.deliver("alice", {"ev": "reactions", "chat": "c1", "from": "bob", "target": "x1",
                                "keys": "👍,🎉"})
    sync = drv.wait(emitted(lambda e: e["type"] == "reaction_sync"), start=start)["event"]
    assert sync["reaction_keys"] == ["👍", "🎉"] and sync["target_id"] == "x1"
    assert "reaction_key" not in sync
    drv.wait(emitted(lambda e: e["type"] == "presence"), start=start)
    sync2 = [ln["event"] for ln in drv.since(start)
             if ln["call"] == "emit" and ln["event"]["type"] == "reaction_sync"]
    assert [e["reaction_keys"] for e in sync2] == [["👍", "🎉"], []]
    presence = drv.wait(emitted(lambda e: e["type"] == "presence"), start=start)["event"]
    assert presence["presence"] == "unavailable" and presence["status_text"] == "at lunch"
    net.wait_acked("alice", f"seq:{bad['seq']}")  # a comma string is not a key list


# ---------------------------------------------------------------- SDK 2: files


def _media_event(payload: bytes) -> dict:
    return {"ev": "message", "chat": "c1", "from": "bob", "text": "pic",
            "media": {"name": "p.png", "mimetype": "image/png",
                      "data_b64": base64.b64encode(payload).decode()}}


def test_redelivered_media_gets_a_new_file(net: LoopNet, drivers, data_dir: Path) -> None:
    """An emitted media file is the host's: a redelivery must not rewrite it."""
    drv = drivers()
    login(drv, net)
    drv.cmd("auto_persist", value=False)
    ev = net.deliver("alice", _media_event(b"first"))
    one = drv.wait(emitted(lambda e: e.get("message_id") == ev["id"]))["event"]
    first = Path(one["content"]["media_path"])
    start = drv.mark()
    net.disconnect("alice")  # not acked: the net delivers it again
    two = drv.wait(emitted(lambda e: e.get("message_id") == ev["id"]), start=start,
                   timeout=10)["event"]
    second = Path(two["content"]["media_path"])
    assert first != second and first.parent == second.parent == data_dir / "media"
    assert first.read_bytes() == second.read_bytes() == b"first"


def test_refused_media_file_is_deleted(net: LoopNet, drivers, data_dir: Path) -> None:
    """Ownership of a media file passes to the host only when emit accepts it."""
    drv = drivers()
    login(drv, net)
    drv.cmd("refuse", value=True)
    ev = net.deliver("alice", _media_event(b"unwanted"))
    line = drv.wait(emitted(lambda e: e.get("message_id") == ev["id"]))
    assert line["refused"] is True and line["seq"] == 0
    # The driver prints the refusal inside emit(); the plugin deletes after it returns.
    path = Path(line["event"]["content"]["media_path"])
    deadline = time.monotonic() + 10
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not path.exists()
    net.wait_acked("alice", ev["id"])  # nothing for the host to persist: dropped


def test_media_over_the_budget_arrives_as_a_notice(net: LoopNet, drivers,
                                                   data_dir: Path) -> None:
    drv = drivers()
    login(drv, net)
    drv.cmd("budget", bytes=100)
    ev = net.deliver("alice", _media_event(os.urandom(1000)))
    e = drv.wait(emitted(lambda e: e.get("message_id") == ev["id"]))["event"]
    c = e["content"]
    assert c["kind"] == "notice" and c["flags"] == 4 and "media_path" not in c  # NOT_INCLUDED
    assert "file not received: p.png" in c["text"] and "budget" in c["text"]
    assert not list((data_dir / "media").glob("*"))
    net.wait_acked("alice", ev["id"])  # delivered, so acked: no redelivery loop
    drv.cmd("budget", bytes=-1)
    ev = net.deliver("alice", _media_event(b"fits"))
    e = drv.wait(emitted(lambda e: e.get("message_id") == ev["id"]))["event"]
    assert Path(e["content"]["media_path"]).read_bytes() == b"fits"


# ---------------------------------------------------------------- SDK 2: configuration


def test_config_server_is_the_form_default(net: LoopNet, drivers) -> None:
    drv = drivers({"server": f"127.0.0.1:{net.port}"})
    drv.cmd("new", saved=False)
    drv.cmd("login_start", flow="password")
    form = drv.wait(step("user_input"))["step"]
    assert form["fields"][0]["id"] == "server"
    assert form["fields"][0]["default"] == f"127.0.0.1:{net.port}"


def test_config_reconnect_max_s_caps_the_backoff(net: LoopNet, drivers) -> None:
    drv = drivers({"reconnect_max_s": "1"})
    login(drv, net)
    start = drv.mark()
    port = net.port
    net.stop()
    for _ in range(2):
        drv.wait(lambda ln: ln["call"] == "login_state"
                 and ln["state"] == "transient_disconnect" and "retrying in 1 s" in ln["message"],
                 timeout=5, start=start)
        start = drv.mark()
    assert not any("retrying in 2 s" in (ln.get("message") or "") for ln in drv.since(0))
    net.start(port)
    drv.wait(state("connected"), start=start, timeout=10)


def test_config_defaults(drivers) -> None:
    """A host that sends no value (or 0, which an int key cannot tell from
    unset) gets the defaults: the form proposes 127.0.0.1:4000."""
    drv = drivers({"reconnect_max_s": "0"})
    assert drv.ready["init_ok"] is True
    drv.cmd("new", saved=False)
    drv.cmd("login_start", flow="password")
    assert drv.wait(step("user_input"))["step"]["fields"][0]["default"] == "127.0.0.1:4000"


@pytest.mark.parametrize("value", ["-1", "3601"])
def test_bad_config_fails_init(data_dir: Path, value: str) -> None:
    proc = subprocess.run([str(DRIVER), str(PLUGIN), str(data_dir), f"reconnect_max_s={value}"],
                          input="", capture_output=True, text=True, timeout=10)
    ready = [json.loads(x) for x in proc.stdout.splitlines()
             if json.loads(x)["call"] == "ready"][0]
    assert ready["init_ok"] is False and "reconnect_max_s" in ready["error"]
    assert proc.returncode == 1
