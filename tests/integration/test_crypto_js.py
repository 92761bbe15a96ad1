# SPDX-License-Identifier: AGPL-3.0-or-later
"""Interoperability of the bridge's encryption with matrix-js-sdk and its Rust
crypto (@matrix-org/matrix-sdk-crypto-wasm), the crypto Element and Tchap web
run: the scenario of test_crypto.py with a Node agent (tests/integration/js/
agent.mjs) instead of matrix-nio/libolm.

The module runs twice: "default" (keys shared with every device) and
"only_signed" (Element's "exclude insecure devices": the client shares keys
with, and decrypts events of, devices cross-signed by their owner only)."""

import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

import harness
from harness import bot_says, wait_until
from conftest import running
from e2e import EncryptedStack
from loopnet import LoopNet
from test_crypto import BOT, ghost, login

JS_DIR = os.path.join(harness.HERE, "js")
AGENT = os.path.join(JS_DIR, "agent.mjs")
# matrix-js-sdk's EventShieldReason and EventShieldColour
SHIELD_NONE = 0


def require_js_sdk():
    """The agent needs node and the pinned node modules: fail, never skip."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Node >= 20 is needed for the matrix-js-sdk agent)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "matrix-js-sdk")):
        pytest.fail("matrix-js-sdk is not installed in %s/node_modules: run scripts/setup-deps "
                    "(npm ci --prefix tests/integration/js)" % JS_DIR)


class JSAgent:
    """The Node agent, driven by JSON lines.  It has the methods of
    harness.Agent that login() and bot_says() use (text, messages, wait)."""

    def __init__(self, stack, localpart, password="secret-password", isolation="all",
                 cross_signing=False):
        self.mxid = "@%s:localhost" % localpart
        stack.synapse.register(localpart, password)
        self.log_path = os.path.join(stack.workdir, "js-%s.log" % localpart)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["node", AGENT], cwd=JS_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log)
        self._answers = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.info = self.call("login", hs=stack.synapse.url, user=localpart,
                              password=password, isolation=isolation,
                              cross_signing=cross_signing, timeout=90)

    def _read(self):
        for line in self.proc.stdout:
            self._answers.put(json.loads(line))
        self._answers.put(None)

    def call(self, cmd, timeout=30, **args):
        self._next_id += 1
        # (Commands that wait take the same timeout, in seconds.)
        msg = dict(args, id=self._next_id, cmd=cmd, timeout=timeout)
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout + 10
        while True:
            try:
                ans = self._answers.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("js agent: no answer to %s in %ds; see %s"
                                     % (cmd, timeout, self.log_path)) from None
            if ans is None:
                raise AssertionError("js agent exited (%s); see %s"
                                     % (self.proc.poll(), self.log_path))
            if ans.get("id") == self._next_id:
                break
        if not ans["ok"]:
            raise AssertionError("js agent %s failed: %s (see %s)"
                                 % (cmd, ans["error"], self.log_path))
        return ans["result"]

    # -- the harness.Agent surface used by test_crypto.login() and bot_says()
    def text(self, room, body):
        res = self.call("send", room=room, body=body)
        assert res["encrypted"], "the js agent sent %r in clear" % body
        return res["event_id"]

    def messages(self, room, sender=None):
        return [m for m in self.call("messages", room=room)
                if m["type"] == "m.room.message" and (sender is None or m["sender"] == sender)]

    def wait(self, pred, timeout=30, what="event"):
        return wait_until(lambda: pred(self), timeout=timeout, interval=0.3, what=what)

    # -- the rest
    def decrypted(self, room, sender, body):
        return [m for m in self.messages(room, sender)
                if "_e2e" in m and m["content"].get("body") == body]

    def undecryptable(self, room):
        return [m for m in self.call("messages", room=room) if m.get("decryption_failure")]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call("stop", timeout=10)
            except AssertionError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module", params=["all", "only_signed"], ids=["default", "only_signed"])
def isolation(request):
    return request.param


@pytest.fixture(scope="module")
def stack(isolation):
    require_js_sdk()
    yield from running(EncryptedStack())


@pytest.fixture(scope="module")
def net(isolation):
    """A legacy network per run of the module (conftest's is one per module)."""
    n = LoopNet()
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def jane(stack, isolation):
    a = JSAgent(stack, "jane", isolation=isolation)
    assert a.info["isolation"] == isolation, a.info
    yield a
    a.close()


@pytest.fixture(scope="module")
def rooms(isolation):
    return {}


def log_lines(stack, marker):
    with open(stack.bridge.log_path, "rb") as f:
        return [l for l in f.read().decode(errors="replace").splitlines() if marker in l]


def bot_device(stack):
    return log_lines(stack, "bot device")[-1].split("bot device ")[1].split()[0]


def cross_signing(stack):
    """(master key, state, device signed now) of each start's
    "bot cross-signing: master key <pub> (<state>)" line."""
    out = []
    for l in log_lines(stack, "bot cross-signing: master key "):
        rest = l.split("bot cross-signing: master key ")[1]
        out.append((rest.split()[0], rest.split("(")[1].split(")")[0], "device signed" in rest))
    return out


# ----------------------------------------------------------------- tests


def test_rust_crypto_management_room_and_login(stack, jane, net, rooms):
    assert jane.info["crypto"] and "Rust" in jane.info["crypto"], jane.info
    net.add_user("jane-lb", "pw", "Jane Legacy")
    mgmt = jane.call("create_dm", invitee=BOT)["room"]
    rooms["mgmt"] = mgmt
    assert jane.call("is_encrypted", room=mgmt)
    welcome = jane.call("wait_message", room=mgmt, sender=BOT, timeout=60)
    assert welcome["encrypted"] and "_e2e" in welcome, welcome
    login(jane, mgmt, net, "jane-lb")
    net.wait_connected("jane-lb", 20)
    # Every answer of the bot was encrypted, and the Rust crypto decrypted it.
    answers = jane.messages(mgmt, sender=BOT)
    assert len(answers) >= 5 and all(m["encrypted"] and "_e2e" in m for m in answers), answers
    assert bot_says(jane, mgmt, "Logged in")
    assert jane.undecryptable(mgmt) == []
    # The Rust crypto accepted the bot device's keys (/keys/query checks their
    # self-signature), knows its messages come from that device, and that the
    # device is cross-signed by the bot: its messages carry no warning.
    devices = jane.call("devices", user=BOT)
    assert [d["device_id"] for d in devices] == [bot_device(stack)], devices
    assert {"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"} <= set(devices[0]["algorithms"])
    assert devices[0]["curve25519"] == welcome["_e2e"]["sender_key"], (devices, welcome)
    assert devices[0]["signed_by_owner"], devices
    shield = jane.call("encryption_info", room=mgmt, event_id=welcome["event_id"])
    assert shield == {"shield": SHIELD_NONE, "reason": None}, shield
    # The device was made through MSC4190 (no login), and cross-signed once.
    assert "created through MSC4190 device management" in log_lines(stack, "bot device")[-1]
    [(master, state, signed)] = cross_signing(stack)
    assert state == "uploaded" and signed, cross_signing(stack)


def test_restart_keeps_cross_signing(stack, jane, net, rooms):
    """A restart finds the same device and master key on the server and
    uploads nothing (no key upload, no device signature)."""
    before = bot_device(stack)
    [(master, _, _)] = cross_signing(stack)
    stack.bridge.stop()
    stack.bridge.start()
    net.wait_connected("jane-lb", 30)
    wait_until(lambda: len(cross_signing(stack)) == 2, timeout=30,
               what="the cross-signing line of the second start")
    assert bot_device(stack) == before
    assert "kept through MSC4190 device management" in log_lines(stack, "bot device")[-1]
    assert cross_signing(stack)[1] == (master, "unchanged", False), cross_signing(stack)
    devices = jane.call("devices", user=BOT)
    assert [(d["device_id"], d["signed_by_owner"]) for d in devices] == [(before, True)], devices
    # The management room still works both ways.
    answers = len(jane.messages(rooms["mgmt"], sender=BOT))
    jane.text(rooms["mgmt"], "help")
    jane.wait(lambda a: len(a.messages(rooms["mgmt"], sender=BOT)) > answers, timeout=30,
              what="an answer after the restart")
    assert jane.undecryptable(rooms["mgmt"]) == []


def test_legacy_message_decrypts_in_rust_crypto(stack, jane, net, rooms):
    net.deliver("jane-lb", {"ev": "contact", "id": "bob", "name": "Bob Legacy"})
    net.deliver("jane-lb", {"ev": "message", "id": "js-1", "chat": "bob", "chat_kind": "dm",
                            "from": "bob", "text": "secret hello"})
    room = jane.call("wait_invite", inviter=ghost("bob"), timeout=60)["room"]
    rooms["dm"] = room
    jane.call("join", room=room, timeout=90)
    assert jane.call("is_encrypted", room=room)
    msg = jane.call("wait_message", room=room, sender=ghost("bob"), body="secret hello",
                    timeout=60)
    assert msg["encrypted"] and msg["_e2e"]["session_id"], msg
    rooms["first"] = msg
    # The ghost has a device of its own, cross-signed by the ghost's own
    # keys: its messages carry no warning (an identity the agent has not
    # verified is not one), and the client knows the device.
    devices = jane.call("devices", user=ghost("bob"))
    assert len(devices) == 1 and devices[0]["device_id"] != bot_device(stack), devices
    assert devices[0]["curve25519"] == msg["_e2e"]["sender_key"], (devices, msg)
    shield = jane.call("encryption_info", room=room, event_id=msg["event_id"])
    assert shield["shield"] == SHIELD_NONE and shield["reason"] is None, shield
    # Two members: the agent and the ghost (Tchap's "direct" rule); no bot.
    assert jane.call("members", room=room) == sorted([jane.mxid, ghost("bob")])
    # The homeserver holds only ciphertext; decrypting it again from there works.
    again = jane.call("fetch_decrypt", room=room, event_id=msg["event_id"])
    assert again["raw_type"] == "m.room.encrypted" and not again["raw_has_body"], again
    assert again["content"]["body"] == "secret hello" and "_e2e" in again, again


def test_rust_crypto_reply_reaches_legacy(stack, jane, net, rooms):
    jane.text(rooms["dm"], "encrypted reply")
    op = net.wait_sent("jane-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "encrypted reply", 30)
    assert op["chat"] == "bob"


def test_restart_keeps_sessions_with_rust_crypto(stack, jane, net, rooms):
    room = rooms["dm"]
    before = bot_device(stack)
    ghost_before = jane.call("devices", user=ghost("bob"))
    stack.bridge.stop()
    stack.bridge.start()
    net.wait_connected("jane-lb", 30)
    assert bot_device(stack) == before
    net.deliver("jane-lb", {"ev": "message", "id": "js-2", "chat": "bob", "from": "bob",
                            "text": "after restart"})
    msg = jane.call("wait_message", room=room, sender=ghost("bob"), body="after restart",
                    timeout=60)
    assert msg["encrypted"] and "_e2e" in msg, msg
    # The ghost kept its device and keys: the restart made and uploaded
    # nothing for it (its identity is published in crypto.db).
    assert jane.call("devices", user=ghost("bob")) == ghost_before
    with open(stack.bridge.log_path, "rb") as f:
        made = [l for l in f.read().decode(errors="replace").splitlines()
                if "ghost %s has device" % ghost("bob") in l]
    assert len(made) == 1, made
    jane.text(room, "to bob after restart")
    net.wait_sent("jane-lb", lambda o: o.get("op") == "send"
                  and o.get("text") == "to bob after restart", 30)
    # The old message still decrypts, from the timeline and afresh from the server.
    assert jane.decrypted(room, ghost("bob"), "secret hello")
    old = jane.call("fetch_decrypt", room=room, event_id=rooms["first"]["event_id"])
    assert old["content"].get("body") == "secret hello" and "_e2e" in old, old
    assert jane.undecryptable(room) == []
    assert jane.undecryptable(rooms["mgmt"]) == []


def test_room_key_lost_while_bridge_down_is_requested(stack, jane, net, rooms):
    """Synapse drops the to-device messages of an appservice that is down
    (recovery transactions carry room events only), so a room key the
    agent's client sends then never reaches the bridge.  The bridge asks the
    client for it (m.room_key_request); the Rust crypto answers devices it
    shared the session with, and the message is bridged."""
    room = rooms["dm"]
    stack.bridge.stop()
    try:
        jane.call("discard_session", room=room)
        jane.text(room, "written while the bridge was down")
    finally:
        stack.bridge.start()
    net.wait_connected("jane-lb", 30)
    op = net.wait_sent("jane-lb", lambda o: o.get("op") == "send"
                       and o.get("text") == "written while the bridge was down", 60)
    assert op["chat"] == "bob"
    with open(stack.bridge.log_path, "rb") as f:
        log = f.read().decode(errors="replace")
    assert "requesting room key" in log



def test_new_ghosts_in_a_group_decrypt_at_once(stack, jane, net, rooms):
    """A group portal the agent is in, where contacts the bridge never saw
    write at once: each ghost's first message comes from a device the
    agent's client has not met before it joined.  Every message decrypts,
    in either isolation mode, with no warning."""
    net.deliver("jane-lb", {"ev": "chat", "id": "g-js", "kind": "group", "name": "Cellule",
                            "members": ["jane-lb", "carl", "dina"]})
    net.deliver("jane-lb", {"ev": "message", "id": "g-js-0", "chat": "g-js",
                            "chat_kind": "group", "from": "carl", "text": "opening"})
    room = jane.call("wait_invite", name="Cellule", timeout=60)["room"]
    jane.call("join", room=room, timeout=90)
    jane.call("wait_message", room=room, sender=ghost("carl"), body="opening", timeout=60)
    # Three new contacts, their first messages back to back.
    for who in ("erik", "fanny", "gael"):
        net.deliver("jane-lb", {"ev": "message", "id": "g-js-" + who, "chat": "g-js",
                                "chat_kind": "group", "from": who, "text": "first from " + who})
    for who in ("erik", "fanny", "gael"):
        msg = jane.call("wait_message", room=room, sender=ghost(who), body="first from " + who,
                        timeout=60)
        assert "_e2e" in msg, msg
        shield = jane.call("encryption_info", room=room, event_id=msg["event_id"])
        assert shield["shield"] == SHIELD_NONE and shield["reason"] is None, (who, shield)
    assert jane.undecryptable(room) == []
