# SPDX-License-Identifier: AGPL-3.0-or-later
"""Notification fan-out: one server stream per notification type, live only.

A notification goes to the streams open at the time it happens, for the identity it concerns;
nothing is queued for a stream that is not open and nothing is replayed after a reconnect.
Deleting a client key ends that key's open streams (UNAUTHENTICATED).
"""

import asyncio

import grpc

_CLOSED = object()


class Sub:
    def __init__(self, identity, kind, key, accept, count):
        self.identity = identity
        self.kind = kind
        self.key = key
        self.accept = accept  # callable(notification) -> bool
        self.count = count
        self.queue = asyncio.Queue()
        self.closed_reason = None


class Hub:
    def __init__(self):
        self.subs = set()

    def publish(self, identity, kind, build):
        """`build()` makes the notification (called once, only if a stream wants it)."""
        note = None
        for s in list(self.subs):
            if s.identity != identity or s.kind != kind:
                continue
            if note is None:
                note = build()
            if s.accept(note):
                s.queue.put_nowait(note)

    def close_key(self, key, reason):
        for s in list(self.subs):
            if s.key == key:
                s.closed_reason = reason
                s.queue.put_nowait(_CLOSED)

    def close_identity(self, identity, reason):
        for s in list(self.subs):
            if s.identity == identity:
                s.closed_reason = reason
                s.queue.put_nowait(_CLOSED)

    def count(self, identity, kind):
        return sum(1 for s in self.subs if s.identity == identity and s.kind == kind)

    async def stream(self, context, sub, on_sent=None):
        """The body of a Subscribe… rpc: yields notifications until the client goes away,
        `count` notifications were sent, or the key is deleted."""
        self.subs.add(sub)
        # The headers tell the client the subscription is live (a client waits for them
        # before it counts the stream as open).
        await context.send_initial_metadata(())
        sent = 0
        try:
            while True:
                note = await sub.queue.get()
                if note is _CLOSED:
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, sub.closed_reason)
                if on_sent is not None:
                    on_sent(note)
                yield note
                sent += 1
                if sub.count and sent >= sub.count:
                    return
        finally:
            self.subs.discard(sub)
