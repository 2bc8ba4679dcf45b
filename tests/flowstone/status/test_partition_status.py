"""``rt.partition_status``: ranges per status, counts, missing and running partitions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import flowstone as fs
from flowstone.partitions._order import PartitionOrder
from flowstone.status import partition_status
from flowstone.storage import MemoryStorage, WriteBatch
from tests.flowstone.storage.records import mat, run

JAN = fs.DailyPartitions(start="2024-01-01", end="2024-01-31")


def daily_pipeline() -> fs.Pipeline:
    pipeline = fs.Pipeline("status")

    @pipeline.asset(partitioned_by=JAN)
    def events(context: fs.AssetContext) -> int:
        if context.partition.day in (5, 6):
            raise RuntimeError("boom")
        return 1

    @pipeline.asset()
    def config(context: fs.AssetContext) -> int:
        return 1

    return pipeline


@pytest.fixture(params=["memory", "sqlite"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> fs.Runtime:
    storage = "memory" if request.param == "memory" else f"sqlite:///{tmp_path}/fs.db"
    with fs.Runtime(daily_pipeline(), storage=storage, base_dir=tmp_path) as rt:
        yield rt


def spans(status: fs.PartitionStatus, name: str) -> list[tuple[str, str, int]]:
    return [(r.first.isoformat(), r.last.isoformat(), r.count) for r in status.ranges[name]]


def test_ranges_and_counts_follow_key_order_with_missing_partitions(runtime: fs.Runtime) -> None:
    runtime.backfill("events", JAN.range("2024-01-01", "2024-01-20"))
    status = runtime.partition_status("events")
    assert status.counts == {
        "succeeded": 18,
        "failed": 2,
        "running": 0,
        "waiting": 0,
        "missing": 11,
    }
    assert spans(status, "succeeded") == [
        ("2024-01-01", "2024-01-04", 4),
        ("2024-01-07", "2024-01-20", 14),
    ]
    assert spans(status, "failed") == [("2024-01-05", "2024-01-06", 2)]
    assert spans(status, "missing") == [("2024-01-21", "2024-01-31", 11)]
    assert status.total == 31


def test_a_repaired_partition_merges_back_into_its_neighbours(runtime: fs.Runtime) -> None:
    runtime.backfill("events", JAN.range("2024-01-04", "2024-01-07"))
    ranges = runtime.partition_status("events").to_json()["runs"]
    assert ranges == [4, 3, 0, 1, 1, 2, 0, 1, 4, 24]  # missing 3, ok 1, failed 2, ok 1, ...


def test_the_compact_json_form_runs_through_every_partition(runtime: fs.Runtime) -> None:
    runtime.backfill("events", JAN.range("2024-01-01", "2024-01-04"))
    data = runtime.partition_status("events").to_json()
    assert data["statuses"] == ["succeeded", "failed", "running", "waiting", "missing"]
    assert data["runs"] == [0, 4, 4, 27]
    assert (data["first_key"], data["last_key"], data["total"]) == ("2024-01-01", "2024-01-31", 31)


def test_an_unpartitioned_asset_has_one_partition(runtime: fs.Runtime) -> None:
    assert runtime.partition_status("config").counts["missing"] == 1
    runtime.materialize("config")
    status = runtime.partition_status("config")
    assert status.counts["succeeded"] == 1
    assert [(r.first, r.count) for r in status.ranges["succeeded"]] == [(None, 1)]


def test_an_unknown_asset_is_refused_with_suggestions(runtime: fs.Runtime) -> None:
    with pytest.raises(fs.AssetNotFound, match="event"):
        runtime.partition_status("event")


async def test_partitions_of_runs_in_flight_show_as_running() -> None:
    storage = MemoryStorage()
    order = PartitionOrder(JAN)
    storage.order_partitions("events", order)
    await storage.rebuild_partition_ranges("events")
    await storage.write(
        WriteBatch(
            runs=(run("r9", status="running"),),
            materializations=tuple(mat("events", f"2024-01-0{d}") for d in range(1, 4)),
        )
    )
    status = await partition_status(storage, "events", order, running=["2024-01-02", "2024-01-10"])
    assert [(r.status, r.count) for r in status.runs] == [
        ("succeeded", 1),
        ("running", 1),
        ("succeeded", 1),
        ("missing", 6),
        ("running", 1),
        ("missing", 21),
    ]


async def test_open_time_windows_count_up_to_now() -> None:
    hourly = fs.HourlyPartitions(start="2024-01-01")
    storage = MemoryStorage()
    order = PartitionOrder(hourly)
    storage.order_partitions("h", order)
    now = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    status = await partition_status(storage, "h", order, now=now)
    assert (status.total, status.counts["missing"]) == (24, 24)


def multi_pipeline() -> fs.Pipeline:
    pipeline = fs.Pipeline("multi")
    dims = fs.MultiPartitions({"tenant": fs.StaticPartitions(["acme", "beta"]), "date": JAN})

    @pipeline.asset(partitioned_by=dims)
    def sales(context: fs.AssetContext) -> int:
        return 1

    return pipeline


def test_multi_partitions_run_by_time_then_by_the_other_dimensions(tmp_path: Path) -> None:
    with fs.Runtime(multi_pipeline(), storage="memory", base_dir=tmp_path) as rt:
        rt.materialize("sales", {"tenant": "beta", "date": "2024-01-02"})
        rt.materialize("sales", {"tenant": "acme", "date": "2024-01-03"})
        status = rt.partition_status("sales")
    assert status.total == 62
    assert [(r.first_ordinal, r.last_ordinal) for r in status.ranges["succeeded"]] == [
        (3, 4)  # beta@01-02, acme@01-03: neighbours in (date, tenant) order
    ]
    assert status.ranges["succeeded"][0].first == {
        "tenant": "beta",
        "date": dt.date(2024, 1, 2),
    }
