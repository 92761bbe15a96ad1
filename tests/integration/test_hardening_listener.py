# SPDX-License-Identifier: AGPL-3.0-or-later
"""The appservice listener under abuse, against a real Synapse: descriptor
exhaustion under a low RLIMIT_NOFILE then a homeserver restart, idle and
slowloris connections closed, and a 32 MiB transaction of tiny JSON objects
parsed within the memory budget (the host's peak RSS measured)."""

import json
import socket
import time

import pytest

from harness import Agent, Stack, http, open_management_room, wait_until
from conftest import running
from test_core import dm_room, login

# Low enough to exhaust with a few hundred connections, high enough for the
# bridge, its worker channel, the store and its homeserver client.
NOFILE = 96
IDLE_S = 4
REQUEST_S = 2
BODY_LIMIT = 32 * 1024 * 1024  # the default limits.max_body_bytes


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack(nofile=NOFILE,
                             limits={"idle_timeout_s": IDLE_S, "request_timeout_s": REQUEST_S}))


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


@pytest.fixture(scope="module")
def portal(stack, alice, net):
    """A logged-in DM portal with bob, whose messages reach loopnet."""
    net.add_user("alice-lb", "pw", "Alice Legacy")
    mgmt = open_management_room(alice)
    login(alice, mgmt, net, "alice-lb")
    net.wait_connected("alice-lb", 20)
    net.deliver("alice-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("alice-lb", {"ev": "message", "id": "m-1", "chat": "bob", "chat_kind": "dm",
                             "from": "bob", "from_name": "Bob Legacy", "ts": 1700000000000,
                             "text": "hello"})
    return dm_room(alice, "bob")


def matrix_to_legacy(alice, net, room, text, timeout=60):
    alice.text(room, text)
    net.wait_sent("alice-lb", lambda op: op.get("op") == "send" and op.get("text") == text,
                  timeout)


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def closed_within(sock, seconds):
    """Seconds until the peer closed sock, or None if it stayed open."""
    sock.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def test_descriptor_exhaustion_then_homeserver_restart(stack, alice, net, portal):
    b = stack.bridge
    matrix_to_legacy(alice, net, portal, "before the flood")
    socks = []
    try:
        for _ in range(400):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", b.as_port))
            except OSError:
                s.close()
                break  # the backlog is full too: refused
            socks.append(s)
            if len(socks) % 50 == 0 and b._log_contains("cannot accept connections"):
                break
        wait_until(lambda: b._log_contains("cannot accept connections"), 10,
                   what="the descriptor exhaustion warning")
        assert "Too many open files" in b.tail(200)
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: b._log_contains("accepting connections again"), 20,
               what="the listener's recovery line")
    # The homeserver's pooled connections go with it: it must connect anew.
    stack.synapse.stop()
    stack.synapse.start()
    matrix_to_legacy(alice, net, portal, "after the flood and the restart", timeout=90)
    assert b.proc.poll() is None


def test_idle_connection_closed(stack):
    s = socket.create_connection(("127.0.0.1", stack.bridge.as_port))
    try:
        took = closed_within(s, IDLE_S + 5)
        assert took is not None, "an idle connection stayed open"
        assert took >= IDLE_S - 0.5, "closed after %.1f s, before the idle timeout" % took
    finally:
        s.close()


def test_keepalive_between_requests_then_idle(stack):
    """A connection answering requests is not cut; once idle it is."""
    b = stack.bridge
    s = socket.create_connection(("127.0.0.1", b.as_port))
    try:
        for i in range(3):
            req = ("POST /_matrix/app/v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" % b.hs_token)
            s.sendall(req.encode())
            s.settimeout(10)
            data = b""
            while not data.endswith(b"\r\n\r\n{}"):
                chunk = s.recv(4096)
                assert chunk, "closed while a request was answered: %r" % data
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data
            time.sleep(IDLE_S - 1.5)
        assert closed_within(s, IDLE_S + 5) is not None
    finally:
        s.close()


def test_slowloris_header_cut_off(stack):
    s = socket.create_connection(("127.0.0.1", stack.bridge.as_port))
    try:
        s.sendall(b"PUT /_matrix/app/v1/transactions/slow HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        closed = None
        # One header byte every 0.3 s: never idle, never done.
        while time.monotonic() - t0 < REQUEST_S + 6:
            try:
                s.sendall(b"X")
            except OSError:
                closed = time.monotonic() - t0
                break
            s.settimeout(0.3)
            try:
                if s.recv(4096) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = time.monotonic() - t0
                break
        assert closed is not None, "a slowloris header kept its connection"
        # Cut by the request timeout, before the (longer) idle one.
        assert closed < IDLE_S - 0.5, "cut after %.1f s" % closed
        assert stack.bridge._log_contains("was not received within")
    finally:
        s.close()


def tiny_objects_body(limit):
    """A transaction of one event whose content is as many empty objects as
    fit in `limit` bytes."""
    head = (b'{"events":[{"type":"m.room.message","event_id":"$tiny","room_id":"!nowhere:localhost",'
            b'"sender":"@alice:localhost","origin_server_ts":1,"content":{"x":[{}')
    tail = b']}}]}'
    n = (limit - len(head) - len(tail)) // 3
    return head + b",{}" * n + tail


def test_32mib_of_tiny_objects_within_budget(stack, alice, net, portal):
    b = stack.bridge
    body = tiny_objects_body(BODY_LIMIT)
    assert len(body) <= BODY_LIMIT
    before = vm(b.proc.pid, "VmRSS")
    status, resp = http("PUT", b.url + "/_matrix/app/v1/transactions/tiny-1", body,
                        token=b.hs_token, timeout=120)
    assert status == 200, resp
    time.sleep(2)  # the stored events are handled after the answer: include that
    peak = vm(b.proc.pid, "VmHWM")
    print("RSS before %.0f MB, peak %.0f MB, body %.0f MB" % (before / 1e6, peak / 1e6,
                                                            len(body) / 1e6))
    assert peak <= 10 * len(body), "peak RSS %d > 10 × body %d" % (peak, len(body))
    assert b._log_contains("$tiny (m.room.message in !nowhere:localhost) too large")

    # The same objects as 11 million events: refused at once (413), within budget.
    many = b'{"events":[{}' + b",{}" * ((BODY_LIMIT - 20) // 3) + b"]}"
    status, resp = http("PUT", b.url + "/_matrix/app/v1/transactions/tiny-2", many,
                        token=b.hs_token, timeout=120)
    assert status == 413 and resp["errcode"] == "M_TOO_LARGE", resp
    assert vm(b.proc.pid, "VmHWM") <= 10 * len(body)

    matrix_to_legacy(alice, net, portal, "after the big transactions")
