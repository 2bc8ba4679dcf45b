"""What an asset's parameter receives through `DimensionMapping` (as docs/partitions.md says):
a dict keyed by upstream partition, even when exactly one upstream partition maps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import flowstone as fs
from flowstone.testing import memory_runtime

pipeline = fs.Pipeline("dimension_inputs")
days = fs.DailyPartitions(start="2024-01-01", end="2024-01-31")
tenant_days = fs.MultiPartitions({"tenant": fs.StaticPartitions(["acme", "beta"]), "date": days})
received: dict[str, Any] = {}


@pipeline.asset(partitioned_by=days)
def rates(context: Any) -> str:
    return f"rates of {context.partition_key}"


@pipeline.asset(
    partitioned_by=tenant_days,
    depends_on=[fs.Dep("rates", mapping=fs.DimensionMapping("date"))],
)
def usage(context: Any, rates: Any) -> int:
    received[context.partition_key] = rates
    return 1 if context.partition["tenant"] == "acme" else 2


@pipeline.asset(
    partitioned_by=days, depends_on=[fs.Dep("usage", mapping=fs.DimensionMapping("date"))]
)
def daily_total(context: Any, usage: Any) -> int:
    received["daily_total"] = usage
    return sum(usage.values())


def test_one_mapped_upstream_partition_arrives_as_a_one_entry_dict_keyed_by_its_key() -> None:
    with memory_runtime(pipeline) as rt:
        rt.materialize_all("daily_total", "2024-01-15")
    assert received["tenant=acme|date=2024-01-15"] == {dt.date(2024, 1, 15): "rates of 2024-01-15"}


def test_several_multi_partitions_arrive_keyed_by_their_encoded_key() -> None:
    with memory_runtime(pipeline) as rt:
        rt.materialize_all("daily_total", "2024-01-16")
    assert received["daily_total"] == {
        "tenant=acme|date=2024-01-16": 1,
        "tenant=beta|date=2024-01-16": 2,
    }
