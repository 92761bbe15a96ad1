# SPDX-License-Identifier: AGPL-3.0-or-later
"""Logging in to Telegram from the management room, with the telegram
plugin's test build: the real plugin in a real worker, its libtdjson.so the
fake TDLib (tests/plugins/faketd/) fed by td_fake.py with real TDLib objects.
Every request the plugin sends is checked against TDLib's TL schema."""

import glob
import json
import os
import subprocess
import sys
import time

import pytest

from harness import BUILD_ROOT, Agent, open_management_room, wait_until
from td_fake import SCENARIOS, FakeTd, schema
from td_schema import Schema, lib_names
from tg_harness import (FAKE_TDJSON, REAL_TDJSON, SELF_ID, SELF_NAME, available, finish_ready, login_telegram,
                        start_login, tg_stack)
from wa_canned import bot_images, bot_messages, decode_qr, wait_bot

pytestmark = pytest.mark.skipif(not available(), reason="needs the telegram plugin's test build")

LINK1 = "tg://login?token=AQKbW0xpbWl0ZWRfdGVzdF90b2tlbl8xMjM0NTY3ODkw"
LINK2 = "tg://login?token=AQLcX1ynZXcxc2Vjb25kX3Rva2VuX2Zvcl9yb3RhdGlvbg"


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


def said_after(agent, n0, *words):
    """The bot's messages after index n0 holding every word (lower case)."""
    return [m for m in bot_messages(agent)[n0:]
            if all(w in m["content"].get("body", "").lower() for w in words)]


def test_scenarios_hold_tdlib_objects():
    """Every object of every scenario file is a TDLib object as td_api.tl
    has it (the answers, what follows them, the updates)."""
    problems = []
    files = sorted(glob.glob(os.path.join(SCENARIOS, "*.json")))
    assert files
    for path in files:
        with open(path) as f:
            sc = json.load(f)
        name = os.path.basename(path)
        objs = list(sc.get("updates", []))
        for method, v in sc.get("answers", {}).items():
            assert method in schema().functions, "%s: %s is no TDLib function" % (name, method)
            objs += v if isinstance(v, list) else [v]
        for v in sc.get("after", {}).values():
            objs += v
        for o in objs:
            if o.get("@type") != "error":
                problems += schema().check_object(o, where=name)
    assert not problems, "\n".join(problems)


def test_schema_checker_catches_mistakes():
    s = Schema()
    assert s.check_request({"@type": "getMe"}) == []
    assert s.check_request({"@type": "getMee"})  # a misspelt method
    assert s.check_request({"@type": "setAuthenticationPhoneNumber", "phone": "+33"})  # field
    assert s.check_request({"@type": "checkAuthenticationEmailCode",
                            "code": {"@type": "emailAddressAuthenticationCode", "cod": "1"}})
    assert s.check_request({"@type": "user"})  # a class, not a function
    assert s.check_request({"@type": "requestQrCodeAuthentication", "other_user_ids": "1"})


def test_real_tdlib_has_the_schema_names():
    """The committed schema against the prebuilt TDLib the tests run."""
    real = os.environ.get("PA_FAKE_TDJSON_REAL")
    if not real or not os.path.exists(real):
        pytest.skip("no real libtdjson.so")
    lib = lib_names(real)
    assert "setTdlibParameters" in lib and "authorizationStateWaitPhoneNumber" in lib
    missing = schema().names() - lib
    assert missing == {"messageGiftedTon"}, sorted(missing)  # renamed messageGiftedGrams
    assert len(lib - schema().names()) == 37


def test_fake_td_execute_is_the_real_one():
    """The fake's td_execute answers with the real TDLib (formatting stays
    real), even in a worker whose environment the host filtered: the build
    names the TDLib scripts/setup-deps installs."""
    if not os.path.exists(REAL_TDJSON):
        pytest.skip("no real libtdjson.so (scripts/setup-deps)")
    code = ("import ctypes, json; lib = ctypes.CDLL(%r); lib.td_execute.restype = ctypes.c_char_p; "
            "lib.td_execute.argtypes = [ctypes.c_char_p]; "
            "print(lib.td_execute(b'{\"@type\":\"getOption\",\"name\":\"version\"}').decode())"
            % FAKE_TDJSON)
    env = {k: v for k, v in os.environ.items() if k != "PA_FAKE_TDJSON_REAL"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == {"@type": "optionValueString", "value": "1.8.67"}


def test_qr_login_decoded_rotated_then_ready(stack, agent):
    pytest.importorskip("zxingcpp")
    data_dir, td, n0 = start_login(stack.bridge, agent, "qr")
    td.wait_request("requestQrCodeAuthentication")
    img1 = agent.wait(lambda a: bot_images(a, n0), 60, "the first QR image")[0]
    # The image holds exactly the link TDLib gave.
    assert decode_qr(agent, img1) == [LINK1]

    # TDLib gives a new link: the image is replaced by one holding it.
    td.state("authorizationStateWaitOtherDeviceConfirmation", link=LINK2)
    img2 = agent.wait(lambda a: [m for m in bot_images(a, n0)
                                 if m["event_id"] != img1["event_id"]], 30,
                      "the second QR image")[0]
    assert decode_qr(agent, {"content": img2["content"].get("m.new_content",
                                                            img2["content"])}) == [LINK2]
    if img2["content"].get("m.relates_to", {}).get("rel_type") == "m.replace":
        assert img2["content"]["m.relates_to"]["event_id"] == img1["event_id"]

    finish_ready(td)
    done = wait_bot(agent, "Logged in to Telegram", n0, timeout=60)
    body = done["content"]["body"]
    assert "(%s)" % SELF_ID in body and SELF_NAME in body
    # TDLib's database is in the login's data dir, encrypted with a key the
    # host keeps (32 random bytes, in base64).
    params = td.sent("setTdlibParameters")[0]
    assert params["database_directory"] == os.path.join(data_dir, "tdlib")
    assert len(params["database_encryption_key"]) == 44
    assert params["api_id"] == 1234567
    assert os.path.exists(os.path.join(data_dir, "tdlib-key.secret"))
    # The QR images are gone from the data dir once logged in.
    wait_until(lambda: not [f for f in os.listdir(data_dir) if f.startswith("tg-login-qr")], 10,
               what="the QR files removed")
    td.check_schema()
    agent.td, agent.data_dir, agent.key = td, data_dir, params["database_encryption_key"]


def test_restart_keeps_the_session(stack, agent):
    td = agent.td
    n0 = len(bot_messages(agent))
    td.close()
    stack.bridge.stop()
    port_file = os.path.join(agent.data_dir, "tdlib", "faketd.port")
    os.unlink(port_file)
    stack.bridge.start()
    # The saved login opens TDLib again by itself, with the same key.
    td2 = FakeTd.connect(agent.data_dir, timeout=60)
    td2.scenario("ready")
    params = td2.wait_request("setTdlibParameters")
    assert params["database_encryption_key"] == agent.key
    td2.wait_request("getMe")
    time.sleep(1)
    agent.sync()
    after = bot_messages(agent)[n0:]
    assert not [m for m in after if m["content"].get("msgtype") == "m.image"]
    assert not [m for m in after if m["content"].get("body", "").startswith("Please send")]
    td2.check_schema()
    agent.td = td2


def test_disconnect_then_connect(stack, agent):
    td = agent.td
    n0 = len(bot_messages(agent))
    m = td.mark()
    agent.text(agent.mgmt, "disconnect telegram")
    # TDLib closes (its database kept), and the agent is told how to come back.
    td.wait_request("close", after=m)
    agent.wait(lambda a: said_after(a, n0, "connect telegram"), 30, "the disconnection told")
    agent.text(agent.mgmt, "connect telegram")
    params = td.wait_request("setTdlibParameters", after=m)
    assert params["database_encryption_key"] == agent.key
    td.wait_request("getMe", after=m)
    agent.wait(lambda a: said_after(a, n0, "telegram: connected"), 30, "connected again")
    assert not [x for x in bot_messages(agent)[n0:] if x["content"].get("msgtype") == "m.image"]
    td.check_schema()


def test_revoked_session_is_told(stack, agent):
    td = agent.td
    n0 = len(bot_messages(agent))
    # Another device ends this session: TDLib logs out by itself.
    td.state("authorizationStateLoggingOut")
    td.state("authorizationStateClosing")
    td.state("authorizationStateClosed")
    told = agent.wait(lambda a: said_after(a, n0, "another device"), 30, "the revocation told")
    assert "logged out" in told[0]["content"]["body"].lower()
    assert "`logout telegram`, then `login telegram qr`" in told[0]["content"]["body"]
    time.sleep(2)
    agent.sync()
    assert len(said_after(agent, n0, "another device")) == 1
    # The plugin asked nothing of TDLib (no logOut of its own).
    assert not td.sent("logOut")
    td.check_schema()
    # The agent logs out (nothing left to do on Telegram's side) and in
    # again (a new login, with a database of its own).
    agent.text(agent.mgmt, "logout telegram")
    wait_bot(agent, "Logging out", n0)
    time.sleep(1)
    assert not td.sent("logOut")
    data_dir, td3, n1 = start_login(stack.bridge, agent, "qr")
    assert data_dir != agent.data_dir
    agent.wait(lambda a: bot_images(a, n1), 60, "a new QR image")
    finish_ready(td3)
    wait_bot(agent, "Logged in to Telegram", n1, timeout=60)
    td3.check_schema()


def test_saved_session_gone_is_told(stack):
    """A saved login whose TDLib database has no session any more (TDLib
    asks for a phone number) is told to log in again, not left waiting."""
    a = new_agent(stack, "tg-login-gone")
    try:
        data_dir, td = login_telegram(stack.bridge, a)
        n0 = len(bot_messages(a))
        m = td.mark()
        a.text(a.mgmt, "disconnect telegram")
        td.wait_request("close", after=m)
        a.wait(lambda x: said_after(x, n0, "connect telegram"), 30, "the disconnection told")
        td.after["setTdlibParameters"] = [
            {"@type": "updateAuthorizationState",
             "authorization_state": {"@type": "authorizationStateWaitPhoneNumber"}}]
        a.text(a.mgmt, "connect telegram")
        told = a.wait(lambda x: said_after(x, n0, "no session any more"), 30, "the loss told")[0]
        assert "`logout telegram`, then `login telegram qr`" in told["content"]["body"]
        time.sleep(1)
        assert not [r for r in td.requests[m:] if r["@type"] == "requestQrCodeAuthentication"]
        td.check_schema()
    finally:
        a.close()


def test_stale_database_is_replaced(stack):
    """A database the kept key does not open (the host's key lost) is
    removed, and the login goes on with a new one."""
    a = new_agent(stack, "tg-login-stale")
    try:
        data_dir, td, n0 = start_login(stack.bridge, a, "qr", scenario=None)
        stale = os.path.join(data_dir, "tdlib", "td.binlog")
        with open(stale, "w") as f:
            f.write("old")
        m = td.mark()
        td.error(td.wait_request("setTdlibParameters"), 401, "Wrong database encryption key")
        td.answer(td.wait_request("setTdlibParameters", after=m + 1), {"@type": "ok"})
        assert not os.path.exists(stale)
        td.state("authorizationStateWaitPhoneNumber")
        td.answer(td.wait_request("requestQrCodeAuthentication"), {"@type": "ok"})
        td.state("authorizationStateWaitOtherDeviceConfirmation", link=LINK1)
        a.wait(lambda x: bot_images(x, n0), 60, "the QR image")
        finish_ready(td)
        wait_bot(a, "Logged in to Telegram", n0, timeout=60)
        td.check_schema()
    finally:
        a.close()


def test_phone_code_password_login(stack):
    a = new_agent(stack, "tg-login-phone")
    try:
        data_dir, td, n0 = start_login(stack.bridge, a, "phone")
        ask = wait_bot(a, "phone number", n0)
        assert "international" in ask["content"]["body"]
        a.text(a.mgmt, "+33 6 12 34 56 78")
        req = td.wait_request("setAuthenticationPhoneNumber")
        assert req["phone_number"] == "+33612345678"
        td.answer(req, {"@type": "ok"})
        td.state("authorizationStateWaitCode", code_info={
            "@type": "authenticationCodeInfo", "phone_number": "+33612345678",
            "type": {"@type": "authenticationCodeTypeTelegramMessage", "length": 5},
            "next_type": {"@type": "authenticationCodeTypeSms", "length": 5}, "timeout": 60})
        ask = a.wait(lambda x: said_after(x, n0, "login code for"), 30, "the code prompt")[0]
        assert "+33612345678" in ask["content"]["body"]
        assert "telegram message" in ask["content"]["body"].lower()

        # A wrong code is asked again.
        m = len(bot_messages(a))
        a.text(a.mgmt, "11111")
        req = td.wait_request("checkAuthenticationCode")
        assert req["code"] == "11111"
        td.error(req, 400, "PHONE_CODE_INVALID")
        a.wait(lambda x: said_after(x, m, "code is wrong"), 30, "the code asked again")
        a.text(a.mgmt, "22222")
        req = td.wait_request("checkAuthenticationCode")
        assert req["code"] == "22222"
        td.answer(req, {"@type": "ok"})

        # Two-step verification, with its hint; a wrong password asked again.
        td.state("authorizationStateWaitPassword", password_hint="le chat",
                 has_recovery_email_address=False, has_passport_data=False,
                 recovery_email_address_pattern="")
        ask = a.wait(lambda x: said_after(x, m, "two-step"), 30, "the password prompt")[0]
        assert "le chat" in ask["content"]["body"]
        m = len(bot_messages(a))
        a.text(a.mgmt, "mauvais")
        req = td.wait_request("checkAuthenticationPassword")
        assert req["password"] == "mauvais"
        td.error(req, 400, "PASSWORD_HASH_INVALID")
        a.wait(lambda x: said_after(x, m, "password is wrong"), 30, "the password asked again")
        a.text(a.mgmt, "correct horse")
        req = td.wait_request("checkAuthenticationPassword")
        assert req["password"] == "correct horse"
        td.answer(req, {"@type": "ok"})
        finish_ready(td)
        done = wait_bot(a, "Logged in to Telegram", n0, timeout=60)
        assert "(%s)" % SELF_ID in done["content"]["body"]
        # The password field is a password: the bridge treats it as one (here,
        # in a room the agent made, by warning before it is typed).
        assert said_after(a, n0, "before you send your password")
        td.check_schema()
    finally:
        a.close()


def test_email_code_states(stack):
    a = new_agent(stack, "tg-login-email")
    try:
        data_dir, td, n0 = start_login(stack.bridge, a, "phone")
        wait_bot(a, "phone number", n0)
        a.text(a.mgmt, "+33611111111")
        td.answer(td.wait_request("setAuthenticationPhoneNumber"), {"@type": "ok"})
        td.state("authorizationStateWaitEmailAddress", allow_apple_id=False,
                 allow_google_id=False)
        wait_bot(a, "email address", n0)
        a.text(a.mgmt, "agent@example.gouv.fr")
        req = td.wait_request("setAuthenticationEmailAddress")
        assert req["email_address"] == "agent@example.gouv.fr"
        td.answer(req, {"@type": "ok"})
        td.state("authorizationStateWaitEmailCode", allow_apple_id=False, allow_google_id=False,
                 code_info={"@type": "emailAddressAuthenticationCodeInfo",
                            "email_address_pattern": "a***@example.gouv.fr", "length": 6})
        ask = a.wait(lambda x: said_after(x, n0, "a***@example.gouv.fr"), 30, "the email code")[0]
        assert "code" in ask["content"]["body"].lower()
        a.text(a.mgmt, "654321")
        req = td.wait_request("checkAuthenticationEmailCode")
        assert req["code"] == {"@type": "emailAddressAuthenticationCode", "code": "654321"}
        td.answer(req, {"@type": "ok"})
        finish_ready(td)
        wait_bot(a, "Logged in to Telegram", n0, timeout=60)
        td.check_schema()
    finally:
        a.close()


def test_sign_up_is_refused(stack):
    a = new_agent(stack, "tg-login-new")
    try:
        data_dir, td, n0 = start_login(stack.bridge, a, "phone")
        wait_bot(a, "phone number", n0)
        a.text(a.mgmt, "+33699999999")
        td.answer(td.wait_request("setAuthenticationPhoneNumber"), {"@type": "ok"})
        td.state("authorizationStateWaitCode", code_info={
            "@type": "authenticationCodeInfo", "phone_number": "+33699999999",
            "type": {"@type": "authenticationCodeTypeSms", "length": 5}, "timeout": 60})
        a.wait(lambda x: said_after(x, n0, "login code for"), 30, "the code prompt")
        a.text(a.mgmt, "12345")
        td.answer(td.wait_request("checkAuthenticationCode"), {"@type": "ok"})
        td.state("authorizationStateWaitRegistration", terms_of_service={
            "@type": "termsOfService",
            "text": {"@type": "formattedText", "text": "Terms", "entities": []},
            "min_user_age": 0, "show_popup": False})
        told = a.wait(lambda x: said_after(x, n0, "no telegram account"), 30, "the refusal")[0]
        assert "login telegram" in told["content"]["body"]
        time.sleep(1)
        assert not td.sent("registerUser")
        td.check_schema()
    finally:
        a.close()


def test_wrong_api_id_is_a_clear_error(stack):
    a = new_agent(stack, "tg-login-apiid")
    try:
        data_dir, td, n0 = start_login(stack.bridge, a, "qr", scenario=None)
        td.on_list("setTdlibParameters", {"@type": "ok"})
        td.state("authorizationStateWaitPhoneNumber")
        req = td.wait_request("requestQrCodeAuthentication")
        t0 = time.monotonic()
        td.error(req, 400, "API_ID_INVALID")
        told = a.wait(lambda x: said_after(x, n0, "api_id"), 30, "the api_id error")[0]
        assert time.monotonic() - t0 < 10
        body = told["content"]["body"]
        assert "API_ID_INVALID" in body and "my.telegram.org" in body
        assert not bot_images(a, n0)
        td.check_schema()
    finally:
        a.close()


def test_logout(stack):
    a = new_agent(stack, "tg-logout")
    try:
        data_dir, td = login_telegram(stack.bridge, a)
        a.text(a.mgmt, "logout telegram")
        td.wait_request("logOut")
        td.check_schema()
    finally:
        a.close()


def test_missing_api_hash_is_told(stack):
    """A bridge whose config lacks the application's id says so at login."""
    s = tg_stack(config={"api_hash": None})
    s.start()
    a = new_agent(s, "tg-login-noconf")
    try:
        n0 = len(bot_messages(a))
        a.text(a.mgmt, "login telegram qr")
        told = a.wait(lambda x: said_after(x, n0, "api_hash"), 60, "the config error")[0]
        assert "my.telegram.org" in told["content"]["body"]
    finally:
        a.close()
        s.close()


def test_installed_plugin_refuses_the_fake():
    """The telegram.so that is installed will not run the test suite's fake
    TDLib, whatever the configuration says."""
    installed = os.path.join(BUILD_ROOT, "plugins", "telegram", "telegram.so")
    s = tg_stack(so=installed)
    s.start()
    a = new_agent(s, "tg-login-installed")
    try:
        n0 = len(bot_messages(a))
        a.text(a.mgmt, "login telegram qr")
        told = a.wait(lambda x: said_after(x, n0, "stand-in for tdlib"), 60, "the refusal")[0]
        assert "tdjson_path" in told["content"]["body"]
        assert not bot_images(a, n0)
    finally:
        a.close()
        s.close()


def test_real_tdlib_asks_for_the_phone_number():
    """The installed telegram.so with the real libtdjson.so, in the real
    sandboxed worker, offline: TDLib itself takes the parameters, opens its
    database in the login's data dir (with the key the host keeps) and waits
    for a phone number, which the agent is asked for."""
    if not os.path.exists(REAL_TDJSON):
        pytest.skip("no real libtdjson.so (scripts/setup-deps)")
    installed = os.path.join(BUILD_ROOT, "plugins", "telegram", "telegram.so")
    s = tg_stack(so=installed, config={"tdjson_path": os.path.realpath(REAL_TDJSON)})
    s.start()
    a = new_agent(s, "tg-login-real")
    try:
        n0 = len(bot_messages(a))
        t0 = time.monotonic()
        a.text(a.mgmt, "login telegram phone")
        ask = wait_bot(a, "phone number", n0, timeout=60)
        assert "international" in ask["content"]["body"]
        took = time.monotonic() - t0
        print("real TDLib: phone prompt %.2f s after the command" % took)
        binlogs = glob.glob(os.path.join(s.bridge.dir, "data", "*", "tdlib", "td.binlog"))
        assert binlogs, "no TDLib database in the login's data dir"
        assert os.path.exists(os.path.join(os.path.dirname(os.path.dirname(binlogs[0])),
                                           "tdlib-key.secret"))
        for pid, _ in s.bridge.worker_pids():
            with open("/proc/%d/status" % pid) as f:
                rss = [l.split()[1] for l in f if l.startswith("VmRSS:")]
            print("worker with a real TDLib client waiting for a phone number: %s kB" % rss[0])
        a.text(a.mgmt, "cancel")
        wait_bot(a, "cancelled", n0)
    finally:
        a.close()
        t1 = time.monotonic()
        s.close()
        print("bridge stop with a real TDLib client: %.2f s" % (time.monotonic() - t1))


def test_qr_nobody_scans_times_out():
    """A QR login nobody scans ends (the test build shortens the 5 minutes)
    and closes TDLib's client, so that the code cannot be used later."""
    s = tg_stack(config={"test_qr_timeout_ms": 3000})
    s.start()
    a = new_agent(s, "tg-login-timeout")
    try:
        data_dir, td, n0 = start_login(s.bridge, a, "qr")
        a.wait(lambda x: bot_images(x, n0), 60, "the QR image")
        told = a.wait(lambda x: said_after(x, n0, "not scanned"), 30, "the timeout told")[0]
        assert "login telegram qr" in told["content"]["body"]
        td.wait_request("close")
        wait_until(lambda: not [f for f in os.listdir(data_dir) if f.startswith("tg-login-qr")],
                   10, what="the QR files removed")
        time.sleep(1)
        a.sync()
        assert len(bot_images(a, n0)) == 1
    finally:
        a.close()
        s.close()
