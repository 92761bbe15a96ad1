# SPDX-License-Identifier: AGPL-3.0-or-later
"""Admin services: client keys, hosted identities, backups (admin client key only)."""

import urllib.parse

from olvid.protobuf.olvid.daemon.admin.v1 import (
    backup_admin_pb2 as bk, client_key_admin_pb2 as ck, identity_admin_pb2 as ia)
from olvid.protobuf.olvid.daemon.datatypes.v1 import backup_pb2, client_key_pb2, group_pb2
from olvid.protobuf.olvid.daemon.services.v1 import admin_service_pb2_grpc as svc

from . import views
from .core import new_backup_key, normalise_backup_key, rpc
from .state import Invalid, NotFound, now_ms


def _key_pb(st, key):
    k = st.d["keys"][key]
    return client_key_pb2.ClientKey(name=k["name"], key=key, identity_id=k["identity"])


def keycloak_user_from_link(link, number=0):
    """A configuration link `<directory>[#user=<First Last>]`: the directory is the part before
    `#`; the stand-in takes the directory user's name from the fragment, else it is
    "Keycloak User <number>"."""
    directory, _, frag = link.partition("#")
    if not directory.startswith("https://") and not directory.startswith("http://"):
        raise Invalid("configuration link must be an http(s) link")
    user = urllib.parse.parse_qs(frag).get("user", [""])[0]
    if not user:
        return directory, {"first_name": "Keycloak", "last_name": "User %d" % number}
    first, _, last = user.partition(" ")
    return directory, {k: v for k, v in (("first_name", first), ("last_name", last)) if v}


class ClientKeyAdmin(svc.ClientKeyAdminServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    @rpc
    async def ClientKeyList(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for key, k in st.d["keys"].items():
            if f is not None:
                which = f.WhichOneof("identity")
                if which == "admin_key" and (k["identity"] == 0) != f.admin_key:
                    continue
                if which == "identity_id" and k["identity"] != f.identity_id:
                    continue
                if f.HasField("name_search") and f.name_search.lower() not in k["name"].lower():
                    continue
                if f.HasField("key") and f.key != key:
                    continue
            out.append(_key_pb(st, key))
        yield ck.ClientKeyListResponse(client_keys=out)

    @rpc
    async def ClientKeyGet(self, request, context):
        await self.dm.who(context, admin=True)
        if request.client_key not in self.dm.st.d["keys"]:
            raise NotFound("client key")
        return ck.ClientKeyGetResponse(client_key=_key_pb(self.dm.st, request.client_key))

    @rpc
    async def ClientKeyNew(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        if request.identity_id:
            st.identity(request.identity_id)
        key = st.new_key(request.name, request.identity_id)
        st.save()
        return ck.ClientKeyNewResponse(client_key=_key_pb(st, key))

    @rpc
    async def ClientKeyDelete(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        if st.d["keys"].pop(request.client_key, None) is None:
            raise NotFound("client key")
        st.save()
        self.dm.hub.close_key(request.client_key, "client key deleted")
        return ck.ClientKeyDeleteResponse()


class IdentityAdmin(svc.IdentityAdminServiceServicer):
    def __init__(self, dm):
        self.dm = dm

    @rpc
    async def IdentityList(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        f = request.filter if request.HasField("filter") else None
        out = []
        for i in st.d["identities"].values():
            pb = views.identity_pb(st, i["id"])
            if f is not None:
                if f.HasField("display_name_search") and \
                        f.display_name_search.lower() not in pb.display_name.lower():
                    continue
                if f.HasField("keycloak") and f.keycloak and \
                        pb.keycloak_managed != (f.keycloak == f.KEYCLOAK_IS):
                    continue
                if f.HasField("details_search") and not views.details_match(f.details_search,
                                                                             i["details"]):
                    continue
            out.append(pb)
        yield ia.IdentityListResponse(identities=out)

    @rpc
    async def IdentityAdminGet(self, request, context):
        await self.dm.who(context, admin=True)
        return ia.IdentityAdminGetResponse(identity=views.identity_pb(self.dm.st,
                                                                      request.identity_id))

    @rpc
    async def IdentityAdminGetBytesIdentifier(self, request, context):
        await self.dm.who(context, admin=True)
        i = self.dm.st.identity(request.identity_id)
        return ia.IdentityAdminGetBytesIdentifierResponse(identifier=bytes.fromhex(i["ident"]))

    @rpc
    async def IdentityAdminGetInvitationLink(self, request, context):
        await self.dm.who(context, admin=True)
        return ia.IdentityAdminGetInvitationLinkResponse(
            invitation_link=self.dm.st.invitation_link(request.identity_id))

    @rpc
    async def IdentityAdminDownloadPhoto(self, request, context):
        await self.dm.who(context, admin=True)
        i = self.dm.st.identity(request.identity_id)
        photo = self.dm.st.blob_get(i["photo"]) if i["photo"] else b""
        return ia.IdentityAdminDownloadPhotoResponse(photo=photo)

    @rpc
    async def IdentityDelete(self, request, context):
        await self.dm.who(context, admin=True)
        dm, st = self.dm, self.dm.st
        iid = request.identity_id
        st.identity(iid)
        for gg, g in list(st.d["groups"].items()):
            if str(iid) in g["members"]:
                cids = {int(m): st.contact_of(int(m), iid) for m in g["members"]}
                dm.leave_group(gg, iid)
                dm.group_notify_all(gg, "GroupMemberLeft", extra=lambda m: {
                    "member": group_pb2.GroupMember(contact_id=cids.get(m) or 0)})
        for owner, cid in st.holders_of(iid):
            pb = views.contact_pb(st, owner, cid)
            did = st.discussion_of_contact(owner, cid)
            if did is not None:
                d = st.d["discussions"][str(did)]
                d["title"], d["contact"] = pb.display_name, 0
                dm.notify(owner, "DiscussionLocked",
                          discussion=views.discussion_pb(st, owner, did))
            del st.d["contacts"][str(cid)]
            dm.notify(owner, "ContactDeleted", contact=pb)
        for table in ("contacts", "discussions", "invitations", "group_local"):
            for k, v in list(st.d[table].items()):
                if v["owner"] == iid:
                    del st.d[table][k]
        for mid, m in list(st.d["msgs"].items()):
            if m["owner"] == iid:
                dm.delete_copy(int(mid), notify_owner=False)
        for key, k in list(st.d["keys"].items()):
            if k["identity"] == iid:
                del st.d["keys"][key]
        del st.d["identities"][str(iid)]
        st.save()
        dm.hub.close_identity(iid, "identity deleted")
        return ia.IdentityDeleteResponse()

    @rpc
    async def IdentityNew(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        d = request.identity_details
        details = {k: getattr(d, k) for k in ("first_name", "last_name", "company", "position")
                   if d.HasField(k)}
        if not details.get("first_name") and not details.get("last_name"):
            raise Invalid("a first or last name is required")
        iid = st.new_identity(details)
        st.save()
        return ia.IdentityNewResponse(identity=views.identity_pb(st, iid))

    @rpc
    async def IdentityKeycloakNew(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        directory, details = keycloak_user_from_link(request.configuration_link,
                                                     st.d["next"].get("identity", 1))
        iid = st.new_identity(details, keycloak=directory)
        st.save()
        return ia.IdentityKeycloakNewResponse(identity=views.identity_pb(st, iid))


class BackupAdmin(svc.BackupAdminServiceServicer):
    """The daemon's own backup key lists the hosted identities; other backup keys are
    "foreign" backups the tests register (Olvid backup keys from another device)."""

    def __init__(self, dm):
        self.dm = dm

    def _own_key(self):
        st = self.dm.st
        if not st.d["backup_key"]:
            st.d["backup_key"] = new_backup_key()
            st.save()
        return st.d["backup_key"]

    def _profiles(self, backup_key):
        """[(snapshot id, identity record)] for a backup key; NotFound if unknown."""
        st = self.dm.st
        norm = normalise_backup_key(backup_key)
        if st.d["backup_key"] and norm == normalise_backup_key(st.d["backup_key"]):
            return [("own-%s" % i["ident"][:16], i) for i in st.d["identities"].values()]
        b = st.d["backups"].get(norm)
        if b is None:
            raise NotFound("unknown backup key")
        return [(p["snapshot"], p) for p in b["profiles"]]

    @rpc
    async def BackupKeyGet(self, request, context):
        await self.dm.who(context, admin=True)
        return bk.BackupKeyGetResponse(backup_key=self._own_key())

    @rpc
    async def BackupKeyRenew(self, request, context):
        await self.dm.who(context, admin=True)
        self.dm.st.d["backup_key"] = new_backup_key()
        self.dm.st.save()
        return bk.BackupKeyRenewResponse(backup_key=self.dm.st.d["backup_key"])

    @rpc
    async def BackupNow(self, request, context):
        await self.dm.who(context, admin=True)
        return bk.BackupNowResponse()

    @rpc
    async def BackupGet(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        backup = backup_pb2.Backup(admin_backup=backup_pb2.Backup.AdminBackup())
        for snap, p in self._profiles(request.backup_key):
            backup.profile_backups.append(backup_pb2.Backup.ProfileBackup(
                profile_display_name=st.display_name(p["details"]),
                already_exists_locally=st.identity_by_ident(p["ident"]) is not None,
                keycloak_managed=bool(p.get("keycloak")),
                snapshots=[backup_pb2.Backup.ProfileBackup.Snapshot(
                    id=snap, timestamp=p.get("timestamp", now_ms()),
                    from_device_name=p.get("device", "stand-in"))]))
        return bk.BackupGetResponse(backup=backup)

    @rpc
    async def BackupRestoreProfileSnapshot(self, request, context):
        await self.dm.who(context, admin=True)
        st = self.dm.st
        for snap, p in self._profiles(request.backup_key):
            if snap == request.id:
                break
        else:
            raise NotFound("no snapshot %r in this backup" % request.id)
        if st.identity_by_ident(p["ident"]) is not None:
            raise Invalid("this profile already exists on this daemon")
        iid = st.new_identity(p["details"], keycloak=p.get("keycloak", ""), ident=p["ident"])
        st.save()
        return bk.BackupRestoreProfileSnapshotResponse(
            restored_identity=views.identity_pb(st, iid))
