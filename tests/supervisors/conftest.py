"""Fixtures of the supervisor tests: a mock clock for every test, a lab, and a leak check.

Every test runs on a ``MockClock``: restart windows, shutdown timeouts and backoff delays
only move when the test calls ``await clock.advance(seconds)``. After the test, the event
loop is let settle and the test fails if any actor (typically a supervisor or one of its
children) is still alive or an actor task has not finished: a supervisor must leave nothing
behind once it has been stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from actors.testing import MockClock, live_actors, runtime_tasks, use_clock, wait_all_idle
from tests.supervisors.lab import Lab


@pytest.fixture(autouse=True)
async def clock() -> AsyncIterator[MockClock]:
    """Install a ``MockClock`` and fail the test if it leaves actors or actor tasks behind."""
    mock = MockClock()
    with use_clock(mock):
        yield mock
        await wait_all_idle()
        leaked = live_actors()
        orphans = runtime_tasks()
        if not leaked and not orphans:
            return
        for ref in leaked:
            ref.kill()
        await wait_all_idle()
        pytest.fail(
            "the test left the actor runtime busy: "
            f"live actors {leaked!r}, unfinished actor tasks {orphans!r}; stop every "
            "supervisor the test starts (await sup.stop()) before it ends",
            pytrace=False,
        )


@pytest.fixture
def lab() -> Lab:
    """Scriptable child specs and the journal of what the children did."""
    return Lab()
