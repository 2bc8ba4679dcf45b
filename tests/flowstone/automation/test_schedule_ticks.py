"""Schedule actors on a mock clock: each tick creates one run whatever the number of
daemons, missed ticks follow catch_up, an abandoned tick is taken over after its lease."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation._schedule_actor import ScheduleActor
from flowstone.automation._store import AutomationStore
from flowstone.storage import Storage

from .conftest import START, Binder, make_context

DAY = 86_400.0


def nightly(catch_up: str = "latest") -> fs.Pipeline:
    p = fs.Pipeline("nightly")

    @p.asset(partitioned_by=fs.DailyPartitions(start="2025-01-01"))
    def report(context: Any) -> int:
        return 1

    p.schedule("nightly", asset="report", cron="0 2 * * *", catch_up=catch_up)
    return p


@pytest.fixture
async def spawn_schedulers(
    clock: MockClock, store: AutomationStore, bind: Binder
) -> AsyncIterator[Callable[..., Any]]:
    refs: list[actors.ActorRef] = []

    async def spawn(pipeline: fs.Pipeline, count: int = 1) -> list[actors.ActorRef]:
        for _i in range(count):
            ctx = make_context(pipeline, store, await bind(pipeline.name), f"d{len(refs)}")
            refs.append(await actors.spawn(ScheduleActor, ctx, "nightly"))
        return refs[-count:]

    yield spawn
    for ref in refs:
        await ref.stop()


async def tick_all(refs: list[actors.ActorRef]) -> None:
    for ref in refs:
        await ref.call("tick")


async def test_a_tick_creates_one_run_whatever_the_number_of_daemons(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_schedulers: Any
) -> None:
    refs = await spawn_schedulers(nightly(), 3)
    await tick_all(refs)  # 01:59: the schedule starts now, nothing is due
    clock.jump(61)
    await tick_all(refs)
    await tick_all(refs)
    runs = await storage.list_runs()
    assert [(r.triggered_by, r.trigger, r.partition, r.status) for r in runs] == [
        ("schedule:nightly", "schedule", "2025-01-14", "queued")
    ]
    (tick,) = await store.ticks("nightly", "schedule:nightly")
    assert tick.status == "requested"
    assert tick.run_ids == (runs[0].run_id,)
    assert tick.tick_at.isoformat() == "2025-01-15T02:00:00+00:00"


@pytest.mark.parametrize(("catch_up", "partitions"), [
    ("all", ["2025-01-14", "2025-01-15", "2025-01-16"]),
    ("latest", ["2025-01-16"]),
    ("skip", []),
])  # fmt: skip
async def test_ticks_missed_while_no_daemon_ran_follow_catch_up(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_schedulers: Any,
    catch_up: str, partitions: list[str],
) -> None:  # fmt: skip
    (ref,) = await spawn_schedulers(nightly(catch_up))
    await ref.call("tick")
    clock.jump(2 * DAY + 3600)  # down until 2025-01-17 02:59
    await ref.call("tick")
    runs = await storage.list_runs()
    assert sorted(r.partition for r in runs) == partitions
    if catch_up == "skip":
        (tick,) = await store.ticks("nightly", "schedule:nightly")
        assert tick.status == "skipped"
        assert tick.run_ids == ()


async def test_a_tick_claimed_by_a_daemon_that_died_is_taken_over_after_its_lease(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_schedulers: Any
) -> None:
    (ref,) = await spawn_schedulers(nightly())
    await ref.call("tick")
    clock.jump(60)  # 02:00:00: a daemon claims the tick, then is killed
    tick_time = START.replace(hour=2, minute=0)
    now = tick_time
    assert await store.claim_tick(
        "nightly", "schedule:nightly", tick_time, "dead", now, now.replace(second=10)
    )
    clock.jump(5)
    await ref.call("tick")
    assert await storage.list_runs() == []
    clock.jump(6)
    await ref.call("tick")
    (run,) = await storage.list_runs()
    assert run.partition == "2025-01-14"


async def test_a_disabled_schedule_does_not_tick_and_does_not_catch_up_when_enabled(
    clock: MockClock, storage: Storage, store: AutomationStore, spawn_schedulers: Any
) -> None:
    (ref,) = await spawn_schedulers(nightly("all"))
    await ref.call("tick")
    await store.set_enabled("nightly", "schedule:nightly", False, START)
    clock.jump(DAY)
    await ref.call("tick")
    await store.set_enabled("nightly", "schedule:nightly", True, START.replace(day=16))
    await ref.call("tick")
    assert await storage.list_runs() == []  # the tick of Jan 15, 02:00 was missed while off
    clock.jump(60)
    await ref.call("tick")
    assert [r.partition for r in await storage.list_runs()] == ["2025-01-15"]
