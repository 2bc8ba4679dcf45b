"""Daemon metrics through the SDK's in-memory reader, the daemon's actors driven on a mock
clock: queue depth per pipeline and pool, runs claimed / started / handed back, ticks by
outcome with their lag, heartbeats; a failing instrument never reaches the daemon."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation._executor import RunExecutor
from flowstone.automation._heartbeat import Heartbeat
from flowstone.automation._observer import NO_OBSERVER
from flowstone.automation._records import QueuedRun
from flowstone.automation._schedule_actor import ScheduleActor
from flowstone.automation._sensor_actor import SensorActor
from flowstone.automation._store import AutomationStore
from flowstone.runtime._daemon import Daemon
from flowstone.storage import RunRecord
from flowstone.telemetry._daemon_metrics import DaemonMetrics

from .conftest import START, Binder, make_context
from .test_executor import Launcher

Points = dict[str, list[tuple[dict[str, Any], Any]]]


def collect(reader: InMemoryMetricReader) -> Points:
    """Metric name -> [(attributes, value, or (count, sum) for a histogram)]."""
    data = reader.get_metrics_data()
    found: Points = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = [
                    (
                        dict(p.attributes or {}),
                        (p.count, p.sum) if hasattr(p, "count") else p.value,
                    )
                    for p in metric.data.data_points
                ]
    return found


@pytest.fixture
def observed() -> Iterator[tuple[MeterProvider, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield provider, reader
    provider.shutdown()


def queued(run_id: str, *pools: str) -> QueuedRun:
    record = RunRecord(
        run_id=run_id, pipeline="p", kind="materialize_all", targets=("a",), status="queued",
        started_at=START, finished_at=None, triggered_by="test",
    )  # fmt: skip
    return QueuedRun(record, pools=pools)


async def test_the_executor_reports_claims_starts_hand_backs_and_the_queue_depth(
    clock: MockClock, store: AutomationStore, bind: Binder, observed: Any
) -> None:
    provider, reader = observed
    await store.enqueue(
        [queued("r0", "gpu"), queued("r1"), queued("r2", "gpu"), queued("r3", "cpu")], START
    )
    storage = await bind("p")
    ctx = make_context(fs.Pipeline("p"), store, storage, "d1", launcher=Launcher(), max_runs=2)
    metrics = DaemonMetrics(provider, "p")
    ref = await actors.spawn(RunExecutor, dataclasses.replace(ctx, observer=metrics))
    assert await ref.call("poll") == ["r0", "r1"]
    points = collect(reader)
    assert points["flowstone.daemon.runs.claimed"] == [
        ({"flowstone.pipeline": "p", "flowstone.takeover": "false"}, 2)
    ]
    assert points["flowstone.daemon.runs.started"] == [({"flowstone.pipeline": "p"}, 2)]
    depth = {tuple(sorted(a.items())): v for a, v in points["flowstone.queue.depth"]}
    assert depth == {
        (("flowstone.pipeline", "p"),): 2,
        (("flowstone.pipeline", "p"), ("flowstone.pool", "gpu")): 1,
        (("flowstone.pipeline", "p"), ("flowstone.pool", "cpu")): 1,
    }
    await ref.stop()  # its two unfinished runs go back to the queue
    points = collect(reader)
    assert points["flowstone.daemon.runs.handed_back"] == [({"flowstone.pipeline": "p"}, 2)]
    # No attribute carries a run id, whatever the instrument.
    assert not any("r0" in str(a) for series in points.values() for a, _ in series)


async def test_a_pool_emptied_by_claims_reads_zero_not_its_last_count(
    clock: MockClock, store: AutomationStore, bind: Binder, observed: Any
) -> None:
    provider, reader = observed
    await store.enqueue([queued("r0", "gpu"), queued("r1", "gpu")], START)
    ctx = make_context(fs.Pipeline("p"), store, await bind("p"), "d1", launcher=Launcher())
    metrics = DaemonMetrics(provider, "p")
    metrics.queue_depth("p", 2, {"gpu": 2})
    ref = await actors.spawn(RunExecutor, dataclasses.replace(ctx, observer=metrics))
    await ref.call("poll")
    depth = {a.get("flowstone.pool"): v for a, v in collect(reader)["flowstone.queue.depth"]}
    assert depth == {None: 0, "gpu": 0}
    await ref.stop()


def nightly() -> fs.Pipeline:
    p = fs.Pipeline("nightly")

    @p.asset(partitioned_by=fs.DailyPartitions(start="2025-01-01"))
    def report(context: Any) -> int:
        return 1

    p.schedule("nightly", asset="report", cron="0 2 * * *")
    return p


async def test_a_schedule_tick_is_counted_once_whatever_the_daemons_with_its_lag(
    clock: MockClock, store: AutomationStore, bind: Binder, observed: Any
) -> None:
    provider, reader = observed
    pipeline = nightly()
    metrics = DaemonMetrics(provider, "nightly")
    refs = []
    for i in range(3):
        ctx = make_context(pipeline, store, await bind("nightly"), f"d{i}")
        refs.append(
            await actors.spawn(ScheduleActor, dataclasses.replace(ctx, observer=metrics), "nightly")
        )
    for ref in refs:
        await ref.call("tick")  # 01:59: the schedule starts now, nothing is due
    clock.jump(61)  # 02:00:01: the 02:00 tick is due, one second late
    for ref in refs:
        await ref.call("tick")
    points = collect(reader)
    origin = {"flowstone.pipeline": "nightly", "flowstone.tick.kind": "schedule"}
    origin["flowstone.origin"] = "schedule:nightly"
    assert points["flowstone.daemon.ticks"] == [({**origin, "status": "requested"}, 1)]
    [(attributes, (count, total))] = points["flowstone.daemon.tick.lag"]
    assert attributes == origin
    assert count == 1
    assert total == pytest.approx(1.0, abs=0.01)
    for ref in refs:
        await ref.stop()


def sensors() -> fs.Pipeline:
    p = fs.Pipeline("files")

    @p.asset()
    def raw(context: Any) -> int:
        return 1

    @p.sensor(interval=30, jitter=0.0)
    def quiet(context: fs.SensorContext) -> None:
        return None

    @p.sensor(interval=30, jitter=0.0)
    def broken(context: fs.SensorContext) -> None:
        raise ValueError("the bucket is on fire")

    return p


async def test_sensor_ticks_are_counted_by_outcome(
    clock: MockClock, store: AutomationStore, bind: Binder, observed: Any
) -> None:
    provider, reader = observed
    pipeline = sensors()
    metrics = DaemonMetrics(provider, "files")
    ctx = dataclasses.replace(
        make_context(pipeline, store, await bind("files"), "d1"), observer=metrics
    )
    refs = [await actors.spawn(SensorActor, ctx, name) for name in ("quiet", "broken")]
    for _ in range(2):
        for ref in refs:
            await ref.call("tick")
        clock.jump(30)
    ticks = {
        (a["flowstone.origin"], a["status"]): v
        for a, v in collect(reader)["flowstone.daemon.ticks"]
    }
    assert ticks == {("sensor:quiet", "skipped"): 2, ("sensor:broken", "failed"): 2}
    for ref in refs:
        await ref.stop()


async def test_a_heartbeat_is_counted(
    clock: MockClock, store: AutomationStore, bind: Binder, observed: Any
) -> None:
    provider, reader = observed
    ctx = make_context(fs.Pipeline("p"), store, await bind("p"), "d1", heartbeat=5.0)
    ref = await actors.spawn(
        Heartbeat, dataclasses.replace(ctx, observer=DaemonMetrics(provider, "p"))
    )
    assert collect(reader)["flowstone.daemon.heartbeats"] == [
        ({"flowstone.pipeline": "p", "status": "running"}, 1)
    ]
    await ref.stop()


class Broken:
    """An instrument that raises at every measurement (a buggy SDK or exporter)."""

    def add(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("instrument broken")

    record = add


def test_a_failing_instrument_never_reaches_the_daemon(observed: Any) -> None:
    provider, _ = observed
    metrics = DaemonMetrics(provider, "p")
    for name in ("claimed", "started", "handed_back", "ticks", "lag", "heartbeats"):
        setattr(metrics, name, Broken())
    metrics.run_claimed(True)
    metrics.run_started()
    metrics.run_handed_back()
    metrics.tick("sensor:s", "failed", 1.0)
    metrics.heartbeat("running")


def test_the_daemon_observes_through_the_telemetry_its_runtimes_use(
    observed: Any, tmp_path: Path
) -> None:
    provider, _ = observed
    telemetry = fs.Telemetry(meter_provider=provider)
    daemon = Daemon(nightly(), f"sqlite:///{tmp_path / 'fs.db'}", telemetry=telemetry)
    assert daemon.runtime_kwargs["telemetry"] is telemetry
    assert isinstance(daemon._observer(), DaemonMetrics)
    off = Daemon(nightly(), f"sqlite:///{tmp_path / 'fs.db'}", telemetry=fs.Telemetry())
    assert off._observer() is NO_OBSERVER
