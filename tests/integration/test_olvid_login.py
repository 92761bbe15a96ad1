# SPDX-License-Identifier: AGPL-3.0-or-later
"""Logging in to Olvid from the management room, with the olvid plugin's test build against the
stand-in daemon: the four flows (invitation with its QR code, directory, restore, key), a wrong
key, the daemon down at login and mid-session, a bridge restart, logout; and the installed build,
which refuses the stand-in."""

import os
import time

import pytest

from harness import wait_until
from olvid_harness import (KEYCLOAK_LINK, OLVID_INSTALLED_SO, STANDIN_SENTENCE, available,
                           client_keys, identities, login_olvid, new_agent, olvid_stack,
                           start_standin)
from olvid_harness import standin  # noqa: F401  (fixture)
from wa_canned import bot_images, bot_messages, decode_qr, wait_bot

pytestmark = pytest.mark.skipif(not available(), reason="needs the olvid test build and olvid-bot")

UNREACHABLE = "The Olvid server of your ministry is unreachable"


@pytest.fixture(scope="module")
def stack(standin):  # noqa: F811
    s = olvid_stack(standin, config={"keycloak_configuration_link":
                                     KEYCLOAK_LINK + "#user=Paul%20Annuaire"})
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = new_agent(stack, "olv-login1")
    yield a
    a.close()


def files_holding(root, needle):
    hits = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    if needle.encode() in fh.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


def secret_files(stack):
    return [os.path.join(d, f) for d, _, files in os.walk(os.path.join(stack.bridge.dir, "data"))
            for f in files if f == "client_key.secret"]


def said(agent, fragment, after=0):
    return [m for m in bot_messages(agent)[after:]
            if fragment.lower() in m["content"].get("body", "").lower()]


def test_invitation_login(stack, agent, standin):  # noqa: F811
    pytest.importorskip("zxingcpp")
    me = login_olvid(stack, agent, standin, "invitation", name="Jean Dupont")
    # Named with identity_display ({name} (Tchap) by default).
    assert me["name"] == "Jean Dupont (Tchap)"
    body = me["done"]["content"]["body"]
    assert me["user_id"] in body and "Jean Dupont (Tchap)" in body
    # The invitation link, as text and as a QR image that decodes to it, is the identity's.
    assert me["link"].startswith("https://")
    assert decode_qr(agent, me["image"]) == [me["link"]]
    import asyncio

    async def link():
        c = standin.client(me["client_key"])
        try:
            return await c.identity_get_invitation_link()
        finally:
            await c.stop()
    assert asyncio.run(link()) == me["link"]
    # One client key, scoped to the identity, stored encrypted: in no file in clear.
    assert client_keys(standin, me["identity_id"]) == [me["client_key"]]
    assert me["client_key"] != standin.admin_key
    assert len(secret_files(stack)) == 1
    time.sleep(0.5)
    assert files_holding(stack.bridge.dir, me["client_key"]) == []
    # The session runs: its notification stream is open at the daemon.
    standin.wait_streams(me["client_key"], "MessageReceived", timeout=30)
    agent.me = me


def test_daemon_down_mid_session_and_at_login(stack, agent, standin):  # noqa: F811
    """The daemon stops: the agent is told once, the login retries with backoff; a login flow
    started meanwhile fails with a sentence; the daemon back, CONNECTED again."""
    me = agent.me
    other = new_agent(stack, "olv-login-down")
    try:
        n0 = len(bot_messages(agent))
        standin.stop()
        m = wait_bot(agent, UNREACHABLE, n0, timeout=30)
        assert "Traceback" not in m["content"]["body"]
        o0 = len(bot_messages(other))
        other.text(other.mgmt, "login olvid invitation")
        wait_bot(other, "Please send your name", o0)
        other.text(other.mgmt, "Marie Curie")
        fail = wait_bot(other, "unreachable", o0, timeout=60)
        assert "login olvid invitation" in fail["content"]["body"]
        # Several retries (1 s, 2 s, 4 s…) but one message for the outage.
        time.sleep(8)
        agent.sync()
        assert len(said(agent, UNREACHABLE, n0)) == 1
        standin.start()
        wait_bot(agent, "Olvid: connected", n0, timeout=90)
        standin.wait_streams(me["client_key"], "MessageReceived", timeout=30)
        assert len(said(agent, UNREACHABLE, n0)) == 1
    finally:
        other.close()
        if standin.proc is None:
            standin.start()


def test_restart_reconnects_without_asking(stack, agent, standin):  # noqa: F811
    me = agent.me
    n0 = len(bot_messages(agent))
    stack.bridge.stop()
    wait_until(lambda: standin.streams(me["client_key"], "MessageReceived") == 0, 30,
               what="the old streams closed")
    stack.bridge.start()
    # The saved login connects by itself with its stored key.
    standin.wait_streams(me["client_key"], "MessageReceived", timeout=60)
    time.sleep(1)
    agent.sync()
    after = bot_messages(agent)[n0:]
    assert not [m for m in after if m["content"].get("body", "").startswith("Please send")]
    assert not bot_images(agent, n0)
    assert not said(agent, "log in again", n0)


def test_disconnect_then_connect(agent, standin):  # noqa: F811
    me = agent.me
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "disconnect olvid")
    wait_bot(agent, "Disconnected from Olvid as asked", n0)
    wait_until(lambda: standin.streams(me["client_key"], "MessageReceived") == 0, 30,
               what="the streams closed")
    # Offline as asked: no reconnection by itself.
    time.sleep(3)
    assert standin.streams(me["client_key"], "MessageReceived") == 0
    n1 = len(bot_messages(agent))
    agent.text(agent.mgmt, "connect olvid")
    wait_bot(agent, "Olvid: connected", n1, timeout=30)
    standin.wait_streams(me["client_key"], "MessageReceived", timeout=30)


def test_key_flow_wrong_key_then_right(stack, standin):  # noqa: F811
    iid, key = standin.new_identity("Marie Clef")
    a = new_agent(stack, "olv-login-key")
    try:
        n0 = len(bot_messages(a))
        a.text(a.mgmt, "login olvid key")
        wait_bot(a, "Please send your Olvid client key", n0)
        n1 = len(bot_messages(a))
        a.text(a.mgmt, "not-a-key")
        again = wait_bot(a, "does not know that client key", n1, timeout=60)
        assert "Traceback" not in again["content"]["body"]
        wait_bot(a, "Please send your Olvid client key", n1)
        me = login_olvid(stack, a, standin, "key", key=key)
        assert me["identity_id"] == iid and me["name"] == "Marie Clef"
        assert me["user_id"] in me["done"]["content"]["body"]
        standin.wait_streams(key, "MessageReceived", timeout=30)
        # The key deleted at the daemon: bad credentials with a sentence, and no retry loop.
        n2 = len(bot_messages(a))
        standin.delete_client_key(key)
        m = wait_bot(a, "refused this login's client key", n2, timeout=30)
        assert "log in again" in m["content"]["body"].lower()
        time.sleep(4)
        a.sync()
        assert len(said(a, "refused", n2)) == 1
        assert not said(a, UNREACHABLE, n2)
    finally:
        a.close()


def test_directory_login(stack, standin):  # noqa: F811
    a = new_agent(stack, "olv-login-dir")
    try:
        me = login_olvid(stack, a, standin, "directory")
        # Named by the directory; a client key of its own.
        assert me["name"] == "Paul Annuaire"
        assert client_keys(standin, me["identity_id"]) == [me["client_key"]]
        standin.wait_streams(me["client_key"], "MessageReceived", timeout=30)
    finally:
        a.close()


def test_restore_login(stack, standin):  # noqa: F811
    backup_key, snapshot = standin.add_backup("Lucie Migrée")
    a = new_agent(stack, "olv-login-restore")
    try:
        n0 = len(bot_messages(a))
        a.text(a.mgmt, "login olvid restore")
        warn = wait_bot(a, "MOVES your Olvid identity", n0)["content"]["body"]
        assert "phone" in warn and "deactivates" in warn
        # `no` stops: nothing restored.
        before = set(identities(standin))
        wait_bot(a, "Please send your answer", n0)
        n1 = len(bot_messages(a))
        a.text(a.mgmt, "no")
        wait_bot(a, "Nothing was moved", n1)
        # A wrong backup key is asked again.
        n2 = len(bot_messages(a))
        a.text(a.mgmt, "login olvid restore")
        wait_bot(a, "Please send your answer", n2)
        a.text(a.mgmt, "yes")
        wait_bot(a, "Please send your Olvid backup key", n2)
        a.text(a.mgmt, "AAAA-BBBB-CCCC")
        wait_bot(a, "Please send your profile snapshot id", n2)
        a.text(a.mgmt, snapshot)
        wait_bot(a, "Please send your name of this new device", n2)
        n3 = len(bot_messages(a))
        a.text(a.mgmt, "-")
        wait_bot(a, "did not restore that backup", n3, timeout=60)
        assert set(identities(standin)) == before
        a.text(a.mgmt, "cancel")
        me = login_olvid(stack, a, standin, "restore", backup=(backup_key, snapshot))
        assert me["name"] == "Lucie Migrée"
        assert client_keys(standin, me["identity_id"]) == [me["client_key"]]
        # The backup key was sent as a password: deleted from the room, in no file in clear.
        assert files_holding(stack.bridge.dir, backup_key) == []
    finally:
        a.close()


def test_logout(stack, agent, standin):  # noqa: F811
    me = agent.me
    secrets = len(secret_files(stack))
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "logout olvid")
    wait_bot(agent, "Logged out of Olvid", n0, timeout=60)
    # The key is gone at the daemon (its streams closed), the identity stays.
    wait_until(lambda: client_keys(standin, me["identity_id"]) == [], 30, what="the key deleted")
    assert me["identity_id"] in identities(standin)
    wait_until(lambda: len(secret_files(stack)) == secrets - 1, 30, what="the secret deleted")


def test_installed_build_refuses_the_standin():
    if not os.path.exists(OLVID_INSTALLED_SO):
        pytest.skip("no installed olvid build")
    d = start_standin()
    s = olvid_stack(d, so=OLVID_INSTALLED_SO)
    try:
        s.start()
        a = new_agent(s, "olv-installed")
        try:
            # Without keycloak_configuration_link, `directory` says the admin must set it.
            n0 = len(bot_messages(a))
            a.text(a.mgmt, "login olvid directory")
            m = wait_bot(a, "keycloak_configuration_link", n0)
            assert "administrator must set" in m["content"]["body"]
            n1 = len(bot_messages(a))
            a.text(a.mgmt, "login olvid invitation")
            wait_bot(a, "Please send your name", n1)
            a.text(a.mgmt, "Jean Refus")
            wait_bot(a, STANDIN_SENTENCE, n1, timeout=60)
            assert list(identities(d)) == []
        finally:
            a.close()
    finally:
        s.close()
        d.stop()


def test_unconfigured_plugin_is_set_aside_not_fatal():
    """A package installs every plugin.  The Olvid plugin cannot run without
    plugins.olvid.daemon_address: when the config never names it (no section,
    no ministry enables it), the bridge starts without it and says why; when a
    ministry enables it without its settings, the bridge refuses to start."""
    if not os.path.exists(OLVID_INSTALLED_SO):
        pytest.skip("no installed olvid build")
    from harness import LOOPBACK_SO, Stack
    s = Stack(plugins=(LOOPBACK_SO, OLVID_INSTALLED_SO), ministry_plugins=("loopback",))
    try:
        s.start()
        assert s.bridge._log_contains("plugin olvid is installed but not configured")
        assert s.bridge._log_contains("plugins.olvid.daemon_address")
        s.bridge.stop()
        s.bridge.ministry_plugins = ["loopback", "olvid"]
        s.bridge.write_config(s.synapse.url)
        s.bridge.start(wait=False)
        wait_until(lambda: s.bridge._dead(), 60, what="the bridge to refuse its config")
        assert "plugins.olvid.daemon_address" in s.bridge.tail()
        assert "required by plugin olvid" in s.bridge.tail()
    finally:
        s.close()
