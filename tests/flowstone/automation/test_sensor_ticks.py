"""Sensor actors on a mock clock: a slot is evaluated by one daemon, the cursor persists,
a run key creates at most one run per sensor ever, errors are recorded with tracebacks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation._sensor_actor import SensorActor, current_slot, slot_offset
from flowstone.automation._store import AutomationStore
from flowstone.storage import Storage

from .conftest import START, Binder, make_context


def files_pipeline(seen: list[str | None], batches: list[list[str]]) -> fs.Pipeline:
    p = fs.Pipeline("files")

    @p.asset(partitioned_by=fs.StaticPartitions(["a", "b", "c", "d"]))
    def raw(context: Any) -> int:
        return 1

    @p.sensor(interval=30, jitter=0.0)
    def new_files(context: fs.SensorContext) -> fs.SensorResult:
        seen.append(context.cursor)
        keys = batches.pop(0) if batches else []
        requests = [fs.RunRequest("raw", partition=k, run_key=f"file-{k}") for k in keys]
        return fs.SensorResult(run_requests=requests, cursor=str(len(seen)))

    @p.sensor(interval=30, name="broken")
    def broken(context: fs.SensorContext) -> None:
        raise ValueError("the bucket is on fire")

    return p


@pytest.fixture
async def spawn_sensors(
    clock: MockClock, store: AutomationStore, bind: Binder
) -> AsyncIterator[Callable[..., Any]]:
    refs: list[actors.ActorRef] = []

    async def spawn(pipeline: fs.Pipeline, name: str, count: int = 1) -> list[actors.ActorRef]:
        for _ in range(count):
            ctx = make_context(pipeline, store, await bind(pipeline.name), f"d{len(refs)}")
            refs.append(await actors.spawn(SensorActor, ctx, name))
        return refs[-count:]

    yield spawn
    for ref in refs:
        await ref.stop()


async def test_one_daemon_evaluates_each_slot_and_run_keys_run_once_ever(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_sensors: Any
) -> None:
    seen: list[str | None] = []
    p = files_pipeline(seen, [["a", "b"], ["b", "c"], ["a"]])
    refs = await spawn_sensors(p, "new_files", 3)
    for _ in range(3):
        for ref in refs:
            await ref.call("tick")
        clock.jump(30)
    assert seen == [None, "1", "2"]  # three slots, one evaluation each, cursor carried
    runs = await storage.list_runs()
    assert sorted(r.partition for r in runs) == ["a", "b", "c"]
    assert {r.triggered_by for r in runs} == {"sensor:new_files"}
    (state,) = await store.states("files", ["sensor:new_files"], START)
    assert state.cursor == "3"
    statuses = [t.status for t in await store.ticks("files", "sensor:new_files")]
    assert statuses == ["requested", "requested", "requested"]


async def test_an_evaluation_error_is_recorded_on_the_tick_with_its_traceback(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_sensors: Any
) -> None:
    (ref,) = await spawn_sensors(files_pipeline([], []), "broken")
    await ref.call("tick")
    (tick,) = await store.ticks("files", "sensor:broken")
    assert tick.status == "failed"
    assert tick.error is not None
    assert tick.error.startswith("Traceback")
    assert "ValueError: the bucket is on fire" in tick.error
    assert ref.alive  # the sensor keeps evaluating at its next slot
    clock.jump(30)
    await ref.call("tick")
    assert len(await store.ticks("files", "sensor:broken")) == 2


async def test_a_disabled_sensor_is_not_evaluated(
    clock: MockClock, store: AutomationStore, spawn_sensors: Any
) -> None:
    seen: list[str | None] = []
    (ref,) = await spawn_sensors(files_pipeline(seen, [["a"]]), "new_files")
    await store.set_enabled("files", "sensor:new_files", False, START)
    await ref.call("tick")
    assert seen == []
    assert await store.ticks("files", "sensor:new_files") == []


async def test_a_request_for_an_invalid_partition_fails_the_tick_and_creates_nothing(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_sensors: Any
) -> None:
    (ref,) = await spawn_sensors(files_pipeline([], [["zz"]]), "new_files")
    await ref.call("tick")
    (tick,) = await store.ticks("files", "sensor:new_files")
    assert tick.status == "failed"
    assert "InvalidPartition" in (tick.error or "")
    assert await storage.list_runs() == []


def test_slots_are_spread_by_a_fixed_offset_below_the_jitter() -> None:
    offsets = {slot_offset(f"s{i}", 30.0, 0.1) for i in range(50)}
    assert len(offsets) == 50
    assert all(0 <= o < 3.0 for o in offsets)
    start, wait = current_slot(START, 30.0, 1.5)
    assert start.timestamp() % 30 == 1.5
    assert 0 < wait <= 30
