# SPDX-License-Identifier: AGPL-3.0-or-later
"""The stand-in daemon's state, saved after every change.

Everything the daemon knows lives in `State.d` (identities, client keys, contacts, discussions,
groups, messages, attachments, invitations, backups).  The small sections are one JSON file,
rewritten atomically by `save()`; the message sections (`msgs`, `gmsgs`, `atts`), which grow,
are rows of an SQLite table written one record at a time: code that changes a message record
calls `put`, `drop` or `touch` so that `save()` writes it.  Blobs (attachment payloads,
photos) are files under `<state dir>/blobs`.  `save()` runs before every answer, so a SIGKILL
loses nothing that was answered.
"""

import base64
import collections
import json
import os
import secrets
import sqlite3
import time

BIG = ("msgs", "gmsgs", "atts")

DEFAULT_SETTINGS = {
    "invitation": {"auto_accept_introduction": False, "auto_accept_group": False,
                   "auto_accept_one_to_one": False, "auto_accept_invitation": False},
    "message_retention": {"existence_duration": 0, "discussion_count": 0, "global_count": 0,
                          "clean_locked_discussions": False,
                          "preserve_is_sharing_location_messages": False},
    "keycloak": {"auto_invite_new_members": False},
}

NO_EPHEMERALITY = {"read_once": False, "existence_duration": 0, "visibility_duration": 0}

INVITATION_PREFIX = "https://invitation.olvid.io/#"


def now_ms():
    return int(time.time() * 1000)


class NotFound(Exception):
    pass


class Invalid(Exception):
    pass


class Denied(Exception):
    pass


class State:
    def __init__(self, state_dir, admin_key):
        self.dir = state_dir
        self.path = os.path.join(state_dir, "state.json")
        self.blob_dir = os.path.join(state_dir, "blobs")
        os.makedirs(self.blob_dir, exist_ok=True)
        self.db = sqlite3.connect(os.path.join(state_dir, "messages.sqlite"))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (section TEXT, key TEXT, value TEXT, "
                        "PRIMARY KEY (section, key))")
        self.dirty = set()
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.d = json.load(f)
            for section in BIG:
                self.d[section] = {}
            for section, key, value in self.db.execute("SELECT section, key, value FROM kv"):
                self.d[section][key] = json.loads(value)
        else:
            self.d = {
                "next": {},
                "keys": {},
                "identities": {},
                "contacts": {},
                "discussions": {},
                "groups": {},
                "group_local": {},
                "gmsgs": {},
                "msgs": {},
                "atts": {},
                "invitations": {},
                "backup_key": None,
                "backups": {},
            }
        # The admin key given at start is always an admin key (it may change between runs).
        self.admin_key = admin_key
        # indexes: global message -> its copies; message -> its attachments
        self.by_gm = collections.defaultdict(set)
        self.atts_by_msg = collections.defaultdict(set)
        for mid, m in self.d["msgs"].items():
            self.by_gm[m["gm"]].add(int(mid))
        for aid, a in self.d["atts"].items():
            self.atts_by_msg[a["msg"]].add(int(aid))
        self.save()

    # ---- persistence
    def save(self):
        """Writes the small sections (atomically) and the message records marked since."""
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({k: v for k, v in self.d.items() if k not in BIG}, f)
        os.replace(tmp, self.path)
        if self.dirty:
            with self.db:
                for section, key in self.dirty:
                    value = self.d[section].get(key)
                    if value is None:
                        self.db.execute("DELETE FROM kv WHERE section=? AND key=?", (section, key))
                    else:
                        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
                                        (section, key, json.dumps(value)))
            self.dirty.clear()

    def put(self, section, key, value):
        key = str(key)
        self.d[section][key] = value
        self.dirty.add((section, key))
        if section == "msgs":
            self.by_gm[value["gm"]].add(int(key))
        elif section == "atts":
            self.atts_by_msg[value["msg"]].add(int(key))

    def drop(self, section, key):
        key = str(key)
        value = self.d[section].pop(key, None)
        self.dirty.add((section, key))
        if value is not None and section == "msgs":
            self.by_gm[value["gm"]].discard(int(key))
            if not self.by_gm[value["gm"]]:
                del self.by_gm[value["gm"]]
        elif value is not None and section == "atts":
            self.atts_by_msg[value["msg"]].discard(int(key))
            if not self.atts_by_msg[value["msg"]]:
                del self.atts_by_msg[value["msg"]]

    def touch(self, section, key):
        self.dirty.add((section, str(key)))

    def new_id(self, kind):
        n = self.d["next"].get(kind, 1)
        self.d["next"][kind] = n + 1
        return n

    def blob_put(self, name, data):
        with open(os.path.join(self.blob_dir, name), "wb") as f:
            f.write(data)

    def blob_get(self, name):
        try:
            with open(os.path.join(self.blob_dir, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def blob_del(self, name):
        try:
            os.unlink(os.path.join(self.blob_dir, name))
        except FileNotFoundError:
            pass

    # ---- keys
    def key_identity(self, key):
        """None for an unknown key, 0 for an admin key, else the identity id."""
        if key is None:
            return None
        if key == self.admin_key:
            return 0
        k = self.d["keys"].get(key)
        return None if k is None else k["identity"]

    def new_key(self, name, identity_id):
        key = secrets.token_hex(16)
        self.d["keys"][key] = {"name": name, "identity": identity_id}
        return key

    # ---- identities
    def identity(self, iid):
        i = self.d["identities"].get(str(iid))
        if i is None:
            raise NotFound("identity %s" % iid)
        return i

    def new_identity(self, details, keycloak="", ident=None):
        iid = self.new_id("identity")
        self.d["identities"][str(iid)] = {
            "id": iid,
            "details": {k: v for k, v in details.items() if v},
            "keycloak": keycloak,
            "photo": None,
            "ident": ident or secrets.token_hex(33),
            "settings": json.loads(json.dumps(DEFAULT_SETTINGS)),
            "api_key": "",
        }
        return iid

    def identity_by_ident(self, ident):
        for i in self.d["identities"].values():
            if i["ident"] == ident:
                return i["id"]
        return None

    @staticmethod
    def display_name(details):
        name = " ".join(x for x in (details.get("first_name"), details.get("last_name")) if x)
        extra = " @ ".join(x for x in (details.get("position"), details.get("company")) if x)
        if extra:
            name = "%s (%s)" % (name, extra) if name else extra
        return name

    def invitation_link(self, iid):
        i = self.identity(iid)
        blob = json.dumps({"i": i["ident"], "n": self.display_name(i["details"])}).encode()
        return INVITATION_PREFIX + base64.urlsafe_b64encode(blob).decode().rstrip("=")

    @staticmethod
    def parse_invitation_link(url):
        if not url.startswith(INVITATION_PREFIX):
            raise Invalid("not an Olvid invitation link")
        raw = url[len(INVITATION_PREFIX):]
        try:
            blob = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return blob["i"], blob.get("n", "")
        except (ValueError, KeyError, TypeError):
            raise Invalid("malformed invitation link")

    # ---- contacts
    def contact(self, owner, cid):
        c = self.d["contacts"].get(str(cid))
        if c is None or c["owner"] != owner:
            raise NotFound("contact %s" % cid)
        return c

    def contact_of(self, owner, peer):
        """The contact id `owner` has for identity `peer`, or None."""
        for cid, c in self.d["contacts"].items():
            if c["owner"] == owner and c["peer"] == peer:
                return int(cid)
        return None

    def contacts_of(self, owner):
        return [int(cid) for cid, c in self.d["contacts"].items() if c["owner"] == owner]

    def holders_of(self, peer):
        """(owner, contact id) for every identity that has `peer` as a contact."""
        return [(c["owner"], int(cid)) for cid, c in self.d["contacts"].items() if c["peer"] == peer]

    # ---- discussions
    def discussion(self, owner, did):
        d = self.d["discussions"].get(str(did))
        if d is None or d["owner"] != owner:
            raise NotFound("discussion %s" % did)
        return d

    def discussion_of_contact(self, owner, cid):
        for did, d in self.d["discussions"].items():
            if d["owner"] == owner and d["contact"] == cid:
                return int(did)
        return None

    def discussion_of_group(self, owner, gid):
        for did, d in self.d["discussions"].items():
            if d["owner"] == owner and d["group"] == gid:
                return int(did)
        return None

    def new_discussion(self, owner, contact=0, group=0):
        did = self.new_id("discussion")
        self.d["discussions"][str(did)] = {"owner": owner, "contact": contact, "group": group,
                                           "settings": dict(NO_EPHEMERALITY)}
        return did

    def discussion_members(self, owner, did):
        """Identities (other than owner) that share discussion `did` of `owner`, with their
        own discussion id: [(identity, their discussion id)]."""
        d = self.discussion(owner, did)
        out = []
        if d["contact"]:
            peer = self.d["contacts"][str(d["contact"])]["peer"]
            back = self.contact_of(peer, owner)
            if back is not None:
                pd = self.discussion_of_contact(peer, back)
                if pd is not None:
                    out.append((peer, pd))
        elif d["group"]:
            gg = self.d["group_local"][str(d["group"])]["gg"]
            for member in self.d["groups"][gg]["members"]:
                m = int(member)
                if m == owner:
                    continue
                lg = self.group_local_of(m, gg)
                pd = self.discussion_of_group(m, lg) if lg else None
                if pd is not None:
                    out.append((m, pd))
        return out

    # ---- groups
    def group_local_of(self, owner, gg):
        for gid, g in self.d["group_local"].items():
            if g["owner"] == owner and g["gg"] == gg:
                return int(gid)
        return None

    def group(self, owner, gid):
        g = self.d["group_local"].get(str(gid))
        if g is None or g["owner"] != owner:
            raise NotFound("group %s" % gid)
        return g["gg"], self.d["groups"][g["gg"]]

    # ---- messages
    def msg(self, owner, mtype, mid):
        m = self.d["msgs"].get(str(mid))
        if m is None or m["owner"] != owner or (mtype and m["dir"] != mtype):
            raise NotFound("message %s" % mid)
        return m

    def copies(self, gm):
        return [(mid, self.d["msgs"][str(mid)]) for mid in sorted(self.by_gm.get(gm, ()))]

    def copy_for(self, gm, owner):
        for mid in self.by_gm.get(gm, ()):
            if self.d["msgs"][str(mid)]["owner"] == owner:
                return mid
        return None

    def atts_of(self, mid):
        return sorted(self.atts_by_msg.get(mid, ()))
