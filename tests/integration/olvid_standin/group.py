# SPDX-License-Identifier: AGPL-3.0-or-later
"""Group command service. Members join at once (no group invitation step), and every two
members of a group become (collected) contacts of each other, as in Olvid. Changes are told
to every member identity but the one that made them."""

import secrets

from olvid.protobuf.olvid.daemon.command.v1 import group_commands_pb2 as gc
from olvid.protobuf.olvid.daemon.datatypes.v1 import group_pb2
from olvid.protobuf.olvid.daemon.services.v1 import command_service_pb2_grpc as svc

from . import views
from .core import rpc
from .identity import read_upload
from .state import Denied, Invalid

ADMIN = {"admin": True, "remote_delete_anything": True, "edit_or_remote_delete_own_messages": True,
         "change_settings": True, "send_message": True}
MEMBER = {"admin": False, "remote_delete_anything": False,
          "edit_or_remote_delete_own_messages": True, "change_settings": False,
          "send_message": True}
READER = {"admin": False, "remote_delete_anything": False,
          "edit_or_remote_delete_own_messages": False, "change_settings": False,
          "send_message": False}


def perms_dict(p):
    return {f.name: getattr(p, f.name) for f in p.DESCRIPTOR.fields}


class GroupCommand(svc.GroupCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    def _admin(self, me, gid):
        gg, g = self.dm.st.group(me, gid)
        if not g["members"][str(me)]["admin"]:
            raise Denied("you are not an admin of this group")
        return gg, g

    def _create(self, me, request, gtype, members):
        """`members`: {contact id: permissions}; the creator is admin."""
        dm, st = self.dm, self.dm.st
        peers = {}
        for cid, perms in members.items():
            peers[st.contact(me, cid)["peer"]] = perms
        gg = str(st.new_id("gg"))
        st.d["groups"][gg] = {"ident": secrets.token_hex(32), "type": gtype,
                              "name": request.name if request.HasField("name") else "",
                              "description": request.description
                              if request.HasField("description") else "",
                              "photo": None, "members": {}}
        local = {me: dm.join_group(gg, me, dict(ADMIN))}
        for peer, perms in peers.items():
            local[peer] = dm.join_group(gg, peer, dict(perms))
        st.save()
        for ident, gid in local.items():
            dm.notify(ident, "GroupNew", group=views.group_pb(st, ident, gid))
            did = st.discussion_of_group(ident, gid)
            dm.notify(ident, "DiscussionNew", discussion=views.discussion_pb(st, ident, did))
        return views.group_pb(st, me, local[me])

    @rpc
    async def GroupNewStandardGroup(self, request, context):
        me, _ = await self.dm.who(context)
        g = self._create(me, request, group_pb2.Group.TYPE_STANDARD,
                         {cid: ADMIN for cid in request.admin_contact_ids})
        return gc.GroupNewStandardGroupResponse(group=g)

    @rpc
    async def GroupNewControlledGroup(self, request, context):
        me, _ = await self.dm.who(context)
        members = {cid: MEMBER for cid in request.contact_ids}
        members.update({cid: ADMIN for cid in request.admin_contact_ids})
        g = self._create(me, request, group_pb2.Group.TYPE_CONTROLLED, members)
        return gc.GroupNewControlledGroupResponse(group=g)

    @rpc
    async def GroupNewReadOnlyGroup(self, request, context):
        me, _ = await self.dm.who(context)
        members = {cid: READER for cid in request.contact_ids}
        members.update({cid: ADMIN for cid in request.admin_contact_ids})
        g = self._create(me, request, group_pb2.Group.TYPE_READ_ONLY, members)
        return gc.GroupNewReadOnlyGroupResponse(group=g)

    @rpc
    async def GroupNewAdvancedGroup(self, request, context):
        me, _ = await self.dm.who(context)
        members = {m.contact_id: perms_dict(m.permissions) for m in request.members}
        g = self._create(me, request, group_pb2.Group.TYPE_ADVANCED, members)
        return gc.GroupNewAdvancedGroupResponse(group=g)

    @rpc
    async def GroupList(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for gid in sorted(int(k) for k, v in st.d["group_local"].items() if v["owner"] == me):
            pb = views.group_pb(st, me, gid)
            if f is not None:
                if f.HasField("type") and f.type and pb.type != f.type:
                    continue
                if f.HasField("name_search") and f.name_search.lower() not in pb.name.lower():
                    continue
                if f.HasField("description_search") and \
                        f.description_search.lower() not in pb.description.lower():
                    continue
            out.append(pb)
        yield gc.GroupListResponse(groups=out)

    @rpc
    async def GroupGet(self, request, context):
        me, _ = await self.dm.who(context)
        return gc.GroupGetResponse(group=views.group_pb(self.dm.st, me, request.group_id))

    @rpc
    async def GroupGetBytesIdentifier(self, request, context):
        me, _ = await self.dm.who(context)
        _, g = self.dm.st.group(me, request.group_id)
        return gc.GroupGetBytesIdentifierResponse(identifier=bytes.fromhex(g["ident"]))

    @rpc
    async def GroupLeave(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        gg, g = st.group(me, request.group_id)
        pb = views.group_pb(st, me, request.group_id)
        cids = {m: st.contact_of(m, me) for m in map(int, g["members"]) if m != me}
        dm.leave_group(gg, me)
        st.save()
        dm.group_notify_all(gg, "GroupMemberLeft", extra=lambda m: {
            "member": group_pb2.GroupMember(contact_id=cids.get(m) or 0)})
        return gc.GroupLeaveResponse(group=pb)

    @rpc
    async def GroupDisband(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        gg, g = self._admin(me, request.group_id)
        pb = views.group_pb(st, me, request.group_id)
        for m in list(g["members"]):
            dm.leave_group(gg, int(m))
        del st.d["groups"][gg]
        st.save()
        return gc.GroupDisbandResponse(group=pb)

    @rpc
    async def GroupUpdate(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        new = request.group
        gg, g = st.group(me, new.id)
        before = {int(m): dict(p) for m, p in g["members"].items()}
        wanted = {}
        for gm in new.members:
            wanted[st.contact(me, gm.contact_id)["peer"]] = perms_dict(gm.permissions)
        current = {m: p for m, p in before.items() if m != me}
        changes = (new.name != g["name"] or new.description != g["description"]
                   or set(wanted) != set(current)
                   or any(wanted[m] != current[m] for m in wanted if m in current))
        if not changes:
            return gc.GroupUpdateResponse(group=views.group_pb(st, me, new.id))
        if not g["members"][str(me)]["admin"]:
            raise Denied("you are not an admin of this group")
        skip = (me,)
        if new.name != g["name"]:
            previous = g["name"]
            g["name"] = new.name
            st.save()
            dm.group_notify_all(gg, "GroupNameUpdated", extra=lambda m: {"previous_name": previous},
                                skip=skip)
            for m in map(int, g["members"]):
                if m != me:
                    gid = st.group_local_of(m, gg)
                    did = st.discussion_of_group(m, gid)
                    dm.notify(m, "DiscussionTitleUpdated",
                              discussion=views.discussion_pb(st, m, did), previous_title=previous)
        if new.description != g["description"]:
            previous = g["description"]
            g["description"] = new.description
            st.save()
            dm.group_notify_all(gg, "GroupDescriptionUpdated",
                                extra=lambda m: {"previous_description": previous}, skip=skip)
        for peer in [m for m in current if m not in wanted]:
            dm.leave_group(gg, peer)
            st.save()
            dm.group_notify_all(gg, "GroupMemberLeft", skip=skip, extra=lambda m: {
                "member": group_pb2.GroupMember(contact_id=st.contact_of(m, peer) or 0)})
        for peer, perms in wanted.items():
            if peer in current:
                if current[peer] != perms:
                    g["members"][str(peer)] = perms
                    st.save()
                    gid = st.group_local_of(peer, gg)
                    dm.notify(peer, "GroupOwnPermissionsUpdated",
                              group=views.group_pb(st, peer, gid),
                              permissions=views.perms_pb(perms),
                              previous_permissions=views.perms_pb(current[peer]))
                    dm.group_notify_all(gg, "GroupMemberPermissionsUpdated",
                                        skip=(me, peer), extra=lambda m: {
                                            "member": group_pb2.GroupMember(
                                                contact_id=st.contact_of(m, peer) or 0,
                                                permissions=views.perms_pb(perms)),
                                            "previous_permissions": views.perms_pb(current[peer])})
                continue
            gid = dm.join_group(gg, peer, perms)
            st.save()
            dm.notify(peer, "GroupNew", group=views.group_pb(st, peer, gid))
            did = st.discussion_of_group(peer, gid)
            dm.notify(peer, "DiscussionNew", discussion=views.discussion_pb(st, peer, did))
            dm.group_notify_all(gg, "GroupMemberJoined", skip=(me, peer), extra=lambda m: {
                "member": group_pb2.GroupMember(contact_id=st.contact_of(m, peer) or 0,
                                                permissions=views.perms_pb(perms))})
        st.save()
        return gc.GroupUpdateResponse(group=views.group_pb(st, me, new.id))

    @rpc
    async def GroupSetPhoto(self, request_iterator, context):
        me, _ = await self.dm.who(context)
        meta, data = await read_upload(request_iterator)
        return gc.GroupSetPhotoResponse(group=self._photo(me, meta.group_id, data))

    @rpc
    async def GroupUnsetPhoto(self, request, context):
        me, _ = await self.dm.who(context)
        return gc.GroupUnsetPhotoResponse(group=self._photo(me, request.group_id, None))

    def _photo(self, me, gid, data):
        dm, st = self.dm, self.dm.st
        gg, g = self._admin(me, gid)
        if data is None:
            g["photo"] = None
        else:
            if not data:
                raise Invalid("empty photo")
            g["photo"] = "photo-group-%s" % gg
            st.blob_put(g["photo"], data)
        st.save()
        dm.group_notify_all(gg, "GroupPhotoUpdated", skip=(me,))
        return views.group_pb(st, me, gid)

    @rpc
    async def GroupDownloadPhoto(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        _, g = st.group(me, request.group_id)
        return gc.GroupDownloadPhotoResponse(photo=st.blob_get(g["photo"]) if g["photo"] else b"")
