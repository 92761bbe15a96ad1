# SPDX-License-Identifier: AGPL-3.0-or-later
"""Nothing lost with Olvid: the Olvid worker and the host killed with SIGKILL in the middle of
a stream of incoming messages, and the daemon (the stand-in) restarted in the middle of a
conversation.  The daemon counts a message as read once a MessageReceived stream sent it, so
what reached the killed worker but not the host is no longer among the unread: the login finds
it again from its watermark (the newest message the host stored).  A worker keeps up with a
member typing back to back, so the second half of each stream is sent while the worker (or the
host) is frozen with SIGSTOP, then SIGKILL comes: that half is in the streams, never stored by
the host, exactly what the watermark is for.  Each portal must end with
every message exactly once, in order, each with its own time, and each message of the agent
must reach the cabinet member once."""

import os
import signal
import time

import pytest

from harness import wait_until
from olvid_harness import (  # noqa: F401  (fixtures)
    agent, available, logged_in, stack, standin)
from test_olvid_incoming import as_member, dm, member  # noqa: F401  (member: a fixture)
from test_whatsapp_crash import alive
from wa_canned import bot_messages, wait_bot

pytestmark = pytest.mark.skipif(not available(), reason="no Olvid test build or olvid module")

N = 60
KILL_AFTER = 20


def olvid_worker(stack):
    """The pid of the one worker of the bridge (the agent's Olvid login)."""
    pids = [pid for pid, _ in stack.bridge.worker_pids()]
    assert len(pids) <= 1, pids
    return pids[0] if pids else None


def bridged(agent, room, sender, prefix):
    return [e for e in agent.messages(room, sender=sender)
            if e["content"].get("body", "").startswith(prefix + " ")]


def burst(standin, member, prefix, first, n):
    """The cabinet member sends messages first..first+n-1 back to back; [(body, timestamp ms)]
    in the order sent."""
    async def send(c):
        d = await dm(c, member["contact"])
        out = []
        for i in range(first, first + n):
            body = "%s %d" % (prefix, i)
            out.append((body, (await c.message_send(d, body)).timestamp))
        return out
    return as_member(standin, member["key"], send)


def assert_exactly_once_in_order(agent, member, prefix, sent, timeout=120):
    room, g = member["room"], member["ghost"]
    try:
        agent.wait(lambda a: len(bridged(a, room, g, prefix)) >= len(sent), timeout,
                   "every %r message" % prefix)
    except AssertionError:
        pass  # the comparison below says which are missing
    time.sleep(2)
    got = [e for e in agent.history(room, limit=5000) if e.get("type") == "m.room.message"
           and e["sender"] == g and e["content"].get("body", "").startswith(prefix + " ")]
    assert [e["content"]["body"] for e in got] == [b for b, _ in sent]
    stamps = [ts for _, ts in sent]
    assert len(set(stamps)) == len(stamps), "two messages sent in the same millisecond"
    assert [e["origin_server_ts"] for e in got] == stamps


def kill_mid_stream(standin, agent, member, prefix, pid, kill):
    """The member's stream of N messages with a kill in the middle: the first half is sent,
    and once KILL_AFTER messages are bridged, process pid is frozen (SIGSTOP), the second half
    is sent (the daemon hands it to the notification streams, where the frozen worker, or the
    worker of the frozen host, never passes it on), then kill() runs.  Every message, in the
    order sent."""
    room, g = member["room"], member["ghost"]
    sent = burst(standin, member, prefix, 0, N // 2)
    agent.wait(lambda a: len(bridged(a, room, g, prefix)) >= KILL_AFTER, 60,
               "%d messages bridged" % KILL_AFTER)
    os.kill(pid, signal.SIGSTOP)
    try:
        sent += burst(standin, member, prefix, N // 2, N - N // 2)
        time.sleep(1)  # the daemon writes them to the streams
    finally:
        kill()
    # The kill came in the middle of the stream: the portal did not have it all.
    agent.sync()
    at_kill = len(bridged(agent, room, g, prefix))
    assert at_kill < N, at_kill
    return sent, at_kill


def test_worker_kill9_mid_stream(stack, standin, agent, member):
    pid = olvid_worker(stack)
    assert pid
    sent, at_kill = kill_mid_stream(standin, agent, member, "wcrash", pid,
                                    lambda: os.kill(pid, signal.SIGKILL))
    # The host starts the worker again; the saved login connects and catches up.
    wait_until(lambda: olvid_worker(stack) not in (None, pid), 60, what="the worker back")
    print("worker kill: %d of %d bridged when killed" % (at_kill, N))
    assert_exactly_once_in_order(agent, member, "wcrash", sent)


def test_host_kill9_mid_stream(stack, standin, agent, member):
    pid = olvid_worker(stack)
    assert pid
    sent, at_kill = kill_mid_stream(standin, agent, member, "hcrash", stack.bridge.proc.pid,
                                    stack.bridge.kill9)
    # The worker does not outlive its host.
    wait_until(lambda: not alive(pid), 15, what="the orphaned worker to exit")
    stack.bridge.start()
    print("host kill: %d of %d bridged when killed" % (at_kill, N))
    assert_exactly_once_in_order(agent, member, "hcrash", sent)

    # live again: a new message arrives once
    room, g = member["room"], member["ghost"]
    assert_exactly_once_in_order(agent, member, "hlive", burst(standin, member, "hlive", 0, 1),
                                 timeout=60)
    assert len(bridged(agent, room, g, "hcrash")) == N


def member_inbox(standin, member, prefix):
    """The bodies of the member's inbound messages in the DM starting with prefix."""
    from olvid import datatypes

    async def inbox(c):
        d = await dm(c, member["contact"])
        out = []
        async for m in c.message_list(filter=datatypes.MessageFilter(discussion_id=d)):
            if m.id.type == datatypes.MessageId.Type.TYPE_INBOUND and \
                    m.body.startswith(prefix + " "):
                out.append((m.sort_index, m.body))
        return [b for _, b in sorted(out)]
    return as_member(standin, member["key"], inbox)


def wait_inbox(standin, member, prefix, want, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        got = member_inbox(standin, member, prefix)
        if len(got) >= len(want) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(2)
    assert member_inbox(standin, member, prefix) == want


def test_daemon_restarted_mid_conversation(stack, standin, agent, member):
    room = member["room"]

    before = burst(standin, member, "drestart", 0, 10)
    n0 = len(bot_messages(agent))
    standin.stop()
    # The login sees the daemon gone (a notification stream ends, the quick retry fails).
    wait_bot(agent, "unreachable", n0, timeout=60)
    # The agent writes while the daemon is down: sent once it is back.
    agent.text(room, "agent 0")
    standin.start()
    # The member writes at once, before the login is back (unread at the daemon).
    after = burst(standin, member, "dback", 0, 10)
    assert_exactly_once_in_order(agent, member, "drestart", before)
    assert_exactly_once_in_order(agent, member, "dback", after)
    wait_inbox(standin, member, "agent", ["agent 0"])

    # and both ways live afterwards
    agent.text(room, "agent 1")
    wait_inbox(standin, member, "agent", ["agent 0", "agent 1"])
    more = burst(standin, member, "dlive", 0, 3)
    assert_exactly_once_in_order(agent, member, "dlive", more, timeout=60)
