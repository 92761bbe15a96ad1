# SPDX-License-Identifier: AGPL-3.0-or-later
"""Message and attachment command services."""

from olvid.protobuf.olvid.daemon.command.v1 import (
    attachment_commands_pb2 as ac, message_commands_pb2 as mc)
from olvid.protobuf.olvid.daemon.datatypes.v1 import message_pb2
from olvid.protobuf.olvid.daemon.services.v1 import command_service_pb2_grpc as svc

from . import views
from .core import rpc
from .state import Denied, Invalid, NotFound, now_ms

LOC = message_pb2.MessageLocation
DOWNLOAD_CHUNK = 256 * 1024
LIST_BATCH = 100


def _eph(request, field="ephemerality"):
    if not request.HasField(field):
        return None
    e = getattr(request, field)
    return {"read_once": e.read_once, "existence_duration": e.existence_duration,
            "visibility_duration": e.visibility_duration}


def _reply(request, field):
    return getattr(request, field) if request.HasField(field) else None


class MessageCommand(svc.MessageCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    @rpc
    async def MessageList(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        f = request.filter if request.HasField("filter") else None
        unread = request.HasField("unread") and request.unread
        mids = []
        for mid, m in st.d["msgs"].items():
            if m["owner"] != me:
                continue
            if unread and not m["unread"]:
                continue
            mids.append(int(mid))
        mids.sort(key=lambda mid: st.d["msgs"][str(mid)]["sort"])
        out = [pb for pb in (views.message_pb(st, mid) for mid in mids) if views.message_match(f, pb)]
        dm.seen_by_client([pb.id.id for pb in out], listed=True)
        for i in range(0, len(out), LIST_BATCH):
            yield mc.MessageListResponse(messages=out[i:i + LIST_BATCH])
        if not out:
            yield mc.MessageListResponse()

    @rpc
    async def MessageGet(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        mid = request.message_id
        st.msg(me, mid.type, mid.id)
        self.dm.seen_by_client([mid.id], listed=False)
        return mc.MessageGetResponse(message=views.message_pb(st, mid.id))

    async def MessageRefresh(self, request, context):
        await self.dm.who(context)
        return mc.MessageRefreshResponse()

    @rpc
    async def MessageDelete(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        mid = request.message_id
        m = st.msg(me, mid.type, mid.id)
        if request.HasField("delete_everywhere") and request.delete_everywhere:
            if not self._may_remote_delete(me, m):
                raise Denied("you may not delete this message everywhere")
            for owner, other in dm.others_with(m["gm"], me):
                dm.delete_copy(other, notify_owner=True)
        dm.delete_copy(mid.id, notify_owner=False)
        st.save()
        return mc.MessageDeleteResponse()

    def _may_remote_delete(self, me, m):
        st = self.dm.st
        d = st.d["discussions"][str(m["discussion"])]
        if d["group"]:
            _, g = st.group(me, d["group"])
            p = g["members"][str(me)]
            if p["remote_delete_anything"]:
                return True
            return m["dir"] == views.OUTBOUND and p["edit_or_remote_delete_own_messages"]
        return m["dir"] == views.OUTBOUND

    @rpc
    async def MessageSend(self, request, context):
        me, _ = await self.dm.who(context)
        mid = self.dm.send(me, request.discussion_id, request.body,
                           reply=_reply(request, "reply_id"), eph=_eph(request))
        return mc.MessageSendResponse(message=views.message_pb(self.dm.st, mid))

    @rpc
    async def MessageSendWithAttachments(self, request_iterator, context):
        """One metadata message, then for each file of metadata.files its payload chunks
        followed by one file_delimiter (the official client's way; a missing delimiter after
        the last file is tolerated)."""
        me, _ = await self.dm.who(context)
        meta, files, current = None, [], bytearray()
        async for r in request_iterator:
            which = r.WhichOneof("request")
            if which == "metadata":
                if meta is not None:
                    raise Invalid("metadata sent twice")
                meta = r.metadata
            elif meta is None:
                raise Invalid("metadata must come first")
            elif which == "payload":
                current += r.payload
            elif which == "file_delimiter":
                files.append(bytes(current))
                current = bytearray()
        if meta is None:
            raise Invalid("metadata missing")
        if current or len(files) == len(meta.files) - 1:
            files.append(bytes(current))
        if len(files) != len(meta.files):
            raise Invalid("%d files announced, %d received" % (len(meta.files), len(files)))
        for spec, data in zip(meta.files, files):
            if spec.file_size != len(data):
                raise Invalid("%s: file_size %d but %d bytes received"
                              % (spec.filename, spec.file_size, len(data)))
        st = self.dm.st
        mid = self.dm.send(me, meta.discussion_id, meta.body, reply=_reply(meta, "reply_id"),
                           eph=_eph(meta),
                           files=[(spec.filename, data) for spec, data in zip(meta.files, files)])
        return mc.MessageSendWithAttachmentsResponse(
            message=views.message_pb(st, mid),
            attachments=[views.attachment_pb(st, aid) for aid in st.atts_of(mid)])

    @rpc
    async def MessageSendLocation(self, request, context):
        me, _ = await self.dm.who(context)
        loc = {"type": LOC.LOCATION_TYPE_SEND, "timestamp": now_ms(),
               "latitude": request.latitude, "longitude": request.longitude}
        for k in ("altitude", "precision", "address"):
            if request.HasField(k):
                loc[k] = getattr(request, k)
        files = ()
        if request.HasField("preview_filename") != request.HasField("preview_payload"):
            raise Invalid("preview_filename and preview_payload go together")
        if request.HasField("preview_filename"):
            files = [(request.preview_filename, request.preview_payload)]
        mid = self.dm.send(me, request.discussion_id, "", eph=_eph(request), location=loc,
                           files=files)
        return mc.MessageSendLocationResponse(message=views.message_pb(self.dm.st, mid))

    def _location(self, request, kind):
        loc = {"type": kind, "timestamp": now_ms(), "latitude": request.latitude,
               "longitude": request.longitude}
        for k in ("altitude", "precision"):
            if request.HasField(k):
                loc[k] = getattr(request, k)
        return loc

    @rpc
    async def MessageStartLocationSharing(self, request, context):
        me, _ = await self.dm.who(context)
        mid = self.dm.send(me, request.discussion_id, "",
                           location=self._location(request, LOC.LOCATION_TYPE_SHARING))
        return mc.MessageStartLocationSharingResponse(message=views.message_pb(self.dm.st, mid))

    def _sharing(self, me, message_id, update):
        """Changes the location of one of `me`'s live sharings and tells every identity that
        has the message (the sharer included, as the published comments say)."""
        dm, st = self.dm, self.dm.st
        m = st.msg(me, message_id.type, message_id.id)
        g = st.d["gmsgs"][m["gm"]]
        if m["dir"] != views.OUTBOUND or not g["location"] or \
                g["location"]["type"] != LOC.LOCATION_TYPE_SHARING:
            raise Invalid("not one of your live location sharings")
        previous = dict(g["location"])
        g["location"] = update(dict(previous))
        st.touch("gmsgs", m["gm"])
        st.save()
        for mid, copy in st.copies(m["gm"]):
            pb = views.message_pb(st, mid)
            if g["location"]["type"] == LOC.LOCATION_TYPE_SHARING_FINISHED:
                dm.notify(copy["owner"], "MessageLocationSharingEnd", message=pb)
            else:
                dm.notify(copy["owner"], "MessageLocationSharingUpdate", message=pb,
                          previous_location=message_pb2.MessageLocation(**previous))
        return views.message_pb(st, message_id.id)

    @rpc
    async def MessageUpdateLocationSharing(self, request, context):
        me, _ = await self.dm.who(context)
        fresh = self._location(request, LOC.LOCATION_TYPE_SHARING)
        pb = self._sharing(me, request.message_id, lambda old: fresh)
        return mc.MessageUpdateLocationSharingResponse(message=pb)

    @rpc
    async def MessageEndLocationSharing(self, request, context):
        me, _ = await self.dm.who(context)

        def end(loc):
            loc["type"] = LOC.LOCATION_TYPE_SHARING_FINISHED
            return loc
        pb = self._sharing(me, request.message_id, end)
        return mc.MessageEndLocationSharingResponse(message=pb)

    @rpc
    async def MessageReact(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        mid = request.message_id
        m = st.msg(me, mid.type, mid.id)
        g = st.d["gmsgs"][m["gm"]]
        previous = g["reactions"].get(str(me))
        reaction = request.reaction if request.HasField("reaction") and request.reaction else None
        ts = now_ms()
        if reaction is None:
            if previous is None:
                return mc.MessageReactResponse()
            del g["reactions"][str(me)]
        else:
            g["reactions"][str(me)] = [reaction, ts]
        st.touch("gmsgs", m["gm"])
        st.save()
        for owner, other in dm.others_with(m["gm"], me):
            pb = views.message_pb(st, other)
            if reaction is None:
                dm.notify(owner, "MessageReactionRemoved", message=pb,
                          reaction=views.reaction_pb(st, owner, me, previous[0], previous[1]))
            elif previous is None:
                dm.notify(owner, "MessageReactionAdded", message=pb,
                          reaction=views.reaction_pb(st, owner, me, reaction, ts))
            else:
                dm.notify(owner, "MessageReactionUpdated", message=pb,
                          reaction=views.reaction_pb(st, owner, me, reaction, ts),
                          previous_reaction=views.reaction_pb(st, owner, me, *previous))
        return mc.MessageReactResponse()

    @rpc
    async def MessageUpdateBody(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        mid = request.message_id
        m = st.msg(me, mid.type, mid.id)
        if m["dir"] != views.OUTBOUND:
            raise Denied("only your own messages can be edited")
        g = st.d["gmsgs"][m["gm"]]
        previous = g["body"]
        g["body"] = request.updated_body
        g["edited"] = True
        st.touch("gmsgs", m["gm"])
        st.save()
        for owner, other in dm.others_with(m["gm"], me):
            dm.notify(owner, "MessageBodyUpdated", message=views.message_pb(st, other),
                      previous_body=previous)
        return mc.MessageUpdateBodyResponse()


class AttachmentCommand(svc.AttachmentCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    def _mine(self, me, aid):
        st = self.dm.st
        a = st.d["atts"].get(str(aid.id))
        if a is None or st.d["msgs"][str(a["msg"])]["owner"] != me or \
                (aid.type and st.d["msgs"][str(a["msg"])]["dir"] != aid.type):
            raise NotFound("attachment %s" % aid.id)
        return a

    @rpc
    async def AttachmentList(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for aid in sorted(int(a) for a in st.d["atts"]):
            if st.d["msgs"][str(st.d["atts"][str(aid)]["msg"])]["owner"] != me:
                continue
            pb = views.attachment_pb(st, aid)
            if f is not None:
                if f.HasField("type") and f.type and pb.id.type != f.type:
                    continue
                if f.HasField("discussion_id") and pb.discussion_id != f.discussion_id:
                    continue
                if f.HasField("message_id") and pb.message_id != f.message_id:
                    continue
                if f.HasField("filename_search") and \
                        f.filename_search.lower() not in pb.file_name.lower():
                    continue
                if f.HasField("mime_type_search") and \
                        f.mime_type_search.lower() not in pb.mime_type.lower():
                    continue
                if f.HasField("min_size") and pb.size < f.min_size:
                    continue
                if f.HasField("max_size") and pb.size > f.max_size:
                    continue
            out.append(pb)
        yield ac.AttachmentListResponse(attachments=out)

    @rpc
    async def AttachmentGet(self, request, context):
        me, _ = await self.dm.who(context)
        self._mine(me, request.attachment_id)
        return ac.AttachmentGetResponse(attachment=views.attachment_pb(self.dm.st,
                                                                       request.attachment_id.id))

    @rpc
    async def AttachmentDelete(self, request, context):
        me, _ = await self.dm.who(context)
        self._mine(me, request.attachment_id)
        self.dm.st.drop("atts", request.attachment_id.id)
        self.dm.st.save()
        return ac.AttachmentDeleteResponse()

    @rpc
    async def AttachmentDownload(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        a = self._mine(me, request.attachment_id)
        gm = st.d["msgs"][str(a["msg"])]["gm"]
        data = st.blob_get(st.d["gmsgs"][gm]["attachments"][a["index"]]["blob"])
        for i in range(0, len(data), DOWNLOAD_CHUNK):
            yield ac.AttachmentDownloadResponse(chunk=data[i:i + DOWNLOAD_CHUNK])
