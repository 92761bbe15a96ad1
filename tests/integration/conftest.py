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
