# SPDX-License-Identifier: AGPL-3.0-or-later
"""loopnet — a scriptable fake legacy network for Passerelle's integration tests.

The loopback plugin (tests/plugins/loopback/loopback.so) connects to it over
TCP on 127.0.0.1 and speaks newline-delimited JSON (one object per line; the
wire is documented in tests/plugins/loopback/README.md).  Tests run a LoopNet
in-process and script it:

    net = LoopNet()
    port = net.start()
    net.add_user("alice", "pw", "Alice")
    net.add_user("bob", "pw", "Bob")
    net.deliver("alice", {"ev": "message", "chat": "c1", "from": "bob", "text": "hi"})
    op = net.wait_sent("alice", lambda op: op["op"] == "send", timeout=5)
    net.stop()

Like a real network it keeps each user's events until the client acknowledges
them ({"op":"ack","seq":N}) and delivers the unacknowledged ones again, with
the same ids, on the user's next connection; it echoes a user's own sends back
to that user (with the client's "txn") and fans messages out to the other
members of a chat who are users of the network.

Standard library only; thread-safe: every public method may be called from
any thread.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import queue
import secrets
import socket
import struct
import threading
import time
import zlib
from typing import Any, Callable

MAX_LINE = 160 * 1024 * 1024  # a 100 MiB file, base64-encoded, plus the JSON around it

Event = dict[str, Any]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _png(code: str) -> bytes:
    """A small greyscale PNG whose pattern depends on `code` (a stand-in for a QR code)."""
    size = 16
    seed = hashlib.sha256(code.encode()).digest()
    rows = b""
    for y in range(size):
        row = bytes(255 if (seed[(y * size + x) // 8 % 32] >> (x % 8)) & 1 else 0
                    for x in range(size))
        rows += b"\x00" + row

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class _Conn:
    """One client connection: a reader thread and a writer thread."""

    def __init__(self, net: "LoopNet", sock: socket.socket):
        self.net = net
        self.sock = sock
        self.user: str | None = None
        self.online = False  # authenticated and paired: events flow
        self.pairing = False
        self.closed = False
        self.outq: queue.Queue[bytes | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read_loop, daemon=True,
                                       name="loopnet-reader")
        self.writer = threading.Thread(target=self._write_loop, daemon=True,
                                       name="loopnet-writer")

    def start(self) -> None:
        self.reader.start()
        self.writer.start()

    def send(self, obj: dict) -> None:
        """Queue one line; callers hold the net's lock, so lines keep their order."""
        if not self.closed:
            self.outq.put(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def close(self, graceful: bool = False) -> None:
        """Stop the connection: at once, or (graceful) after the queued lines."""
        if self.closed:
            return
        self.closed = True
        self.online = False
        if not graceful:
            self._shutdown()
        self.outq.put(None)

    def _shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _write_loop(self) -> None:
        while True:
            data = self.outq.get()
            if data is None:
                break
            try:
                self.sock.sendall(data)
            except OSError:
                break
        self._shutdown()
        self.sock.close()

    def _read_loop(self) -> None:
        f = self.sock.makefile("rb")
        try:
            while True:
                line = f.readline(MAX_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_LINE or not line.endswith(b"\n"):
                    break
                try:
                    op = json.loads(line)
                except ValueError:
                    break
                if not isinstance(op, dict):
                    break
                self.net._handle(self, op)
        except OSError:
            pass
        finally:
            f.close()
            self.net._closed(self)


class _User:
    def __init__(self, user_id: str, password: str, name: str, need_pairing: bool):
        self.id = user_id
        self.password = password
        self.name = name
        self.need_pairing = need_pairing
        self.conn: _Conn | None = None
        self.next_seq = 0
        self.unacked: dict[int, Event] = {}  # seq → event, in seq order
        self.acked: list[Event] = []
        self.sent: list[dict] = []
        self.connections = 0  # successful logins, to tell reconnects apart
        self.fail: dict[str, list[str]] = {}  # op → errors to answer with, in order
        self.pairing_code: str | None = None


class LoopNet:
    """The fake network.  See the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._users: dict[str, _User] = {}
        self._contacts: dict[str, dict] = {}  # id → {"id","name",…}
        self._chats: dict[str, dict] = {}  # id → {"id","kind","name","topic","members":[ids]}
        self._messages: dict[str, list[dict]] = {}  # chat → messages in order
        self._conns: set[_Conn] = set()
        self._counter = 0
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> int:
        """Listen on 127.0.0.1:`port` (0: any free port); returns the port."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
        self._listener = s
        self.port = s.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name="loopnet-accept")
        self._accept_thread.start()
        return self.port

    def stop(self) -> None:
        """Close the listener and every connection; state (users, queues) is kept,
        so start(port) again simulates a network outage."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        self._listener = None
        self._accept_thread = None
        with self._lock:
            conns = list(self._conns)
            for c in conns:
                c.close()
        for c in conns:
            c.reader.join(5)
            c.writer.join(5)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            c = _Conn(self, sock)
            with self._lock:
                self._conns.add(c)
            c.start()

    # ------------------------------------------------------------ scripting

    def add_user(self, user_id: str, password: str, name: str,
                 need_pairing: bool = False) -> None:
        """Create an account that can log in (and a contact others can reach)."""
        with self._lock:
            self._users[user_id] = _User(user_id, password, name, need_pairing)
            self._contacts[user_id] = {"id": user_id, "name": name}

    def add_contact(self, contact_id: str, name: str, identifier: str | None = None) -> None:
        """A contact that exists on the network but never logs in."""
        with self._lock:
            c = {"id": contact_id, "name": name}
            if identifier is not None:
                c["identifier"] = identifier
            self._contacts[contact_id] = c

    def add_chat(self, chat_id: str, kind: str, members: list[str], name: str | None = None,
                 topic: str | None = None) -> None:
        with self._lock:
            self._chats[chat_id] = {"id": chat_id, "kind": kind, "name": name, "topic": topic,
                                    "members": list(members)}
            self._messages.setdefault(chat_id, [])

    def set_password(self, user: str, password: str) -> None:
        with self._lock:
            self._users[user].password = password

    def fail_next(self, user: str, op: str, error: str) -> None:
        """Answer `user`'s next `op` request with ok=false and `error`."""
        with self._lock:
            self._users[user].fail.setdefault(op, []).append(error)

    def complete_pairing(self, user: str) -> None:
        """The user confirmed the pairing code on another device."""
        with self._lock:
            u = self._users[user]
            u.need_pairing = False
            c = u.conn
            if c is not None and c.pairing:
                c.pairing = False
                c.send({"ev": "paired"})
                self._go_online(u, c)

    def deliver(self, user: str, event: Event) -> Event:
        """Queue `event` for `user` (pushed now if online) until acknowledged.
        Assigns "seq", an "id" to messages and edits that lack one, and "ts".
        Returns the event as queued."""
        with self._lock:
            ev = copy.deepcopy(event)
            kind = ev.get("ev")
            if kind in ("message", "edit") and "id" not in ev:
                ev["id"] = self._new_id()
            ev.setdefault("ts", _now_ms())
            if kind == "message":
                self._record_message(user, ev)
            elif kind == "chat" and "id" in ev:
                members = [m["id"] for m in ev.get("members", []) if "id" in m]
                self._chats[ev["id"]] = {"id": ev["id"], "kind": ev.get("kind", "group"),
                                         "name": ev.get("name"), "topic": ev.get("topic"),
                                         "members": members or [user]}
                self._messages.setdefault(ev["id"], [])
            elif kind == "contact" and "id" in ev:
                self._contacts.setdefault(ev["id"], {"id": ev["id"]}).update(
                    {k: v for k, v in ev.items() if k in ("name", "identifier")})
            return self._queue(user, ev)

    def disconnect(self, user: str) -> None:
        """Drop the user's TCP connection (the plugin should reconnect)."""
        with self._lock:
            c = self._users[user].conn
            if c is not None:
                c.close()

    # ------------------------------------------------------------ inspection

    def sent(self, user: str) -> list[dict]:
        """Every request the user's clients sent, in order (hello passwords masked)."""
        with self._lock:
            return copy.deepcopy(self._users[user].sent)

    def wait_sent(self, user: str, pred: Callable[[dict], bool], timeout: float = 5) -> dict:
        """The first request of `user` matching `pred`, waiting up to `timeout` s."""
        with self._cond:
            u = self._users[user]
            found: list[dict] = []

            def match() -> bool:
                found[:] = [op for op in u.sent if pred(op)][:1]
                return bool(found)

            if not self._cond.wait_for(match, timeout):
                raise TimeoutError(f"{user} sent nothing matching in {timeout} s")
            return copy.deepcopy(found[0])

    def wait_connected(self, user: str, timeout: float = 5, count: int = 1) -> None:
        """Wait until `user` is online on its `count`-th connection (or a later one)."""
        with self._cond:
            u = self._users[user]
            ok = self._cond.wait_for(lambda: u.conn is not None and u.conn.online
                                     and u.connections >= count, timeout)
            if not ok:
                raise TimeoutError(f"{user} not connected (#{count}) in {timeout} s")

    def wait_disconnected(self, user: str, timeout: float = 5) -> None:
        """Wait until `user` has no connection at all (not even one pairing)."""
        with self._cond:
            u = self._users[user]
            if not self._cond.wait_for(lambda: u.conn is None, timeout):
                raise TimeoutError(f"{user} still connected after {timeout} s")

    def wait_acked(self, user: str, event_id: str, timeout: float = 5) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: event_id in self.acked_ids(user), timeout):
                raise TimeoutError(f"{user} did not ack {event_id} in {timeout} s")

    def connected(self, user: str) -> bool:
        with self._lock:
            c = self._users[user].conn
            return c is not None and c.online

    def connections(self, user: str) -> int:
        with self._lock:
            return self._users[user].connections

    def pairing_code(self, user: str) -> str | None:
        """The code last shown to `user`'s client for pairing."""
        with self._lock:
            return self._users[user].pairing_code

    def unacked(self, user: str) -> list[Event]:
        with self._lock:
            return copy.deepcopy(list(self._users[user].unacked.values()))

    def acked_ids(self, user: str) -> list[str]:
        """Ids (or "seq:N" for events without one) of the events the user acknowledged."""
        with self._lock:
            return [e.get("id", f"seq:{e['seq']}") for e in self._users[user].acked]

    def messages(self, chat: str) -> list[dict]:
        """The chat's history as the network stores it."""
        with self._lock:
            return copy.deepcopy(self._messages.get(chat, []))

    def chat(self, chat: str) -> dict | None:
        with self._lock:
            return copy.deepcopy(self._chats.get(chat))

    # ------------------------------------------------------------ internals

    def _new_id(self) -> str:
        self._counter += 1
        return f"m{self._counter}"

    def _queue(self, user: str, ev: Event) -> Event:
        u = self._users[user]
        u.next_seq += 1
        ev["seq"] = u.next_seq
        u.unacked[u.next_seq] = ev
        if u.conn is not None and u.conn.online:
            u.conn.send(ev)
        self._cond.notify_all()
        return copy.deepcopy(ev)

    def _record_message(self, user: str, ev: Event) -> None:
        chat = ev.get("chat")
        if not isinstance(chat, str):
            return
        if chat not in self._chats:
            members = [m for m in (user, ev.get("from")) if isinstance(m, str)]
            self._chats[chat] = {"id": chat, "kind": ev.get("chat_kind", "group"),
                                 "name": ev.get("chat_name"), "topic": None,
                                 "members": list(dict.fromkeys(members))}
        members = self._chats[chat]["members"]
        for m in (user, ev.get("from")):
            if isinstance(m, str) and m not in members:
                members.append(m)
        if isinstance(ev.get("from"), str) and ev["from"] not in self._contacts:
            self._contacts[ev["from"]] = {"id": ev["from"], "name": ev.get("from_name")}
        msgs = self._messages.setdefault(chat, [])
        if not any(m["id"] == ev["id"] for m in msgs):
            stored = {k: v for k, v in ev.items() if k not in ("ev", "seq", "txn")}
            msgs.append(stored)

    def _go_online(self, u: _User, c: _Conn) -> None:
        c.online = True
        u.connections += 1
        for ev in u.unacked.values():  # redelivery: same seq, same ids
            c.send(ev)
        self._cond.notify_all()

    def _closed(self, c: _Conn) -> None:
        with self._lock:
            c.close()
            self._conns.discard(c)
            if c.user is not None:
                u = self._users.get(c.user)
                if u is not None and u.conn is c:
                    u.conn = None
            self._cond.notify_all()

    def _chat_obj(self, chat_id: str) -> dict:
        ch = self._chats[chat_id]
        obj = {"id": ch["id"], "kind": ch["kind"],
               "members": [self._contacts.get(m, {"id": m}) for m in ch["members"]]}
        for k in ("name", "topic"):
            if ch.get(k) is not None:
                obj[k] = ch[k]
        return obj

    def _fanout(self, sender: str, chat: str, ev: Event) -> None:
        """Deliver `ev` to the chat's other members who are users of the network."""
        for m in self._chats[chat]["members"]:
            if m != sender and m in self._users:
                self._queue(m, copy.deepcopy(ev))

    def _find(self, chat: str, target: Any) -> dict | None:
        for m in self._messages.get(chat, []):
            if m["id"] == target and not m.get("deleted"):
                return m
        return None

    def _handle(self, c: _Conn, op: dict) -> None:
        with self._lock:
            name = op.get("op")
            if name == "hello":
                self._hello(c, op)
                return
            if c.user is None or not c.online:
                c.send({"re": op.get("req"), "ok": False, "error": "not logged in"})
                return
            u = self._users[c.user]
            u.sent.append(copy.deepcopy(op))
            self._cond.notify_all()
            if name == "ack":
                ev = u.unacked.pop(op.get("seq"), None)
                if ev is not None:
                    u.acked.append(ev)
                    self._cond.notify_all()
                return
            req = op.get("req")
            errors = u.fail.get(name) if isinstance(name, str) else None
            if errors:
                c.send({"re": req, "ok": False, "error": errors.pop(0)})
                return
            try:
                answer, after = self._op(u, op)
            except _Refused as e:
                c.send({"re": req, "ok": False, "error": str(e)})
                return
            c.send({"re": req, "ok": True, **answer})
            if after is not None:
                after()

    def _hello(self, c: _Conn, op: dict) -> None:
        u = self._users.get(op.get("user"))  # type: ignore[arg-type]
        if u is not None:
            u.sent.append({**op, "password": "***"})
        if u is None or not isinstance(op.get("password"), str) or op["password"] != u.password:
            c.send({"re": "hello", "ok": False, "error": "invalid user name or password"})
            c.close(graceful=True)
            return
        if u.conn is not None and u.conn is not c:
            u.conn.close()  # a newer session replaces the old one
        u.conn = c
        c.user = u.id
        c.send({"re": "hello", "ok": True, "user_id": u.id, "name": u.name,
                "need_pairing": u.need_pairing})
        if u.need_pairing:
            c.pairing = True
            code = f"{secrets.token_hex(2).upper()}-{secrets.randbelow(10000):04d}"
            u.pairing_code = code
            c.send({"ev": "pairing", "code": code,
                    "png_b64": base64.b64encode(_png(code)).decode()})
        else:
            self._go_online(u, c)

    def _op(self, u: _User, op: dict) -> tuple[dict, Callable[[], None] | None]:
        """Performs one request; returns the answer's members and what to do after
        answering (echoes and fan-out come after the answer, as on a real network)."""
        name = op.get("op")
        chat = op.get("chat")

        def need_chat() -> dict:
            if not isinstance(chat, str) or chat not in self._chats:
                raise _Refused(f"no such chat: {chat}")
            if u.id not in self._chats[chat]["members"]:
                raise _Refused(f"not a member of {chat}")
            return self._chats[chat]

        def need_target() -> dict:
            need_chat()
            m = self._find(chat, op.get("target"))  # type: ignore[arg-type]
            if m is None:
                raise _Refused(f"no such message: {op.get('target')}")
            return m

        if name == "send":
            ch = need_chat()
            if not isinstance(op.get("text"), str) and "media" not in op and "location" not in op:
                raise _Refused("empty message")
            msg: Event = {"id": self._new_id(), "chat": chat, "chat_kind": ch["kind"],
                          "from": u.id, "from_name": u.name, "ts": _now_ms()}
            if ch.get("name") is not None:
                msg["chat_name"] = ch["name"]
            for k in ("text", "html", "reply_to", "forwarded_from", "emote", "notice",
                      "location", "media"):
                if op.get(k) not in (None, False):
                    msg[k] = op[k]
            self._messages[chat].append(dict(msg))

            def after() -> None:
                echo = {"ev": "message", **msg}
                if isinstance(op.get("txn"), str):
                    echo["txn"] = op["txn"]
                self._queue(u.id, echo)
                self._fanout(u.id, chat, {"ev": "message", **msg})
            return {"id": msg["id"]}, after

        if name == "edit":
            m = need_target()
            if not isinstance(op.get("text"), str):
                raise _Refused("edit without text")
            if m["from"] != u.id:
                raise _Refused("cannot edit someone else's message")
            m["text"] = op["text"]
            if op.get("html") is not None:
                m["html"] = op["html"]
            ev = {"ev": "edit", "id": self._new_id(), "chat": chat, "from": u.id,
                  "target": m["id"], "text": op["text"], "ts": _now_ms()}
            return {"id": ev["id"]}, lambda: self._fanout(u.id, chat, ev)

        if name == "redact":
            m = need_target()
            m["deleted"] = True
            ev = {"ev": "delete", "chat": chat, "from": u.id, "target": m["id"], "ts": _now_ms()}
            return {}, lambda: self._fanout(u.id, chat, ev)

        if name == "react":
            m = need_target()
            if not isinstance(op.get("key"), str):
                raise _Refused("reaction without key")
            reactions = m.setdefault("reactions", {}).setdefault(op["key"], [])
            if op.get("remove"):
                if u.id in reactions:
                    reactions.remove(u.id)
            elif u.id not in reactions:
                reactions.append(u.id)
            ev = {"ev": "reaction", "chat": chat, "from": u.id, "target": m["id"],
                  "key": op["key"], "remove": bool(op.get("remove")), "ts": _now_ms()}
            return {}, lambda: self._fanout(u.id, chat, ev)

        if name == "read":
            need_chat()
            ev = {"ev": "read", "chat": chat, "from": u.id, "id": op.get("id")}
            return {}, lambda: self._fanout(u.id, chat, ev)

        if name == "typing":
            need_chat()
            ev = {"ev": "typing", "chat": chat, "from": u.id, "typing": bool(op.get("typing"))}
            return {}, lambda: self._fanout(u.id, chat, ev)

        if name == "set_chat":
            ch = need_chat()
            field = op.get("field")
            if field in ("name", "topic"):
                ch[field] = op.get("value")
            elif field == "avatar":
                av = op.get("avatar")
                ch["avatar_b64"] = av.get("data_b64") if isinstance(av, dict) else None
            else:
                raise _Refused(f"unknown chat field {field}")
            ev = {"ev": "chat", **self._chat_obj(chat)}  # type: ignore[arg-type]
            return {}, lambda: self._fanout(u.id, chat, ev)  # type: ignore[arg-type]

        if name == "membership":
            ch = need_chat()
            who = op.get("user")
            if ch["kind"] != "group":
                raise _Refused("members of a DM cannot change")
            if who not in self._contacts:
                raise _Refused(f"no such user: {who}")
            if op.get("join") and who not in ch["members"]:
                ch["members"].append(who)
            elif not op.get("join") and who in ch["members"]:
                ch["members"].remove(who)
            ev = {"ev": "chat", **self._chat_obj(chat)}  # type: ignore[arg-type]
            return {}, lambda: self._fanout(u.id, chat, ev)  # type: ignore[arg-type]

        if name == "create_dm":
            other = op.get("user")
            if not isinstance(other, str) or other not in self._contacts or other == u.id:
                raise _Refused(f"no such user: {other}")
            cid = "dm:" + ":".join(sorted((u.id, other)))
            if cid not in self._chats:
                self.add_chat(cid, "dm", [u.id, other])
            return {"chat": self._chat_obj(cid)}, None

        if name == "create_group":
            users = op.get("users")
            if not isinstance(users, list) or not all(x in self._contacts for x in users):
                raise _Refused("unknown users")
            self._counter += 1
            cid = f"g{self._counter}"
            self.add_chat(cid, "group", list(dict.fromkeys([u.id, *users])), op.get("name"))
            ev = {"ev": "chat", **self._chat_obj(cid)}
            return {"chat": self._chat_obj(cid)}, lambda: self._fanout(u.id, cid, ev)

        if name == "chat_info":
            need_chat()
            return {"chat": self._chat_obj(chat)}, None  # type: ignore[arg-type]

        if name == "user_info":
            who = op.get("user")
            if who not in self._contacts:
                raise _Refused(f"no such user: {who}")
            return {"contact": self._contacts[who]}, None  # type: ignore[index]

        if name == "contacts":
            return {"contacts": [c for i, c in self._contacts.items() if i != u.id]}, None

        if name == "resolve":
            ident = op.get("identifier")
            if not isinstance(ident, str):
                raise _Refused("resolve without identifier")
            if op.get("mode") == "search":
                q = ident.lower()
                found = [c for i, c in self._contacts.items() if i != u.id and (
                    q in i.lower() or q in (c.get("name") or "").lower())]
            else:
                found = [c for i, c in self._contacts.items()
                         if ident in (i, c.get("identifier"))]
            return {"contacts": found}, None

        if name == "history":
            need_chat()
            msgs = [m for m in self._messages[chat] if not m.get("deleted")]  # type: ignore
            count = op.get("count") if isinstance(op.get("count"), int) else 50
            count = max(1, min(count, 1000))
            cursor = op.get("cursor")
            ids = [m["id"] for m in msgs]
            if op.get("forward"):
                start = ids.index(cursor) + 1 if cursor in ids else 0
                page = msgs[start:start + count]
                more = start + count < len(msgs)
                nxt = page[-1]["id"] if page and more else None
            else:
                end = ids.index(cursor) if cursor in ids else len(msgs)
                page = msgs[max(0, end - count):end]
                more = end - count > 0
                nxt = page[0]["id"] if page and more else None
            return {"messages": copy.deepcopy(page), "next": nxt}, None

        if name == "logout":
            conn = u.conn
            return {}, (lambda: conn.close(graceful=True)) if conn is not None else None

        raise _Refused(f"unknown op {name}")


class _Refused(Exception):
    pass
