# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fixtures shared by the integration test modules."""

import pytest

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of its bridge's log: in CI that log is gone
    with the test's directory, and it is what tells a lost message from a
    late one."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    path = getattr(getattr(stack, "bridge", None), "log_path", None)
    if not path:
        return
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()[-80:]
    except OSError:
        return
    rep.sections.append(("bridge log (last 80 lines)", "\n".join(line[:300] for line in lines)))
