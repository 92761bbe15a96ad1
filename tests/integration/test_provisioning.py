# SPDX-License-Identifier: AGPL-3.0-or-later
"""The provisioning API (/_matrix/provision/v3, docs/provisioning.md)
against a real Synapse and the loopback plugin: a whole login driven over
HTTP only, then the agent's portal; logins, contacts, create_dm, logout;
auth by the shared secret and by Matrix OpenID tokens; the bridge's
permissions and ministries; malformed requests; processes that end."""

import os
import signal
import threading
import time
import urllib.parse
import urllib.request

import pytest

from harness import Agent, Stack, bot_says, http, open_management_room, wait_until
from conftest import running

BOT = "@passerelle:localhost"
SECRET = "provisioning-secret-0123456789"
PREFIX = "/_matrix/provision"


@pytest.fixture(scope="module")
def stack():
    yield from running(Stack(provisioning={"shared_secret": SECRET, "prefix": PREFIX,
                                           "login_idle_s": 6}))


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


@pytest.fixture(scope="module")
def bob(stack):
    a = Agent(stack, "bob")
    yield a
    a.close()


@pytest.fixture(scope="module")
def admin(stack):
    a = Agent(stack, "admin")
    yield a
    a.close()


def ghost(user):
    return "@_pa_loopback_%s:localhost" % user


def prov(stack, method, path, user="@alice:localhost", body=None, token=SECRET, timeout=40,
         **params):
    """A provisioning request; `user` None leaves out ?user_id=."""
    if user is not None:
        params["user_id"] = user
    url = stack.bridge.url + PREFIX + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    if body is None and method == "POST":
        body = {}
    return http(method, url, body, token=token, timeout=timeout)


def openid_token(stack, agent):
    status, body = http("POST", stack.synapse.url + "/_matrix/client/v3/user/%s/openid/"
                        "request_token" % urllib.parse.quote(agent.mxid),
                        {}, token=agent.client.access_token)
    assert status == 200, body
    return body["access_token"]


def step(stack, st, values=None, user="@alice:localhost"):
    """Answer the step `st` (its type's endpoint) and return the next one."""
    path = "/v3/login/step/%s/%s/%s" % (st["login_id"], urllib.parse.quote(st["step_id"]),
                                       st["type"])
    status, body = prov(stack, "POST", path, user=user, body=values or {})
    assert status == 200, body
    return body


# ----------------------------------------------------------------- tests


def test_auth(stack, alice, bob):
    status, body = prov(stack, "GET", "/v3/whoami", token=None)
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"
    status, body = prov(stack, "GET", "/v3/whoami", token="not-the-secret")
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    # The homeserver's token is not the provisioning secret.
    status, body = prov(stack, "GET", "/v3/whoami", token=stack.bridge.hs_token)
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    status, body = prov(stack, "GET", "/v3/whoami", user=None)
    assert status == 400 and body["errcode"] == "M_MISSING_PARAM"
    status, body = prov(stack, "GET", "/v3/whoami", user="alice")
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"
    # Alice's OpenID token acts for alice, with or without ?user_id=.
    tok = openid_token(stack, alice)
    status, body = prov(stack, "GET", "/v3/whoami", user=None, token="openid:" + tok)
    assert status == 200, body
    assert body["bridge_bot"] == BOT and body["homeserver"] == "localhost"
    assert [p["name"] for p in body["plugins"]] == ["loopback"]
    assert body["plugins"][0]["enabled"] is True
    status, body = prov(stack, "GET", "/v3/whoami", token="openid:" + tok)
    assert status == 200, body
    # Bob's token does not act for alice; a made-up one acts for nobody.
    btok = openid_token(stack, bob)
    status, body = prov(stack, "GET", "/v3/whoami", token="openid:" + btok)
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    status, body = prov(stack, "GET", "/v3/whoami", user=None, token="openid:made-up")
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    # Users the bridge's permissions refuse, and the bridge's own users.
    status, body = prov(stack, "GET", "/v3/whoami", user="@blocked:localhost")
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
    assert "yours is block" in body["error"]
    status, body = prov(stack, "GET", "/v3/whoami", user="@someone:elsewhere.example")
    assert status == 403 and "yours is relay" in body["error"]
    status, body = prov(stack, "GET", "/v3/whoami", user=ghost("x"))
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


def test_routes_and_cors(stack):
    status, body = prov(stack, "GET", "/v3/nothing")
    assert status == 404 and body["errcode"] == "M_UNRECOGNIZED"
    status, body = prov(stack, "POST", "/v3/whoami")
    assert status == 405 and body["errcode"] == "M_UNRECOGNIZED"
    status, body = prov(stack, "POST", "/v3/create_dm/a%2Fb")
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"
    # A web page's preflight, then the answer it reads.
    req = urllib.request.Request(stack.bridge.url + PREFIX + "/v3/whoami", method="OPTIONS",
                                 headers={"Origin": "https://admin.example",
                                          "Access-Control-Request-Method": "GET",
                                          "Access-Control-Request-Headers": "authorization"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
    req = urllib.request.Request(stack.bridge.url + PREFIX + "/v3/whoami?user_id=%40alice%3A"
                                 "localhost", headers={"Authorization": "Bearer " + SECRET})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    # The appservice API is still the homeserver's alone.
    status, body = http("GET", stack.bridge.url + "/_matrix/app/v1/users/" + ghost("q"),
                        token=SECRET)
    assert status == 403


def test_unknown_process_and_bad_step(stack):
    status, body = prov(stack, "POST", "/v3/login/step/pl_nope/credentials/user_input")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = prov(stack, "POST", "/v3/login/cancel/pl_nope")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = prov(stack, "GET", "/v3/login/flows")
    assert status == 400 and body["errcode"] == "M_MISSING_PARAM"
    status, body = prov(stack, "POST", "/v3/login/start/nope", plugin="loopback")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = prov(stack, "POST", "/v3/login/start/password", plugin="nope")
    assert status == 403 and "no plugin named nope" in body["error"]


def test_login_over_http(stack, alice, bob, net):
    net.add_user("alice-http", "pw-http", "Alice HTTP", need_pairing=True)
    status, body = prov(stack, "GET", "/v3/login/flows", plugin="loopback")
    assert status == 200, body
    assert [f["id"] for f in body["flows"]] == ["password"]
    status, st = prov(stack, "POST", "/v3/login/start/password", plugin="loopback")
    assert status == 200, st
    if st["step_id"] == "fr.passerelle.wait":
        st = step(stack, st)
    assert st["type"] == "user_input" and st["step_id"] == "credentials", st
    fields = {f["id"]: f for f in st["user_input"]["fields"]}
    assert fields["password"]["type"] == "password"
    assert set(fields) == {"server", "username", "password"}
    path = "/v3/login/step/%s/credentials/user_input" % st["login_id"]
    # Another user does not see the process.
    status, body = prov(stack, "POST", path, user="@bob:localhost", body={})
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    # Malformed answers, the process unharmed.
    status, body = http("POST", stack.bridge.url + PREFIX + path + "?user_id=%40alice%3A"
                        "localhost", b"{not json", token=SECRET)
    assert status == 400 and body["errcode"] == "M_NOT_JSON"
    status, body = prov(stack, "POST", path, body=["a"])
    assert status == 400 and body["errcode"] == "M_BAD_JSON"
    status, body = prov(stack, "POST", path, body={"username": 3})
    assert status == 400 and body["errcode"] == "M_BAD_JSON"
    status, body = prov(stack, "POST", path, body={"username": "alice-http"})
    assert status == 400 and body["errcode"] == "M_BAD_JSON" and "required" in body["error"]
    status, body = prov(stack, "POST", "/v3/login/step/%s/other/user_input" % st["login_id"],
                        body={})
    assert status == 400 and body["errcode"] == "M_BAD_STATE"
    # The management room does not answer it: a `login` there is refused.
    mgmt = open_management_room(alice)
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "login loopback")
    alice.wait(lambda a: bot_says(a, mgmt, "started from another application", n0),
               what="the room's login refused")
    # The answer, then the pairing code (a QR image and its text).
    st = step(stack, st, {"server": "127.0.0.1:%d" % net.port, "username": "alice-http",
                          "password": "pw-http"})
    while st["step_id"] == "fr.passerelle.wait":
        st = step(stack, st)
    assert st["type"] == "display_and_wait" and st["step_id"] == "pairing", st
    daw = st["display_and_wait"]
    assert daw["type"] == "qr"
    assert daw["data"] == net.pairing_code("alice-http")
    assert daw["image_url"].startswith("data:image/png;base64,")
    import base64
    assert base64.b64decode(daw["image_url"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # display_and_wait waits for the next step: the pairing is confirmed
    # meanwhile, and the same call returns the login.
    got = {}
    t = threading.Thread(target=lambda: got.update(step=step(stack, st)))
    t.start()
    time.sleep(1)
    assert t.is_alive()
    net.complete_pairing("alice-http")
    t.join(30)
    done = got["step"]
    assert done["type"] == "complete", done
    login_id = done["complete"]["user_login_id"]
    assert login_id.startswith("loopback-")
    assert done["complete"]["remote_id"] == "alice-http"
    net.wait_connected("alice-http", 20)
    # The password never went to a room: the room only heard it is done.
    alice.wait(lambda a: bot_says(a, mgmt, "Logged in to", n0), what="told in the room")
    assert not [m for m in alice.messages(mgmt) if "pw-http" in m["content"].get("body", "")]
    # whoami and logins show it.
    status, body = prov(stack, "GET", "/v3/whoami")
    assert status == 200
    mine = [lg for lg in body["logins"] if lg["id"] == login_id]
    assert mine and mine[0]["state"]["state_event"] == "CONNECTED", body
    assert mine[0]["plugin"] == "loopback" and mine[0]["remote_id"] == "alice-http"
    assert body["management_room"] == mgmt
    status, body = prov(stack, "GET", "/v3/logins")
    assert status == 200 and body["login_ids"] == [login_id]
    status, body = prov(stack, "GET", "/v3/logins", user="@bob:localhost")
    assert status == 200 and body["login_ids"] == []
    # Starting again: one login per plugin.
    status, body = prov(stack, "POST", "/v3/login/start/password", plugin="loopback")
    assert status == 403 and body["errcode"] == "FI.MAU.BRIDGE.TOO_MANY_LOGINS"
    # The portal works: a message from the network reaches alice.
    net.deliver("alice-http", {"ev": "contact", "id": "carol", "name": "Carol Legacy"})
    net.deliver("alice-http", {"ev": "message", "id": "m-c1", "chat": "carol", "chat_kind": "dm",
                               "from": "carol", "from_name": "Carol Legacy",
                               "ts": 1700000000000, "text": "hello over http"})
    room = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("carol"))
    alice.join(room)
    alice.wait(lambda a: "hello over http" in a.bodies(room, ghost("carol")), what="message")
    alice.text(room, "answer from tchap")
    net.wait_sent("alice-http", lambda m: m.get("text") == "answer from tchap", 20)


def test_contacts_resolve_create_dm(stack, alice, net):
    net.add_contact("dave", "Dave Legacy", identifier="+33600000001")
    status, logins = prov(stack, "GET", "/v3/logins")
    login_id = logins["login_ids"][0]
    status, body = prov(stack, "GET", "/v3/contacts", login_id=login_id)
    assert status == 200, body
    dave = [c for c in body["contacts"] if c["id"] == "dave"]
    assert dave and dave[0]["name"] == "Dave Legacy" and dave[0]["mxid"] == ghost("dave")
    assert dave[0]["identifiers"] == ["+33600000001"]
    # Without login_id: the only login, or the plugin's.
    status, body = prov(stack, "GET", "/v3/contacts")
    assert status == 200 and any(c["id"] == "dave" for c in body["contacts"])
    status, body = prov(stack, "GET", "/v3/contacts", login_id="loopback-notmine")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    status, body = prov(stack, "GET", "/v3/contacts", user="@bob:localhost")
    assert status == 400 and body["errcode"] == "FI.MAU.NOT_LOGGED_IN"
    status, body = prov(stack, "GET", "/v3/contacts", user="@bob:localhost", login_id=login_id)
    assert status == 404
    status, body = prov(stack, "GET", "/v3/resolve_identifier/%2B33600000001", plugin="loopback")
    assert status == 200 and body["id"] == "dave" and body["mxid"] == ghost("dave"), body
    status, body = prov(stack, "GET", "/v3/resolve_identifier/nobody", plugin="loopback")
    assert status == 404 and body["errcode"] == "M_NOT_FOUND"
    # create_dm opens the portal as `start` does, and names its room.
    status, body = prov(stack, "POST", "/v3/create_dm/dave", login_id=login_id)
    assert status == 200, body
    assert body["mxid"] == ghost("dave") and body["dm_room_mxid"].startswith("!"), body
    room = alice.wait_invite(lambda a, r: a.inviter(r) == ghost("dave"))
    assert room == body["dm_room_mxid"]
    status, body = prov(stack, "POST", "/v3/create_dm/nobody", login_id=login_id)
    assert status >= 400 and body["errcode"].startswith("M_"), body


def test_ministry_disabled_refused_with_its_reason(stack, alice, admin):
    amgmt = open_management_room(admin)
    n0 = len(admin.messages(amgmt, sender=BOT))
    admin.text(amgmt, "ministry disable test loopback")
    admin.wait(lambda a: bot_says(a, amgmt, "disabled for test", n0), what="disabled")
    try:
        mgmt = open_management_room(alice)
        n1 = len(alice.messages(mgmt, sender=BOT))
        alice.text(mgmt, "login loopback")
        said = alice.wait(lambda a: bot_says(a, mgmt, "Cannot log in to loopback", n1),
                          what="the room's refusal")[0]["content"]["body"]
        for path, method in (("/v3/login/flows", "GET"), ("/v3/login/start/password", "POST")):
            status, body = prov(stack, method, path, plugin="loopback")
            assert status == 403 and body["errcode"] == "M_FORBIDDEN", body
            assert body["error"] == said, (body["error"], said)
        status, body = prov(stack, "GET", "/v3/contacts", plugin="loopback")
        assert status in (400, 403), body
        status, body = prov(stack, "GET", "/v3/whoami")
        assert body["plugins"][0]["enabled"] is False
        assert "disabled for your ministry (test)" in body["plugins"][0]["disabled_reason"]
    finally:
        n2 = len(admin.messages(amgmt, sender=BOT))
        admin.text(amgmt, "ministry enable test loopback")
        admin.wait(lambda a: bot_says(a, amgmt, "enabled for test", n2), what="enabled")


def test_logout(stack, alice, net):
    status, body = prov(stack, "GET", "/v3/logins")
    login_id = body["login_ids"][0]
    status, body = prov(stack, "POST", "/v3/logout/" + login_id, user="@bob:localhost")
    assert status == 404
    wait_until(lambda: prov(stack, "GET", "/v3/whoami")[1]["logins"][0]["state"]["state_event"]
               == "CONNECTED", what="reconnected after the ministry came back")
    status, body = prov(stack, "POST", "/v3/logout/" + login_id)
    assert status == 200 and body == {}
    status, body = prov(stack, "GET", "/v3/logins")
    assert body["login_ids"] == []
    net.wait_disconnected("alice-http", 20)


def test_processes_do_not_interfere_and_expire(stack, bob, net):
    net.add_user("bob-lb", "pw", "Bob Legacy")
    # A login half-way in bob's management room: HTTP does not take it over.
    mgmt = open_management_room(bob)
    n0 = len(bob.messages(mgmt, sender=BOT))
    bob.text(mgmt, "login loopback")
    bob.wait(lambda a: bot_says(a, mgmt, "server", n0), what="server prompt")
    status, body = prov(stack, "POST", "/v3/login/start/password", user="@bob:localhost",
                        plugin="loopback")
    assert status == 409 and body["errcode"] == "FR.PASSERELLE.LOGIN_IN_PROGRESS", body
    bob.text(mgmt, "cancel")
    bob.wait(lambda a: bot_says(a, mgmt, "Login cancelled", n0), what="cancelled")
    # An HTTP process left unused ends after login_idle_s (6 s here).
    status, st = prov(stack, "POST", "/v3/login/start/password", user="@bob:localhost",
                      plugin="loopback")
    assert status == 200, st
    time.sleep(9)
    status, body = prov(stack, "POST", "/v3/login/step/%s/credentials/user_input"
                        % st["login_id"], user="@bob:localhost", body={})
    assert status == 404 and body["errcode"] == "M_NOT_FOUND", body
    # Its login went with it: the room may log in again.
    n1 = len(bob.messages(mgmt, sender=BOT))
    bob.text(mgmt, "login loopback")
    bob.wait(lambda a: bot_says(a, mgmt, "server", n1), what="server prompt again")
    bob.text(mgmt, "cancel")
    bob.wait(lambda a: bot_says(a, mgmt, "Login cancelled", n1), what="cancelled")
    # A wrong password is the plugin's next step, asking again.
    status, st = prov(stack, "POST", "/v3/login/start/password", user="@bob:localhost",
                      plugin="loopback")
    assert status == 200 and st["step_id"] == "credentials", st
    again = step(stack, st, {"server": "127.0.0.1:%d" % net.port, "username": "bob-lb",
                             "password": "wrong"}, user="@bob:localhost")
    while again["step_id"] == "fr.passerelle.wait":
        again = step(stack, again, user="@bob:localhost")
    assert again["type"] == "user_input" and again["step_id"] == "credentials", again
    assert "refused" in again["instructions"], again
    # The step asked again is checked like the first: an empty answer is refused.
    status, body = prov(stack, "POST", "/v3/login/step/%s/credentials/user_input"
                        % st["login_id"], user="@bob:localhost", body={})
    assert status == 400 and body["errcode"] == "M_BAD_JSON"
    # The plugin's process dies half-way: the process says so, once.
    before = {pid for pid, _ in stack.bridge.worker_pids()}
    os.kill(max(before), signal.SIGKILL)
    wait_until(lambda: prov(stack, "POST", "/v3/login/step/%s/credentials/user_input"
                            % st["login_id"], user="@bob:localhost", body={})[0] == 410,
               what="the process told the login stopped")
    status, body = prov(stack, "POST", "/v3/login/step/%s/credentials/user_input"
                        % st["login_id"], user="@bob:localhost", body={})
    assert status == 404, body
    # Cancelled over HTTP: 200, then the process is unknown.
    status, st = prov(stack, "POST", "/v3/login/start/password", user="@bob:localhost",
                      plugin="loopback")
    assert status == 200, st
    status, body = prov(stack, "POST", "/v3/login/cancel/" + st["login_id"],
                        user="@bob:localhost")
    assert status == 200 and body == {}
    status, body = prov(stack, "POST", "/v3/login/step/%s/credentials/user_input"
                        % st["login_id"], user="@bob:localhost", body={})
    assert status == 404
