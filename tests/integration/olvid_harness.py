# SPDX-License-Identifier: AGPL-3.0-or-later
"""Helpers of the Olvid integration tests: the stand-in Olvid daemon, a bridge that loads the
Olvid plugin's TEST build (the one that accepts the stand-in) with plugins.olvid pointing at it,
and a whole login through the management room.  Other test files import these names; keep them.

    standin = start_standin()                  # a StandIn (olvid_standin/launch.py), started
    stack = olvid_stack(standin)               # Stack (not started): plugins.olvid set, the
                                               # ministry enabling olvid
    stack.start()
    agent = new_agent(stack, "olv-agent")      # Agent with its management room (agent.mgmt)
    me = login_olvid(stack, agent, standin, flow="invitation", name="Jean Dupont")
    # me: {"identity_id", "user_id", "client_key", "name", "link", "done"}
    member_id, member_key = standin.new_identity("Claire Cabinet")   # the cabinet member,
    client = standin.client(member_key)        # driven with the official client

Module-scoped pytest fixtures, for `from olvid_harness import standin, stack, agent, logged_in`
(pytest finds fixtures imported into a test module):
  standin     the started stand-in (stopped at the end)
  stack       Synapse + the bridge on the test build, started
  agent       an Agent "olv-agent" with its management room
  logged_in   login_olvid(stack, agent, standin) once: the dict above (agent.olvid is it too)

Helpers: new_agent(stack, name); answer(agent, text, after, prompt) (answers the bot's next
prompt); identities(standin) -> {identity id: display name}; client_keys(standin, identity_id);
user_id_of(standin, identity_id) (hex of the identity's bytes identifier, the plugin's user id);
olvid_plugin_config / olvid_bridge_kwargs (to build a Stack of your own).

Constants: OLVID_SO (test build), OLVID_INSTALLED_SO (the installed build, which refuses the
stand-in), ADMIN_KEY, STANDIN_SENTENCE (what the installed build says of the stand-in).
available() is false when the test build or the olvid module are missing (skip then).
"""

import os
import tempfile

import pytest

from harness import BUILD_ROOT, FLAVOUR, Agent, Stack
from wa_canned import bot_images, bot_messages, wait_bot

OLVID_SO = os.path.join(BUILD_ROOT, "tests", "plugins", "olvid-standin", "olvid.so")
OLVID_INSTALLED_SO = os.path.join(BUILD_ROOT, "plugins", "olvid", "olvid.so")
ADMIN_KEY = "admin-key-" + os.urandom(8).hex()
STANDIN_SENTENCE = "This Olvid daemon is Passerelle's test stand-in, not Olvid's daemon"
KEYCLOAK_LINK = "https://keycloak.stand-in.invalid/realms/cabinet"


def available():
    try:
        import olvid  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(OLVID_SO)


def start_standin(state_dir=None, admin_key=ADMIN_KEY):
    """A stand-in daemon, started, with its state in state_dir (a new temp dir by default)."""
    from olvid_standin.launch import StandIn
    d = StandIn(state_dir or tempfile.mkdtemp(prefix="olvid-standin-"), admin_key=admin_key)
    d.start()
    return d


def olvid_plugin_config(standin, **extra):
    cfg = {"daemon_address": standin.address, "tls": False, "admin_client_key": standin.admin_key}
    cfg.update(extra)
    return {"olvid": cfg}


def olvid_bridge_kwargs(standin, plugins=(), ministry_plugins=(), config=None, so=OLVID_SO):
    """The Bridge arguments of the Olvid test build (or `so`) talking to standin."""
    return {"plugins": (so,) + tuple(plugins),
            "ministry_plugins": ("olvid",) + tuple(ministry_plugins),
            "plugin_config": olvid_plugin_config(standin, **(config or {}))}


def olvid_stack(standin, plugins=(), ministry_plugins=(), config=None, so=OLVID_SO, **kwargs):
    """A Stack (not started) with the Olvid test build (or `so`) and its config."""
    return Stack(**olvid_bridge_kwargs(standin, plugins, ministry_plugins, config, so), **kwargs)


BOT = "@passerelle:localhost"


def new_agent(stack, name):
    """An Agent with a management room where the bot is an admin (it deletes the keys the
    agent sends there: the flows ask backup and client keys as passwords)."""
    a = Agent(stack, name)
    # Room version 12 (plain) gives the creator its power itself and refuses it in `users`;
    # version 10 (the Tchap flavour) needs it there.
    users = {BOT: 100, a.mxid: 100} if FLAVOUR == "tchap" else {BOT: 100}
    resp = a.run(a.client.room_create(invite=[BOT], is_direct=True,
                                      power_level_override={"users": users}))
    assert hasattr(resp, "room_id"), resp
    a.mgmt = resp.room_id
    a.events.setdefault(a.mgmt, [])
    a.wait(lambda x: any(e.get("sender") == BOT and e.get("type") == "m.room.message"
                         for e in x.events.get(a.mgmt, [])), what="the bot's welcome")
    return a


# ---- the daemon's view (admin calls on the stand-in)
def _admin(standin):
    import grpc
    from olvid.protobuf.olvid.daemon.services.v1 import admin_service_pb2_grpc as svc
    ch = grpc.insecure_channel(standin.address)
    return ch, svc


def identities(standin):
    """{identity id: display name} of every identity the daemon hosts."""
    from olvid.protobuf.olvid.daemon.admin.v1 import identity_admin_pb2 as ia
    ch, svc = _admin(standin)
    try:
        out = {}
        for r in svc.IdentityAdminServiceStub(ch).IdentityList(
                ia.IdentityListRequest(), metadata=(("daemon-client-key", standin.admin_key),)):
            for i in r.identities:
                out[i.id] = i.display_name
        return out
    finally:
        ch.close()


def client_keys(standin, identity_id):
    """The client keys of an identity."""
    from olvid.protobuf.olvid.daemon.admin.v1 import client_key_admin_pb2 as ck
    from olvid.protobuf.olvid.daemon.datatypes.v1 import client_key_pb2
    ch, svc = _admin(standin)
    try:
        keys = []
        for r in svc.ClientKeyAdminServiceStub(ch).ClientKeyList(
                ck.ClientKeyListRequest(filter=client_key_pb2.ClientKeyFilter(
                    identity_id=identity_id)),
                metadata=(("daemon-client-key", standin.admin_key),)):
            keys += [k.key for k in r.client_keys]
        return keys
    finally:
        ch.close()


def user_id_of(standin, identity_id):
    """The identity's user id as the plugin names it: hex of its bytes identifier."""
    from olvid.protobuf.olvid.daemon.admin.v1 import identity_admin_pb2 as ia
    ch, svc = _admin(standin)
    try:
        return svc.IdentityAdminServiceStub(ch).IdentityAdminGetBytesIdentifier(
            ia.IdentityAdminGetBytesIdentifierRequest(identity_id=identity_id),
            metadata=(("daemon-client-key", standin.admin_key),)).identifier.hex()
    finally:
        ch.close()


def _bridge(x):
    return getattr(x, "bridge", x)


def answer(agent, text, after, prompt="Please send your", timeout=60):
    """Waits for the bot's next prompt containing `prompt` (from index after), then answers
    text; the index after that prompt."""
    wait_bot(agent, prompt, after, timeout=timeout)
    n = len(bot_messages(agent))
    agent.text(agent.mgmt, text)
    return n


def login_olvid(stack, agent, standin, flow="invitation", name="Jean Dupont", key=None,
                backup=None, timeout=60):
    """A whole `login olvid <flow>` as agent; the new login's identity as a dict:
    identity_id, user_id, client_key (the key the bridge stored, read from the daemon), name
    (its display name), link (invitation link shown, invitation flow), done (the bot's
    "Logged in" message).  flow "key" takes key=; flow "restore" takes backup=(backup key,
    snapshot id)."""
    before = set(identities(standin))
    n0 = len(bot_messages(agent))
    agent.text(agent.mgmt, "login olvid " + flow)
    n = n0
    if flow == "invitation":
        answer(agent, name, n)
    elif flow == "key":
        answer(agent, key, n)
    elif flow == "restore":
        n = answer(agent, "yes", n, prompt="Please send your answer")
        n = answer(agent, backup[0], n)
        n = answer(agent, backup[1], n)
        answer(agent, "-", n)
    done = wait_bot(agent, "Logged in to Olvid", n0, timeout=timeout)
    me = {"done": done, "link": None}
    if flow == "invitation":
        img = agent.wait(lambda a: bot_images(a, n0), timeout, "the invitation QR image")[0]
        me["image"] = img
        me["link"] = wait_bot(agent, "https://", n0, timeout=timeout)["content"]["body"].strip()
    new = set(identities(standin)) - before
    if flow == "key":
        ids = [i for i in identities(standin) if key in client_keys(standin, i)]
    else:
        ids = sorted(new)
    assert len(ids) == 1, "expected one identity for the login, got %r" % ids
    iid = ids[0]
    me["identity_id"] = iid
    me["user_id"] = user_id_of(standin, iid)
    me["name"] = identities(standin)[iid]
    keys = client_keys(standin, iid)
    me["client_key"] = key if flow == "key" else (keys[-1] if keys else None)
    agent.olvid = me
    return me


# ---- fixtures (module scope)
@pytest.fixture(scope="module")
def standin():
    d = start_standin()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def stack(standin):
    s = olvid_stack(standin)
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def agent(stack):
    a = new_agent(stack, "olv-agent")
    yield a
    a.close()


@pytest.fixture(scope="module")
def logged_in(stack, agent, standin):
    return login_olvid(stack, agent, standin)
