# SPDX-License-Identifier: AGPL-3.0-or-later
"""Notification services: every Subscribe… rpc of the published notification services is a
live stream of the matching notifications for the calling identity (count and the common
filters honoured). A MessageReceived sent on a stream counts as listed (no longer unread)."""

from olvid.protobuf.olvid.daemon.services.v1 import (
    notification_service_pb2 as desc, notification_service_pb2_grpc as svc)

from . import views

_IDS = {"message_ids": "message", "group_ids": "group", "contact_ids": "contact",
        "discussion_ids": "discussion", "invitation_ids": "invitation"}


def make_accept(request):
    fields = {f.name for f in request.DESCRIPTOR.fields}

    def accept(note):
        if note.DESCRIPTOR.fields_by_name.get("message") is not None:
            for name in ("filter", "message_filter"):
                if name in fields and request.HasField(name) and \
                        not views.message_match(getattr(request, name), note.message):
                    return False
        for ids, what in _IDS.items():
            if ids in fields and getattr(request, ids) and \
                    note.DESCRIPTOR.fields_by_name.get(what) is not None:
                thing = getattr(note, what)
                wanted = getattr(request, ids)
                if what == "message":
                    if not views.ids_match(wanted, thing.id):
                        return False
                elif thing.id not in wanted:
                    return False
        return True
    return accept


def _method(kind):
    async def method(self, request, context):
        on_sent = None
        if kind == "MessageReceived":
            def on_sent(note):
                self.dm.seen_by_client([note.message.id.id], listed=True)
        async for note in self.dm.subscribe(request, context, kind, make_accept(request),
                                            on_sent):
            yield note
    method.__name__ = kind
    return method


def servicers(dm):
    """[(add_..._to_server, servicer instance)] for every notification service."""
    out = []
    for service in desc.DESCRIPTOR.services_by_name.values():
        base = getattr(svc, service.name + "Servicer")
        body = {"__init__": lambda self, dm=dm: setattr(self, "dm", dm)}
        for m in service.methods:
            body[m.name] = _method(m.name)
        cls = type(service.name, (base,), body)
        out.append((getattr(svc, "add_%sServicer_to_server" % service.name), cls()))
    return out
