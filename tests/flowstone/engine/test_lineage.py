"""Lineage from recorded inputs, impact from definitions, staleness."""

from __future__ import annotations

import datetime as dt
from typing import Any

import flowstone as fs

from .conftest import chain_pipeline

D = dt.date


async def test_upstream_is_transitive_and_nearest_first(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    await rt.materialize_all("report", "2025-01-15")
    assert await rt.lineage.upstream("report", "2025-01-15") == [
        ("clean", D(2025, 1, 15)),
        ("raw", D(2025, 1, 15)),
    ]


async def test_downstream_follows_recorded_consumers(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    await rt.materialize_all("report", "2025-01-15")
    assert await rt.lineage.downstream("raw", "2025-01-15") == [
        ("clean", D(2025, 1, 15)),
        ("report", D(2025, 1, 15)),
    ]


async def test_a_partition_never_materialized_has_no_lineage(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    assert await rt.lineage.upstream("report", "2025-01-15") == []


async def test_impact_lists_every_downstream_asset_in_topological_order(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    assert await rt.lineage.impact("raw") == ["clean", "report"]
    assert await rt.lineage.impact("report") == []


async def test_partition_impact_follows_mappings_to_partitions_not_yet_materialized(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("rolling")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @p.asset(partitioned_by=days)
    def daily(context: Any) -> int:
        return 1

    @p.asset(
        depends_on=[fs.Dep("daily", mapping=fs.TimeWindowMapping(start_offset=-1, end_offset=0))],
        partitioned_by=days,
    )
    def two_day(context: Any, daily: dict[Any, int]) -> int:
        return sum(daily.values())

    rt = make_runtime(p)
    assert await rt.lineage.impact("daily", "2025-01-10") == [
        ("two_day", D(2025, 1, 10)),
        ("two_day", D(2025, 1, 11)),
    ]


async def test_a_re_materialized_upstream_makes_downstream_stale(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    await rt.materialize_all("report", "2025-01-15")
    assert await rt.lineage.stale() == []
    await rt.materialize("raw", "2025-01-15")
    stale = await rt.lineage.stale()
    assert [(s.asset, s.partition) for s in stale] == [("clean", D(2025, 1, 15))]
    assert stale[0].reason.startswith("upstream raw[2025-01-15] was re-materialized")


async def test_a_time_window_mapping_feeds_yesterday_and_today_as_a_dict(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("window")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @p.asset(partitioned_by=days)
    def sales(context: Any) -> int:
        return context.partition.day

    @p.asset(
        depends_on=[fs.Dep("sales", mapping=fs.TimeWindowMapping(start_offset=-1, end_offset=0))],
        partitioned_by=days,
    )
    def two_day(context: Any, sales: dict[Any, int]) -> dict[str, int]:
        return {str(k): v for k, v in sales.items()}

    rt = make_runtime(p)
    run = await rt.materialize_all("two_day", "2025-01-10")
    assert [(m.asset, m.partition) for m in run.materializations][-1] == ("two_day", D(2025, 1, 10))
    assert await rt.lineage.upstream("two_day", "2025-01-10") == [
        ("sales", D(2025, 1, 9)),
        ("sales", D(2025, 1, 10)),
    ]
    first = await rt.materialize_all("two_day", "2025-01-01")
    assert first.value_of("two_day").inputs == [("sales", D(2025, 1, 1))]
