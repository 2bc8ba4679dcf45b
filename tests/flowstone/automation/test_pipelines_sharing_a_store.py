"""Two pipelines on one record store (one SQLite file, one PostgreSQL schema) whose
schedules and sensors have the same names: each pipeline keeps its own ticks, runs,
cursors, run keys and on/off switches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation._schedule_actor import ScheduleActor
from flowstone.automation._sensor_actor import SensorActor
from flowstone.automation._store import AutomationStore
from flowstone.storage import Storage

from .conftest import START, Binder, make_context

NAMES = ("north", "south")


def twin(name: str, seen: list[str | None]) -> fs.Pipeline:
    """A pipeline with a schedule ``nightly`` and a sensor ``inbox`` (as its twin has)."""
    p = fs.Pipeline(name)

    @p.asset(partitioned_by=fs.DailyPartitions(start="2025-01-01"))
    def report(context: Any) -> int:
        return 1

    @p.asset(partitioned_by=fs.StaticPartitions(["a", "b"]))
    def raw(context: Any) -> int:
        return 1

    p.schedule("nightly", asset="report", cron="0 2 * * *", catch_up="latest")

    @p.sensor(interval=30, jitter=0.0)
    def inbox(context: fs.SensorContext) -> fs.SensorResult:
        seen.append(context.cursor)
        # The same run key in both pipelines, every evaluation: one run per pipeline.
        request = fs.RunRequest("raw", partition="a", run_key="file-a")
        return fs.SensorResult(run_requests=[request], cursor=f"{name}-{len(seen)}")

    return p


@pytest.fixture
async def spawn(
    clock: MockClock, store: AutomationStore, bind: Binder
) -> AsyncIterator[Callable[..., Any]]:
    refs: list[actors.ActorRef] = []

    async def start(pipeline: fs.Pipeline, kind: type[actors.Actor], name: str) -> Any:
        ctx = make_context(pipeline, store, await bind(pipeline.name), f"d{len(refs)}")
        refs.append(await actors.spawn(kind, ctx, name))
        return refs[-1]

    yield start
    for ref in refs:
        await ref.stop()


async def test_same_named_schedules_of_two_pipelines_each_make_their_tick_and_run(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn: Any
) -> None:
    refs = [await spawn(twin(n, []), ScheduleActor, "nightly") for n in NAMES]
    for ref in refs:
        await ref.call("tick")  # 01:59: nothing due yet
    clock.jump(61)
    for ref in refs:
        await ref.call("tick")
    runs = await storage.list_runs()
    assert sorted((r.pipeline, r.triggered_by, r.partition) for r in runs) == [
        ("north", "schedule:nightly", "2025-01-14"),
        ("south", "schedule:nightly", "2025-01-14"),
    ]
    for name in NAMES:
        (tick,) = await store.ticks(name, "schedule:nightly")
        (run,) = (r for r in runs if r.pipeline == name)
        assert tick.run_ids == (run.run_id,)
    assert len(await store.ticks(None, "schedule:nightly")) == 2


async def test_switching_off_one_pipelines_schedule_leaves_the_others_on(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn: Any
) -> None:
    refs = [await spawn(twin(n, []), ScheduleActor, "nightly") for n in NAMES]
    for ref in refs:
        await ref.call("tick")  # 01:59: both start, on
    await store.set_enabled("north", "schedule:nightly", False, START)
    clock.jump(61)
    for ref in refs:
        await ref.call("tick")
    assert [r.pipeline for r in await storage.list_runs()] == ["south"]
    north, south = [(await store.states(n, ["schedule:nightly"], START))[0] for n in NAMES]
    assert (north.enabled, south.enabled) == (False, True)


async def test_same_named_sensors_keep_their_own_cursor_and_run_keys(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn: Any
) -> None:
    seen: dict[str, list[str | None]] = {name: [] for name in NAMES}
    refs = [await spawn(twin(n, seen[n]), SensorActor, "inbox") for n in NAMES]
    for _ in range(3):
        for ref in refs:
            await ref.call("tick")
        clock.jump(30)
    # Three slots each, every one evaluated, each pipeline reading back its own cursor.
    assert seen == {
        "north": [None, "north-1", "north-2"],
        "south": [None, "south-1", "south-2"],
    }
    runs = await storage.list_runs()
    assert sorted((r.pipeline, r.partition) for r in runs) == [("north", "a"), ("south", "a")]
    for name in NAMES:
        keys = await store.run_keys(name, "sensor:inbox")
        (run,) = (r for r in runs if r.pipeline == name)
        assert keys == {"file-a": run.run_id}
        assert len(await store.ticks(name, "sensor:inbox")) == 3
