# SPDX-License-Identifier: AGPL-3.0-or-later
"""Logging in to Telegram from the management room, with the telegram
plugin's test build: the real plugin in a real worker, its libtdjson.so the
fake TDLib (tests/plugins/faketd/) fed by td_fake.py with real TDLib objects.
Every request the plugin sends is checked against TDLib's TL schema."""

import os

import pytest

from harness import Agent, open_management_room
from tg_harness import SELF_ID, SELF_NAME, available, login_telegram, tg_stack

pytestmark = pytest.mark.skipif(not available(), reason="needs the telegram plugin's test build")


@pytest.fixture(scope="module")
def stack():
    s = tg_stack()
    s.start()
    yield s
    s.close()


def new_agent(stack, name):
    a = Agent(stack, name)
    a.mgmt = open_management_room(a)
    return a


@pytest.fixture(scope="module")
def agent(stack):
    a = new_agent(stack, "tg-login1")
    yield a
    a.close()


def test_qr_login_reaches_ready(stack, agent):
    data_dir, td = login_telegram(stack.bridge, agent)
    body = agent.tg_done["content"]["body"]
    assert "(%s)" % SELF_ID in body and SELF_NAME in body
    # TDLib's database is in the login's data dir, with the host's key.
    params = td.sent("setTdlibParameters")[0]
    assert params["database_directory"] == os.path.join(data_dir, "tdlib")
    assert len(params["database_encryption_key"]) == 44  # 32 bytes in base64
    assert os.path.exists(os.path.join(data_dir, "tdlib-key.secret"))
    td.check_schema()
    agent.td = td
