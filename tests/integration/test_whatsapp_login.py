# SPDX-License-Identifier: AGPL-3.0-or-later
"""Logging in to WhatsApp from the management room, with the whatsapp
plugin's test build: the real plugin and whatsmeow client in a real worker,
fed by the test source (wa_canned.py) instead of WhatsApp's servers."""

import os
import re
import time

import pytest

from harness import BUILD_ROOT, Agent, Stack, open_management_room, wait_until
from wa_canned import (BOB, ME_LID, ME_PN, bot_images, bot_messages, canned_so, decode_qr,
                       find_body, info, login_qr, non_ad, start_login, text, wait_bot)

WA_SO = canned_so(BUILD_ROOT)

pytestmark = pytest.mark.skipif(not os.path.exists(WA_SO),
                                reason="needs the whatsapp plugin's test build")


@pytest.fixture(scope="module")
def stack():
    s = Stack(plugins=(WA_SO,), ministry_plugins=("whatsapp",))
    s.start()
    yield s
    s.close()


def new_agent(stack, name):
    a = Agent(stack, name)
    a.mgmt = open_management_room(a)
    return a


@pytest.fixture(scope="module")
def agent(stack):
    a = new_agent(stack, "wa-login1")
    yield a
    a.close()


def qr_code_text():
    return "2@" + os.urandom(16).hex() + ",Zm9vYmFy,YmF6cXV4,cXV1eA=="


def redacted(agent, room, event_id):
    resp = agent.run(agent.client.room_get_event(room, event_id))
    ev = getattr(resp, "event", None)
    src = getattr(ev, "source", {}) if ev is not None else {}
    return "redacted_because" in src.get("unsigned", {}) or not src.get("content")


def test_qr_login_decoded_then_rotated(stack, agent):
    pytest.importorskip("zxingcpp")
    c, n0 = start_login(stack, agent, "qr")
    first = qr_code_text()
    c.cmd("qr_code", code=first)
    img1 = agent.wait(lambda a: bot_images(a, n0), 60, "the first QR image")[0]
    # The image the agent gets holds exactly the code whatsmeow gave.
    assert decode_qr(agent, img1) == [first]

    # whatsmeow rotates the code: the new image holds the new code.
    second = qr_code_text()
    c.cmd("qr_code", code=second)
    img2 = agent.wait(lambda a: [m for m in bot_images(a, n0)
                                 if m["event_id"] != img1["event_id"]], 30,
                      "the second QR image")[0]
    assert decode_qr(agent, {"content": img2["content"].get("m.new_content",
                                                            img2["content"])}) == [second]
    agent.qr_images = (img1, img2)

    c.cmd("pair_success", id=ME_PN, lid=ME_LID, push_name="Agent One", business_name="")
    done = wait_bot(agent, "Logged in", n0, timeout=60)
    # LID first: the account is known by its LID, without the device.
    assert non_ad(ME_LID) in done["content"]["body"]
    assert "Agent One" in done["content"]["body"]
    # The whatsmeow session store lives in the login's data dir.
    login_dir = os.path.dirname(c.port_file)
    assert os.path.getsize(os.path.join(login_dir, "whatsmeow.db")) > 0
    # An incoming message now reaches the agent.
    c.message(info(BOB.lid, BOB.lid, "LOGIN-M1", int(time.time()), push_name=BOB.name,
                   sender_alt=BOB.pn), text("hello after pairing"))
    find_body(agent, "hello after pairing")
    agent.wa = c


def test_qr_rotation_replaces_the_old_image(agent):
    """The issue asks that each new code replace the previous image: the
    second one is an edit of the first, or the first is redacted."""
    img1, img2 = agent.qr_images
    if img2["content"].get("m.relates_to", {}).get("rel_type") == "m.replace":
        assert img2["content"]["m.relates_to"]["event_id"] == img1["event_id"]
    else:
        wait_until(lambda: redacted(agent, agent.mgmt, img1["event_id"]), 5,
                   what="the first QR image removed")


def test_qr_timeout_tells_how_to_retry(stack):
    a = new_agent(stack, "wa-login-timeout")
    try:
        c, n0 = start_login(stack, a, "qr")
        c.cmd("qr_code", code=qr_code_text())
        a.wait(lambda x: bot_images(x, n0), 60, "the QR image")
        c.cmd("qr_timeout")
        m = a.wait(lambda x: [e for e in bot_messages(x)[n0:]
                              if "login whatsapp" in e["content"].get("body", "")],
                   30, "the timeout message")[0]
        body = m["content"]["body"].lower()
        assert "qr" in body and ("expired" in body or "timed out" in body or "time" in body)
        # No further login image: the flow ended.
        time.sleep(1)
        a.sync()
        assert len(bot_images(a, n0)) == 1
    finally:
        a.close()


def test_pairing_code(stack):
    a = new_agent(stack, "wa-login-phone")
    try:
        c, n0 = start_login(stack, a, "phone")
        c.cmd("pair_code", code="WXYZ9876")
        ask = a.wait(lambda x: [e for e in bot_messages(x)[n0:]
                                if e["content"].get("body", "").startswith("Please send your")],
                     60, "the phone number prompt")[0]
        assert "phone" in ask["content"]["body"].lower()
        m = c.mark()
        a.text(a.mgmt, "+33 6 44 44 44 44")
        call = c.wait_call("pair_phone", after=m)
        assert re.sub(r"\D", "", call["phone"]) == "33644444444"
        shown = a.wait(lambda x: [e for e in bot_messages(x)[n0:]
                                  if re.search(r"WXYZ-?9876", e["content"].get("body", ""))],
                       30, "the pairing code")[0]
        assert shown["content"]["msgtype"] in ("m.notice", "m.text")
        c.cmd("pair_success", id="33644444444:3@s.whatsapp.net", lid="444444:3@lid",
              push_name="Phone Agent", business_name="")
        done = wait_bot(a, "Logged in", n0, timeout=60)
        assert "444444@lid" in done["content"]["body"]
    finally:
        a.close()


def test_passkey_request_is_explained(stack):
    a = new_agent(stack, "wa-login-passkey")
    try:
        c, n0 = start_login(stack, a, "qr")
        c.cmd("qr_code", code=qr_code_text())
        a.wait(lambda x: bot_images(x, n0), 60, "the QR image")
        c.cmd("passkey")
        m = wait_bot(a, "passkey", n0, timeout=30)
        assert m["content"]["body"]
    finally:
        a.close()


def test_restart_keeps_the_session(stack, agent):
    c = agent.wa
    n0 = len(bot_messages(agent))
    c.close()
    stack.bridge.stop()
    t = time.time()
    stack.bridge.start()
    # The saved login starts again by itself (same data dir) and opens a
    # new test source.
    wait_until(lambda: os.stat(c.port_file).st_mtime >= t - 1, 60,
               what="the saved login's test source")
    c.connect()
    c.cmd("state", event="connected")
    c.message(info(BOB.lid, BOB.lid, "LOGIN-M2", int(time.time()), push_name=BOB.name,
                   sender_alt=BOB.pn), text("hello after the restart"))
    find_body(agent, "hello after the restart", timeout=60)
    agent.sync()
    # No new login: no prompt, no image.
    after = bot_messages(agent)[n0:]
    assert not [m for m in after if m["content"].get("msgtype") == "m.image"]
    assert not [m for m in after if m["content"].get("body", "").startswith("Please send")]


@pytest.mark.parametrize("n,event,fields,words", [
    (1, "logged_out", {"reason": 401}, ("logged out",)),
    (2, "stream_replaced", {}, ("elsewhere",)),
    (3, "temporary_ban", {"code": 101, "expire_s": 3600}, ("ban",)),
    (4, "client_outdated", {}, ("outdated",)),
])
def test_session_ending_states_are_told_once(stack, n, event, fields, words):
    a = new_agent(stack, "wa-state-%d" % n)
    try:
        c = login_qr(stack, a, pn="3369900%04d:2@s.whatsapp.net" % n, lid="7700%04d:2@lid" % n)
        pids = {p for p, _ in stack.bridge.worker_pids()}
        n0 = len(bot_messages(a))
        m = c.mark()
        c.cmd("state", event=event, **fields)
        told = a.wait(lambda x: [e for e in bot_messages(x)[n0:]
                                 if all(w in e["content"].get("body", "").lower() for w in words)],
                      30, "the agent told of %s" % event)
        assert len(told) == 1
        # No reconnect loop: for a few seconds nothing more is said, the
        # plugin asks nothing of the network and no worker restarts.
        time.sleep(4)
        a.sync()
        later = [e["content"]["body"] for e in bot_messages(a)[n0:]]
        assert len(later) == 1, later
        assert not [l for l in c.lines[m:] if "call" in l], c.lines[m:]
        assert {p for p, _ in stack.bridge.worker_pids()} == pids
    finally:
        a.close()
