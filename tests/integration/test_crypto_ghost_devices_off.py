# SPDX-License-Identifier: AGPL-3.0-or-later
"""encryption.ghost_devices: false, the fallback of a homeserver without
appservice device management: the bot's device encrypts for every ghost,
and an encrypted DM portal gets the bot as a third member (which Tchap's
"direct" rule refuses: plain Synapse only)."""

import os
import urllib.parse

import pytest

from harness import http, open_management_room
from conftest import running
from e2e import E2EAgent, EncryptedStack
from test_crypto import BOT, dm_room, ghost, ghost_texts, login

pytestmark = pytest.mark.skipif(os.environ.get("PA_SYNAPSE_FLAVOUR") == "tchap",
                                reason="a third member in a DM portal: Tchap refuses it")


@pytest.fixture(scope="module")
def stack():
    yield from running(EncryptedStack(encryption_extra={"ghost_devices": False}))


@pytest.fixture(scope="module")
def olga(stack):
    a = E2EAgent(stack, "olga")
    yield a
    a.close()


def bot_device_id(stack):
    with open(stack.bridge.log_path, "rb") as f:
        lines = [l for l in f.read().decode(errors="replace").splitlines() if "bot device" in l]
    return lines[-1].split("bot device ")[1].split()[0]


def test_bot_device_encrypts_for_ghosts(stack, olga, net):
    with open(stack.bridge.log_path, "rb") as f:
        assert "ghost devices: off (encryption.ghost_devices)" in f.read().decode(errors="replace")
    net.add_user("olga-lb", "pw", "Olga Legacy")
    mgmt = open_management_room(olga)
    login(olga, mgmt, net, "olga-lb")
    net.deliver("olga-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("olga-lb", {"ev": "message", "id": "off-1", "chat": "bob", "chat_kind": "dm",
                            "from": "bob", "text": "from the bot's device"})
    room = dm_room(olga, "bob")
    olga.join(room)
    msg = olga.wait(lambda a: [m for m in ghost_texts(a, room, "bob")
                               if m["content"].get("body") == "from the bot's device"],
                    what="the ghost's message")[0]
    status, raw = http("GET", "%s/_matrix/client/v3/rooms/%s/event/%s" % (
        stack.synapse.url, urllib.parse.quote(room, safe=""),
        urllib.parse.quote(msg["event_id"], safe="")), token=olga.client.access_token)
    assert status == 200 and raw["content"]["device_id"] == bot_device_id(stack), raw
    status, members = http("GET", "%s/_matrix/client/v3/rooms/%s/joined_members" % (
        stack.synapse.url, urllib.parse.quote(room, safe="")), token=olga.client.access_token)
    assert status == 200 and sorted(members["joined"]) == sorted([olga.mxid, ghost("bob"), BOT])
    # The agent's reply, shared with the bot's device, reaches the network.
    olga.text(room, "reply through the bot's device")
    op = net.wait_sent("olga-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "reply through the bot's device", 30)
    assert op["chat"] == "bob"
    with open(stack.bridge.log_path, "rb") as f:
        assert "has device" not in f.read().decode(errors="replace")
