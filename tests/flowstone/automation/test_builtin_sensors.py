"""The built-in sensors: asset (an upstream materialization requests the downstream), S3
(new objects under a prefix, from a real S3 endpoint), SQL (a query's value changed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation import asset_sensor, s3_sensor, sql_sensor
from flowstone.automation._sensor_actor import SensorActor
from flowstone.automation._store import AutomationStore
from flowstone.storage import Storage
from tests.s3_server import s3_bucket, s3_endpoint, s3_server  # noqa: F401

from .conftest import Binder, make_context


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the store contract runs both backends; these test the sensors' logic."""
    return f"sqlite:///{tmp_path / 'flowstone.db'}"


def daily_pair() -> fs.Pipeline:
    p = fs.Pipeline("pair")
    days = fs.DailyPartitions(start="2025-01-01")

    @p.asset(partitioned_by=days)
    def upstream(context: Any) -> int:
        return 1

    @p.asset(partitioned_by=days, depends_on=["upstream"])
    def downstream(context: Any, upstream: int) -> int:
        return upstream

    return p


async def evaluate(
    pipeline: fs.Pipeline, name: str, store: AutomationStore, storage: Storage, clock: MockClock
) -> None:
    """Evaluate one slot of the sensor; ``storage`` serves ``pipeline``."""
    ref = await actors.spawn(SensorActor, make_context(pipeline, store, storage, "d1"), name)
    try:
        await ref.call("tick")
    finally:
        await ref.stop()
    clock.jump(120)


async def test_the_asset_sensor_requests_the_downstream_of_each_new_materialization(
    clock: MockClock,
    store: AutomationStore,
    storage: Storage,
    bind: Binder,
    store_url: str,
    tmp_path: Path,
) -> None:
    p = daily_pair()
    asset_sensor(p, "on_upstream", watch="upstream", request="downstream")
    async with fs.AsyncRuntime(p, store_url, base_dir=tmp_path) as rt:
        await rt.materialize("upstream", "2025-01-14")
        await evaluate(p, "on_upstream", store, await bind(p.name), clock)
        await evaluate(p, "on_upstream", store, await bind(p.name), clock)
        await rt.materialize("upstream", "2025-01-15")
        await evaluate(p, "on_upstream", store, await bind(p.name), clock)
    queued = await storage.list_runs(status="queued")
    assert sorted((r.targets, r.partition) for r in queued) == [
        (("downstream",), "2025-01-14"), (("downstream",), "2025-01-15"),
    ]  # fmt: skip


async def test_the_sql_sensor_requests_a_run_when_the_value_changes(
    clock: MockClock, store: AutomationStore, storage: Storage, bind: Binder, tmp_path: Path
) -> None:
    db = tmp_path / "source.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE loads (n INTEGER)")
        conn.execute("INSERT INTO loads VALUES (1)")
    p = daily_pair()
    sql_sensor(p, "loads", url=f"sqlite:///{db}", query="SELECT max(n) FROM loads",
               asset="upstream", partition=lambda value: f"2025-01-{int(value):02d}")  # fmt: skip
    await evaluate(p, "loads", store, await bind(p.name), clock)  # records the first value only
    await evaluate(p, "loads", store, await bind(p.name), clock)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO loads VALUES (7)")
    await evaluate(p, "loads", store, await bind(p.name), clock)
    (run,) = await storage.list_runs(status="queued")
    assert run.partition == "2025-01-07"
    assert run.triggered_by == "sensor:loads"


@pytest.mark.s3
async def test_the_s3_sensor_requests_one_run_per_new_object(
    clock: MockClock,
    store: AutomationStore,
    storage: Storage,
    bind: Binder,
    s3_server: Any,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
) -> None:
    client = s3_server.client()
    p = daily_pair()
    s3_sensor(p, "landing", bucket=s3_bucket, prefix="landing/", asset="upstream",
              partition=lambda key: key.split("/")[1][:10], endpoint_url=s3_endpoint)  # fmt: skip
    client.put_object(Bucket=s3_bucket, Key="landing/2025-01-14.csv", Body=b"a")
    await evaluate(p, "landing", store, await bind(p.name), clock)
    client.put_object(Bucket=s3_bucket, Key="landing/2025-01-15.csv", Body=b"b")
    await evaluate(p, "landing", store, await bind(p.name), clock)
    await evaluate(p, "landing", store, await bind(p.name), clock)
    runs = await storage.list_runs(status="queued")
    assert sorted(r.partition for r in runs) == ["2025-01-14", "2025-01-15"]
    (state,) = await store.states("pair", ["sensor:landing"], clock_now(clock))
    assert state.cursor == "landing/2025-01-15.csv"


def clock_now(clock: MockClock) -> Any:
    from flowstone.automation._clock import wall_now

    return wall_now()
