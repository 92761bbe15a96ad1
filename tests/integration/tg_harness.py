# SPDX-License-Identifier: AGPL-3.0-or-later
"""Helpers of the Telegram integration tests: a stack whose bridge loads the
Telegram plugin's test build (tests/plugins/telegram-fake/telegram.so) with
the fake TDLib as its libtdjson.so, and a whole QR login through it.

    stack = tg_stack()                       # Stack with plugins.telegram set
    data_dir, td = login_telegram(stack.bridge, agent)   # logged in as 1000

td is the login's FakeTd (td_fake.py), with the scenario ready.json loaded:
later requests (getChats, getMe…) get its answers unless a test sets its own.
The fake's td_execute forwards to the real TDLib (in a worker, whose
environment the host filters: the one scripts/setup-deps installs, named at
build time; elsewhere PA_FAKE_TDJSON_REAL may name another), so formatting
stays real.  The schema checks also look at that library's names.
"""

import os

from harness import BUILD_ROOT, SOURCE_ROOT, Stack
from td_fake import FakeTd, fake_lib, fake_plugin, find_data_dir
from wa_canned import bot_images, bot_messages, wait_bot

TG_SO = fake_plugin(BUILD_ROOT)
FAKE_TDJSON = fake_lib(BUILD_ROOT)
REAL_TDJSON = os.environ.get("PA_TDJSON") or os.path.join(SOURCE_ROOT, ".deps", "tdlib",
                                                          "libtdjson.so")
if os.path.exists(REAL_TDJSON):
    os.environ.setdefault("PA_FAKE_TDJSON_REAL", REAL_TDJSON)

API_ID = 1234567
API_HASH = "0123456789abcdef0123456789abcdef"
SELF_ID = "1000"
SELF_NAME = "Agent Un"


def available():
    return os.path.exists(TG_SO) and os.path.exists(FAKE_TDJSON)


def tg_plugin_config(**extra):
    cfg = {"tdjson_path": FAKE_TDJSON, "api_id": API_ID, "api_hash": API_HASH}
    cfg.update(extra)
    return {"telegram": cfg}


def tg_stack(plugins=(), ministry_plugins=(), config=None, so=TG_SO, **kwargs):
    """A Stack (not started) with the Telegram test build (or `so`) and its config."""
    # The sandboxed worker reads the fake library, and the real one its
    # td_execute forwards to, from their folders.
    read = [os.path.dirname(FAKE_TDJSON)]
    if os.path.exists(REAL_TDJSON):
        read.append(os.path.dirname(os.path.realpath(REAL_TDJSON)))
    return Stack(plugins=(so,) + tuple(plugins),
                 ministry_plugins=("telegram",) + tuple(ministry_plugins),
                 plugin_config=tg_plugin_config(**(config or {})), sandbox_read=read, **kwargs)


def _bridge(x):
    return getattr(x, "bridge", x)


def start_login(bridge, agent, flow="qr", scenario="login-qr"):
    """`login telegram <flow>`: (data_dir, td, n0) once the new login's fake
    TDLib is reached, with `scenario` loaded (None: nothing)."""
    bridge = _bridge(bridge)
    from td_fake import port_files
    known = {os.path.dirname(os.path.dirname(p)) for p in port_files(bridge.dir)}
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "login telegram " + flow)
    data_dir = find_data_dir(bridge.dir, exclude=known)
    td = FakeTd.connect(data_dir)
    if scenario:
        td.scenario(scenario)
    return data_dir, td, n0


def finish_ready(td):
    """TDLib becomes ready: the answers of ready.json, then the state."""
    td.scenario("ready")
    td.state("authorizationStateReady")
    td.deliver({"@type": "updateConnectionState", "state": {"@type": "connectionStateReady"}})


def login_telegram(bridge, agent, timeout=60):
    """A whole QR login as Agent Un (1000): (data_dir, td), logged in."""
    data_dir, td, n0 = start_login(bridge, agent, "qr")
    agent.wait(lambda a: bot_images(a, n0), timeout, "the Telegram QR code")
    finish_ready(td)
    agent.tg_done = wait_bot(agent, "Logged in to Telegram", n0, timeout=timeout)
    return data_dir, td
