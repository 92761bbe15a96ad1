# SPDX-License-Identifier: AGPL-3.0-or-later
"""What a room's timeline shows of a ghost's name: the display name its first join carried, and
the one it had when its first message came.  A client shows each message with the sender's name
as of that point of the timeline, so a ghost whose profile came late has its first messages shown
under its raw MXID."""


def name_on_arrival(agent, room, ghost):
    """(display name of the ghost's first join, display name at its first message), read from the
    room's history oldest first; None for a name not set at that point."""
    joined_as, current = None, None
    first_join = True
    for ev in agent.history(room):
        if ev.get("type") == "m.room.member" and ev.get("state_key") == ghost:
            content = ev.get("content", {})
            current = content.get("displayname")
            if content.get("membership") == "join" and first_join:
                joined_as, first_join = current, False
        elif ev.get("type") in ("m.room.message", "m.sticker") and ev.get("sender") == ghost:
            return joined_as, current
    raise AssertionError("%s said nothing in %s" % (ghost, room))
