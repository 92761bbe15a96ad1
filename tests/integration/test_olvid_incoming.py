# SPDX-License-Identifier: AGPL-3.0-or-later
"""Olvid → Matrix: a cabinet member (another identity of the stand-in daemon, driven by the
official Python client) writes to the agent's bridged Olvid identity; the agent's Matrix client
sees each kind of content in its portals, exactly once."""

import asyncio
import time

import pytest

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
    return {"id": iid, "key": key, "contact": at_member, "ghost": g, "room": room}


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
