"""The daemon's supervision tree: a heartbeat row, one actor per sensor, and a sensor that
crashes is restarted alone while the others keep their state."""

from __future__ import annotations

from typing import Any

import pytest

import actors
import flowstone as fs
import supervisors
from actors.testing import MockClock
from flowstone.automation._store import AutomationStore
from flowstone.automation._tree import child_name, start_tree
from flowstone.storage import Storage

from .conftest import Binder, make_context


def two_sensors() -> fs.Pipeline:
    p = fs.Pipeline("two")

    @p.asset
    def raw(context: Any) -> int:
        return 1

    @p.sensor(interval=30)
    def first(context: fs.SensorContext) -> None:
        return None

    @p.sensor(interval=30)
    def second(context: fs.SensorContext) -> None:
        return None

    return p


async def test_a_crashing_sensor_is_restarted_alone(
    clock: MockClock, store: AutomationStore, bind: Binder
) -> None:
    pipeline = two_sensors()
    ctx = make_context(pipeline, store, await bind(pipeline.name), "d1")
    tree = await start_tree(ctx)
    try:
        first = actors.whereis(child_name(ctx, "sensor:first"))
        second = actors.whereis(child_name(ctx, "sensor:second"))
        assert first is not None
        assert second is not None
        with pytest.raises(actors.NoProc):
            await first.call("crash")
        await clock.advance(0)
        restarted = actors.whereis(child_name(ctx, "sensor:first"))
        assert restarted is not None
        assert restarted != first
        assert restarted.alive
        assert actors.whereis(child_name(ctx, "sensor:second")) == second
        assert second.alive
        (row,) = await store.daemons()
        assert row.daemon_id == "d1"
        assert row.status == "running"
        assert row.info["sensors"] == ["first", "second"]
        sup = supervisors.whereis(child_name(ctx, "automation-supervisor"))
        assert sup is not None
        assert [c.id for c in await sup.which_children()] == ["sensor:first", "sensor:second"]
    finally:
        await tree.stop()


async def test_a_reload_adds_and_removes_sensor_actors_to_match_the_new_definitions(
    clock: MockClock, store: AutomationStore, bind: Binder
) -> None:
    from flowstone.automation._context import Definitions
    from flowstone.automation._tree import sync_automation

    pipeline = two_sensors()
    ctx = make_context(pipeline, store, await bind(pipeline.name), "d1")
    tree = await start_tree(ctx)
    try:
        replaced = fs.Pipeline("two")

        @replaced.asset
        def raw(context: Any) -> int:
            return 1

        @replaced.sensor(interval=30)
        def second(context: fs.SensorContext) -> None:
            return None

        @replaced.sensor(interval=30)
        def third(context: fs.SensorContext) -> None:
            return None

        replaced.schedule("hourly", asset="raw", cron="0 * * * *")
        kept = actors.whereis(child_name(ctx, "sensor:second"))
        ctx.definitions.current = Definitions(replaced, "v2")
        await sync_automation(ctx)
        sup = supervisors.whereis(child_name(ctx, "automation-supervisor"))
        assert sup is not None
        ids = [c.id for c in await sup.which_children()]
        assert sorted(ids) == ["schedule:hourly", "sensor:second", "sensor:third"]
        assert actors.whereis(child_name(ctx, "sensor:second")) == kept
        assert actors.whereis(child_name(ctx, "sensor:first")) is None
    finally:
        await tree.stop()


async def test_a_daemon_and_a_queue_refuse_a_store_serving_another_pipeline(
    store: AutomationStore, storage: Storage, bind: Binder
) -> None:
    from flowstone.automation._queue import RunQueue

    pipeline = two_sensors()
    expected = r"serves pipeline '', not 'two'.*storage\.for_pipeline\('two'\)"
    with pytest.raises(fs.StorageError, match=expected):
        make_context(pipeline, store, storage, "d1")
    with pytest.raises(fs.StorageError, match=expected):
        RunQueue(pipeline, storage)
    with pytest.raises(fs.StorageError, match="serves pipeline 'other', not 'two'"):
        make_context(pipeline, store, await bind("other"), "d1")
