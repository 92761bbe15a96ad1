# SPDX-License-Identifier: AGPL-3.0-or-later
"""The login capacity under a low descriptor limit (issue 16), against a real
Synapse: the bridge computes how many logins its RLIMIT_NOFILE allows, an
agent beyond that is told so in the management room at once (no silent
stall), the logins already running keep working, a freed login lets the
waiting agent in, and a workers.max_logins above what the limit allows is
reported at start-up with the numbers."""

import re

import pytest
import yaml

from harness import Agent, Stack, bot_says, open_management_room, wait_until
from conftest import running
from test_core import BOT, dm_room, ghost, login

# Leaves a handful of logins after the reserve (pa-fd-budget.c).
NOFILE = 52


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack(nofile=NOFILE))


def log_text(stack):
    with open(stack.bridge.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def capacity(stack):
    m = re.findall(r"login capacity: (\d+) \(descriptor limit (\d+)", log_text(stack))
    assert m, "no capacity line in the log"
    cap, limit = map(int, m[-1])
    assert limit == NOFILE
    return cap


def test_capacity_refuses_and_frees(stack, net):
    cap = capacity(stack)
    assert 1 <= cap <= 6, cap
    agents = [Agent(stack, "cap%d" % i) for i in range(cap + 1)]
    try:
        rooms = [open_management_room(a) for a in agents]
        for i in range(cap):
            net.add_user("cap%d-lb" % i, "pw", "Cap %d" % i)
            login(agents[i], rooms[i], net, "cap%d-lb" % i)
            net.wait_connected("cap%d-lb" % i, 20)

        # One more: refused at once, with the reason, in its management room.
        extra, extra_room = agents[cap], rooms[cap]
        n0 = len(extra.messages(extra_room, sender=BOT))
        extra.text(extra_room, "login loopback")
        extra.wait(lambda a: bot_says(a, extra_room, "capacity of %d logins" % cap, n0),
                   timeout=20, what="the refusal")
        assert "login refused: the bridge is at its capacity of %d logins" % cap \
            in log_text(stack)

        # The others keep working: a legacy message reaches the first agent.
        net.deliver("cap0-lb", {"ev": "contact", "id": "dora", "name": "Dora Legacy"})
        net.deliver("cap0-lb", {"ev": "message", "id": "m-cap-1", "chat": "dora",
                                "chat_kind": "dm", "from": "dora", "from_name": "Dora Legacy",
                                "ts": 1700000000000, "text": "still here"})
        room = dm_room(agents[0], "dora")
        agents[0].wait(lambda a: "still here" in a.bodies(room, ghost("dora")),
                       what="the message of a running login")

        # A freed login lets the waiting agent in.
        last = agents[cap - 1]
        n1 = len(last.messages(rooms[cap - 1], sender=BOT))
        last.text(rooms[cap - 1], "logout loopback")
        last.wait(lambda a: bot_says(a, rooms[cap - 1], "Logging out", n1), what="logout")
        net.add_user("capx-lb", "pw", "Cap extra")
        login(extra, extra_room, net, "capx-lb")
        net.wait_connected("capx-lb", 20)
    finally:
        for a in agents:
            a.close()


def test_max_logins_above_the_limit_is_reported(stack):
    b = stack.bridge
    b.stop()
    with open(b.config) as f:
        cfg = yaml.safe_load(f)
    cfg.setdefault("workers", {})["max_logins"] = 1000
    with open(b.config, "w") as f:
        yaml.safe_dump(cfg, f)
    b.start()
    cap = capacity(stack)
    text = log_text(stack)
    assert re.search(r"workers.max_logins is 1000 but the descriptor limit \(%d\) allows %d "
                     r"logins" % (NOFILE, cap), text)
    assert "LimitNOFILE=" in text
    wait_until(lambda: "ready as" in log_text(stack), what="the bridge serving")
