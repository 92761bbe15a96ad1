# SPDX-License-Identifier: AGPL-3.0-or-later
"""Olvid → Matrix: a cabinet member (another identity of the stand-in daemon, driven by the
official Python client) writes to the agent's bridged Olvid identity; the agent's Matrix client
sees each kind of content in its portals, exactly once."""

import asyncio
import time

import pytest

from ghost_names import name_on_arrival
from olvid_harness import (  # noqa: F401  (fixtures)
    agent, available, logged_in, stack, standin, user_id_of)
from wa_canned import ghost_mxid, wait_bot

pytestmark = pytest.mark.skipif(not available(), reason="no Olvid test build or olvid module")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def as_member(standin, key, fn):
    """Runs `await fn(client)` with the official client of `key` (made and stopped inside the
    coroutine's own loop)."""
    async def go():
        c = standin.client(key)
        try:
            return await fn(c)
        finally:
            await c.stop()
    return run(go())


def ghost(standin, identity_id):
    return ghost_mxid(user_id_of(standin, identity_id), plugin="olvid")


def contents(agent, room, sender):
    return [e["content"] for e in agent.messages(room, sender=sender)]


def wait_bodies(agent, room, sender, n, what):
    return agent.wait(lambda a: len(contents(a, room, sender)) >= n and contents(a, room, sender),
                      60, what)


@pytest.fixture(scope="module")
def member(standin, logged_in, agent):
    """The cabinet member, a contact of the agent's identity, and the agent's DM portal."""
    iid, key = standin.new_identity("Claire Cabinet")
    at_member, at_agent = standin.connect_contacts(key, logged_in["client_key"])
    g = ghost(standin, iid)
    room = agent.wait_invite(lambda a, r: a.inviter(r) == g or a.invite_name(r) == "Claire Cabinet",
                             timeout=60)
    agent.join(room)
    return {"id": iid, "key": key, "contact": at_member, "at_agent": at_agent, "ghost": g,
            "room": room}


async def dm(client, contact):
    return (await client.discussion_get_by_contact(contact)).id


def test_dm_text_reply_forward_edit_react_delete(standin, agent, member):
    room, g = member["room"], member["ghost"]

    async def send(c):
        d = await dm(c, member["contact"])
        first = await c.message_send(d, "Bonjour du cabinet")
        await c.message_send(d, "En réponse", reply_id=first.id)
        return first
    first = as_member(standin, member["key"], send)
    got = wait_bodies(agent, room, g, 2, "two messages")
    assert [x["body"] for x in got][:2] == ["Bonjour du cabinet", "En réponse"]
    first_ev = agent.messages(room, sender=g)[0]["event_id"]
    assert got[1].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == first_ev

    def later(fn):
        async def go(c):
            return await fn(c)
        as_member(standin, member["key"], go)

    def edited(a):
        return [e for e in a.events.get(room, []) if e.get("type") == "m.room.message"
                and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"]

    def reactions(a):
        return [e for e in a.events.get(room, []) if e.get("type") == "m.reaction"]

    def redacted(a):
        return {e.get("redacts") for e in a.events.get(room, [])
                if e.get("type") == "m.room.redaction"}

    later(lambda c: c.message_update_body(first.id, "Bonjour (corrigé)"))
    ed = agent.wait(edited, 60, "the edit")
    assert ed[0]["content"]["m.new_content"]["body"] == "Bonjour (corrigé)"
    assert ed[0]["content"]["m.relates_to"]["event_id"] == first_ev

    # added, updated (the new one replaces the old), removed
    later(lambda c: c.message_react(first.id, "👍"))
    agent.wait(lambda a: len(reactions(a)) == 1, 60, "a reaction")
    later(lambda c: c.message_react(first.id, "❤️"))
    agent.wait(lambda a: len(reactions(a)) == 2, 60, "the updated reaction")
    assert [r["content"]["m.relates_to"]["key"] for r in reactions(agent)] == ["👍", "❤️"]
    assert all(r["content"]["m.relates_to"]["event_id"] == first_ev for r in reactions(agent))
    agent.wait(lambda a: reactions(a)[0]["event_id"] in redacted(a), 60, "👍 replaced")
    later(lambda c: c.message_react(first.id, ""))
    agent.wait(lambda a: reactions(a)[1]["event_id"] in redacted(a), 60, "❤️ removed")

    later(lambda c: c.message_delete(first.id, delete_everywhere=True))
    agent.wait(lambda a: first_ev in redacted(a), 60, "the message's deletion")
    time.sleep(1)
    agent.sync()
    assert len(contents(agent, room, g)) == 3  # two messages and the edit: nothing doubled
    assert len(reactions(agent)) == 2


def test_new_contact_named_from_its_first_message(standin, agent, logged_in):
    """A new contact writes at once (the demo's cabinet member): the DM's ghost has its name
    when it makes the room, so its first messages are not shown under its raw MXID."""
    iid, key = standin.new_identity("Claire (cabinet, Olvid)")
    contact, _ = standin.connect_contacts(key, logged_in["client_key"])
    g = ghost(standin, iid)

    async def writes(c):
        d = await dm(c, contact)
        await c.message_send(d, "Premier message")
        await c.message_send(d, "Deuxième message")
    as_member(standin, key, writes)
    room = agent.wait_invite(lambda a, r: a.inviter(r) == g, timeout=60)
    agent.join(room)
    wait_bodies(agent, room, g, 2, "the two messages")
    assert name_on_arrival(agent, room, g) == ("Claire (cabinet, Olvid)",) * 2


def media_bytes(agent, content):
    """The bytes of a bridged file (decrypted when the portal is encrypted)."""
    if "url" in content:
        resp = agent.run(agent.client.download(mxc=content["url"]))
        return resp.body
    from nio.crypto.attachments import decrypt_attachment
    f = content["file"]
    resp = agent.run(agent.client.download(mxc=f["url"]))
    return decrypt_attachment(resp.body, f["key"]["k"], f["hashes"]["sha256"], f["iv"])


def test_dm_attachments_location_forwarded(standin, agent, member):
    room, g = member["room"], member["ghost"]
    n0 = len(contents(agent, room, g))
    photo = bytes(range(256)) * 5000 + b"end"  # 1.28 MB: several download chunks
    pdf = b"%PDF-1.4 petit"

    async def send(c):
        d = await dm(c, member["contact"])
        await c.message_send_with_attachments(d, [("photo.jpg", photo), ("note.pdf", pdf)],
                                              body="deux fichiers")
        await c.message_send_location(d, 48.8566, 2.3522, address="Paris")
    as_member(standin, member["key"], send)
    got = wait_bodies(agent, room, g, n0 + 4, "text, two files and a location")[n0:]
    # (a file is posted once uploaded: the location may come before it)
    by = {x["msgtype"]: x for x in got}
    assert sorted(by) == ["m.file", "m.image", "m.location", "m.text"]
    assert by["m.text"]["body"] == "deux fichiers"
    assert (by["m.image"]["body"], by["m.file"]["body"]) == ("photo.jpg", "note.pdf")
    assert media_bytes(agent, by["m.image"]) == photo
    assert media_bytes(agent, by["m.file"]) == pdf
    assert by["m.location"]["geo_uri"].startswith("geo:48.8566")
    assert ",2.3522" in by["m.location"]["geo_uri"]
    assert "Paris" in by["m.location"]["body"]
    time.sleep(1)
    agent.sync()
    assert len(contents(agent, room, g)) == n0 + 4


def test_group(standin, agent, logged_in, member):
    other_id, other_key = standin.new_identity("Ugo Conseiller")
    m_sees_o, _ = standin.connect_contacts(member["key"], other_key)
    other = ghost(standin, other_id)

    async def make(c):
        g = await c.group_new_standard_group("Cabinet", "Le cabinet", [member["contact"], m_sees_o])
        g = await c.group_get(g.id)
        for m in g.members:  # Ugo becomes an admin too
            m.permissions.admin = m.contact_id == m_sees_o
        await c.group_update(g)
        await c.message_send((await c.discussion_get_by_group(g.id)).id, "Réunion à 10h")
        return g.id
    gid = as_member(standin, member["key"], make)
    room = agent.wait_invite(lambda a, r: a.invite_name(r) == "Cabinet", timeout=60)
    agent.join(room)
    got = wait_bodies(agent, room, member["ghost"], 1, "the group message")
    assert got[0]["body"] == "Réunion à 10h"
    assert (agent.state(room, "m.room.topic") or {}).get("topic") == "Le cabinet"
    def users(a):
        return (a.state(room, "m.room.power_levels") or {}).get("users", {})
    agent.wait(lambda a: users(a).get(member["ghost"]) == 50 and users(a).get(other) == 50, 60,
               "the admins' power levels")

    async def rename(c):
        g = await c.group_get(gid)
        g.name, g.description = "Cabinet du ministre", "Nouveau"
        await c.group_update(g)
    as_member(standin, member["key"], rename)
    agent.wait(lambda a: (a.state(room, "m.room.name") or {}).get("name") == "Cabinet du ministre",
               60, "the new name")
    agent.wait(lambda a: (a.state(room, "m.room.topic") or {}).get("topic") == "Nouveau", 60,
               "the new topic")

    async def ugo_writes(c):
        gs = [x async for x in c.group_list()]
        await c.message_send((await c.discussion_get_by_group(gs[0].id)).id, "Présent")
    as_member(standin, other_key, ugo_writes)
    assert wait_bodies(agent, room, other, 1, "Ugo's message")[0]["body"] == "Présent"
    # Ugo's ghost joined the group with the name its member info gave.
    assert name_on_arrival(agent, room, other) == ("Ugo Conseiller",) * 2


def test_invitation_told_and_accepted(standin, agent, logged_in):
    _, key = standin.new_identity("Paul Invitant")
    from wa_canned import bot_messages
    n0 = len(bot_messages(agent))

    async def invite(c):
        await c.invitation_new(logged_in["link"])
    as_member(standin, key, invite)
    note = wait_bot(agent, "Paul Invitant", n0, timeout=60)["content"]["body"]
    assert "`join olvid " in note and "`leave olvid " in note
    inv = note.split("`join olvid ")[1].split("`")[0]
    agent.text(agent.mgmt, "join olvid " + inv)
    g = None

    async def contacts(c):
        return [x.display_name async for x in c.contact_list()]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if logged_in["name"] in as_member(standin, key, contacts):
            g = True
            break
        time.sleep(0.5)
    assert g, "the invitation was not accepted"


def test_invitation_declined(standin, agent, logged_in):
    _, key = standin.new_identity("Rémi Refusé")
    from wa_canned import bot_messages
    n0 = len(bot_messages(agent))
    as_member(standin, key, lambda c: c.invitation_new(logged_in["link"]))
    note = wait_bot(agent, "Rémi Refusé", n0, timeout=60)["content"]["body"]
    inv = note.split("`leave olvid ")[1].split("`")[0]

    async def pending(c):
        return [i.id async for i in c.invitation_list()]
    assert int(inv) in as_member(standin, logged_in["client_key"], pending)
    agent.text(agent.mgmt, "leave olvid " + inv)
    deadline = time.monotonic() + 60
    while int(inv) in as_member(standin, logged_in["client_key"], pending):
        assert time.monotonic() < deadline, "the invitation was not declined"
        time.sleep(0.5)

    async def contacts(c):
        return [x.display_name async for x in c.contact_list()]
    assert logged_in["name"] not in as_member(standin, key, contacts)


def test_own_message_from_elsewhere(standin, agent, logged_in, member):
    room = member["room"]

    async def send(c):  # the agent's identity, from another client of the daemon
        return await c.message_send(await dm(c, member["at_agent"]), "envoyé d'ailleurs")
    out = as_member(standin, logged_in["client_key"], send)
    # without double puppeting, the host has the contact's ghost say it, marked as the agent's
    mine = agent.wait(lambda a: [e for e in a.messages(room)
                                 if e["content"].get("body", "").endswith("envoyé d'ailleurs")],
                      60, "the agent's own message")
    assert len(mine) == 1 and "You, from your phone" in mine[0]["content"]["body"]



def test_discussion_settings(standin, agent, member):
    from olvid import datatypes
    room = member["room"]

    async def set_settings(c):
        await c.settings_discussion_set(datatypes.DiscussionSettings(
            discussion_id=await dm(c, member["contact"]), read_once=True, existence_duration=3600))
    as_member(standin, member["key"], set_settings)
    note = agent.wait(lambda a: [e for e in a.messages(room, msgtype="m.notice")
                                 if "read once" in e["content"].get("body", "")], 60,
                      "the read-once notice")
    assert "Tchap keeps" in note[0]["content"]["body"]


def test_catch_up_after_the_bridge_died(stack, standin, agent, member):
    room, g = member["room"], member["ghost"]
    n0 = len(contents(agent, room, g))
    stack.bridge.kill9()

    async def send(c):
        d = await dm(c, member["contact"])
        for i in range(5):
            await c.message_send(d, "pendant l'arrêt %d" % i)
    as_member(standin, member["key"], send)
    stack.bridge.start()
    got = wait_bodies(agent, room, g, n0 + 5, "the messages sent while the bridge was down")
    assert [x["body"] for x in got[n0:]] == ["pendant l'arrêt %d" % i for i in range(5)]
    # live again, and nothing bridged twice
    as_member(standin, member["key"], lambda c: dm(c, member["contact"]))

    async def live(c):
        await c.message_send(await dm(c, member["contact"]), "de retour")
    as_member(standin, member["key"], live)
    got = wait_bodies(agent, room, g, n0 + 6, "a live message after the restart")
    time.sleep(2)
    agent.sync()
    assert [x["body"] for x in contents(agent, room, g)[n0:]] == \
        ["pendant l'arrêt %d" % i for i in range(5)] + ["de retour"]
