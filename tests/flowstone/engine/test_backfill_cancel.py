"""A backfill is cancelled as a whole by its id: in-flight partitions are cancelled and
recorded, no new one starts, and running it again resumes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

import flowstone as fs


def gated_days(
    gate: asyncio.Event, started: list[Any], two_started: asyncio.Event | None = None
) -> fs.Pipeline:
    p = fs.Pipeline("cancel_me")

    @p.asset(partitioned_by=fs.DailyPartitions(start="2025-01-01"))
    async def day(context: Any) -> int:
        started.append(context.partition)
        if two_started is not None and len(started) == 2:
            two_started.set()
        await gate.wait()
        return context.partition.day

    return p


async def test_cancelling_a_backfill_stops_it_and_running_it_again_resumes(
    make_runtime: Any,
) -> None:
    gate, started, two_started = asyncio.Event(), [], asyncio.Event()
    rt = make_runtime(gated_days(gate, started, two_started))
    ids: list[str] = []
    rt.events.subscribe(lambda e: ids.append(e.run_id) if e.kind == "backfill.started" else None)
    task = asyncio.ensure_future(rt.backfill("day", "2025-01-01..2025-01-10", max_parallel=2))
    await two_started.wait()
    assert await rt.cancel(ids[0])
    result = await task
    assert sorted(result.cancelled) == [dt.date(2025, 1, 1), dt.date(2025, 1, 2)]
    assert result.not_started == 8
    assert (result.succeeded, result.failed) == ([], [])
    assert not result.success
    statuses = {m.partition: m.status for m in await rt.materializations("day")}
    assert statuses == {dt.date(2025, 1, 1): "cancelled", dt.date(2025, 1, 2): "cancelled"}
    gate.set()
    again = await rt.backfill("day", "2025-01-01..2025-01-10", max_parallel=2)
    assert len(again.succeeded) == 10
    assert again.skipped == []


async def test_an_empty_range_names_the_asset(make_runtime: Any) -> None:
    rt = make_runtime(gated_days(asyncio.Event(), []))
    with pytest.raises(fs.InvalidPartition, match=r"^asset 'day': "):
        await rt.backfill("day", "2025-01-03..2025-01-01")


async def test_max_parallel_must_be_positive(make_runtime: Any) -> None:
    rt = make_runtime(gated_days(asyncio.Event(), []))
    with pytest.raises(fs.errors.ConfigurationError, match="max_parallel must be a positive int"):
        await rt.backfill("day", "2025-01-01..2025-01-02", max_parallel=0)
