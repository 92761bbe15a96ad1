# SPDX-License-Identifier: AGPL-3.0-or-later
"""Discussion and settings command services."""

from olvid.protobuf.olvid.daemon.command.v1 import (
    discussion_commands_pb2 as dc, settings_commands_pb2 as sc)
from olvid.protobuf.olvid.daemon.datatypes.v1 import discussion_pb2, settings_pb2
from olvid.protobuf.olvid.daemon.services.v1 import command_service_pb2_grpc as svc

from . import views
from .core import rpc
from .state import NotFound


class DiscussionCommand(svc.DiscussionCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    def _all(self, me, locked):
        st = self.dm.st
        for did, d in sorted(st.d["discussions"].items(), key=lambda kv: int(kv[0])):
            if d["owner"] == me and (not (d["contact"] or d["group"])) == locked:
                yield int(did)

    @rpc
    async def DiscussionList(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for did in self._all(me, locked=False):
            pb = views.discussion_pb(st, me, did)
            if f is not None:
                if f.HasField("type") and f.type:
                    want = "contact_id" if f.type == discussion_pb2.DiscussionFilter.TYPE_OTO \
                        else "group_id"
                    if pb.WhichOneof("identifier") != want:
                        continue
                which = f.WhichOneof("identifier")
                if which and getattr(pb, which) != getattr(f, which):
                    continue
                if f.HasField("title_search") and f.title_search.lower() not in pb.title.lower():
                    continue
            out.append(pb)
        yield dc.DiscussionListResponse(discussions=out)

    @rpc
    async def DiscussionGet(self, request, context):
        me, _ = await self.dm.who(context)
        return dc.DiscussionGetResponse(discussion=views.discussion_pb(self.dm.st, me,
                                                                       request.discussion_id))

    @rpc
    async def DiscussionGetBytesIdentifier(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        d = st.discussion(me, request.discussion_id)
        if d["contact"]:
            ident = st.identity(st.d["contacts"][str(d["contact"])]["peer"])["ident"]
        elif d["group"]:
            gg, g = st.group(me, d["group"])
            ident = g["ident"]
        else:
            raise NotFound("locked discussion")
        return dc.DiscussionGetBytesIdentifierResponse(identifier=bytes.fromhex(ident))

    @rpc
    async def DiscussionGetByContact(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        st.contact(me, request.contact_id)
        did = st.discussion_of_contact(me, request.contact_id)
        if did is None:
            raise NotFound("no one-to-one discussion with this contact")
        return dc.DiscussionGetByContactResponse(discussion=views.discussion_pb(st, me, did))

    @rpc
    async def DiscussionGetByGroup(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        st.group(me, request.group_id)
        did = st.discussion_of_group(me, request.group_id)
        return dc.DiscussionGetByGroupResponse(discussion=views.discussion_pb(st, me, did))

    @rpc
    async def DiscussionEmpty(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        st.discussion(me, request.discussion_id)
        for mid, m in list(st.d["msgs"].items()):
            if m["owner"] == me and m["discussion"] == request.discussion_id:
                self.dm.delete_copy(int(mid), notify_owner=False)
        st.save()
        return dc.DiscussionEmptyResponse()

    @rpc
    async def DiscussionDownloadPhoto(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        d = st.discussion(me, request.discussion_id)
        name = None
        if d["contact"]:
            name = st.identity(st.d["contacts"][str(d["contact"])]["peer"])["photo"]
        elif d["group"]:
            name = st.group(me, d["group"])[1]["photo"]
        return dc.DiscussionDownloadPhotoResponse(photo=st.blob_get(name) if name else b"")

    @rpc
    async def DiscussionLockedList(self, request, context):
        me, _ = await self.dm.who(context)
        yield dc.DiscussionLockedListResponse(
            discussions=[views.discussion_pb(self.dm.st, me, did)
                         for did in self._all(me, locked=True)])

    @rpc
    async def DiscussionLockedDelete(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        d = st.discussion(me, request.discussion_id)
        if d["contact"] or d["group"]:
            raise NotFound("not a locked discussion")
        await self.DiscussionEmpty(dc.DiscussionEmptyRequest(discussion_id=request.discussion_id),
                                   context)
        del st.d["discussions"][str(request.discussion_id)]
        st.save()
        return dc.DiscussionLockedDeleteResponse()


class SettingsCommand(svc.SettingsCommandServiceServicer):
    """Discussion settings (ephemerality) are shared: setting them in a discussion applies to
    every identity of that discussion (DiscussionSettingsUpdated to the others), and they are
    the default ephemerality of messages sent there without one."""

    def __init__(self, dm):
        self.dm = dm

    @rpc
    async def SettingsIdentityGet(self, request, context):
        me, _ = await self.dm.who(context)
        s = settings_pb2.IdentitySettings()
        _fill(s, self.dm.st.identity(me)["settings"])
        return sc.SettingsIdentityGetResponse(identity_settings=s)

    @rpc
    async def SettingsIdentitySet(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        s = request.identity_settings
        st.identity(me)["settings"] = {
            part: {f.name: getattr(getattr(s, part), f.name)
                   for f in getattr(s, part).DESCRIPTOR.fields}
            for part in ("invitation", "message_retention", "keycloak")}
        st.save()
        return sc.SettingsIdentitySetResponse(identity_settings=s)

    @rpc
    async def SettingsDiscussionGet(self, request, context):
        me, _ = await self.dm.who(context)
        d = self.dm.st.discussion(me, request.discussion_id)
        return sc.SettingsDiscussionGetResponse(
            discussion_settings=views.discussion_settings_pb(request.discussion_id, d["settings"]))

    @rpc
    async def SettingsDiscussionSet(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        s = request.discussion_settings
        new = {"read_once": s.read_once, "existence_duration": s.existence_duration,
               "visibility_duration": s.visibility_duration}
        did = s.discussion_id
        d = st.discussion(me, did)
        previous = d["settings"]
        d["settings"] = dict(new)
        for peer, pdid in st.discussion_members(me, did):
            pd = st.d["discussions"][str(pdid)]
            pprev = pd["settings"]
            pd["settings"] = dict(new)
            dm.notify(peer, "DiscussionSettingsUpdated",
                      discussion=views.discussion_pb(st, peer, pdid),
                      new_settings=views.discussion_settings_pb(pdid, new),
                      previous_settings=views.discussion_settings_pb(pdid, pprev))
        st.save()
        return sc.SettingsDiscussionSetResponse(
            discussion_settings=views.discussion_settings_pb(did, d["settings"]))


def _fill(msg, values):
    for part, fields in values.items():
        sub = getattr(msg, part)
        for k, v in fields.items():
            setattr(sub, k, v)
