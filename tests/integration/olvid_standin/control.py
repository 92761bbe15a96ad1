# SPDX-License-Identifier: AGPL-3.0-or-later
"""Test-only control calls, outside the published API: one gRPC method
`/passerelle.standin.Control/Call` taking and returning a JSON object, admin key required.

Operations (field "op"):
- `mark_read` {client_key, id}: the identity of `client_key` read its inbound message `id`
  (its sender gets MessageRead; a read-once message is then deleted at the reader).
- `streams` {client_key, kind}: how many `kind` notification streams (e.g. "MessageReceived")
  are open for the identity of `client_key`.
- `ephemerality` {client_key, id}: the ephemerality a message of that identity carries.
- `add_backup` {first_name, last_name}: registers a foreign Olvid backup (a profile from
  another device) and returns {backup_key, snapshot_id, identifier}.
"""

import json
import secrets

import grpc

from .core import new_backup_key, normalise_backup_key
from .state import NotFound, now_ms

SERVICE = "passerelle.standin.Control"


def handler(dm):
    async def call(raw, context):
        md = dict(context.invocation_metadata())
        if dm.st.key_identity(md.get("daemon-client-key")) != 0:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "admin key required")
        req = json.loads(raw)
        try:
            return json.dumps(run(dm, req)).encode()
        except (NotFound, KeyError) as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))

    return grpc.method_handlers_generic_handler(SERVICE, {
        "Call": grpc.unary_unary_rpc_method_handler(call)})


def _owned(dm, req):
    ident = dm.st.key_identity(req["client_key"])
    if not ident:
        raise NotFound("client key")
    m = dm.st.d["msgs"].get(str(req["id"]))
    if m is None or m["owner"] != ident:
        raise NotFound("message %s" % req["id"])
    return ident, m


def run(dm, req):
    op = req["op"]
    st = dm.st
    if op == "mark_read":
        _owned(dm, req)
        dm.mark_read(int(req["id"]))
        return {}
    if op == "streams":
        ident = st.key_identity(req["client_key"])
        return {"count": dm.hub.count(ident, req["kind"])}
    if op == "ephemerality":
        _, m = _owned(dm, req)
        return st.d["gmsgs"][m["gm"]]["eph"]
    if op == "add_backup":
        key = new_backup_key()
        ident = secrets.token_hex(33)
        snap = "snap-" + secrets.token_hex(8)
        details = {k: req[k] for k in ("first_name", "last_name", "company", "position")
                   if req.get(k)}
        st.d["backups"][normalise_backup_key(key)] = {"profiles": [{
            "snapshot": snap, "ident": ident, "details": details, "timestamp": now_ms(),
            "device": "phone"}]}
        st.save()
        return {"backup_key": key, "snapshot_id": snap, "identifier": ident}
    raise KeyError("unknown op %r" % op)
