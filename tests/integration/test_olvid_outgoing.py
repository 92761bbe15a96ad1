# SPDX-License-Identifier: AGPL-3.0-or-later
"""Matrix → Olvid: the agent writes from Matrix in the portals of the bridged Olvid identity; a
cabinet member (another identity of the stand-in daemon, read with the official Python client)
gets each kind of content exactly once, in a DM and in a group; edits, deletions, reactions,
group settings; `start olvid` with an invitation link and with directory names; a message sent
while the daemon is down arrives once when it is back."""

import asyncio
import hashlib
import os
import time

import pytest

from olvid_harness import (  # noqa: F401  (fixtures)
    KEYCLOAK_LINK, agent, available, login_olvid, olvid_stack, standin, user_id_of)
from wa_canned import bot_messages, ghost_mxid, wait_bot

pytestmark = pytest.mark.skipif(not available(), reason="no Olvid test build or olvid module")


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="module")
def stack(standin):
    """The bridge with the ministry's directory set, so the agent's identity is in it."""
    s = olvid_stack(standin, config={"keycloak_configuration_link": KEYCLOAK_LINK})
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def logged_in(stack, agent, standin):
    return login_olvid(stack, agent, standin, flow="directory")


def ghost(standin, identity_id):
    return ghost_mxid(user_id_of(standin, identity_id), plugin="olvid")


def join_portal(agent, standin, identity_id, name):
    g = ghost(standin, identity_id)
    room = agent.wait_invite(lambda a, r: a.inviter(r) == g or a.invite_name(r) == name,
                             timeout=60)
    agent.join(room)
    return room


@pytest.fixture(scope="module")
def member(standin, logged_in, agent):
    """The cabinet member, a contact of the agent's identity, and the agent's DM portal."""
    iid, key = standin.new_identity("Claire Cabinet")
    at_member, _ = standin.connect_contacts(key, logged_in["client_key"])
    room = join_portal(agent, standin, iid, "Claire Cabinet")

    async def disc():
        c = standin.client(key)
        try:
            return (await c.discussion_get_by_contact(at_member)).id
        finally:
            await c.stop()
    return {"id": iid, "key": key, "contact": at_member, "room": room, "discussion": run(disc())}


async def _messages(standin, key, discussion):
    from olvid import datatypes
    c = standin.client(key)
    try:
        out = []
        async for m in c.message_list(filter=datatypes.MessageFilter(discussion_id=discussion)):
            atts = []
            if m.attachments_count:
                async for a in c.attachment_list(
                        filter=datatypes.AttachmentFilter(message_id=m.id)):
                    data = b"".join([x async for x in c.attachment_download(a.id)])
                    atts.append((a.file_name, data))
            out.append((m, atts))
        return sorted(out, key=lambda x: x[0].sort_index)
    finally:
        await c.stop()


def inbox(standin, key, discussion, n, what, timeout=60):
    """The member's inbound messages of a discussion once there are n of them (or more)."""
    deadline = time.monotonic() + timeout
    while True:
        from olvid import datatypes
        got = [x for x in run(_messages(standin, key, discussion))
               if x[0].id.type == datatypes.MessageId.Type.TYPE_INBOUND]
        if len(got) >= n or time.monotonic() > deadline:
            assert len(got) >= n, "%s: %d of %d messages" % (what, len(got), n)
            return got
        time.sleep(0.3)


def until(fn, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            assert v, what
            return v
        time.sleep(0.3)


def file_content(agent, data, mimetype, name, msgtype, **extra):
    mxc = agent.upload(data, mimetype, name)
    c = {"msgtype": msgtype, "body": name, "url": mxc,
         "info": {"mimetype": mimetype, "size": len(data)}}
    c.update(extra)
    return c


def sent_every_kind(agent, room, tag):
    """Sends every kind from the agent; returns the big file's bytes."""
    big = os.urandom((1 << 20) * 2 + 12345)  # three chunks
    first = agent.text(room, tag + " texte")
    agent.send(room, {"msgtype": "m.notice", "body": tag + " notice"})
    agent.send(room, {"msgtype": "m.emote", "body": tag + " salue"})
    agent.send(room, {"msgtype": "m.text", "body": tag + " réponse",
                      "m.relates_to": {"m.in_reply_to": {"event_id": first}}})
    agent.send(room, file_content(agent, b"\x89PNG-ish" + os.urandom(200), "image/png",
                                  "photo.png", "m.image"))
    agent.send(room, file_content(agent, big, "application/pdf", "rapport.pdf", "m.file"))
    agent.send(room, file_content(agent, os.urandom(3000), "audio/ogg", "voix.ogg", "m.audio",
                                  **{"org.matrix.msc3245.voice": {}}))
    agent.send(room, file_content(agent, os.urandom(4000), "video/mp4", "clip.mp4", "m.video"))
    agent.send(room, {"msgtype": "m.location", "body": "Hôtel de Matignon",
                      "geo_uri": "geo:48.8546,2.3212"})
    return big


def check_every_kind(got, tag, agent_name, big):
    assert len(got) == 9, [m.body for m, _ in got]  # exactly once each
    bodies = [m.body for m, _ in got]
    assert bodies[0] == tag + " texte"
    assert bodies[1] == tag + " notice"
    assert bodies[2] == "* %s %s salue" % (agent_name, tag)
    assert bodies[3] == tag + " réponse"
    assert got[3][0].replied_message_id and got[3][0].replied_message_id.id == got[0][0].id.id
    names = [a[0][0] for _, a in got[4:8]]
    assert names == ["photo.png", "rapport.pdf", "voix.ogg", "clip.mp4"]
    data = got[5][1][0][1]
    assert len(data) == len(big) and hashlib.sha256(data).digest() == hashlib.sha256(big).digest()
    loc = got[8][0].message_location
    assert abs(loc.latitude - 48.8546) < 1e-6 and abs(loc.longitude - 2.3212) < 1e-6


def no_echo(agent, room, n):
    """The room has the agent's n messages once each: Olvid's echo of them is not bridged back."""
    agent.sync()
    mine = [e for e in agent.messages(room) if e["sender"] == agent.client.user_id]
    others = [e for e in agent.messages(room) if e["sender"] != agent.client.user_id]
    assert len(mine) == n and others == [], (len(mine), [e["content"].get("body") for e in others])


def test_dm_every_kind(standin, agent, logged_in, member):
    big = sent_every_kind(agent, member["room"], "dm")
    got = inbox(standin, member["key"], member["discussion"], 9, "every kind in the DM")
    time.sleep(2)  # nothing more comes
    got = inbox(standin, member["key"], member["discussion"], 9, "every kind in the DM")
    check_every_kind(got, "dm", logged_in["name"], big)
    no_echo(agent, member["room"], 9)


def _own_reaction(m):
    return [r.reaction for r in m.reactions if r.contact_id != 0]


def test_dm_edit_react_redact(standin, agent, member):
    room, key, d = member["room"], member["key"], member["discussion"]
    n0 = len(inbox(standin, key, d, 0, "before"))
    ev = agent.text(room, "à corriger")
    got = inbox(standin, key, d, n0 + 1, "the message")
    agent.send(room, {"msgtype": "m.text", "body": "* corrigé",
                      "m.new_content": {"msgtype": "m.text", "body": "corrigé"},
                      "m.relates_to": {"rel_type": "m.replace", "event_id": ev}})

    def latest():
        return [m for m, _ in inbox(standin, key, d, n0 + 1, "the message")][n0]
    until(lambda: latest().body == "corrigé" and latest().edited_body, "the edit")

    def react(k):
        return agent.send(room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": ev,
                                                  "key": k}}, event_type="m.reaction")
    thumbs = react("👍")
    until(lambda: _own_reaction(latest()) == ["👍"], "the reaction")
    heart = react("❤️")
    until(lambda: _own_reaction(latest()) == ["❤️"], "the changed reaction")
    # Removing the 👍 Matrix still shows leaves Olvid's ❤️ alone.
    agent.run(agent.client.room_redact(room, thumbs))
    time.sleep(2)
    assert _own_reaction(latest()) == ["❤️"]
    agent.run(agent.client.room_redact(room, heart))
    until(lambda: _own_reaction(latest()) == [], "the reaction removed")

    agent.run(agent.client.room_redact(room, ev))
    until(lambda: len(inbox(standin, key, d, 0, "after")) == n0, "the message deleted on Olvid")
    assert len(got) == n0 + 1


@pytest.fixture(scope="module")
def groups(standin, logged_in, agent, member):
    """Two groups made by the member: the agent admin of the first, not of the second."""
    async def make():
        c = standin.client(member["key"])
        try:
            g1 = await c.group_new_standard_group("Cabinet — réunion", "ordre du jour",
                                                  admin_contact_ids=[member["contact"]])
            g2 = await c.group_new_standard_group("Cabinet — annonces", "",
                                                  admin_contact_ids=[member["contact"]])
            for m in g2.members:  # the agent stays a member, no longer an admin
                if m.contact_id == member["contact"]:
                    m.permissions.admin = False
            g2 = await c.group_update(g2)
            d1 = (await c.discussion_get_by_group(g1.id)).id
            d2 = (await c.discussion_get_by_group(g2.id)).id
            return g1.id, d1, g2.id, d2
        finally:
            await c.stop()
    g1, d1, g2, d2 = run(make())
    r1 = agent.wait_invite(lambda a, r: a.invite_name(r) == "Cabinet — réunion", timeout=60)
    agent.join(r1)
    r2 = agent.wait_invite(lambda a, r: a.invite_name(r) == "Cabinet — annonces", timeout=60)
    agent.join(r2)
    return {"admin": (g1, d1, r1), "plain": (g2, d2, r2)}


def test_group_every_kind(standin, agent, logged_in, member, groups):
    _, d, room = groups["admin"]
    big = sent_every_kind(agent, room, "groupe")
    got = inbox(standin, member["key"], d, 9, "every kind in the group")
    time.sleep(2)
    got = inbox(standin, member["key"], d, 9, "every kind in the group")
    check_every_kind(got, "groupe", logged_in["name"], big)
    no_echo(agent, room, 9)


async def _group(standin, key, gid):
    c = standin.client(key)
    try:
        g = await c.group_get(gid)
        photo = await c.group_download_photo(gid) if g.has_a_photo else b""
        return g, photo
    finally:
        await c.stop()


def test_group_settings_admin_and_not(standin, agent, member, groups):
    gid, _, room = groups["admin"]
    agent.run(agent.client.room_put_state(room, "m.room.name", {"name": "Réunion du lundi"}))
    agent.run(agent.client.room_put_state(room, "m.room.topic", {"topic": "Budget 2027"}))
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    mxc = agent.upload(png, "image/png", "logo.png")
    agent.run(agent.client.room_put_state(room, "m.room.avatar", {"url": mxc}))
    until(lambda: run(_group(standin, member["key"], gid))[0].name == "Réunion du lundi",
          "the group renamed")
    until(lambda: run(_group(standin, member["key"], gid))[0].description == "Budget 2027",
          "the description")
    until(lambda: run(_group(standin, member["key"], gid))[1] == png, "the photo")

    gid2, _, room2 = groups["plain"]
    agent.run(agent.client.room_put_state(room2, "m.room.name", {"name": "Piraté"}))
    agent.wait(lambda a: any("Only an admin of this Olvid group" in e["content"].get("body", "")
                             for e in a.events.get(room2, []) + a.events.get(a.mgmt, [])
                             if e.get("type") == "m.room.message"), 60, "the refusal")
    assert run(_group(standin, member["key"], gid2))[0].name == "Cabinet — annonces"


def _start(agent, what):
    n = len(bot_messages(agent))
    agent.text(agent.mgmt, "start olvid " + what)
    return n


def test_start_with_invitation_link(standin, agent, logged_in):
    iid, key = standin.new_identity("Paul Préfet")

    async def link():
        c = standin.client(key)
        try:
            return await c.identity_get_invitation_link()
        finally:
            await c.stop()
    n = _start(agent, run(link()))
    wait_bot(agent, "Olvid invitation sent to", n, timeout=60)

    async def accept():
        c = standin.client(key)
        try:
            for _ in range(100):
                async for inv in c.invitation_list():
                    await c.invitation_accept(inv.id)
                    return True
                await asyncio.sleep(0.2)
            return False
        finally:
            await c.stop()
    assert run(accept())
    join_portal(agent, standin, iid, "Paul Préfet")


def test_start_from_directory(standin, agent, logged_in):
    one, _ = standin.new_identity("Hélène Unique", keycloak=True)
    a, _ = standin.new_identity("Marc Dupontel", keycloak=True)
    b, _ = standin.new_identity("Marie Dupontel", keycloak=True)
    n = _start(agent, "Unique")
    wait_bot(agent, "opened", n, timeout=60)
    join_portal(agent, standin, one, "Hélène Unique")

    n = _start(agent, "Dupontel")
    failed = wait_bot(agent, "Failed:", n, timeout=60)["content"]["body"]
    assert "2 people in your Olvid directory match" in failed
    lines = [x for x in failed.splitlines() if x.startswith("- ")]
    assert [x.split(":")[0] for x in lines] == ["- Marc Dupontel", "- Marie Dupontel"]
    cmd = lines[1].split("`")[1]
    n = _start(agent, cmd[len("start olvid "):])
    wait_bot(agent, "opened", n, timeout=60)
    join_portal(agent, standin, b, "Marie Dupontel")

    n = _start(agent, "Personne")
    assert "Nobody in your Olvid directory matches" in wait_bot(agent, "Failed:", n,
                                                                 timeout=60)["content"]["body"]


def test_send_while_daemon_down(standin, agent, member):
    room, key, d = member["room"], member["key"], member["discussion"]
    n0 = len(inbox(standin, key, d, 0, "before"))
    standin.stop()
    time.sleep(1)
    agent.text(room, "envoyé pendant la coupure")
    time.sleep(3)
    standin.start()
    got = inbox(standin, key, d, n0 + 1, "the queued message", timeout=90)
    time.sleep(3)
    got = inbox(standin, key, d, n0 + 1, "the queued message")
    assert [m.body for m, _ in got][n0:] == ["envoyé pendant la coupure"]


def test_disappearing_timer(standin, agent, member):
    room, key, d = member["room"], member["key"], member["discussion"]
    agent.text(room, "!pa disappearing 24h")

    async def settings():
        c = standin.client(key)
        try:
            return await c.settings_discussion_get(d)
        finally:
            await c.stop()
    until(lambda: run(settings()).existence_duration == 86400, "the timer on Olvid")
    agent.text(room, "!pa disappearing off")
    until(lambda: run(settings()).existence_duration == 0, "the timer off on Olvid")


def test_worker_killed_mid_upload(stack, standin, agent, member):
    """kill -9 of the worker while a file goes to Olvid: the file arrives at most once, and
    when it did not the agent is told (never resent blindly)."""
    import signal
    room, key, d = member["room"], member["key"], member["discussion"]
    n0 = len(inbox(standin, key, d, 0, "before"))
    data = os.urandom(30 << 20)  # 30 chunks
    ev = agent.send(room, file_content(agent, data, "application/zip", "archive.zip", "m.file"))
    time.sleep(0.3)  # the host is handing the file to the worker, or the worker uploading it
    pids = [p for p, cmd in stack.bridge.worker_pids()]
    assert pids, "no worker"
    for p in pids:
        os.kill(p, signal.SIGKILL)

    def told(a):
        return [e for e in a.events.get(room, []) if e.get("type") == "m.room.message"
                and e.get("sender") != a.client.user_id
                and "delivered" in e["content"].get("body", "")
                and e["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
                .get("event_id") == ev]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = inbox(standin, key, d, 0, "after")[n0:]
        agent.sync()
        if got or told(agent):
            break
        time.sleep(0.5)
    time.sleep(5)  # the restarted worker does not send it again
    got = inbox(standin, key, d, 0, "after")[n0:]
    agent.sync()
    assert len(got) <= 1, "the file was sent %d times" % len(got)
    if got:
        assert got[0][1][0][1] == data
    else:
        assert told(agent), "the file was lost without a word"


def test_contacts_list(standin, agent, member):
    n = len(bot_messages(agent))
    agent.text(agent.mgmt, "contacts olvid")
    body = wait_bot(agent, "Contacts:", n, timeout=60)["content"]["body"]
    assert "- Claire Cabinet (`%s`)" % user_id_of(standin, member["id"]) in body
