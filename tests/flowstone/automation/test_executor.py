"""The run executor on a mock clock: claims within its slots, takes over a dead daemon's run
once the lease expires, stops a run whose lease it lost, observes cancel requests, and hands
unfinished runs back when it exits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation._executor import Drain, RunExecutor
from flowstone.automation._records import Limits, QueuedRun
from flowstone.automation._store import AutomationStore
from flowstone.storage import RunRecord

from .conftest import START, Binder, make_context


class Launcher:
    """Executes runs by waiting until the test releases them."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def resume(self, run_id: str) -> str:
        self.started.append(run_id)
        event = self.release.setdefault(run_id, asyncio.Event())
        await event.wait()
        return "succeeded"

    async def cancel(self, run_id: str) -> bool:
        self.cancelled.append(run_id)
        return True


def queued(run_id: str) -> QueuedRun:
    record = RunRecord(
        run_id=run_id, pipeline="p", kind="materialize_all", targets=("a",), status="queued",
        started_at=START, finished_at=None, triggered_by="test",
    )  # fmt: skip
    return QueuedRun(record)


@pytest.fixture
async def spawn_executor(
    clock: MockClock, store: AutomationStore, bind: Binder
) -> AsyncIterator[Callable[..., Any]]:
    refs: list[actors.ActorRef] = []

    async def spawn(daemon_id: str, launcher: Launcher, **config: Any) -> actors.ActorRef:
        pipeline = fs.Pipeline("p")
        storage = await bind(pipeline.name)
        ctx = make_context(pipeline, store, storage, daemon_id, launcher=launcher, **config)
        refs.append(await actors.spawn(RunExecutor, ctx))
        return refs[-1]

    yield spawn
    for ref in refs:
        await ref.stop()


async def test_a_daemon_claims_at_most_its_free_slots(
    store: AutomationStore, spawn_executor: Any
) -> None:
    await store.enqueue([queued(f"r{i}") for i in range(3)], START)
    launcher = Launcher()
    ref = await spawn_executor("d1", launcher, max_runs=2)
    assert await ref.call("poll") == ["r0", "r1"]
    await asyncio.sleep(0)
    assert sorted(launcher.started) == ["r0", "r1"]


async def test_a_killed_daemons_run_is_taken_over_once_its_lease_expires(
    clock: MockClock, store: AutomationStore, spawn_executor: Any
) -> None:
    await store.enqueue([queued("r1")], START)
    first, second = Launcher(), Launcher()
    dead = await spawn_executor("d1", first, lease=10.0)
    alive = await spawn_executor("d2", second, lease=10.0)
    assert await dead.call("poll") == ["r1"]
    dead.kill()  # like kill -9: no terminate, no hand-back
    assert await alive.call("poll") == []
    clock.jump(10.5)
    assert await alive.call("poll") == ["r1"]
    await asyncio.sleep(0)
    assert second.started == ["r1"]
    second.release["r1"].set()
    for _ in range(500):  # the completion message is handled (and recorded) in turn
        if not await alive.call("held"):
            break
        await asyncio.sleep(0.01)
    (entry,) = await store.entries(("done",))
    assert entry.owner == "d2"
    assert entry.claims == 2


async def test_a_daemon_that_lost_its_lease_stops_its_copy_of_the_run(
    clock: MockClock, store: AutomationStore, spawn_executor: Any
) -> None:
    await store.enqueue([queued("r1")], START)
    slow = Launcher()
    ref = await spawn_executor("d1", slow, lease=10.0, heartbeat=20.0)
    assert await ref.call("poll") == ["r1"]
    now = START + timedelta(seconds=11)
    until = now + timedelta(seconds=100)
    assert [c.run_id for c in await store.claim("d2", now, until, Limits(1))] == ["r1"]
    clock.jump(11)
    await clock.advance(20)  # d1's renewal finds r1 owned by d2
    await ref.call("held")
    assert await ref.call("held") == []
    (entry,) = await store.entries()
    assert entry.owner == "d2"


async def test_a_cancel_request_reaches_the_daemon_running_the_run(
    clock: MockClock, store: AutomationStore, spawn_executor: Any
) -> None:
    await store.enqueue([queued("r1")], START)
    launcher = Launcher()
    ref = await spawn_executor("d1", launcher, heartbeat=2.0)
    await ref.call("poll")
    assert await store.request_cancel("r1", START) == "requested"
    await clock.advance(2.0)
    await ref.call("held")  # the mailbox is in order: the renewal has been handled
    assert launcher.cancelled == ["r1"]


async def test_draining_hands_unfinished_runs_back_to_the_queue(
    store: AutomationStore, spawn_executor: Any
) -> None:
    await store.enqueue([queued("r1"), queued("r2")], START)
    launcher = Launcher()
    ref = await spawn_executor("d1", launcher)
    await ref.call("poll")
    await asyncio.sleep(0)
    launcher.release["r1"].set()
    assert await ref.call(Drain(0.05)) == ["r2"]
    states = {e.run_id: e.state for e in await store.entries(("queued", "claimed", "done"))}
    assert states == {"r1": "done", "r2": "queued"}
