# SPDX-License-Identifier: AGPL-3.0-or-later
"""Builds the published datatypes (official generated messages) from the stand-in's state,
as seen by one identity, and matches the published filters."""

import mimetypes

from olvid.protobuf.olvid.daemon.datatypes.v1 import (
    attachment_pb2, contact_pb2, discussion_pb2, group_pb2, identity_pb2, invitation_pb2,
    keycloak_pb2, message_pb2, settings_pb2)

INBOUND = message_pb2.MessageId.TYPE_INBOUND
OUTBOUND = message_pb2.MessageId.TYPE_OUTBOUND


def details_pb(d):
    return identity_pb2.IdentityDetails(**{k: v for k, v in d.items() if v})


def identity_pb(st, iid):
    i = st.identity(iid)
    return identity_pb2.Identity(
        id=iid, display_name=st.display_name(i["details"]), details=details_pb(i["details"]),
        keycloak_managed=bool(i["keycloak"]), has_a_photo=i["photo"] is not None,
        api_key=identity_pb2.Identity.ApiKey(
            permission=identity_pb2.Identity.ApiKey.Permission(call=False, multi_device=False)))


def contact_pb(st, owner, cid):
    c = st.contact(owner, cid)
    peer = st.identity(c["peer"])
    return contact_pb2.Contact(
        id=cid, display_name=st.display_name(peer["details"]), details=details_pb(peer["details"]),
        established_channel_count=1, device_count=1,
        has_one_to_one_discussion=c["one_to_one"], has_a_photo=peer["photo"] is not None,
        keycloak_managed=c["keycloak"])


def discussion_pb(st, owner, did):
    d = st.discussion(owner, did)
    if d["contact"]:
        c = st.d["contacts"][str(d["contact"])]
        title = st.display_name(st.identity(c["peer"])["details"])
        return discussion_pb2.Discussion(id=did, title=title, contact_id=d["contact"])
    if d["group"]:
        _, g = st.group(owner, d["group"])
        return discussion_pb2.Discussion(id=did, title=g["name"], group_id=d["group"])
    return discussion_pb2.Discussion(id=did, title=d.get("title", ""))


def discussion_settings_pb(did, s):
    return settings_pb2.DiscussionSettings(discussion_id=did, **s)


def perms_pb(p):
    return group_pb2.GroupMemberPermissions(**p)


def group_pb(st, owner, gid):
    gg, g = st.group(owner, gid)
    members = []
    for member, perms in sorted(g["members"].items()):
        m = int(member)
        if m == owner:
            continue
        cid = st.contact_of(owner, m)
        members.append(group_pb2.GroupMember(contact_id=cid or 0, permissions=perms_pb(perms)))
    return group_pb2.Group(
        id=gid, type=g["type"], own_permissions=perms_pb(g["members"][str(owner)]),
        members=members, keycloak_managed=False, name=g["name"], description=g["description"],
        has_a_photo=g["photo"] is not None)


def message_id_pb(m_dir, mid):
    return message_pb2.MessageId(type=m_dir, id=mid)


def message_pb(st, mid):
    m = st.d["msgs"][str(mid)]
    owner = m["owner"]
    g = st.d["gmsgs"][m["gm"]]
    sender = 0 if m["dir"] == OUTBOUND else (st.contact_of(owner, g["sender"]) or 0)
    out = message_pb2.Message(
        id=message_id_pb(m["dir"], mid), discussion_id=m["discussion"], sender_id=sender,
        body=g["body"], sort_index=m["sort"], timestamp=g["timestamp"],
        attachments_count=len(g["attachments"]), forwarded=g.get("forwarded", False),
        edited_body=g["edited"])
    if g["reply"]:
        rmid = st.copy_for(g["reply"], owner)
        if rmid is not None:
            out.replied_message_id.CopyFrom(message_id_pb(st.d["msgs"][str(rmid)]["dir"], rmid))
    if g["location"]:
        out.message_location.CopyFrom(message_pb2.MessageLocation(**g["location"]))
    for who, (reaction, ts) in sorted(g["reactions"].items()):
        who = int(who)
        cid = 0 if who == owner else (st.contact_of(owner, who) or 0)
        out.reactions.append(message_pb2.MessageReaction(contact_id=cid, reaction=reaction,
                                                         timestamp=ts))
    return out


def reaction_pb(st, owner, who, reaction, ts):
    cid = 0 if who == owner else (st.contact_of(owner, who) or 0)
    return message_pb2.MessageReaction(contact_id=cid, reaction=reaction, timestamp=ts)


def attachment_pb(st, aid):
    a = st.d["atts"][str(aid)]
    m = st.d["msgs"][str(a["msg"])]
    f = st.d["gmsgs"][m["gm"]]["attachments"][a["index"]]
    return attachment_pb2.Attachment(
        id=attachment_pb2.AttachmentId(type=m["dir"], id=aid), discussion_id=m["discussion"],
        message_id=message_id_pb(m["dir"], a["msg"]), file_name=f["file_name"],
        mime_type=f["mime_type"], size=f["size"])


def guess_mime(name):
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def invitation_pb(st, iid):
    return invitation_pb_from(iid, st.d["invitations"][str(iid)])


def keycloak_user_pb(st, owner, peer):
    p = st.identity(peer)
    cid = st.contact_of(owner, peer)
    u = keycloak_pb2.KeycloakUser(keycloak_id=p["ident"], display_name=st.display_name(p["details"]),
                                  details=details_pb(p["details"]))
    if cid is not None:
        u.contact_id = cid
    return u


# ---- filters (the common fields; unknown criteria are ignored)

def _search(needle, hay):
    return needle.lower() in (hay or "").lower()


def details_match(f, d):
    for k in ("first_name", "last_name", "company", "position"):
        if f.HasField(k) and not _search(getattr(f, k), d.get(k)):
            return False
    return True


def message_match(f, msg):
    """`f`: a MessageFilter (may be None); `msg`: a Message datatype."""
    if f is None:
        return True
    if f.HasField("type") and f.type and msg.id.type != f.type:
        return False
    if f.HasField("discussion_id") and msg.discussion_id != f.discussion_id:
        return False
    if f.HasField("sender_contact_id") and msg.sender_id != f.sender_contact_id:
        return False
    if f.HasField("body_search") and not _search(f.body_search, msg.body):
        return False
    if f.HasField("attachment") and f.attachment:
        has = msg.attachments_count > 0
        if has != (f.attachment == message_pb2.MessageFilter.ATTACHMENT_HAVE):
            return False
    if f.HasField("location") and f.location:
        has = msg.HasField("message_location")
        if f.location == message_pb2.MessageFilter.LOCATION_HAVE and not has:
            return False
        if f.location == message_pb2.MessageFilter.LOCATION_HAVE_NOT and has:
            return False
    if f.HasField("min_timestamp") and msg.timestamp < f.min_timestamp:
        return False
    if f.HasField("max_timestamp") and msg.timestamp > f.max_timestamp:
        return False
    if f.HasField("has_reaction") and f.has_reaction:
        has = len(msg.reactions) > 0
        if has != (f.has_reaction == message_pb2.MessageFilter.REACTION_HAS):
            return False
    which = f.WhichOneof("reply")
    if which == "reply_to_a_message" and not msg.HasField("replied_message_id"):
        return False
    if which == "do_not_reply_to_a_message" and msg.HasField("replied_message_id"):
        return False
    if which == "replied_message_id" and msg.replied_message_id != f.replied_message_id:
        return False
    return True


def ids_match(ids, mid):
    return not ids or any(i.id == mid.id and i.type == mid.type for i in ids)


def invitation_pb_from(iid, inv):
    return invitation_pb2.Invitation(id=iid, status=inv["status"],
                                     display_name=inv["display_name"],
                                     timestamp=inv["timestamp"])
