# SPDX-License-Identifier: AGPL-3.0-or-later
"""The stand-in Olvid daemon checked against its oracle, the official Python client
(PyPI olvid-bot): every behaviour the bridge relies on, driven through the client's own API."""

import asyncio
import os
import time

import pytest

from olvid import datatypes, errors, listeners

from olvid_standin.launch import KEYCLOAK_LINK, StandIn

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = StandIn(str(tmp_path_factory.mktemp("olvid-standin")))
    d.start()
    yield d
    d.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Seen:
    """Collects the notifications of some kinds on an official client's listeners."""

    def __init__(self, daemon, key, client, *kinds):
        self.q = {}
        for kind in kinds:
            self.q[kind] = asyncio.Queue()
            cls = getattr(listeners, kind + "Listener")
            client.add_listener(cls(handler=lambda *a, q=self.q[kind]: q.put_nowait(
                a[0] if len(a) == 1 else a)))

    async def get(self, kind, timeout=5):
        return await asyncio.wait_for(self.q[kind].get(), timeout)

    async def none(self, kind, wait=0.3):
        await asyncio.sleep(wait)
        assert self.q[kind].empty(), self.q[kind].get_nowait()


async def watch(daemon, key, client, *kinds):
    """Listens to `kinds` on `client` and waits until the daemon has the streams open."""
    seen = Seen(daemon, key, client, *kinds)
    for kind in kinds:
        await daemon.await_streams(key, kind)
    return seen


def pair(daemon, a="Alice Martin", b="Bruno Petit"):
    ia, ka = daemon.new_identity(a)
    ib, kb = daemon.new_identity(b)
    ca, cb = daemon.connect_contacts(ka, kb)
    return ka, kb, ca, cb


async def one_to_one(client, contact_id):
    return (await client.discussion_get_by_contact(contact_id)).id


def test_version_ping_and_keys(daemon):
    _, key = daemon.new_identity("Carla Roux")

    async def go():
        c = daemon.client(key)
        assert (await c.daemon_version()).startswith("passerelle-stand-in")
        await c.authentication_test()
        with pytest.raises(errors.PermissionDeniedError):
            await c.authentication_admin_test()
        bad = daemon.client("not-a-key")
        await bad.ping()  # Ping is the one unauthenticated call
        with pytest.raises(errors.UnauthenticatedError):
            await bad.identity_get()
        with pytest.raises(errors.UnauthenticatedError):
            await bad.daemon_version()
        with pytest.raises(errors.UnauthenticatedError):
            async for _ in bad._notif_message_received():
                pass
        with pytest.raises(errors.UnimplementedError):
            await c.storage_get("k")
        admin = daemon.admin_client()
        await admin.authentication_admin_test()
        keys = [k async for k in admin.admin_client_key_list()]
        assert key in [k.key for k in keys]
        await c.stop(); await bad.stop(); await admin.stop()
    run(go())


def test_deleted_key_ends_streams_at_once(daemon):
    ident, key = daemon.new_identity("Denis Blanc")

    async def go():
        c = daemon.client(key)
        await watch(daemon, key, c, "MessageReceived")
        daemon.delete_client_key(key)
        deadline = time.monotonic() + 5
        while not c.are_listeners_finished():  # the stream ended (UNAUTHENTICATED)
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert daemon.streams(daemon.new_client_key(ident), "MessageReceived") == 0
        with pytest.raises(errors.UnauthenticatedError):
            await c.identity_get()
        await c.stop()
    run(go())


def test_invitation_makes_contacts_and_discussions(daemon):
    _, ka = daemon.new_identity("Emma Leroy")
    _, kb = daemon.new_identity("Fabien Morel")

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sa = await watch(daemon, ka, a, "ContactNew", "DiscussionNew", "InvitationSent")
        sb = await watch(daemon, kb, b, "InvitationReceived", "ContactNew", "DiscussionNew")
        link = await b.identity_get_invitation_link()
        assert link.startswith("https://invitation.olvid.io/#")
        with pytest.raises(errors.InvalidArgumentError):
            await a.invitation_new("https://example.org/not-olvid")
        sent = await a.invitation_new(link)
        assert sent.status == datatypes.Invitation.Status.STATUS_INVITATION_WAIT_IT_TO_ACCEPT
        assert (await sa.get("InvitationSent")).id == sent.id
        got = await sb.get("InvitationReceived")
        assert got.status == datatypes.Invitation.Status.STATUS_INVITATION_WAIT_YOU_TO_ACCEPT
        assert got.display_name == "Emma Leroy"
        await b.invitation_accept(got.id)
        ca, cb = await sa.get("ContactNew"), await sb.get("ContactNew")
        assert ca.display_name == "Fabien Morel" and cb.display_name == "Emma Leroy"
        assert ca.has_one_to_one_discussion and cb.has_one_to_one_discussion
        da, db = await sa.get("DiscussionNew"), await sb.get("DiscussionNew")
        assert da.contact_id == ca.id and db.contact_id == cb.id
        assert await a.contact_get_bytes_identifier(ca.id) == await b.identity_get_bytes_identifier()
        assert [i async for i in b.invitation_list()] == []
        await a.stop(); await b.stop()
    run(go())


def test_auto_accept_invitation(daemon):
    _, ka = daemon.new_identity("Gaelle Simon")
    _, kb = daemon.new_identity("Hugo Laurent")

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        await b.enable_auto_invitation(auto_accept_invitation=True)
        await a.invitation_new(await b.identity_get_invitation_link())
        assert len([c async for c in a.contact_list()]) == 1
        assert len([c async for c in b.contact_list()]) == 1
        await a.stop(); await b.stop()
    run(go())


def test_keycloak_directory(daemon):
    _, ka = daemon.new_identity("Ines Garnier", keycloak=True)
    _, kb = daemon.new_identity("Jules Faure", keycloak=True)
    _, kc = daemon.new_identity("Karim Outsider")

    async def go():
        a, c = daemon.client(ka), daemon.client(kc)
        assert (await a.identity_get()).keycloak_managed
        users = []
        async for batch, _ts in a.keycloak_user_list():
            users += batch
        names = [u.display_name for u in users]
        assert "Jules Faure" in names and "Karim Outsider" not in names
        jules = [u for u in users if u.display_name == "Jules Faure"][0]
        assert not jules.contact_id
        await a.keycloak_add_user_as_contact(jules.keycloak_id)
        contacts = [x async for x in a.contact_list()]
        assert [x.display_name for x in contacts] == ["Jules Faure"]
        assert contacts[0].keycloak_managed and contacts[0].has_one_to_one_discussion
        with pytest.raises(errors.InvalidArgumentError):
            async for _ in c.keycloak_user_list():
                pass
        # a link without a user fragment: a numbered directory user of the same directory
        admin = daemon.admin_client()
        anon = await admin.admin_identity_keycloak_new(KEYCLOAK_LINK)
        assert anon.display_name.startswith("Keycloak User ") and anon.keycloak_managed
        users = []
        async for batch, _ts in a.keycloak_user_list(datatypes.KeycloakUserFilter(
                display_name_search="keycloak user")):
            users += batch
        assert [u.display_name for u in users] == [anon.display_name]
        await a.stop(); await c.stop(); await admin.stop()
    run(go())


def test_messages_routed_with_replies_reactions_edits_deletes(daemon):
    ka, kb, ca, cb = pair(daemon)

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sa = await watch(daemon, ka, a, "MessageSent", "MessageDelivered", "MessageRead",
                         "MessageReactionAdded", "MessageDeleted")
        sb = await watch(daemon, kb, b, "MessageReceived", "MessageReactionAdded",
                   "MessageReactionUpdated", "MessageReactionRemoved", "MessageBodyUpdated",
                   "MessageDeleted")
        da, db = await one_to_one(a, ca), await one_to_one(b, cb)
        out = await a.message_send(da, "Bonjour")
        assert out.id.type == datatypes.MessageId.Type.TYPE_OUTBOUND and out.sender_id == 0
        assert (await sa.get("MessageSent")).id.id == out.id.id
        got = await sb.get("MessageReceived")
        assert got.id.type == datatypes.MessageId.Type.TYPE_INBOUND
        assert got.id.id != out.id.id  # one id space per identity
        assert (got.body, got.timestamp, got.discussion_id, got.sender_id) == \
            ("Bonjour", out.timestamp, db, cb)
        assert (await sa.get("MessageDelivered")).id.id == out.id.id
        daemon.mark_read(kb, got)
        assert (await sa.get("MessageRead")).id.id == out.id.id

        # a reply, through the client's high-level API
        reply = await got.reply(b, "Bonjour à vous", quote_message=True)
        back = [m async for m in a.message_list(datatypes.MessageFilter(
            type=datatypes.MessageId.Type.TYPE_INBOUND))]
        assert [m.body for m in back] == ["Bonjour à vous"]
        assert back[0].replied_message_id.id == out.id.id
        assert back[0].timestamp == reply.timestamp

        # reactions: added, updated, removed (seen by the other side)
        await a.message_react(out.id, "👍")
        m, r = await sb.get("MessageReactionAdded")
        assert (m.id.id, r.reaction, r.contact_id) == (got.id.id, "👍", cb)
        await a.message_react(out.id, "❤️")
        m, r, prev = await sb.get("MessageReactionUpdated")
        assert (r.reaction, prev.reaction) == ("❤️", "👍")
        assert [x.reaction for x in (await b.message_get(got.id)).reactions] == ["❤️"]
        await a.message_react(out.id, "")
        m, r = await sb.get("MessageReactionRemoved")
        assert r.reaction == "❤️" and list(m.reactions) == []
        await back[0].react(a, "😂")  # on an inbound message: seen by its sender
        m, r = await sb.get("MessageReactionAdded")
        assert (m.id.id, r.contact_id, r.reaction) == (reply.id.id, cb, "😂")
        await sa.none("MessageReactionAdded")  # the reacting side is not notified

        # edit: only the sender's own message, seen with the previous body
        await out.edit_body(a, "Bonjour !")
        m, previous = await sb.get("MessageBodyUpdated")
        assert (m.body, previous, m.edited_body) == ("Bonjour !", "Bonjour", True)
        with pytest.raises(errors.PermissionDeniedError):
            await b.message_update_body(got.id, "not mine")

        # delete everywhere: the other side gets MessageDeleted; a local delete stays local
        with pytest.raises(errors.PermissionDeniedError):
            await b.message_delete(got.id, delete_everywhere=True)
        await out.delete(a, delete_everywhere=True)
        assert (await sb.get("MessageDeleted")).id.id == got.id.id
        with pytest.raises(errors.NotFoundError):
            await b.message_get(got.id)
        await b.message_delete(reply.id)
        await sa.none("MessageDeleted")
        assert len([x async for x in a.message_list()]) == 1
        await a.stop(); await b.stop()
    run(go())


def test_unread_catch_up_and_no_replay(daemon):
    ka, kb, ca, cb = pair(daemon)

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        da = await one_to_one(a, ca)
        for i in range(3):
            await a.message_send(da, "offline %d" % i)
        # a stream opened now gets nothing of what happened before (no replay)
        sb = await watch(daemon, kb, b, "MessageReceived")
        await sb.none("MessageReceived")
        unread = [m.body async for m in b.message_list(unread=True)]
        assert unread == ["offline 0", "offline 1", "offline 2"]
        assert [m async for m in b.message_list(unread=True)] == []
        # a message sent on an open stream counts as listed
        await a.message_send(da, "live")
        assert (await sb.get("MessageReceived")).body == "live"
        assert [m async for m in b.message_list(unread=True)] == []
        # after the client goes away, messages wait as unread; a reconnect replays nothing
        await b.stop()
        b = daemon.client(kb)
        await a.message_send(da, "while away")
        sb = await watch(daemon, kb, b, "MessageReceived")
        await sb.none("MessageReceived")
        assert [m.body async for m in b.message_list(unread=True)] == ["while away"]
        await a.stop(); await b.stop()
    run(go())


def test_attachments_chunked_byte_exact(daemon):
    ka, kb, ca, cb = pair(daemon)
    big = os.urandom(2_500_000 + 17)  # several 1 MB client chunks, several download chunks
    small = b"%PDF-1.4 tiny"

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sb = await watch(daemon, kb, b, "MessageReceived", "AttachmentReceived")
        sa = await watch(daemon, ka, a, "AttachmentUploaded")
        da = await one_to_one(a, ca)
        msg, atts = await a.message_send_with_attachments(
            da, [("photo.jpg", big), ("note.pdf", small)], body="deux fichiers")
        assert [(x.file_name, x.size, x.mime_type) for x in atts] == \
            [("photo.jpg", len(big), "image/jpeg"), ("note.pdf", len(small), "application/pdf")]
        assert msg.attachments_count == 2
        got = await sb.get("MessageReceived")
        assert got.attachments_count == 2 and got.body == "deux fichiers"
        recv = [await sb.get("AttachmentReceived"), await sb.get("AttachmentReceived")]
        assert {x.file_name for x in recv} == {"photo.jpg", "note.pdf"}
        await sa.get("AttachmentUploaded")
        listed = [x async for x in b.attachment_message_list(got.id)]
        assert [x.file_name for x in listed] == ["photo.jpg", "note.pdf"]
        chunks = [c async for c in b.attachment_download(listed[0].id)]
        assert len(chunks) > 1 and b"".join(chunks) == big
        assert b"".join([c async for c in b.attachment_download(listed[1].id)]) == small
        assert (await b.attachment_get(listed[0].id)).size == len(big)
        # the announced size must match what was streamed
        from olvid.internal import commands

        async def lying():
            yield commands.MessageSendWithAttachmentsRequest(
                metadata=commands.MessageSendWithAttachmentsRequestMetadata(
                    discussion_id=da, files=[commands.MessageSendWithAttachmentsRequestMetadata.File(
                        filename="x.bin", file_size=10)]))
            yield commands.MessageSendWithAttachmentsRequest(payload=b"12345")
            yield commands.MessageSendWithAttachmentsRequest(file_delimiter=True)
        with pytest.raises(errors.InvalidArgumentError):
            await a._stubs.messageCommandStub.message_send_with_attachments(lying())

        async def two_files_one_delimiter():
            files = [commands.MessageSendWithAttachmentsRequestMetadata.File(
                filename=n, file_size=3) for n in ("a.txt", "b.txt")]
            yield commands.MessageSendWithAttachmentsRequest(
                metadata=commands.MessageSendWithAttachmentsRequestMetadata(
                    discussion_id=da, files=files))
            yield commands.MessageSendWithAttachmentsRequest(payload=b"aaa")
            yield commands.MessageSendWithAttachmentsRequest(file_delimiter=True)
            yield commands.MessageSendWithAttachmentsRequest(payload=b"bbb")
        r = await a._stubs.messageCommandStub.message_send_with_attachments(
            two_files_one_delimiter())
        assert [x.size for x in r.attachments] == [3, 3]
        got = await sb.get("MessageReceived")
        data = []
        async for att in b.attachment_message_list(got.id):
            data.append(b"".join([c async for c in b.attachment_download(att.id)]))
        assert data == [b"aaa", b"bbb"]
        await a.stop(); await b.stop()
    run(go())


def test_location(daemon):
    ka, kb, ca, cb = pair(daemon)

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sb = await watch(daemon, kb, b, "MessageLocationReceived")
        await a.message_send_location(await one_to_one(a, ca), 48.8566, 2.3522,
                                      address="Paris")
        m = await sb.get("MessageLocationReceived")
        loc = m.message_location
        assert (loc.latitude, loc.longitude, loc.address) == (48.8566, 2.3522, "Paris")
        assert loc.type == datatypes.MessageLocation.LocationType.LOCATION_TYPE_SEND

        # live sharing: start, update, end; told to both sides
        sa = await watch(daemon, ka, a, "MessageLocationSharingStart",
                         "MessageLocationSharingUpdate", "MessageLocationSharingEnd")
        sb = await watch(daemon, kb, b, "MessageLocationSharingStart",
                         "MessageLocationSharingUpdate", "MessageLocationSharingEnd")
        live = await a.message_start_location_sharing(await one_to_one(a, ca), 45.0, 5.0)
        assert (await sa.get("MessageLocationSharingStart")).id.id == live.id.id
        theirs = await sb.get("MessageLocationSharingStart")
        assert theirs.message_location.type == \
            datatypes.MessageLocation.LocationType.LOCATION_TYPE_SHARING
        await a.message_update_location_sharing(live.id, 45.5, 5.5)
        m, previous = await sb.get("MessageLocationSharingUpdate")
        assert (m.message_location.latitude, previous.latitude) == (45.5, 45.0)
        await sa.get("MessageLocationSharingUpdate")
        with pytest.raises(errors.InvalidArgumentError):
            await b.message_end_location_sharing(theirs.id)
        await a.message_end_location_sharing(live.id)
        ended = await sb.get("MessageLocationSharingEnd")
        assert ended.message_location.type == \
            datatypes.MessageLocation.LocationType.LOCATION_TYPE_SHARING_FINISHED
        await a.stop(); await b.stop()
    run(go())


def test_groups(daemon):
    _, ka = daemon.new_identity("Laure Admin")
    _, kb = daemon.new_identity("Marc Membre")
    _, kc = daemon.new_identity("Nina Membre")
    ab, _ = daemon.connect_contacts(ka, kb)
    ac, _ = daemon.connect_contacts(ka, kc)

    async def go():
        a, b, c = daemon.client(ka), daemon.client(kb), daemon.client(kc)
        sb = await watch(daemon, kb, b, "GroupNew", "MessageReceived", "GroupNameUpdated",
                   "GroupDescriptionUpdated", "GroupPhotoUpdated", "GroupMemberLeft")
        sc = await watch(daemon, kc, c, "GroupNew", "MessageReceived", "GroupDeleted")
        g = await a.group_new_standard_group("Cabinet", "Le cabinet", [ab, ac])
        assert g.own_permissions.admin and len(g.members) == 2
        gb, gc = await sb.get("GroupNew"), await sc.get("GroupNew")
        assert gb.name == "Cabinet" and gb.description == "Le cabinet"
        assert len(gb.members) == 2 and gb.own_permissions.admin
        ident = await a.group_get_bytes_identifier(g.id)
        assert await b.group_get_bytes_identifier(gb.id) == ident
        # group members who were not contacts become (collected) contacts
        bc = [x async for x in b.contact_list()]
        assert {x.display_name: x.has_one_to_one_discussion for x in bc} == \
            {"Laure Admin": True, "Nina Membre": False}

        out = await a.message_send((await a.discussion_get_by_group(g.id)).id, "Réunion")
        mb, mc = await sb.get("MessageReceived"), await sc.get("MessageReceived")
        assert mb.timestamp == mc.timestamp == out.timestamp
        assert mb.discussion_id == (await b.discussion_get_by_group(gb.id)).id
        laure_at_c = [x.id async for x in c.contact_list() if x.display_name == "Laure Admin"]
        assert mc.sender_id == laure_at_c[0]
        rb = await b.message_send(mb.discussion_id, "Présent")
        assert (await sc.get("MessageReceived")).body == "Présent"

        g = await a.group_get(g.id)
        g.name, g.description = "Cabinet du ministre", "Nouveau"
        await a.group_update(g)
        gr, previous = await sb.get("GroupNameUpdated")
        assert (gr.name, previous) == ("Cabinet du ministre", "Cabinet")
        gr, previous = await sb.get("GroupDescriptionUpdated")
        assert (gr.description, previous) == ("Nouveau", "Le cabinet")
        photo = os.urandom(3000)
        await a.group_set_photo(g.id, "g.png", photo)
        assert (await sb.get("GroupPhotoUpdated")).has_a_photo
        assert await b.group_download_photo(gb.id) == photo

        g = await a.group_get(g.id)
        g.members = [m for m in g.members if m.contact_id != ac]
        await a.group_update(g)
        assert (await sc.get("GroupDeleted")).id == gc.id
        left = await sb.get("GroupMemberLeft")
        assert [x.display_name async for x in b.contact_list()
                if x.id == left[1].contact_id] == ["Nina Membre"]
        await a.message_send((await a.discussion_get_by_group(g.id)).id, "sans Nina")
        await sb.get("MessageReceived")
        await sc.none("MessageReceived")
        await a.stop(); await b.stop(); await c.stop()
    run(go())


def test_ephemerality_and_discussion_settings(daemon):
    ka, kb, ca, cb = pair(daemon)

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sb = await watch(daemon, kb, b, "DiscussionSettingsUpdated", "MessageReceived", "MessageDeleted")
        da, db = await one_to_one(a, ca), await one_to_one(b, cb)
        await a.settings_discussion_set(datatypes.DiscussionSettings(
            discussion_id=da, read_once=True, existence_duration=0))
        disc, new, previous = await sb.get("DiscussionSettingsUpdated")
        assert disc.id == db and new.read_once and not previous.read_once
        assert (await b.settings_discussion_get(db)).read_once
        m = await a.message_send(da, "lu une fois")
        got = await sb.get("MessageReceived")
        assert daemon.ephemerality(kb, got)["read_once"]
        daemon.mark_read(kb, got)
        assert (await sb.get("MessageDeleted")).id.id == got.id.id
        await a.settings_discussion_set(datatypes.DiscussionSettings(discussion_id=da))
        await sb.get("DiscussionSettingsUpdated")
        m = await a.message_send(da, "éphémère", ephemerality=datatypes.MessageEphemerality(
            existence_duration=1))
        got = await sb.get("MessageReceived")
        assert daemon.ephemerality(ka, m)["existence_duration"] == 1
        assert (await sb.get("MessageDeleted", timeout=5)).id.id == got.id.id
        assert [x async for x in b.message_list()] == []
        await a.stop(); await b.stop()
    run(go())


def test_photos_and_details(daemon):
    ka, kb, ca, cb = pair(daemon)

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sb = await watch(daemon, kb, b, "ContactPhotoUpdated", "ContactDetailsUpdated")
        photo = os.urandom(5000)
        await a.identity_set_photo("me.jpg", photo)
        assert (await sb.get("ContactPhotoUpdated")).has_a_photo
        assert await b.contact_download_photo(cb) == photo
        assert await a.identity_download_photo() == photo
        assert await b.discussion_download_photo(await one_to_one(b, cb)) == photo
        await a.identity_update_details(datatypes.IdentityDetails(
            first_name="Alice", last_name="Martin", position="Conseillère"))
        contact, previous = await sb.get("ContactDetailsUpdated")
        assert contact.details.position == "Conseillère" and previous.position == ""
        await a.stop(); await b.stop()
    run(go())


def test_backup_restore_profile_snapshot(daemon):
    backup_key, snapshot = daemon.add_backup("Olivier Migrant")

    async def go():
        admin = daemon.admin_client()
        backup = await admin.admin_backup_get(backup_key.lower().replace("-", " "))
        (profile,) = backup.profile_backups
        assert profile.profile_display_name == "Olivier Migrant"
        assert not profile.already_exists_locally
        assert [s.id for s in profile.snapshots] == [snapshot]
        with pytest.raises(errors.NotFoundError):
            await admin.admin_backup_restore_profile_snapshot("AAAA-BBBB", snapshot)
        with pytest.raises(errors.NotFoundError):
            await admin.admin_backup_restore_profile_snapshot(backup_key, "nope")
        restored = await admin.admin_backup_restore_profile_snapshot(backup_key, snapshot)
        ident = restored.restored_identity
        assert ident.display_name == "Olivier Migrant"
        with pytest.raises(errors.InvalidArgumentError):
            await admin.admin_backup_restore_profile_snapshot(backup_key, snapshot)
        assert (await admin.admin_backup_get(backup_key)).profile_backups[0].already_exists_locally
        key = (await admin.admin_client_key_new("migrated", ident.id)).key
        c = daemon.client(key)
        assert (await c.identity_get()).id == ident.id
        await admin.stop(); await c.stop()
    run(go())


def test_restart_and_kill_keep_state(tmp_path):
    d = StandIn(str(tmp_path / "sd"))
    d.start()
    try:
        ka, kb, ca, cb = pair(d)
        port = d.port

        async def send(text):
            a = d.client(ka)
            await a.message_send(await one_to_one(a, ca), text)
            await a.stop()

        async def unread():
            b = d.client(kb)
            out = [m.body async for m in b.message_list(unread=True)]
            await b.stop()
            return out

        run(send("avant"))
        d.restart()
        assert d.port == port
        run(send("après"))
        assert run(unread()) == ["avant", "après"]
        run(send("tué"))
        d.kill()
        d.start()
        assert d.port == port
        assert run(unread()) == ["tué"]
        assert run(unread()) == []

        async def contacts():
            b = d.client(kb)
            out = [c.display_name async for c in b.contact_list()]
            await b.stop()
            return out
        assert run(contacts()) == ["Alice Martin"]
    finally:
        d.stop()


def test_controlled_group_permissions_and_new_members(daemon):
    _, ka = daemon.new_identity("Olga Chef")
    _, kb = daemon.new_identity("Paul Simple")
    _, kc = daemon.new_identity("Quentin Tard")
    ab, _ = daemon.connect_contacts(ka, kb)
    ac, _ = daemon.connect_contacts(ka, kc)

    async def go():
        a, b, c = daemon.client(ka), daemon.client(kb), daemon.client(kc)
        sb = await watch(daemon, kb, b, "GroupNew", "GroupOwnPermissionsUpdated",
                         "GroupMemberJoined")
        sc = await watch(daemon, kc, c, "GroupNew")
        g = await a.group_new_controlled_group("Dircab", "", admin_contact_ids=[],
                                               contact_ids=[ab])
        gb = await sb.get("GroupNew")
        assert not gb.own_permissions.admin and gb.own_permissions.send_message
        gb.name = "pris"
        with pytest.raises(errors.PermissionDeniedError):
            await b.group_update(gb)
        # a new member joins: GroupNew for them, GroupMemberJoined for the others
        g = await a.group_get(g.id)
        g.members.append(datatypes.GroupMember(
            contact_id=ac, permissions=datatypes.GroupMemberPermissions(send_message=True)))
        await a.group_update(g)
        gc = await sc.get("GroupNew")
        assert gc.name == "Dircab" and len(gc.members) == 2
        joined_group, member = await sb.get("GroupMemberJoined")
        assert [x.display_name async for x in b.contact_list() if x.id == member.contact_id] == \
            ["Quentin Tard"]
        # promotion: the member is told its own new permissions
        g = await a.group_get(g.id)
        for m in g.members:
            if m.contact_id == ab:
                m.permissions.admin = True
        await a.group_update(g)
        _, perms, previous = await sb.get("GroupOwnPermissionsUpdated")
        assert perms.admin and not previous.admin
        gb = await b.group_get(gb.id)
        gb.name = "Dircab 2"
        await b.group_update(gb)
        assert (await a.group_get(g.id)).name == "Dircab 2"
        await a.stop(); await b.stop(); await c.stop()
    run(go())


def test_admin_key_acts_as_named_identity(daemon):
    ident, key = daemon.new_identity("Rose Admin")

    async def go():
        admin = daemon.admin_client(ident)
        assert (await admin.identity_get()).display_name == "Rose Admin"
        ids = [i.id async for i in admin.admin_identity_list()]
        assert ident in ids
        nobody = daemon.admin_client(0)
        with pytest.raises(errors.PermissionDeniedError):
            await nobody.identity_get()
        await admin.stop(); await nobody.stop()
    run(go())


def test_notification_count_and_filter(daemon):
    _, ka = daemon.new_identity("Sara Deux")
    _, kb = daemon.new_identity("Tom Un")
    _, kc = daemon.new_identity("Ugo Trois")
    ab, ba = daemon.connect_contacts(ka, kb)
    cb, bc = daemon.connect_contacts(kc, kb)

    async def go():
        a, b, c = daemon.client(ka), daemon.client(kb), daemon.client(kc)
        from_a = asyncio.Queue()
        dba = await one_to_one(b, ba)
        b.add_listener(listeners.MessageReceivedListener(
            handler=from_a.put_nowait, count=2, filter=datatypes.MessageFilter(discussion_id=dba)))
        await daemon.await_streams(kb, "MessageReceived")
        await c.message_send(await one_to_one(c, cb), "de Ugo")
        for i in range(3):
            await a.message_send(await one_to_one(a, ab), "de Sara %d" % i)
        assert (await asyncio.wait_for(from_a.get(), 5)).body == "de Sara 0"
        assert (await asyncio.wait_for(from_a.get(), 5)).body == "de Sara 1"
        deadline = time.monotonic() + 5
        while daemon.streams(kb, "MessageReceived"):  # ended after `count`
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        # what the filtered stream did not send is still unread
        assert [m.body async for m in b.message_list(unread=True)] == ["de Ugo", "de Sara 2"]
        await a.stop(); await b.stop(); await c.stop()
    run(go())


def test_contact_delete_and_one_to_one_invitation(daemon):
    _, ka = daemon.new_identity("Victor Groupe")
    _, kb = daemon.new_identity("Wanda Groupe")
    _, kc = daemon.new_identity("Xavier Groupe")
    ab, ba = daemon.connect_contacts(ka, kb)
    ac, _ = daemon.connect_contacts(ka, kc)

    async def go():
        a, b, c = daemon.client(ka), daemon.client(kb), daemon.client(kc)
        await a.group_new_standard_group("G", "", [ab, ac])
        (xb,) = [x async for x in b.contact_list() if x.display_name == "Xavier Groupe"]
        assert not xb.has_one_to_one_discussion
        with pytest.raises(errors.NotFoundError):
            await b.discussion_get_by_contact(xb.id)
        sc = await watch(daemon, kc, c, "InvitationReceived", "DiscussionNew")
        await b.contact_invite_to_one_to_one_discussion(xb.id)
        inv = await sc.get("InvitationReceived")
        assert inv.status == \
            datatypes.Invitation.Status.STATUS_ONE_TO_ONE_INVITATION_WAIT_YOU_TO_ACCEPT
        await c.invitation_accept(inv.id)
        assert (await sc.get("DiscussionNew")).contact_id
        assert (await b.contact_get(xb.id)).has_one_to_one_discussion
        # deleting a contact removes it on both sides and locks the discussions
        sb = await watch(daemon, kb, b, "ContactDeleted", "DiscussionLocked")
        await a.contact_delete(ab)
        assert (await sb.get("ContactDeleted")).id == ba
        locked = await sb.get("DiscussionLocked")
        assert locked.title == "Victor Groupe"
        assert [d.id async for d in b.discussion_locked_list()] == [locked.id]
        with pytest.raises(errors.InvalidArgumentError):
            await b.message_send(locked.id, "trop tard")
        await a.stop(); await b.stop(); await c.stop()
    run(go())


def test_identity_delete_ends_its_streams(daemon):
    ia, ka = daemon.new_identity("Yves Parti")
    _, kb = daemon.new_identity("Zoe Reste")
    ab, ba = daemon.connect_contacts(ka, kb)

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        await watch(daemon, ka, a, "MessageReceived")
        sb = await watch(daemon, kb, b, "ContactDeleted")
        admin = daemon.admin_client()
        await admin.admin_identity_delete(ia)
        assert (await sb.get("ContactDeleted")).id == ba
        deadline = time.monotonic() + 5
        while not a.are_listeners_finished():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        with pytest.raises(errors.UnauthenticatedError):
            await a.identity_get()
        await a.stop(); await b.stop(); await admin.stop()
    run(go())


def test_official_bot_pattern_and_waiters(daemon):
    ka, kb, ca, cb = pair(daemon, "Adele Cabinet", "Bot Echo")

    async def go():
        from olvid import OlvidClient

        class EchoBot(OlvidClient):
            async def on_message_received(self, message):
                await message.reply(self, message.body.upper())

        bot = EchoBot(client_key=kb, daemon_url=daemon.address)
        a = daemon.client(ka)
        sa = await watch(daemon, ka, a, "MessageReceived", "MessageDelivered")
        await daemon.await_streams(kb, "MessageReceived")
        out = await a.message_send(await one_to_one(a, ca), "écho")
        read = asyncio.ensure_future(out.wait_for.message_to_be_read(a))
        answer = await sa.get("MessageReceived")
        assert answer.body == "ÉCHO" and answer.sender_id == ca
        assert (await sa.get("MessageDelivered")).id.id == out.id.id
        await daemon.await_streams(ka, "MessageRead")
        (inbound,) = [m async for m in bot.message_list(datatypes.MessageFilter(
            type=datatypes.MessageId.Type.TYPE_INBOUND))]
        daemon.mark_read(kb, inbound)
        await asyncio.wait_for(read, 5)
        await a.stop(); await bot.stop()
    run(go())


def test_long_catch_up_in_order(daemon):
    ka, kb, ca, cb = pair(daemon, "Bea Bavarde", "Carl Absent")

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        da = await one_to_one(a, ca)
        for i in range(250):  # more than one MessageListResponse
            await a.message_send(da, "n°%d" % i)
        got = [m async for m in b.message_list(unread=True)]
        assert [m.body for m in got] == ["n°%d" % i for i in range(250)]
        assert [m.sort_index for m in got] == sorted(m.sort_index for m in got)
        assert [m async for m in b.message_list(unread=True)] == []
        await a.stop(); await b.stop()
    run(go())


def test_declined_invitation_leaves_no_contact(daemon):
    _, ka = daemon.new_identity("Dora Insiste")
    _, kb = daemon.new_identity("Eric Refuse")

    async def go():
        a, b = daemon.client(ka), daemon.client(kb)
        sa = await watch(daemon, ka, a, "InvitationDeleted")
        sent = await a.invitation_new(await b.identity_get_invitation_link())
        (got,) = [i async for i in b.invitation_list()]
        await b.invitation_decline(got.id)
        assert (await sa.get("InvitationDeleted")).id == sent.id
        assert [i async for i in a.invitation_list()] == []
        assert [c async for c in a.contact_list()] == []
        assert [c async for c in b.contact_list()] == []
        with pytest.raises(errors.NotFoundError):
            await b.invitation_accept(got.id)
        await a.stop(); await b.stop()
    run(go())
