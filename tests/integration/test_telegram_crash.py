# SPDX-License-Identifier: AGPL-3.0-or-later
"""kill -9 of the Telegram worker and of the host in the middle of a stream
of incoming messages.  TDLib never hands an update out twice: what reached
the killed worker but not the host is found again in TDLib's own message
database, which the plugin reads back (getChatHistory) when the login comes
back.  The fake plays that database here: it answers getChatHistory from
every message it delivered.  The portal must end with every message exactly
once, in order, with its own time."""

import os
import signal
import time

import pytest

from harness import wait_until
from td_fake import FakeTd
from test_telegram_incoming import ALICE, M, by_body, find, message, new_agent, text
from test_whatsapp_crash import alive, worker_of_login
from tg_harness import available, login_telegram, tg_stack

pytestmark = pytest.mark.skipif(not available(), reason="needs the telegram plugin's test build")

N = 60
KILL_AFTER = 20


class Database:
    """TDLib's message database as the fake plays it: every message it
    delivered, for getChatHistory (newest first, from from_message_id
    inclusive, as TDLib pages) and getMessage."""

    def __init__(self):
        self.msgs = {}

    def add(self, m):
        self.msgs[m["id"]] = m

    def serve(self, td):
        td.scenario("in-people")
        td.on("getChats", lambda req: {"@type": "chats", "total_count": 1, "chat_ids": [ALICE]})
        td.on("getChatHistory", self.history)
        td.on("getMessage", lambda req: self.msgs.get(req["message_id"]) or
              {"@type": "error", "code": 404, "message": "Not Found"})

    def history(self, req):
        ids = sorted((i for i in self.msgs if self.msgs[i]["chat_id"] == req["chat_id"]),
                     reverse=True)
        start = req.get("from_message_id") or 0
        if start:
            ids = [i for i in ids if i <= start]
        page = [self.msgs[i] for i in ids[:max(1, min(req.get("limit", 100), 100))]]
        return {"@type": "messages", "total_count": len(ids), "messages": page}


@pytest.fixture(scope="module")
def stack():
    s = tg_stack(config={"history_messages": 200, "history_chats": 5})
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = new_agent(stack, "tg-crash")
    a.data_dir, a.td = login_telegram(stack.bridge, a)
    a.db = Database()
    a.db.serve(a.td)
    first = message(10 * M, ALICE, text("avant les pannes"), date=int(time.time()) - 7200)
    a.db.add(first)
    a.td.deliver({"@type": "updateNewMessage", "message": first})
    a.dm, _ = find(a, by_body("avant les pannes"), "the DM")
    yield a
    a.td.close()
    a.close()


def stream(agent, prefix, base_id, t0):
    msgs = [message((base_id + i) * M, ALICE, text("%s %d" % (prefix, i)), date=t0 + i)
            for i in range(N)]
    for m in msgs:
        agent.db.add(m)
        agent.td.deliver({"@type": "updateNewMessage", "message": m})
    return msgs


def bridged(agent, prefix):
    agent.sync()
    return [b for b in agent.bodies(agent.dm) if b.startswith(prefix + " ")]


def port_file(agent):
    return os.path.join(agent.data_dir, "tdlib", "faketd.port")


def reconnect(agent, since):
    """The login's new fake TDLib, once the worker wrote its port after
    `since`: the same database behind it."""
    wait_until(lambda: os.path.exists(port_file(agent)) and
               os.stat(port_file(agent)).st_mtime >= since, 90, what="the login back")
    agent.td.close()
    agent.td = FakeTd.connect(agent.data_dir, timeout=60)
    agent.td.scenario("ready")
    agent.db.serve(agent.td)


def assert_exactly_once_in_order(agent, prefix, t0):
    want = ["%s %d" % (prefix, i) for i in range(N)]
    agent.wait(lambda a: "%s %d" % (prefix, N - 1) in bridged(a, prefix), 120,
               "the end of the stream")
    time.sleep(2)
    got = [e for e in agent.history(agent.dm, limit=2000) if e.get("type") == "m.room.message"
           and e["content"].get("body", "").startswith(prefix + " ")]
    assert [e["content"]["body"] for e in got] == want
    assert [e["origin_server_ts"] for e in got] == [(t0 + i) * 1000 for i in range(N)]


def kill_mid_stream(agent, prefix, base_id, t0, kill):
    msgs = stream(agent, prefix, base_id, t0)
    agent.wait(lambda a: len(bridged(a, prefix)) >= KILL_AFTER, 60,
               "%d messages bridged" % KILL_AFTER)
    killed = time.time()
    kill()
    before = len(bridged(agent, prefix))
    return msgs, killed, before


def test_worker_kill9_mid_stream(stack, agent):
    pid = worker_of_login(stack, agent.data_dir)
    assert pid, stack.bridge.worker_pids()
    t0 = int(time.time()) - 3600
    _, killed, before = kill_mid_stream(agent, "wcrash", 1000, t0,
                                        lambda: os.kill(pid, signal.SIGKILL))
    # the host starts the worker again; the saved login opens TDLib again
    reconnect(agent, killed)
    assert worker_of_login(stack, agent.data_dir) not in (None, pid)
    assert KILL_AFTER <= before < N, before
    assert_exactly_once_in_order(agent, "wcrash", t0)
    agent.td.wait_request("getChatHistory")
    agent.td.check_schema()


def test_host_kill9_mid_stream(stack, agent):
    pid = worker_of_login(stack, agent.data_dir)
    t0 = int(time.time()) - 1800
    _, killed, before = kill_mid_stream(agent, "hcrash", 2000, t0, stack.bridge.kill9)
    # the worker does not outlive its host
    wait_until(lambda: not alive(pid), 15, what="the orphaned worker to exit")
    stack.bridge.start()
    reconnect(agent, killed)
    assert KILL_AFTER <= before < N, before
    assert_exactly_once_in_order(agent, "hcrash", t0)
    # and the login lives on: a new message after the restart
    m = message(3000 * M, ALICE, text("après les pannes"), date=int(time.time()))
    agent.db.add(m)
    agent.td.deliver({"@type": "updateNewMessage", "message": m})
    find(agent, by_body("après les pannes"), "a message after the restart")
    agent.td.check_schema()
