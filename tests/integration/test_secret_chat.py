# SPDX-License-Identifier: AGPL-3.0-or-later
"""Secret chats (PaChatInfo.secret: end-to-end encrypted on the network, no server copy),
against a real Synapse with the loopback network: the portal is encrypted even though the
bridge's encryption.default is false, carries fr.passerelle.secret and says so in a notice; a
portal made before the chat was known secret is encrypted then; a bridge running without
encryption (encryption.allow false) refuses the chat and tells the agent in the management
room."""

import tempfile

import pytest
import yaml

import harness
from conftest import running
from e2e import E2EAgent, EncryptedBridge
from harness import Agent, open_management_room, wait_until
from test_crypto import dm_room, ghost, ghost_texts, login

SECRET_EVENT = "fr.passerelle.secret"


class ExtensionsSynapse(harness.Synapse):
    """The appservice extensions the bot device needs, without Synapse encrypting every new
    room by itself (so an encrypted portal is the bridge's doing)."""

    def _write_config(self):
        super()._write_config()
        with open(self.config) as f:
            cfg = yaml.safe_load(f)
        cfg["experimental_features"] = {"msc2409_to_device_messages_enabled": True,
                                        "msc3202_transaction_extensions": True}
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)


class SecretStack(harness.Stack):
    def __init__(self, allow):  # pylint: disable=super-init-not-called
        self.workdir = tempfile.mkdtemp(prefix="passerelle-secret-")
        self.bridge = EncryptedBridge(self.workdir)
        self.bridge.encryption_extra = {"allow": allow, "default": False}
        self.bridge.write_config("http://127.0.0.1:1")
        self.synapse = ExtensionsSynapse(self.workdir, self.bridge.registration)
        self.bridge.write_config(self.synapse.url)
        self.bridge.generate_registration()


@pytest.fixture(scope="module")
def stack():
    yield from running(SecretStack(allow=True))


@pytest.fixture(scope="module")
def alice(stack, net):
    a = E2EAgent(stack, "alice")
    net.add_user("alice-sc", "pw", "Alice Legacy")
    login(a, open_management_room(a), net, "alice-sc")
    net.wait_connected("alice-sc", 20)
    yield a
    a.close()


def test_secret_chat_portal_is_encrypted(alice, net):
    # An ordinary DM first: encryption.default is false, its portal is in clear.
    net.add_contact("paul", "Paul")
    net.deliver("alice-sc", {"ev": "message", "chat": "paul", "chat_kind": "dm", "from": "paul",
                             "text": "en clair"})
    plain = dm_room(alice, "paul")
    alice.join(plain)
    alice.wait(lambda a: "en clair" in a.bodies(plain, ghost("paul")), what="the clear DM")
    assert alice.state(plain, "m.room.encryption") is None
    assert alice.state(plain, SECRET_EVENT) is None

    net.add_contact("sofia", "Sofia")
    net.deliver("alice-sc", {"ev": "chat", "id": "sofia", "kind": "dm", "secret": True,
                             "members": [{"id": "alice-sc"}, {"id": "sofia", "name": "Sofia"}]})
    net.deliver("alice-sc", {"ev": "message", "chat": "sofia", "from": "sofia",
                             "text": "rien que nous deux"})
    room = dm_room(alice, "sofia")
    alice.join(room)
    assert alice.state(room, "m.room.encryption") == {"algorithm": "m.megolm.v1.aes-sha2"}
    assert alice.state(room, SECRET_EVENT) == {"secret": True}
    alice.wait(lambda a: [m for m in ghost_texts(a, room, "sofia")
                          if m["content"].get("body") == "rien que nous deux"],
               what="the secret chat's message, decrypted")
    notes = [m["content"]["body"] for m in ghost_texts(alice, room, "sofia")
             if m["content"].get("msgtype") == "m.notice"]
    assert len([n for n in notes if n.startswith("🔒 Secret chat: Loopback")]) == 1, notes
    # The agent's answer, encrypted, reaches the network.
    alice.text(room, "bien reçu")
    op = net.wait_sent("alice-sc", lambda o: o.get("op") == "send" and o.get("text") == "bien reçu",
                       30)
    assert op["chat"] == "sofia"


def test_known_portal_becomes_secret(alice, net):
    """A chat whose portal was made in clear and is then said secret: the room is encrypted
    (Matrix cannot turn it back) and marked, once."""
    net.deliver("alice-sc", {"ev": "chat", "id": "paul", "kind": "dm", "secret": True})
    plain = [r for r in alice.events if alice.inviter(r) == ghost("paul")][0]
    wait_until(lambda: alice.state(plain, "m.room.encryption") is not None, 20,
               what="encryption turned on")
    wait_until(lambda: alice.state(plain, SECRET_EVENT) == {"secret": True}, 20,
               what="the secret mark")
    alice.wait(lambda a: [m for m in a.messages(plain, sender=ghost("paul"))
                          if m["content"].get("body", "").startswith("🔒 Secret chat")],
               what="the secret notice")
    net.deliver("alice-sc", {"ev": "chat", "id": "paul", "kind": "dm", "secret": True})
    net.deliver("alice-sc", {"ev": "message", "chat": "paul", "from": "paul", "text": "chiffré"})
    alice.wait(lambda a: [m for m in ghost_texts(a, plain, "paul")
                          if m["content"].get("body") == "chiffré"], what="an encrypted message")
    assert len([m for m in alice.messages(plain, sender=ghost("paul"))
                if m["content"].get("body", "").startswith("🔒 Secret chat")]) == 1


# ------------------------------------------------- a bridge without encryption


@pytest.fixture(scope="module")
def clear_stack(alice):
    # After the encrypted stack's tests (alice): one homeserver at a time.
    yield from running(SecretStack(allow=False))


def test_secret_chat_refused_without_encryption(clear_stack, net):
    bob = Agent(clear_stack, "bob")
    try:
        net.add_user("bob-sc", "pw", "Bob Legacy")
        from test_core import login as clear_login
        mgmt = open_management_room(bob)
        clear_login(bob, mgmt, net, "bob-sc")
        net.wait_connected("bob-sc", 20)
        net.add_contact("tania", "Tania")
        net.deliver("bob-sc", {"ev": "chat", "id": "tania", "kind": "dm", "secret": True})
        net.deliver("bob-sc", {"ev": "message", "chat": "tania", "from": "tania",
                               "text": "ne doit pas passer"})
        bob.wait(lambda a: [m for m in a.messages(mgmt)
                            if "secret chat" in m["content"].get("body", "")
                            and "not bridged" in m["content"]["body"]],
                 what="the refusal in the management room")
        # A later message of the chat (without its chat info) is refused too; an ordinary
        # DM after it is bridged, so the refused one had its turn.
        net.deliver("bob-sc", {"ev": "message", "chat": "tania", "from": "tania",
                               "text": "toujours pas"})
        net.add_contact("ugo", "Ugo")
        net.deliver("bob-sc", {"ev": "message", "chat": "ugo", "chat_kind": "dm", "from": "ugo",
                               "text": "ordinaire"})
        room = bob.wait_invite(lambda a, r: a.inviter(r) == ghost("ugo"))
        bob.join(room)
        bob.wait(lambda a: "ordinaire" in a.bodies(room, ghost("ugo")), what="the ordinary DM")
        assert not [r for r in bob.invites | set(bob.events) if bob.inviter(r) == ghost("tania")]
        assert len([m for m in bob.messages(mgmt)
                    if "not bridged" in m["content"].get("body", "")]) == 1
    finally:
        bob.close()
