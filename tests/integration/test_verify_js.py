# SPDX-License-Identifier: AGPL-3.0-or-later
"""An agent verifies the bridge's bot like a person: "Verify user" in the
management room, from matrix-js-sdk with its Rust crypto (the crypto
Element and Tchap web run).  The bot answers the in-room request, runs SAS,
posts the emoji it computed and confirms; the agent's client then shows the
bot's device as verified."""

import re

import pytest

import harness
from conftest import running
from e2e import EncryptedStack
from test_crypto import BOT
from test_crypto_js import JSAgent, bot_device, require_js_sdk

NOTICE = "Compare with what your client shows"


@pytest.fixture(scope="module")
def stack():
    require_js_sdk()
    yield from running(EncryptedStack())


@pytest.fixture(scope="module")
def vera(stack):
    a = JSAgent(stack, "vera", cross_signing=True)
    yield a
    a.close()


@pytest.fixture(scope="module")
def mgmt(stack, vera):
    bot_master_key(stack)
    room = vera.call("create_dm", invitee=BOT)["room"]
    vera.call("wait_message", room=room, sender=BOT, timeout=60)
    return room


def bot_master_key(stack):
    """The bot's cross-signing master key on the homeserver (the Rust crypto
    verifies a user in a DM only when that user has a cross-signing
    identity; the bridge publishes the bot's at start)."""
    url = stack.synapse.url + "/_matrix/client/v3/keys/query"
    status, body = harness.http("POST", url, {"device_keys": {BOT: []}},
                                token=stack.bridge.as_token)
    assert status == 200, body
    keys = body.get("master_keys", {}).get(BOT, {}).get("keys", {})
    assert len(keys) == 1, body
    return list(keys.values())[0]


def notice_text(vera, room, n_before):
    found = [m for m in vera.messages(room, sender=BOT) if NOTICE in m["content"].get("body", "")]
    return found[n_before]["content"]["body"] if len(found) > n_before else None


def not_understood(vera, room):
    return [m["content"]["body"] for m in vera.messages(room, sender=BOT)
            if "Unknown command" in m["content"].get("body", "")
            or "did not understand" in m["content"].get("body", "")]


def test_agent_verifies_bot_by_emoji(stack, vera, mgmt):
    device = bot_device(stack)
    before = vera.call("devices", user=BOT)
    assert [d["device_id"] for d in before] == [device] and not before[0]["verified"], before

    res = vera.call("verify_user", user=BOT, room=mgmt, device=device, timeout=90)
    assert res["phase"] == "done", res
    status = res["status"]
    assert status["localVerified"] or status["crossSigningVerified"], res
    # The bot's MAC covered its master key too: the agent's client signed
    # it and now trusts the bot's identity, not only this device.
    assert res["user_verified"], res
    assert status["crossSigningVerified"], res

    # The bot's notice shows the emoji (and names) and numbers the js client showed.
    body = vera.wait(lambda a: notice_text(a, mgmt, 0), what="the SAS notice")
    assert res["emoji"] and len(res["emoji"]) == 7, res
    shown = "  ".join("%s (%s)" % (e, name) for e, name in res["emoji"])
    assert shown in body, (shown, body)
    numbers = [int(n) for n in re.search(r"numbers (\d+) (\d+) (\d+)", body).groups()]
    assert res["decimal"] == numbers, (res["decimal"], body)
    assert vera.wait(lambda a: [m for m in a.messages(mgmt, sender=BOT)
                                if "Verification done" in m["content"].get("body", "")],
                     what="the done notice")
    # The request is a message of the room: it was not taken for a command.
    assert not_understood(vera, mgmt) == []
    assert vera.undecryptable(mgmt) == []
    with open(stack.bridge.log_path, "rb") as f:
        log = f.read().decode(errors="replace")
    assert "verification %s with %s" % (res["transaction_id"], vera.mxid) in log


def test_cancel_midway_leaves_bot_healthy(stack, vera, mgmt):
    n = len([m for m in vera.messages(mgmt, sender=BOT)
             if NOTICE in m["content"].get("body", "")])
    res = vera.call("verify_user", user=BOT, room=mgmt, device=bot_device(stack), cancel=True,
                    timeout=90)
    assert res["phase"] == "cancelled", res
    assert vera.wait(lambda a: notice_text(a, mgmt, n), what="the second SAS notice")
    assert vera.wait(lambda a: [m for m in a.messages(mgmt, sender=BOT)
                                if "Verification cancelled (m.user)" in m["content"].get("body", "")],
                     what="the cancel notice")
    # The bot still answers commands, and nothing was taken for one.
    vera.text(mgmt, "version")
    assert vera.wait(lambda a: [m for m in a.messages(mgmt, sender=BOT)
                                if m["content"].get("body", "").startswith("Passerelle ")],
                     what="the version answer")
    assert not_understood(vera, mgmt) == []
    assert stack.bridge.proc.poll() is None


def bot_events(vera, room, type_, request):
    return [m for m in vera.call("messages", room=room)
            if m["sender"] == BOT and m["type"] == type_
            and m["content"].get("m.relates_to", {}).get("event_id") == request]


def test_event_out_of_turn_is_cancelled(stack, vera, mgmt):
    """A request sent by hand, then a key before any start: the bot answers
    ready, then cancels with m.unexpected_message, encrypted like the rest."""
    request = vera.call("send_event", room=mgmt, type="m.room.message", content={
        "msgtype": "m.key.verification.request", "body": "verify me", "to": BOT,
        "from_device": vera.info["device_id"], "methods": ["m.sas.v1"]})["event_id"]
    ready = vera.wait(lambda a: bot_events(a, mgmt, "m.key.verification.ready", request),
                      what="the ready")[0]
    assert ready["encrypted"] and ready["content"]["methods"] == ["m.sas.v1"], ready
    assert ready["content"]["from_device"] == bot_device(stack), ready
    vera.call("send_event", room=mgmt, type="m.key.verification.key", content={
        "key": "AAAA", "m.relates_to": {"rel_type": "m.reference", "event_id": request}})
    cancel = vera.wait(lambda a: bot_events(a, mgmt, "m.key.verification.cancel", request),
                       what="the cancel")[0]
    assert cancel["encrypted"] and cancel["content"]["code"] == "m.unexpected_message", cancel
    assert vera.wait(lambda a: [m for m in a.messages(mgmt, sender=BOT) if
                                "cancelled (m.unexpected_message)" in m["content"].get("body", "")],
                     what="the cancel notice")
    assert not_understood(vera, mgmt) == []
