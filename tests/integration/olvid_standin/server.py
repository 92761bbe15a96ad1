# SPDX-License-Identifier: AGPL-3.0-or-later
"""Builds the stand-in's grpc.aio server on the official generated servicers."""

import asyncio
import os
import signal

import grpc

from olvid.protobuf.olvid.daemon.services.v1 import (
    admin_service_pb2_grpc as admin_svc, command_service_pb2_grpc as cmd_svc)

from . import admin, control, discussion, group, identity, message, notify
from .core import Daemon

MAX_MESSAGE = 64 * 1024 * 1024


def build(dm, port):
    # Client keepalive pings are accepted down to one every 5 s, even without a call open
    # (Go's gRPC client cannot ping more often than every 10 s).
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                      ("grpc.max_send_message_length", MAX_MESSAGE),
                                      ("grpc.keepalive_permit_without_calls", 1),
                                      ("grpc.http2.min_ping_interval_without_data_ms", 5000),
                                      ("grpc.http2.max_ping_strikes", 0)])
    pairs = [
        (admin_svc.add_ClientKeyAdminServiceServicer_to_server, admin.ClientKeyAdmin(dm)),
        (admin_svc.add_IdentityAdminServiceServicer_to_server, admin.IdentityAdmin(dm)),
        (admin_svc.add_BackupAdminServiceServicer_to_server, admin.BackupAdmin(dm)),
        (cmd_svc.add_ToolCommandServiceServicer_to_server, identity.Tool(dm)),
        (cmd_svc.add_IdentityCommandServiceServicer_to_server, identity.IdentityCommand(dm)),
        (cmd_svc.add_InvitationCommandServiceServicer_to_server, identity.InvitationCommand(dm)),
        (cmd_svc.add_ContactCommandServiceServicer_to_server, identity.ContactCommand(dm)),
        (cmd_svc.add_KeycloakCommandServiceServicer_to_server, identity.KeycloakCommand(dm)),
        (cmd_svc.add_GroupCommandServiceServicer_to_server, group.GroupCommand(dm)),
        (cmd_svc.add_DiscussionCommandServiceServicer_to_server, discussion.DiscussionCommand(dm)),
        (cmd_svc.add_SettingsCommandServiceServicer_to_server, discussion.SettingsCommand(dm)),
        (cmd_svc.add_MessageCommandServiceServicer_to_server, message.MessageCommand(dm)),
        (cmd_svc.add_AttachmentCommandServiceServicer_to_server, message.AttachmentCommand(dm)),
    ] + notify.servicers(dm)
    # Services of the published API the stand-in does not implement still answer (with
    # UNIMPLEMENTED, from the base classes) so a client sees the same surface.
    for name in ("Storage", "DiscussionStorage", "Call"):
        base = getattr(cmd_svc, name + "CommandServiceServicer")
        pairs.append((getattr(cmd_svc, "add_%sCommandServiceServicer_to_server" % name), base()))
    for add, servicer in pairs:
        add(servicer, server)
    server.add_generic_rpc_handlers((control.handler(dm),))
    bound = server.add_insecure_port("127.0.0.1:%d" % port)
    return server, bound


async def serve(state_dir, admin_key, port, port_file):
    dm = Daemon(state_dir, admin_key)
    server, bound = build(dm, port)
    await server.start()
    for gm, g in list(dm.st.d["gmsgs"].items()):
        if g["eph"].get("existence_duration"):
            dm.schedule_expiry(gm)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % bound)
        os.replace(tmp, port_file)
    print("passerelle-stand-in listening on 127.0.0.1:%d" % bound, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=0.5)
