"""Backfills: parallelism bound, skipping, forcing, failures, resumption."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import flowstone as fs

from .conftest import chain_pipeline


async def test_a_backfill_materializes_every_partition_with_its_missing_upstream(
    make_runtime: Any,
) -> None:
    rt = make_runtime(chain_pipeline())
    result = await rt.backfill("report", "2025-01-01..2025-01-10", max_parallel=4)
    assert sorted(result.succeeded) == [dt.date(2025, 1, d) for d in range(1, 11)]
    assert result.failed == []
    assert result.skipped == []
    raw = await rt.materializations("raw")
    assert len(raw) == 10
    assert {m.triggered_by for m in raw} == {f"backfill:{result.backfill_id}"}


async def test_a_backfill_skips_partitions_that_already_succeeded(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    await rt.materialize_all("report", "2025-01-03")
    result = await rt.backfill("report", "2025-01-01..2025-01-05")
    assert result.skipped == [dt.date(2025, 1, 3)]
    assert len(result.succeeded) == 4
    again = await rt.backfill("report", "2025-01-01..2025-01-05")
    assert len(again.skipped) == 5
    assert again.succeeded == []


async def test_force_re_runs_partitions_that_already_succeeded(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    await rt.backfill("report", ["2025-01-01", "2025-01-02"])
    forced = await rt.backfill("report", ["2025-01-01", "2025-01-02"], force=True)
    assert sorted(forced.succeeded) == [dt.date(2025, 1, 1), dt.date(2025, 1, 2)]
    # upstream that already succeeded is reused, not re-run
    assert len(await rt.materializations("raw")) == 2
    assert len(await rt.materializations("report")) == 4


async def test_no_more_than_max_parallel_partitions_run_at_once(make_runtime: Any) -> None:
    p = fs.Pipeline("bounded")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")
    running = 0
    peak = 0
    full = asyncio.Event()  # opens once max_parallel partitions run together

    @p.asset(partitioned_by=days)
    async def work(context: Any) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 3:
            full.set()
        await full.wait()
        for _ in range(3):
            await asyncio.sleep(0)
        running -= 1
        return 1

    rt = make_runtime(p)
    backfill = rt.backfill("work", "2025-01-01..2025-01-31", max_parallel=3)
    result = await asyncio.wait_for(backfill, timeout=30)
    assert len(result.succeeded) == 31
    assert peak == 3


async def test_a_backfill_never_raises_for_failed_partitions(make_runtime: Any) -> None:
    p = fs.Pipeline("partly")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @p.asset(partitioned_by=days)
    def odd_days_fail(context: Any) -> int:
        if context.partition.day % 2:
            raise RuntimeError(f"no data for {context.partition}")
        return context.partition.day

    rt = make_runtime(p)
    result = await rt.backfill("odd_days_fail", "2025-01-01..2025-01-06")
    assert sorted(result.succeeded) == [dt.date(2025, 1, d) for d in (2, 4, 6)]
    assert sorted(result.failed) == [dt.date(2025, 1, d) for d in (1, 3, 5)]
    assert result.errors["2025-01-01"] == "odd_days_fail: RuntimeError: no data for 2025-01-01"
    rerun = await rt.backfill("odd_days_fail", "2025-01-01..2025-01-06")
    assert sorted(rerun.skipped) == [dt.date(2025, 1, d) for d in (2, 4, 6)]
    assert sorted(rerun.failed) == [dt.date(2025, 1, d) for d in (1, 3, 5)]


async def test_backfill_partitions_sharing_an_upstream_materialize_it_once(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("shared")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")
    calls = 0

    @p.asset()
    async def lookup(context: Any) -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return {"factor": 3}

    @p.asset(depends_on=["lookup"], partitioned_by=days)
    def scaled(context: Any, lookup: dict[str, int]) -> int:
        return context.partition.day * lookup["factor"]

    rt = make_runtime(p)
    result = await rt.backfill("scaled", "2025-01-01..2025-01-20", max_parallel=8)
    assert len(result.succeeded) == 20
    assert calls == 1


async def test_a_backfill_publishes_progress_events(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    kinds: list[str] = []
    rt.events.subscribe(lambda e: kinds.append(e.kind) if e.kind.startswith("backfill") else None)
    await rt.backfill("report", "2025-01-01..2025-01-03")
    assert kinds == ["backfill.started"] + ["backfill.progress"] * 3 + ["backfill.finished"]


async def test_planning_a_backfill_costs_a_few_queries_per_chunk_not_per_partition(
    make_runtime: Any,
) -> None:
    rt = make_runtime(chain_pipeline())
    lookups: list[str] = []
    latest = rt.storage.latest

    async def counted(asset: str, partitions: Any, **kwargs: Any) -> Any:
        lookups.append(asset)
        return await latest(asset, partitions, **kwargs)

    rt.storage.latest = counted
    result = await rt.backfill("report", "2025-01-01..2025-02-28", max_parallel=8)
    assert len(result.succeeded) == 59
    # One query for what is done already, then one per level of the missing closure
    # (clean, then raw); nothing per partition.
    assert lookups == ["report", "clean", "raw"]
    assert len(await rt.materializations("raw")) == 59


async def test_the_engine_remembers_a_bounded_number_of_its_successes(
    make_runtime: Any, monkeypatch: Any
) -> None:
    # What a planned node is re-checked against: flat in memory however long the backfill.
    import flowstone.engine._registry as registry_module

    monkeypatch.setattr(registry_module, "RECENT_KEPT", 5)
    rt = make_runtime(chain_pipeline())
    result = await rt.backfill("report", "2025-01-01..2025-01-06", max_parallel=1)
    assert len(result.succeeded) == 6
    remembered = list(rt.engine.registry.recent_ids())
    assert len(remembered) == 5
    assert remembered[-1] == ("report", "2025-01-06")
