# SPDX-License-Identifier: AGPL-3.0-or-later
"""The encrypted stack of the end-to-bridge encryption tests and benchmark:
a Synapse that encrypts every new room (Tchap) with the appservice
extensions the bot device needs, a bridge with encryption on, and a
matrix-nio agent with E2EE (libolm through python-olm)."""

import os
import tempfile

import yaml

import harness
from harness import SYNC_FILTER, Agent


class EncryptingSynapse(harness.Synapse):
    """Synapse with encryption on by default for every new room (Tchap) and
    the appservice extensions end-to-bridge encryption needs."""

    def _write_config(self):
        super()._write_config()
        with open(self.config) as f:
            cfg = yaml.safe_load(f)
        cfg["encryption_enabled_by_default_for_room_type"] = "all"
        # The bot device's to-device messages, device lists and key counts
        # come in the transactions: Synapse refuses /sync to the AS sender.
        cfg["experimental_features"] = {"msc2409_to_device_messages_enabled": True,
                                        "msc3202_transaction_extensions": True}
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)


class EncryptedBridge(harness.Bridge):
    encryption_extra = {}  # more keys of the config's encryption: section

    def write_config(self, hs_url):
        super().write_config(hs_url)
        with open(self.config) as f:
            cfg = yaml.safe_load(f)
        cfg["bridge"].pop("encryption_default", None)
        cfg["encryption"] = dict({"allow": True, "default": True, "require": False},
                                 **self.encryption_extra)
        with open(self.config, "w") as f:
            yaml.safe_dump(cfg, f)


class EncryptedStack(harness.Stack):
    def __init__(self, encryption_extra=None):  # pylint: disable=super-init-not-called
        self.workdir = tempfile.mkdtemp(prefix="passerelle-e2e-")
        self.bridge = EncryptedBridge(self.workdir)
        self.bridge.encryption_extra = dict(encryption_extra or {})
        self.bridge.write_config("http://127.0.0.1:1")
        self.synapse = EncryptingSynapse(self.workdir, self.bridge.registration)
        self.bridge.write_config(self.synapse.url)
        self.bridge.generate_registration()


class E2EAgent(Agent):
    """An Agent whose nio client has a crypto store and keeps its keys up."""

    def __init__(self, stack, localpart, password="secret-password", device_name="nio-test"):
        # pylint: disable=super-init-not-called
        import asyncio
        from nio import AsyncClient, AsyncClientConfig
        self.loop = asyncio.new_event_loop()
        self.mxid = "@%s:localhost" % localpart
        stack.synapse.register(localpart, password)
        self.store_dir = os.path.join(stack.workdir, "nio-" + localpart)
        os.makedirs(self.store_dir, exist_ok=True)
        self.client = AsyncClient(stack.synapse.url, self.mxid, store_path=self.store_dir,
                                  config=AsyncClientConfig(encryption_enabled=True,
                                                           store_sync_tokens=True))
        self.events = {}
        self.to_device = []
        self.invites = set()
        self.invite_state = {}
        resp = self.run(self.client.login(password, device_name=device_name))
        assert getattr(resp, "access_token", None), resp
        if self.client.olm is None:
            self.client.load_store()
        assert self.client.olm is not None
        self.since = None
        self.sync()

    def _upkeep(self):
        c = self.client
        if c.should_upload_keys:
            self.run(c.keys_upload())
        if c.should_query_keys:
            self.run(c.keys_query())
        if c.should_claim_keys:
            self.run(c.keys_claim(c.get_users_for_key_claiming()))

    def sync(self, timeout_ms=0):
        before = self.since
        resp = self.run(self.client.sync(timeout=timeout_ms, since=self.since, full_state=False,
                                         sync_filter=SYNC_FILTER))
        assert hasattr(resp, "next_batch"), resp
        self.since = resp.next_batch
        self.to_device.extend(getattr(resp, "to_device_events", []) or [])
        for room_id, info in resp.rooms.invite.items():
            self.invites.add(room_id)
            self.invite_state.setdefault(room_id, []).extend(
                getattr(e, "source", None) or {} for e in info.invite_state)
        for room_id, info in resp.rooms.join.items():
            lst = self.events.setdefault(room_id, [])
            lst.extend(self.gap(room_id, info.timeline, before))
            for ev in list(info.state) + list(info.timeline.events):
                src = dict(ev.source)
                if getattr(ev, "decrypted", False):
                    src["_e2e"] = {"session_id": ev.session_id, "sender_key": ev.sender_key}
                lst.append(src)
        self._upkeep()
        return resp

    def send(self, room_id, content, event_type="m.room.message"):
        self._upkeep()
        room = self.client.rooms.get(room_id)
        if room is not None and not room.members_synced:
            self.run(self.client.joined_members(room_id))
        return super().send(room_id, content, event_type)

    def encrypted_raw(self, room_id):
        """Events of the room nio could not decrypt."""
        return [e for e in self.events.get(room_id, []) if e.get("type") == "m.room.encrypted"]
