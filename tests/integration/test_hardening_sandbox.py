# SPDX-License-Identifier: AGPL-3.0-or-later
"""Issue #10, case 1: a worker must not read the host's secrets nor get its
files uploaded.  The hostile test plugin (tests/plugins/hostile/) probes, once
logged in, the host's config and store, another login's data dir, the host's
/proc/<pid>/environ and a signal to the host, and reports; then it writes
event frames straight onto its socket whose media_path is the host's config,
a symlink and a hard link to it, and a ".." path into the other login's dir.

Run twice: with the sandbox (workers.sandbox: best_effort, Landlock on this
kernel) every probe fails; with it off, the probes succeed (which shows they
can fail) but the host still uploads nothing, because it opens media beneath
the login's dir without links and refuses hard links and its own files.  In
both, the messages' text arrives, and the worker's environment is the
allow-list: secrets and unknown variables of the host never reach it."""

import json
import os

import pytest
import yaml

from harness import BUILD_ROOT, LOOPBACK_SO, Agent, Stack, bot_says, open_management_room
from conftest import running

BOT = "@passerelle:localhost"
HOSTILE_SO = os.path.join(BUILD_ROOT, "tests", "plugins", "hostile", "hostile.so")
SPY = "@_pa_hostile_spy:localhost"
HOST_ENV = {"PGPASS": "pg-secret-value", "HS_CREDENTIALS": "hs-secret-value",
            "FOO": "innocent-value"}
TRICKS = ("config", "symlink", "hardlink", "dotdot")


def landlock_available():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return libc.syscall(444, None, 0, 1) >= 1


@pytest.fixture(scope="module", params=["best_effort", "off"])
def stack(request):
    saved = {k: os.environ.get(k) for k in HOST_ENV}
    os.environ.update(HOST_ENV)
    s = Stack(plugins=(LOOPBACK_SO, HOSTILE_SO), ministry_plugins=("loopback", "hostile"))
    s.mode = request.param
    b = s.bridge
    other = os.path.join(b.dir, "data", "other-login")
    os.makedirs(other)
    with open(os.path.join(other, "secret.txt"), "w") as f:
        f.write("another login's session\n")
    with open(b.config) as f:
        cfg = yaml.safe_load(f)
    cfg["workers"]["sandbox"] = request.param
    cfg["plugins"] = {"hostile": {"host_config": b.config,
                                  "host_store": os.path.join(b.dir, "passerelle.db"),
                                  "other_dir": other}}
    with open(b.config, "w") as f:
        yaml.safe_dump(cfg, f)
    s.other_dir = other
    try:
        yield from running(s)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def spied(stack):
    """Alice logs into the hostile network; its DM "spy" gets the report and
    the four media tricks."""
    alice = Agent(stack, "alice")
    mgmt = open_management_room(alice)
    n0 = len(alice.messages(mgmt, sender=BOT))
    alice.text(mgmt, "login hostile")
    alice.wait(lambda a: bot_says(a, mgmt, "Logged in", n0), what="login complete")
    room = alice.wait_invite(lambda a, r: a.inviter(r) == SPY, timeout=60)
    alice.join(room)

    def all_in(a):
        bodies = [m["content"].get("body", "") for m in a.messages(room, sender=SPY)]
        done = [b for b in bodies if b.startswith("REPORT ")] and all(
            any(b.startswith("TRICK " + t) for b in bodies) for t in TRICKS)
        return done and bodies
    alice.wait(all_in, timeout=60, what="the report and the four tricks")
    yield alice, room
    alice.close()


def report(alice, room):
    body = [m["content"]["body"] for m in alice.messages(room, sender=SPY)
            if m["content"].get("body", "").startswith("REPORT ")][0]
    return json.loads(body[len("REPORT "):])


def test_worker_reads_nothing_of_the_host(stack, spied):
    alice, room = spied
    r = report(alice, room)
    probes = ("read_config", "read_store", "list_other_dir", "read_other_secret",
              "read_host_environ", "write_tmp", "make_hardlink")
    if stack.mode == "off":
        # Unsandboxed, the same probes succeed: they are real attempts.
        assert r["read_config"] == "ok" and r["read_other_secret"] == "ok", r
        return
    assert landlock_available(), "this test needs a kernel with Landlock"
    for p in probes:
        assert r[p] != "ok", (p, r)
    # Landlock scopes signals (ABI >= 6): the worker cannot signal the host.
    assert r["signal_host"] != "ok", r
    workers = stack.bridge.worker_pids()
    assert workers and all("--sandbox" in cmd for _, cmd in workers), workers


def test_worker_environment_is_an_allow_list(stack, spied):
    alice, room = spied
    r = report(alice, room)
    for name in HOST_ENV:
        assert name not in r["env"], r["env"]
    assert r["home"] == r["data_dir"]
    assert "PATH" in r["env"]


def test_worker_inherits_no_host_descriptor(stack, spied):
    alice, room = spied
    r = report(alice, room)
    b = stack.bridge
    # 0 is /dev/null, 1 and 2 the host's log, 3 the socket; anything else
    # is the worker's own (an eventfd, a pipe), never a file of the host.
    assert r["fds"]["0"] == "/dev/null" and r["fds"]["3"].startswith("socket:"), r["fds"]
    for fd, target in r["fds"].items():
        if int(fd) > 3:
            assert not target.startswith("/") or target.startswith(r["data_dir"]), (fd, target)
        assert "passerelle.db" not in target and not target.endswith("config.yaml"), (fd, target)


def test_host_uploads_no_file_of_its_own(stack, spied):
    alice, room = spied
    with open(stack.bridge.config, "rb") as f:
        config = f.read()
    msgs = alice.messages(room, sender=SPY)
    for t in TRICKS:
        m = [m for m in msgs if m["content"].get("body", "").startswith("TRICK " + t)]
        assert m, t
        c = m[0]["content"]
        # The text is bridged, the file is not: no media, a word saying so.
        assert c["msgtype"] == "m.text" and "url" not in c and "file" not in c, (t, c)
        assert "media not bridged" in c["body"], (t, c)
    for m in msgs:
        url = m["content"].get("url")
        if url:
            assert alice.download(url) != config
    # The refusals are logged, and the host's config is intact.
    with open(stack.bridge.log_path, "rb") as f:
        log = f.read()
    assert b"media refused" in log or b"outside its data dir" in log
    assert os.path.exists(stack.bridge.config)
    assert os.path.exists(os.path.join(stack.other_dir, "secret.txt"))
