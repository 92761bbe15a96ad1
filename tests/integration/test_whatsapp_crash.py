# SPDX-License-Identifier: AGPL-3.0-or-later
"""kill -9 of the WhatsApp worker and of the host in the middle of a stream
of incoming messages.  The test source plays WhatsApp's server: whatever
the plugin did not ack is delivered again once the login is back, so the
portal must end with every message exactly once, in order."""

import os
import signal
import time

import pytest

from harness import BUILD_ROOT, Agent, Stack, open_management_room, wait_until
import wa_canned as wa
from wa_canned import BOB, find_body, info

WA_SO = wa.canned_so(BUILD_ROOT)
pytestmark = pytest.mark.skipif(not os.path.exists(WA_SO),
                                reason="needs the whatsapp plugin's test build")
N = 60
KILL_AFTER = 20


@pytest.fixture(scope="module")
def stack():
    s = Stack(plugins=(WA_SO,), ministry_plugins=("whatsapp",))
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = Agent(stack, "wa-crash")
    a.mgmt = open_management_room(a)
    a.wa = wa.login_qr(stack, a)
    a.wa.message(info(BOB.lid, BOB.lid, "CRASH-FIRST", int(time.time()), push_name=BOB.name,
                      sender_alt=BOB.pn), wa.text("before the crashes"))
    a.dm, _ = find_body(a, "before the crashes")
    yield a
    a.wa.close()
    a.close()


def worker_of_login(stack, login_dir):
    for pid, cmd in stack.bridge.worker_pids():
        if "--data-dir" in cmd and os.path.realpath(cmd[cmd.index("--data-dir") + 1]) == \
                os.path.realpath(login_dir):
            return pid
    return None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stream(agent, prefix, t0):
    msgs = [(info(BOB.lid, BOB.lid, "%s-%03d" % (prefix.upper(), i), t0 + i,
                  push_name=BOB.name, sender_alt=BOB.pn), wa.text("%s %d" % (prefix, i)))
            for i in range(N)]
    for inf, m in msgs:
        agent.wa.message(inf, m, wait=False)
    return msgs


def redeliver_unacked(agent, msgs, killed_at):
    """After the login came back: WhatsApp re-sends what was never acked."""
    c = agent.wa
    ids = {inf["id"] for inf, _ in msgs}
    acked = {l["acked"] for l in c.lines[:killed_at]
             if "acked" in l and not l.get("failed")} & ids
    again = [(inf, m) for inf, m in msgs if inf["id"] not in acked]
    for inf, m in again:
        ack = c.message(inf, m, timeout=60)
        assert ack["failed"] is False, ack
    return acked, again


def assert_exactly_once_in_order(agent, prefix, t0):
    want = ["%s %d" % (prefix, i) for i in range(N)]
    agent.wait(lambda a: [b for b in a.bodies(a.dm) if b.startswith(prefix + " ")] and
               "%s %d" % (prefix, N - 1) in a.bodies(a.dm), 90, "the end of the stream")
    time.sleep(2)
    got = [e for e in agent.history(agent.dm) if e.get("type") == "m.room.message"
           and e["content"].get("body", "").startswith(prefix + " ")]
    assert [e["content"]["body"] for e in got] == want
    assert [e["origin_server_ts"] for e in got] == [(t0 + i) * 1000 for i in range(N)]


def test_worker_kill9_mid_stream(stack, agent):
    c = agent.wa
    login_dir = os.path.dirname(c.port_file)
    pid = worker_of_login(stack, login_dir)
    assert pid, stack.bridge.worker_pids()
    t0 = int(time.time()) - 3600
    m = c.mark()
    msgs = stream(agent, "wcrash", t0)
    c.wait(lambda l: len([x for x in c.lines[m:] if "acked" in x]) >= KILL_AFTER and l, m, 60,
           "%d acks" % KILL_AFTER)
    os.kill(pid, signal.SIGKILL)
    killed_at = c.mark()
    t = time.time()
    # The host starts the worker again; the saved login opens a new source.
    wait_until(lambda: os.stat(c.port_file).st_mtime >= t and worker_of_login(stack, login_dir)
               not in (None, pid), 60, what="the worker back")
    c.connect()
    acked, again = redeliver_unacked(agent, msgs, killed_at)
    assert KILL_AFTER <= len(acked) < N and again, (len(acked), len(again))
    assert_exactly_once_in_order(agent, "wcrash", t0)


def test_host_kill9_mid_stream(stack, agent):
    c = agent.wa
    login_dir = os.path.dirname(c.port_file)
    pid = worker_of_login(stack, login_dir)
    t0 = int(time.time()) - 1800
    m = c.mark()
    msgs = stream(agent, "hcrash", t0)
    c.wait(lambda l: len([x for x in c.lines[m:] if "acked" in x]) >= KILL_AFTER and l, m, 60,
           "%d acks" % KILL_AFTER)
    stack.bridge.kill9()
    killed_at = c.mark()
    # The worker does not outlive its host.
    wait_until(lambda: not alive(pid), 15, what="the orphaned worker to exit")
    t = time.time()
    stack.bridge.start()
    wait_until(lambda: os.stat(c.port_file).st_mtime >= t, 60, what="the login back")
    c.connect()
    acked, again = redeliver_unacked(agent, msgs, killed_at)
    assert KILL_AFTER <= len(acked) < N and again, (len(acked), len(again))
    assert_exactly_once_in_order(agent, "hcrash", t0)
