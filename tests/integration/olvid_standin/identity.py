# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tool, identity, invitation, contact and Keycloak command services (client key scoped to one
identity)."""

import grpc

from olvid.protobuf.olvid.daemon.command.v1 import (
    contact_commands_pb2 as cc, identity_commands_pb2 as ic, invitation_commands_pb2 as vc,
    keycloak_commands_pb2 as kc, tool_commands_pb2 as tc)
from olvid.protobuf.olvid.daemon.datatypes.v1 import invitation_pb2
from olvid.protobuf.olvid.daemon.services.v1 import command_service_pb2_grpc as svc

from . import views
from .core import VERSION, rpc
from .state import Invalid, NotFound, now_ms

S = invitation_pb2.Invitation


class Tool(svc.ToolCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    async def Ping(self, request, context):
        return tc.PingResponse()

    async def _known(self, context):
        key = dict(context.invocation_metadata()).get("daemon-client-key")
        ident = self.dm.st.key_identity(key)
        if ident is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown daemon-client-key")
        return ident

    async def DaemonVersion(self, request, context):
        await self._known(context)
        return tc.DaemonVersionResponse(version=VERSION)

    async def AuthenticationTest(self, request, context):
        await self._known(context)
        return tc.AuthenticationTestResponse()

    async def AuthenticationAdminTest(self, request, context):
        await self.dm.who(context, admin=True)
        return tc.AuthenticationAdminTestResponse()


async def read_upload(request_iterator, meta_field="metadata"):
    """(metadata, payload) of a client stream: one metadata message, then payload chunks."""
    meta, data = None, bytearray()
    async for r in request_iterator:
        which = r.WhichOneof("request")
        if which == meta_field:
            meta = getattr(r, meta_field)
        elif which == "payload":
            data += r.payload
    if meta is None:
        raise Invalid("metadata message missing")
    if meta.file_size and meta.file_size != len(data):
        raise Invalid("file_size %d but %d bytes received" % (meta.file_size, len(data)))
    return meta, bytes(data)


class IdentityCommand(svc.IdentityCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    @rpc
    async def IdentityGet(self, request, context):
        me, _ = await self.dm.who(context)
        return ic.IdentityGetResponse(identity=views.identity_pb(self.dm.st, me))

    @rpc
    async def IdentityGetBytesIdentifier(self, request, context):
        me, _ = await self.dm.who(context)
        return ic.IdentityGetBytesIdentifierResponse(
            identifier=bytes.fromhex(self.dm.st.identity(me)["ident"]))

    @rpc
    async def IdentityGetInvitationLink(self, request, context):
        me, _ = await self.dm.who(context)
        return ic.IdentityGetInvitationLinkResponse(invitation_link=self.dm.st.invitation_link(me))

    @rpc
    async def IdentityUpdateDetails(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        i = st.identity(me)
        previous = dict(i["details"])
        nd = request.new_details
        i["details"] = {k: getattr(nd, k) for k in ("first_name", "last_name", "company",
                                                     "position") if getattr(nd, k)}
        st.save()
        dm.contact_changed(me, "ContactDetailsUpdated", previous_details=views.details_pb(previous))
        for owner, cid in st.holders_of(me):
            did = st.discussion_of_contact(owner, cid)
            if did is not None:
                dm.notify(owner, "DiscussionTitleUpdated",
                          discussion=views.discussion_pb(st, owner, did),
                          previous_title=st.display_name(previous))
        return ic.IdentityUpdateDetailsResponse()

    @rpc
    async def IdentitySetPhoto(self, request_iterator, context):
        me, _ = await self.dm.who(context)
        _, data = await read_upload(request_iterator)
        st = self.dm.st
        name = "photo-identity-%d" % me
        st.blob_put(name, data)
        st.identity(me)["photo"] = name
        st.save()
        self.dm.contact_changed(me, "ContactPhotoUpdated")
        return ic.IdentitySetPhotoResponse()

    @rpc
    async def IdentityRemovePhoto(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        st.identity(me)["photo"] = None
        st.save()
        self.dm.contact_changed(me, "ContactPhotoUpdated")
        return ic.IdentityRemovePhotoResponse()

    @rpc
    async def IdentityDownloadPhoto(self, request, context):
        me, _ = await self.dm.who(context)
        i = self.dm.st.identity(me)
        return ic.IdentityDownloadPhotoResponse(
            photo=self.dm.st.blob_get(i["photo"]) if i["photo"] else b"")

    @rpc
    async def IdentityGetApiKeyStatus(self, request, context):
        me, _ = await self.dm.who(context)
        return ic.IdentityGetApiKeyStatusResponse(api_key=views.identity_pb(self.dm.st, me).api_key)


class InvitationCommand(svc.InvitationCommandServiceServicer):
    """Invitations by link between identities of this stand-in. The invited identity receives
    an invitation (STATUS_INVITATION_WAIT_YOU_TO_ACCEPT) it accepts or declines; with its
    auto_accept_invitation setting on, the exchange completes at once. There is no SAS step:
    accepting makes both sides contacts with a one-to-one discussion. A link to an identity
    that is not hosted here stays STATUS_INVITATION_WAIT_IT_TO_ACCEPT forever."""

    def __init__(self, dm):
        self.dm = dm

    def _mine(self, me, iid):
        inv = self.dm.st.d["invitations"].get(str(iid))
        if inv is None or inv["owner"] != me:
            raise NotFound("invitation %s" % iid)
        return inv

    @rpc
    async def InvitationList(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for iid, inv in st.d["invitations"].items():
            if inv["owner"] != me:
                continue
            pb = views.invitation_pb(st, int(iid))
            if f is not None and f.HasField("status") and f.status and pb.status != f.status:
                continue
            out.append(pb)
        yield vc.InvitationListResponse(invitations=out)

    @rpc
    async def InvitationGet(self, request, context):
        me, _ = await self.dm.who(context)
        self._mine(me, request.invitation_id)
        return vc.InvitationGetResponse(invitation=views.invitation_pb(self.dm.st,
                                                                       request.invitation_id))

    @rpc
    async def InvitationNew(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        ident, name = st.parse_invitation_link(request.invitation_url)
        if ident == st.identity(me)["ident"]:
            raise Invalid("this is your own invitation link")
        peer = st.identity_by_ident(ident)
        return vc.InvitationNewResponse(invitation=invite(self.dm, me, peer, name, "invitation"))

    @rpc
    async def InvitationAccept(self, request, context):
        me, _ = await self.dm.who(context)
        inv = self._mine(me, request.invitation_id)
        if inv["status"] not in (S.STATUS_INVITATION_WAIT_YOU_TO_ACCEPT,
                                 S.STATUS_ONE_TO_ONE_INVITATION_WAIT_YOU_TO_ACCEPT):
            raise Invalid("this invitation does not wait for you")
        complete(self.dm, request.invitation_id)
        return vc.InvitationAcceptResponse()

    @rpc
    async def InvitationDecline(self, request, context):
        me, _ = await self.dm.who(context)
        self._mine(me, request.invitation_id)
        drop(self.dm, request.invitation_id)
        return vc.InvitationDeclineResponse()

    @rpc
    async def InvitationDelete(self, request, context):
        me, _ = await self.dm.who(context)
        self._mine(me, request.invitation_id)
        drop(self.dm, request.invitation_id)
        return vc.InvitationDeleteResponse()


def invite(dm, me, peer, peer_name, kind):
    """Creates the inviter's invitation and, if `peer` is hosted here, the invitee's one."""
    st = dm.st
    ts = now_ms()
    out_status = S.STATUS_INVITATION_WAIT_IT_TO_ACCEPT if kind == "invitation" else \
        S.STATUS_ONE_TO_ONE_INVITATION_WAIT_IT_TO_ACCEPT
    in_status = S.STATUS_INVITATION_WAIT_YOU_TO_ACCEPT if kind == "invitation" else \
        S.STATUS_ONE_TO_ONE_INVITATION_WAIT_YOU_TO_ACCEPT
    mine = st.new_id("invitation")
    st.d["invitations"][str(mine)] = {"owner": me, "peer": peer, "status": out_status,
                                      "display_name": peer_name, "timestamp": ts, "pair": 0,
                                      "kind": kind}
    dm.notify(me, "InvitationSent", invitation=views.invitation_pb(st, mine))
    auto = False
    if peer is not None:
        theirs = st.new_id("invitation")
        st.d["invitations"][str(theirs)] = {
            "owner": peer, "peer": me, "status": in_status,
            "display_name": st.display_name(st.identity(me)["details"]), "timestamp": ts,
            "pair": mine, "kind": kind}
        st.d["invitations"][str(mine)]["pair"] = theirs
        dm.notify(peer, "InvitationReceived", invitation=views.invitation_pb(st, theirs))
        setting = "auto_accept_invitation" if kind == "invitation" else "auto_accept_one_to_one"
        auto = st.identity(peer)["settings"]["invitation"][setting]
    st.save()
    pb = views.invitation_pb(st, mine)
    if auto:
        complete(dm, theirs)
    return pb


def drop(dm, iid):
    st = dm.st
    inv = st.d["invitations"].pop(str(iid), None)
    if inv is None:
        return
    pb = views.invitation_pb_from(iid, inv)
    dm.notify(inv["owner"], "InvitationDeleted", invitation=pb)
    if inv["pair"]:
        drop(dm, inv["pair"])
    st.save()


def complete(dm, iid):
    st = dm.st
    inv = st.d["invitations"][str(iid)]
    a, b = inv["owner"], inv["peer"]
    drop(dm, iid)
    dm.make_contacts(a, b, one_to_one=True)


class ContactCommand(svc.ContactCommandServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    @rpc
    async def ContactList(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for cid in sorted(st.contacts_of(me)):
            pb = views.contact_pb(st, me, cid)
            if f is not None:
                if f.HasField("one_to_one") and f.one_to_one and \
                        pb.has_one_to_one_discussion != (f.one_to_one == f.ONE_TO_ONE_IS):
                    continue
                if f.HasField("keycloak") and f.keycloak and \
                        pb.keycloak_managed != (f.keycloak == f.KEYCLOAK_MANAGED):
                    continue
                if f.HasField("display_name_search") and \
                        f.display_name_search.lower() not in pb.display_name.lower():
                    continue
            out.append(pb)
        yield cc.ContactListResponse(contacts=out)

    @rpc
    async def ContactGet(self, request, context):
        me, _ = await self.dm.who(context)
        return cc.ContactGetResponse(contact=views.contact_pb(self.dm.st, me, request.contact_id))

    @rpc
    async def ContactGetBytesIdentifier(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        c = st.contact(me, request.contact_id)
        return cc.ContactGetBytesIdentifierResponse(
            identifier=bytes.fromhex(st.identity(c["peer"])["ident"]))

    @rpc
    async def ContactGetInvitationLink(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        c = st.contact(me, request.contact_id)
        return cc.ContactGetInvitationLinkResponse(invitation_link=st.invitation_link(c["peer"]))

    @rpc
    async def ContactDownloadPhoto(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        p = st.identity(st.contact(me, request.contact_id)["peer"])
        return cc.ContactDownloadPhotoResponse(photo=st.blob_get(p["photo"]) if p["photo"] else b"")

    @rpc
    async def ContactDelete(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        peer = st.contact(me, request.contact_id)["peer"]
        for owner, other in ((me, peer), (peer, me)):
            cid = st.contact_of(owner, other)
            if cid is None:
                continue
            pb = views.contact_pb(st, owner, cid)
            lock_one_to_one(dm, owner, cid)
            del st.d["contacts"][str(cid)]
            dm.notify(owner, "ContactDeleted", contact=pb)
        st.save()
        return cc.ContactDeleteResponse()

    @rpc
    async def ContactInviteToOneToOneDiscussion(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        c = st.contact(me, request.contact_id)
        if c["one_to_one"]:
            raise Invalid("already a one-to-one contact")
        name = st.display_name(st.identity(c["peer"])["details"])
        return cc.ContactInviteToOneToOneDiscussionResponse(
            invitation=invite(self.dm, me, c["peer"], name, "one_to_one"))

    @rpc
    async def ContactDowngradeOneToOneDiscussion(self, request, context):
        me, _ = await self.dm.who(context)
        dm, st = self.dm, self.dm.st
        peer = st.contact(me, request.contact_id)["peer"]
        for owner, other in ((me, peer), (peer, me)):
            cid = st.contact_of(owner, other)
            if cid is not None:
                lock_one_to_one(dm, owner, cid)
                st.d["contacts"][str(cid)]["one_to_one"] = False
        st.save()
        return cc.ContactDowngradeOneToOneDiscussionResponse()


def lock_one_to_one(dm, owner, cid):
    st = dm.st
    did = st.discussion_of_contact(owner, cid)
    if did is None:
        return
    d = st.d["discussions"][str(did)]
    d["title"] = views.discussion_pb(st, owner, did).title
    d["contact"] = 0
    dm.notify(owner, "DiscussionLocked", discussion=views.discussion_pb(st, owner, did))


class KeycloakCommand(svc.KeycloakCommandServiceServicer):
    """The directory of a Keycloak configuration link is every identity of this stand-in
    created (or bound) with the same link directory."""

    def __init__(self, dm):
        self.dm = dm

    def _directory(self, me):
        directory = self.dm.st.identity(me)["keycloak"]
        if not directory:
            raise Invalid("identity is not bound to a Keycloak directory")
        return directory

    @rpc
    async def KeycloakUserList(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        directory = self._directory(me)
        f = request.filter if request.HasField("filter") else None
        users = []
        for i in st.d["identities"].values():
            if i["keycloak"] != directory or i["id"] == me:
                continue
            u = views.keycloak_user_pb(st, me, i["id"])
            if f is not None:
                if f.HasField("contact") and f.contact and \
                        u.HasField("contact_id") != (f.contact == f.CONTACT_IS):
                    continue
                if f.HasField("display_name_search") and \
                        f.display_name_search.lower() not in u.display_name.lower():
                    continue
                if f.HasField("details_search") and not views.details_match(f.details_search,
                                                                             i["details"]):
                    continue
            users.append(u)
        yield kc.KeycloakUserListResponse(users=users, last_list_timestamp=now_ms())

    @rpc
    async def KeycloakAddUserAsContact(self, request, context):
        me, _ = await self.dm.who(context)
        st = self.dm.st
        directory = self._directory(me)
        peer = st.identity_by_ident(request.keycloak_id)
        if peer is None or peer == me or st.identity(peer)["keycloak"] != directory:
            raise NotFound("no such user in the directory")
        self.dm.make_contacts(me, peer, keycloak=True, one_to_one=True)
        return kc.KeycloakAddUserAsContactResponse()

    @rpc
    async def KeycloakBindIdentity(self, request, context):
        me, _ = await self.dm.who(context)
        from .admin import keycloak_user_from_link
        directory, _ = keycloak_user_from_link(request.configuration_link)
        self.dm.st.identity(me)["keycloak"] = directory
        self.dm.st.save()
        return kc.KeycloakBindIdentityResponse()

    @rpc
    async def KeycloakUnbindIdentity(self, request, context):
        me, _ = await self.dm.who(context)
        self.dm.st.identity(me)["keycloak"] = ""
        self.dm.st.save()
        return kc.KeycloakUnbindIdentityResponse()
