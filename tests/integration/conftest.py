# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fixtures shared by the integration test modules."""

import os

import pytest

import pg_harness
from loopnet import LoopNet


@pytest.fixture(scope="module")
def net():
    """The scriptable fake legacy network, one per test module."""
    n = LoopNet()
    n.start()
    yield n
    n.stop()


def running(stack):
    """For a module's `stack` fixture: `yield from running(SomeStack())`."""
    stack.start()
    try:
        yield stack
    finally:
        stack.close()


def _tail(path, keep=lambda line: True, n=80):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    return "\n".join(line[:300] for line in [x for x in lines if keep(x)][-n:])


def pytest_report_header(config):
    import harness
    return ["homeserver: %s Synapse (PA_SYNAPSE_FLAVOUR)" % harness.FLAVOUR,
            "bridge store: %s (PA_STORE)" % pg_harness.STORE]


def pytest_sessionfinish(session):
    """The tests' PostgreSQL cluster, if one was started, goes with the session."""
    pg_harness.close_session_cluster()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of its bridge's log and what Synapse said
    of the appservice: in CI both are gone with the test's directory, and
    they tell a lost message from a late one."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    bridge_log = getattr(getattr(stack, "bridge", None), "log_path", None)
    text = _tail(bridge_log) if bridge_log else None
    if text is not None:
        rep.sections.append(("bridge log (last 80 lines)", text))
    hs_dir = getattr(getattr(stack, "synapse", None), "dir", None)
    text = _tail(os.path.join(hs_dir, "homeserver.log"),
                 lambda line: "appservice" in line, 40) if hs_dir else None
    if text is not None:
        rep.sections.append(("Synapse appservice log (last 40 lines)", text))
