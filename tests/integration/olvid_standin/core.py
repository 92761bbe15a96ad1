# SPDX-License-Identifier: AGPL-3.0-or-later
"""The stand-in's shared machinery: authentication, error mapping, and the operations that
touch several identities at once (contacts, routing a message, group fan-out)."""

import asyncio
import functools
import inspect
import secrets

import grpc

from olvid.protobuf.olvid.daemon.notification.v1 import (
    attachment_notifications_pb2 as attn, contact_notifications_pb2 as conn,
    discussion_notifications_pb2 as disn, group_notifications_pb2 as grpn,
    invitation_notifications_pb2 as invn, message_notifications_pb2 as msgn)

from . import views
from .hub import Hub, Sub
from .state import Denied, Invalid, NotFound, State, now_ms

SHARING = 2  # MessageLocation.LOCATION_TYPE_SHARING

VERSION = "passerelle-stand-in 1.0 (olvid-bot 2.0.1.post1 API)"

NOTES = {}
for _mod in (attn, conn, disn, grpn, invn, msgn):
    for _name in dir(_mod):
        if _name.endswith("Notification") and not _name.startswith("SubscribeTo"):
            NOTES[_name[:-len("Notification")]] = getattr(_mod, _name)


def rpc(fn):
    """Maps the state's exceptions to gRPC status codes (unary, client- or server-stream)."""
    async def fail(context, e):
        code = {NotFound: grpc.StatusCode.NOT_FOUND, Invalid: grpc.StatusCode.INVALID_ARGUMENT,
                Denied: grpc.StatusCode.PERMISSION_DENIED}[type(e)]
        await context.abort(code, str(e))

    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def gen(self, request, context):
            try:
                async for x in fn(self, request, context):
                    yield x
            except (NotFound, Invalid, Denied) as e:
                await fail(context, e)
        return gen

    @functools.wraps(fn)
    async def unary(self, request, context):
        try:
            return await fn(self, request, context)
        except (NotFound, Invalid, Denied) as e:
            await fail(context, e)
    return unary


class Daemon:
    def __init__(self, state_dir, admin_key):
        self.st = State(state_dir, admin_key)
        self.hub = Hub()
        self.expiry_tasks = {}

    # ---- authentication
    async def who(self, context, admin=False):
        """(identity id, key) the call acts as; 0 for admin services."""
        md = dict(context.invocation_metadata())
        key = md.get("daemon-client-key")
        ident = self.st.key_identity(key)
        if ident is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown daemon-client-key")
        if admin:
            if ident != 0:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "admin client key required")
            return 0, key
        if ident == 0:
            try:
                ident = int(md.get("daemon-identity-id", "0"))
            except ValueError:
                ident = 0
            if not ident:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                    "admin key used without daemon-identity-id")
        if str(ident) not in self.st.d["identities"]:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "identity of this key is gone")
        return ident, key

    def notify(self, identity, kind, **fields):
        cls = NOTES[kind]
        self.hub.publish(identity, kind, lambda: cls(**fields))

    async def subscribe(self, request, context, kind, accept, on_sent=None):
        ident, key = await self.who(context)
        sub = Sub(ident, kind, key, accept, request.count if request.HasField("count") else 0)
        async for note in self.hub.stream(context, sub, on_sent):
            yield note

    # ---- contacts and discussions
    def make_contact(self, owner, peer, keycloak=False, one_to_one=True):
        st = self.st
        cid = st.contact_of(owner, peer)
        new = cid is None
        if new:
            cid = st.new_id("contact")
            st.d["contacts"][str(cid)] = {"owner": owner, "peer": peer, "keycloak": keycloak,
                                          "one_to_one": one_to_one}
        c = st.d["contacts"][str(cid)]
        c["keycloak"] = c["keycloak"] or keycloak
        upgraded = one_to_one and not c["one_to_one"]
        if upgraded:
            c["one_to_one"] = True
        if new:
            self.notify(owner, "ContactNew", contact=views.contact_pb(st, owner, cid))
        if c["one_to_one"] and st.discussion_of_contact(owner, cid) is None:
            did = st.new_discussion(owner, contact=cid)
            self.notify(owner, "DiscussionNew", discussion=views.discussion_pb(st, owner, did))
        return cid

    def make_contacts(self, a, b, keycloak=False, one_to_one=True):
        ca = self.make_contact(a, b, keycloak, one_to_one)
        cb = self.make_contact(b, a, keycloak, one_to_one)
        self.st.save()
        return ca, cb

    def contact_changed(self, peer, kind, **extra):
        for owner, cid in self.st.holders_of(peer):
            self.notify(owner, kind, contact=views.contact_pb(self.st, owner, cid), **extra)

    # ---- messages
    def send(self, owner, did, body, reply=None, eph=None, location=None, files=()):
        """Stores an outbound message of `owner` in discussion `did` and its inbound copies at
        every other identity of the discussion. Returns the outbound message id."""
        st = self.st
        d = st.discussion(owner, did)
        if not d["contact"] and not d["group"]:
            raise Invalid("this discussion is locked")
        if d["group"]:
            gg, g = st.group(owner, d["group"])
            if not g["members"][str(owner)]["send_message"]:
                raise Denied("not allowed to send in this group")
        reply_gm = 0
        if reply is not None and reply.id:
            reply_gm = st.msg(owner, reply.type, reply.id)["gm"]
        if eph is None or not any(eph.values()):
            eph = dict(d["settings"])
        ts = now_ms()
        gm = str(st.new_id("gmsg"))
        atts = []
        for i, (name, data) in enumerate(files):
            blob = "att-%s-%d" % (gm, i)
            st.blob_put(blob, data)
            atts.append({"file_name": name, "mime_type": views.guess_mime(name), "size": len(data),
                         "blob": blob})
        st.put("gmsgs", gm, {"sender": owner, "body": body, "timestamp": ts, "reply": reply_gm,
                             "location": location, "reactions": {}, "edited": False,
                             "eph": eph, "attachments": atts, "delivered": False, "read": False,
                             "forwarded": False})
        out = self._copy(owner, gm, did, views.OUTBOUND, ts)
        targets = st.discussion_members(owner, did)
        inbound = [(peer, self._copy(peer, gm, pdid, views.INBOUND, ts)) for peer, pdid in targets]
        if eph.get("existence_duration"):
            self.schedule_expiry(gm)
        st.save()
        # notifications: sender side, then every receiver
        out_pb = views.message_pb(st, out)
        self.notify(owner, "MessageSent", message=out_pb)
        sharing = location and location["type"] == SHARING
        if location:
            self.notify(owner, "MessageLocationSharingStart" if sharing else
                        "MessageLocationSent", message=out_pb)
        self.notify(owner, "MessageUploaded", message=out_pb)
        for aid in st.atts_of(out):
            self.notify(owner, "AttachmentUploaded", attachment=views.attachment_pb(st, aid))
        for peer, mid in inbound:
            pb = views.message_pb(st, mid)
            self.notify(peer, "MessageReceived", message=pb)
            if location:
                self.notify(peer, "MessageLocationSharingStart" if sharing else
                            "MessageLocationReceived", message=pb)
            for aid in st.atts_of(mid):
                self.notify(peer, "AttachmentReceived", attachment=views.attachment_pb(st, aid))
        return out

    def _copy(self, owner, gm, did, mdir, ts):
        st = self.st
        mid = st.new_id("message")
        st.put("msgs", mid, {"owner": owner, "gm": gm, "dir": mdir, "discussion": did,
                             "unread": mdir == views.INBOUND, "sort": ts / 1000.0 + mid * 1e-6})
        for i, _ in enumerate(st.d["gmsgs"][gm]["attachments"]):
            aid = st.new_id("attachment")
            st.put("atts", aid, {"msg": mid, "index": i})
        return mid

    def seen_by_client(self, mids, listed):
        """An identity's client obtained these inbound messages (listed, got, or notified):
        their sender learns they were delivered; if `listed` (MessageList or a MessageReceived
        notification) they are no longer unread."""
        st = self.st
        changed = False
        for mid in mids:
            m = st.d["msgs"].get(str(mid))
            if m is None or m["dir"] != views.INBOUND:
                continue
            if listed and m["unread"]:
                m["unread"] = False
                st.touch("msgs", mid)
                changed = True
            g = st.d["gmsgs"][m["gm"]]
            if not g["delivered"]:
                g["delivered"] = True
                st.touch("gmsgs", m["gm"])
                changed = True
                self._status(m["gm"], "MessageDelivered")
        if changed:
            st.save()

    def mark_read(self, mid):
        st = self.st
        m = st.d["msgs"].get(str(mid))
        if m is None or m["dir"] != views.INBOUND:
            raise NotFound("inbound message %s" % mid)
        self.seen_by_client([mid], listed=False)
        g = st.d["gmsgs"][m["gm"]]
        if not g["read"]:
            g["read"] = True
            st.touch("gmsgs", m["gm"])
            self._status(m["gm"], "MessageRead")
        if g["eph"].get("read_once"):
            self.delete_copy(mid, notify_owner=True)
        st.save()

    def _status(self, gm, kind):
        st = self.st
        sender = st.d["gmsgs"][gm]["sender"]
        out = st.copy_for(gm, sender)
        if out is not None:
            self.notify(sender, kind, message=views.message_pb(st, out))

    def delete_copy(self, mid, notify_owner):
        st = self.st
        m = st.d["msgs"].get(str(mid))
        if m is None:
            return
        pb = views.message_pb(st, mid)
        for aid in st.atts_of(mid):
            st.drop("atts", aid)
        st.drop("msgs", mid)
        gm = m["gm"]
        if not st.copies(gm):
            for f in st.d["gmsgs"][gm]["attachments"]:
                st.blob_del(f["blob"])
            st.drop("gmsgs", gm)
        if notify_owner:
            self.notify(m["owner"], "MessageDeleted", message=pb)

    def schedule_expiry(self, gm):
        g = self.st.d["gmsgs"].get(gm)
        if g is None or gm in self.expiry_tasks:
            return
        delay = g["timestamp"] / 1000.0 + g["eph"]["existence_duration"] - now_ms() / 1000.0
        loop = asyncio.get_event_loop()
        self.expiry_tasks[gm] = loop.call_later(max(delay, 0), self._expire, gm)

    def _expire(self, gm):
        self.expiry_tasks.pop(gm, None)
        for mid, _ in self.st.copies(gm):
            self.delete_copy(mid, notify_owner=True)
        self.st.save()

    def others_with(self, gm, me):
        return [(m["owner"], mid) for mid, m in self.st.copies(gm) if m["owner"] != me]

    # ---- groups
    def group_notify_all(self, gg, kind, extra=None, skip=()):
        st = self.st
        for member in list(st.d["groups"][gg]["members"]):
            m = int(member)
            if m in skip:
                continue
            gid = st.group_local_of(m, gg)
            fields = {"group": views.group_pb(st, m, gid)}
            if extra:
                fields.update(extra(m))
            self.notify(m, kind, **fields)

    def join_group(self, gg, identity, perms):
        """Adds `identity` to global group `gg`: a local group, a discussion, and (collected)
        contacts with every other member, as Olvid does for group members."""
        st = self.st
        g = st.d["groups"][gg]
        g["members"][str(identity)] = perms
        for other in g["members"]:
            o = int(other)
            if o != identity:
                self.make_contact(identity, o, one_to_one=False)
                self.make_contact(o, identity, one_to_one=False)
        gid = st.group_local_of(identity, gg)
        if gid is None:
            gid = st.new_id("group")
            st.d["group_local"][str(gid)] = {"owner": identity, "gg": gg}
        if st.discussion_of_group(identity, gid) is None:
            did = st.new_discussion(identity, group=gid)
        return gid

    def leave_group(self, gg, identity):
        """Removes `identity` from `gg`; its discussion is kept but locked."""
        st = self.st
        g = st.d["groups"][gg]
        gid = st.group_local_of(identity, gg)
        pb = views.group_pb(st, identity, gid)
        del g["members"][str(identity)]
        did = st.discussion_of_group(identity, gid)
        del st.d["group_local"][str(gid)]
        if did is not None:
            d = st.d["discussions"][str(did)]
            d["title"] = g["name"]
            d["group"] = 0
            self.notify(identity, "DiscussionLocked",
                        discussion=views.discussion_pb(st, identity, did))
        self.notify(identity, "GroupDeleted", group=pb)


def new_backup_key():
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(32))
    return "-".join(raw[i:i + 4] for i in range(0, 32, 4))


def normalise_backup_key(key):
    return "".join(ch for ch in key.upper() if ch.isalnum())
