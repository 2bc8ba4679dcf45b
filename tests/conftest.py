"""Suite-wide fixtures: no test may leak actors or actor tasks; a mock clock on request;
and, where services are required (``FLOWSTONE_REQUIRE_SERVICES=1``, set by ``.ci/run``), no
test marked ``postgres``, ``s3`` or ``ray`` may skip."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from actors import ActorRef
from actors.testing import MockClock, abandon, live_actors, runtime_tasks, use_clock
from tests.services import REQUIRE_ENV, services_required

SERVICE_MARKERS = ("postgres", "s3", "ray")

# Scheduling rounds granted after a test for cancelled actor tasks to finish unwinding
# (a killed actor is dead at once; its task needs a loop iteration or two to end).
_SETTLE_ROUNDS = 20


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    """Turn the skip of a service test into a failure where services are required.

    ``tests/services.py`` already fails where it decides; this also catches every other way
    a test that needs PostgreSQL, S3 or Ray could skip (an ``importorskip`` of a library it
    uses, a ``skipif``), so a CI run can never pass with those tests silently skipped.
    """
    report: pytest.TestReport = yield
    if report.skipped and services_required():
        needs = [m for m in SERVICE_MARKERS if item.get_closest_marker(m) is not None]
        if needs:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = (
                f"a {'/'.join(needs)} test skipped ({reason}), but {REQUIRE_ENV} is set: "
                "this run requires its services"
            )
    return report


@pytest.fixture(autouse=True)
def _no_leaked_actors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves live actors or unfinished actor tasks behind.

    Async tests are checked before pytest-asyncio closes their event loop (closing it would
    cancel, and so hide, whatever leaked); sync tests are checked as they are. Actors alive
    before the test (e.g. from a module-scoped fixture) are not counted.
    """
    runner = _event_loop_runner(request)
    actors_before = set(live_actors())
    tasks_before = set(runtime_tasks())
    yield
    if runner is not None:
        runner.run(_settle(tasks_before))
    leaked = [ref for ref in live_actors() if ref not in actors_before]
    orphans = [task for task in runtime_tasks() if task not in tasks_before]
    if not leaked and not orphans:
        return
    report = _leak_report(leaked, orphans)  # before the clean-up changes what it shows
    _clean_up(runner, leaked)
    pytest.fail(report, pytrace=False)


def _event_loop_runner(request: pytest.FixtureRequest) -> asyncio.Runner | None:
    # pytest-asyncio adds its `_<scope>_scoped_runner` fixture to every async test; asking
    # for it here sets it up before this fixture, so it is torn down after our check.
    # Sync tests have none and get no event loop at all, which keeps them cheap.
    for name in request.fixturenames:
        if name.startswith("_") and name.endswith("_scoped_runner"):
            runner: asyncio.Runner = request.getfixturevalue(name)
            return runner
    return None


async def _settle(tasks_before: set[asyncio.Task[None]]) -> None:
    for _ in range(_SETTLE_ROUNDS):
        if all(task in tasks_before for task in runtime_tasks()):
            return
        await asyncio.sleep(0)


def _clean_up(runner: asyncio.Runner | None, leaked: list[ActorRef]) -> None:
    """Kill what leaked so that the next tests start clean (names free, nothing running)."""
    if runner is None:
        for ref in leaked:
            abandon(ref)
        return

    async def kill_all() -> None:
        for ref in leaked:
            ref.kill()
        await _settle(set())

    runner.run(kill_all())


def _leak_report(leaked: list[ActorRef], orphans: list[asyncio.Task[None]]) -> str:
    lines = ["the test left the actor runtime busy:"]
    if leaked:
        lines.append(f"  live actors: {leaked!r}")
        lines.append("  stop them (await ref.stop()) or kill them before the test ends")
    if orphans:
        lines.append(f"  unfinished actor tasks: {orphans!r}")
        lines.append("  a killed actor's task did not end: does a hook swallow CancelledError?")
    return "\n".join(lines)


@pytest.fixture
def mock_clock() -> Iterator[MockClock]:
    """Install a fresh ``MockClock`` for the test and restore the previous clock after."""
    clock = MockClock()
    with use_clock(clock):
        yield clock
