# SPDX-License-Identifier: AGPL-3.0-or-later
"""Starts and drives the stand-in Olvid daemon from tests.

    with StandIn(state_dir) as d:                 # or d = StandIn(...); d.start(); ... d.stop()
        alice, alice_key = d.new_identity("Alice Martin")
        bob, bob_key = d.new_identity("Bob Durand", keycloak=True)
        a_sees_b, b_sees_a = d.connect_contacts(alice_key, bob_key)
        client = d.client(alice_key)              # official olvid.OlvidClient (inside a loop)

StandIn(state_dir, admin_key="admin-key", port=None)
  .start() -> port      runs `python -m olvid_standin` and waits until it answers Ping
  .stop()               SIGTERM and wait;  .kill(): SIGKILL and wait
  .restart()            stop + start on the same port and state dir (state survives)
  .address              "127.0.0.1:PORT" (what OlvidClient takes as daemon_url)
  .new_identity(name, keycloak=False) -> (identity_id, client_key)
        keycloak=True: created with IdentityKeycloakNew(KEYCLOAK_LINK + "#user=<name>"), so it
        is in the stand-in's directory (KeycloakUserList / KeycloakAddUserAsContact)
  .new_client_key(identity_id, name="test") -> client_key;  .delete_client_key(key)
  .connect_contacts(key_a, key_b) -> (contact id of B at A, contact id of A at B)
        A's InvitationNew with B's invitation link, then B's InvitationAccept
  .client(client_key) -> olvid.OlvidClient;  .admin_client(identity_id=0) -> OlvidAdminClient
  .mark_read(client_key, message)    message: a Message, a MessageId or an inbound id
  .streams(client_key, kind) -> int; .wait_streams(client_key, kind, n=1, timeout=10)
        (and `await .await_streams(...)` from asyncio code): notification streams open now
  .ephemerality(client_key, message) -> dict
  .add_backup(name) -> (backup_key, snapshot_id)  a foreign Olvid backup to restore from
The official client reads OLVID_CLIENT_KEY / OLVID_DAEMON_URL (env or .env) when it is not
given client_key / daemon_url; `.client()` always passes both.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import grpc

from olvid.protobuf.olvid.daemon.admin.v1 import client_key_admin_pb2, identity_admin_pb2
from olvid.protobuf.olvid.daemon.command.v1 import (
    contact_commands_pb2, identity_commands_pb2, invitation_commands_pb2, tool_commands_pb2)
from olvid.protobuf.olvid.daemon.datatypes.v1 import identity_pb2, invitation_pb2
from olvid.protobuf.olvid.daemon.services.v1 import (
    admin_service_pb2_grpc as admin_svc, command_service_pb2_grpc as cmd_svc)

KEYCLOAK_LINK = "https://keycloak.stand-in.invalid/realms/cabinet"
_HERE = os.path.dirname(os.path.abspath(__file__))


class StandIn:
    def __init__(self, state_dir, admin_key="admin-key", port=None):
        self.state_dir = state_dir
        self.admin_key = admin_key
        self.port = port or 0
        self.proc = None
        self._channel = None
        os.makedirs(state_dir, exist_ok=True)

    # ---- process
    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=20):
        port_file = os.path.join(self.state_dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.dirname(_HERE) + os.pathsep + env.get("PYTHONPATH", "")
        log = open(os.path.join(self.state_dir, "stand-in.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "olvid_standin", "--state-dir", self.state_dir,
             "--admin-key", self.admin_key, "--port", str(self.port), "--port-file", port_file],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.state_dir)
        log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("stand-in exited (%s), see %s/stand-in.log"
                                   % (self.proc.returncode, self.state_dir))
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self._channel = grpc.insecure_channel(self.address)
        cmd_svc.ToolCommandServiceStub(self._channel).Ping(tool_commands_pb2.PingRequest(),
                                                           timeout=timeout, wait_for_ready=True)
        return self.port

    def _end(self, sig):
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
            self.proc = None

    def stop(self):
        self._end(signal.SIGTERM)

    def kill(self):
        self._end(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- synchronous admin helpers
    def _md(self, key=None):
        return (("daemon-client-key", key or self.admin_key),)

    def _admin(self, stub):
        return stub(self._channel)

    def new_identity(self, name, keycloak=False):
        ia = self._admin(admin_svc.IdentityAdminServiceStub)
        if keycloak:
            link = KEYCLOAK_LINK + "#" + urllib.parse.urlencode({"user": name})
            ident = ia.IdentityKeycloakNew(
                identity_admin_pb2.IdentityKeycloakNewRequest(configuration_link=link),
                metadata=self._md()).identity
        else:
            first, _, last = name.partition(" ")
            details = identity_pb2.IdentityDetails(first_name=first)
            if last:
                details.last_name = last
            ident = ia.IdentityNew(identity_admin_pb2.IdentityNewRequest(identity_details=details),
                                   metadata=self._md()).identity
        return ident.id, self.new_client_key(ident.id, name)

    def new_client_key(self, identity_id, name="test"):
        ck = self._admin(admin_svc.ClientKeyAdminServiceStub)
        return ck.ClientKeyNew(client_key_admin_pb2.ClientKeyNewRequest(
            name=name, identity_id=identity_id), metadata=self._md()).client_key.key

    def delete_client_key(self, key):
        ck = self._admin(admin_svc.ClientKeyAdminServiceStub)
        ck.ClientKeyDelete(client_key_admin_pb2.ClientKeyDeleteRequest(client_key=key),
                           metadata=self._md())

    def connect_contacts(self, key_a, key_b):
        link = cmd_svc.IdentityCommandServiceStub(self._channel).IdentityGetInvitationLink(
            identity_commands_pb2.IdentityGetInvitationLinkRequest(),
            metadata=self._md(key_b)).invitation_link
        inv = cmd_svc.InvitationCommandServiceStub(self._channel)
        inv.InvitationNew(invitation_commands_pb2.InvitationNewRequest(invitation_url=link),
                          metadata=self._md(key_a))
        for r in inv.InvitationList(invitation_commands_pb2.InvitationListRequest(),
                                    metadata=self._md(key_b)):
            for i in r.invitations:
                if i.status == invitation_pb2.Invitation.STATUS_INVITATION_WAIT_YOU_TO_ACCEPT:
                    inv.InvitationAccept(invitation_commands_pb2.InvitationAcceptRequest(
                        invitation_id=i.id), metadata=self._md(key_b))
        ident_a = self._bytes(key_a)
        ident_b = self._bytes(key_b)
        return self._contact_with(key_a, ident_b), self._contact_with(key_b, ident_a)

    def _bytes(self, key):
        return cmd_svc.IdentityCommandServiceStub(self._channel).IdentityGetBytesIdentifier(
            identity_commands_pb2.IdentityGetBytesIdentifierRequest(),
            metadata=self._md(key)).identifier

    def _contact_with(self, key, identifier):
        cc = cmd_svc.ContactCommandServiceStub(self._channel)
        for r in cc.ContactList(contact_commands_pb2.ContactListRequest(), metadata=self._md(key)):
            for c in r.contacts:
                if cc.ContactGetBytesIdentifier(contact_commands_pb2.ContactGetBytesIdentifierRequest(
                        contact_id=c.id), metadata=self._md(key)).identifier == identifier:
                    return c.id
        raise LookupError("no such contact")

    # ---- control calls (outside the published API, see control.py)
    def control(self, **req):
        call = self._channel.unary_unary("/passerelle.standin.Control/Call",
                                         request_serializer=lambda x: x,
                                         response_deserializer=lambda x: x)
        return json.loads(call(json.dumps(req).encode(), metadata=self._md()))

    @staticmethod
    def _mid(message):
        if isinstance(message, int):
            return message
        mid = getattr(message, "id", message)
        return getattr(mid, "id", mid)

    def mark_read(self, key, message):
        self.control(op="mark_read", client_key=key, id=self._mid(message))

    def streams(self, key, kind):
        return self.control(op="streams", client_key=key, kind=kind)["count"]

    def wait_streams(self, key, kind, n=1, timeout=10):
        deadline = time.monotonic() + timeout
        while self.streams(key, kind) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("%s stream not open" % kind)
            time.sleep(0.02)

    async def await_streams(self, key, kind, n=1, timeout=10):
        """wait_streams for asyncio code (lets the client's own tasks run meanwhile)."""
        import asyncio
        deadline = time.monotonic() + timeout
        while self.streams(key, kind) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("%s stream not open" % kind)
            await asyncio.sleep(0.02)

    def ephemerality(self, key, message):
        return self.control(op="ephemerality", client_key=key, id=self._mid(message))

    def add_backup(self, name):
        first, _, last = name.partition(" ")
        r = self.control(op="add_backup", first_name=first, last_name=last)
        return r["backup_key"], r["snapshot_id"]

    # ---- official clients (create them inside a running asyncio loop)
    def client(self, client_key):
        from olvid import OlvidClient
        return OlvidClient(client_key=client_key, daemon_url=self.address)

    def admin_client(self, identity_id=0):
        from olvid import OlvidAdminClient
        return OlvidAdminClient(identity_id=identity_id, client_key=self.admin_key,
                                daemon_url=self.address)
