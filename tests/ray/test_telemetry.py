"""Telemetry across the Ray boundary: a Ray step's span is a child of its attempt's span,
made in the worker; its log lines come back to the run; its record names its Ray task.

One local Ray cluster serves the module. Asset functions live at module level: workers
import this module to run them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import flowstone as fs
from tests.flowstone.telemetry.conftest import Observed

pytestmark = pytest.mark.ray

REGIONS = fs.StaticPartitions(["eu", "us"])

steps = fs.Pipeline("traced_steps")


@steps.asset(partitioned_by=REGIONS)
def orders(context: Any) -> list[int]:
    context.log.info("reading orders of %s", context.partition)
    return [1, 2, 3]


@steps.asset(depends_on=["orders"], partitioned_by=REGIONS, executor="ray")
def totals(context: Any, orders: list[int]) -> int:
    context.log.info("summing in pid %d", os.getpid())
    if context.partition == "us":
        raise ValueError("no US totals today")
    return sum(orders)


@pytest.fixture(scope="module", autouse=True)
def cluster(ray_cluster_with_dashboard: Any) -> Any:
    return ray_cluster_with_dashboard


@pytest.fixture
def observed(request: pytest.FixtureRequest) -> Iterator[Observed]:
    """In-memory exporters; every I/O has its span unless the test is parametrized with
    another ``io_span_min_ms``."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    threshold = getattr(request, "param", 0)
    telemetry = fs.Telemetry(tracer_provider, meter_provider, io_span_min_ms=threshold)
    yield Observed(telemetry, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
async def runtime(
    tmp_path: Path, observed: Observed
) -> AsyncIterator[Callable[..., fs.AsyncRuntime]]:
    made: list[fs.AsyncRuntime] = []

    def make(pipeline: fs.Pipeline) -> fs.AsyncRuntime:
        rt = fs.AsyncRuntime(
            pipeline,
            storage="memory",
            base_dir=tmp_path,
            io_managers={"fs": fs.io.FilesystemIOManager(tmp_path / "values")},
            telemetry=observed.telemetry,
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


def parent_of(span: Any) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_ray_step_continues_the_runs_trace_in_the_worker(
    runtime: Any, observed: Observed
) -> None:
    """run -> materialize(totals) -> ray.step (in the worker) -> load and store: one trace."""
    rt = runtime(steps)
    result = await rt.materialize_all("totals", "eu")

    run = observed.span("flowstone.run")
    attempts = {s.attributes["flowstone.asset"]: s for s in observed.spans("flowstone.materialize")}  # type: ignore[index]
    step = observed.span("flowstone.ray.step")
    trace_spans = [s for s in observed.spans() if s.name != "flowstone.lineage.commit"]
    assert {s.context.trace_id for s in trace_spans} == {run.context.trace_id}
    assert attempts["totals"].attributes["flowstone.executor"] == "ray"  # type: ignore[index]
    assert parent_of(step) == attempts["totals"].context.span_id
    worker_io = [s for s in observed.spans() if parent_of(s) == step.context.span_id]
    assert sorted((s.name, s.attributes["flowstone.asset"]) for s in worker_io) == [  # type: ignore[index]
        ("flowstone.io.load", "orders"),
        ("flowstone.io.store", "totals"),
    ]
    assert step.attributes["flowstone.io.load_ms"] >= 0  # type: ignore[index,operator]
    assert step.attributes["flowstone.io.store_ms"] >= 0  # type: ignore[index,operator]
    # Made in the worker process, and the record names the same Ray task and node.
    [made] = [m for m in result.materializations if m.asset == "totals"]
    assert step.attributes["process.pid"] == made.metadata["ray_worker_pid"] != os.getpid()  # type: ignore[index]
    assert step.attributes["ray.task.id"] == made.metadata["ray_task_id"]  # type: ignore[index]
    assert step.attributes["ray.node.id"] == made.metadata["ray_node_id"]  # type: ignore[index]
    assert len(made.metadata["ray_task_id"]) > 16
    assert "__flowstone_telemetry__" not in made.metadata


@pytest.mark.parametrize("observed", [60_000.0], indirect=True)
async def test_a_ray_steps_fast_io_is_timed_on_the_step_span_without_spans(
    runtime: Any, observed: Observed
) -> None:
    """Under the threshold, the worker's loads and stores make no span; the step span
    carries their times."""
    rt = runtime(steps)
    await rt.materialize_all("totals", "eu")

    step = observed.span("flowstone.ray.step")
    assert observed.spans("flowstone.io.load") == observed.spans("flowstone.io.store") == []
    assert step.attributes["flowstone.io.load_ms"] >= 0  # type: ignore[index,operator]
    assert step.attributes["flowstone.io.store_ms"] >= 0  # type: ignore[index,operator]


async def test_a_ray_steps_log_lines_join_the_runs_logs(runtime: Any, observed: Observed) -> None:
    """context.log in the worker: the line is stored with the run, with the step's span."""
    rt = runtime(steps)
    result = await rt.materialize_all("totals", "eu")

    lines = await rt.logs(result.run_id)
    step = observed.span("flowstone.ray.step")
    [worker_line] = [x for x in lines if x.asset == "totals"]
    assert worker_line.message.startswith("summing in pid ")
    assert worker_line.message != f"summing in pid {os.getpid()}"
    assert (worker_line.partition, worker_line.attempt) == ("eu", 1)
    assert worker_line.span_id == format(step.context.span_id, "016x")
    assert [x.asset for x in lines] == ["orders", "totals"]


async def test_a_failing_ray_step_sends_its_span_and_lines_back_with_the_error(
    runtime: Any, observed: Observed
) -> None:
    """The worker's span and log lines travel on the exception; the step is an error span."""
    rt = runtime(steps)
    with pytest.raises(fs.RunFailed) as failed:
        await rt.materialize_all("totals", "us")

    step = observed.span("flowstone.ray.step")
    assert step.status.status_code is StatusCode.ERROR
    assert step.status.description == "ValueError: no US totals today"
    lines = await rt.logs(failed.value.result.run_id)
    assert [x.asset for x in lines] == ["orders", "totals"]


async def test_a_ray_materialization_links_to_its_task_in_the_ray_dashboard(
    runtime: Any, cluster: Any
) -> None:
    """The recorded task and job ids are the dashboard's; the task's name leads back."""
    from ray.util.state import list_tasks

    from flowstone.telemetry import ray_task_url

    rt = runtime(steps)
    result = await rt.materialize_all("totals", "eu")
    [made] = [m for m in result.materializations if m.asset == "totals"]
    task_id, job_id = made.metadata["ray_task_id"], made.metadata["ray_job_id"]

    url = ray_task_url(made, cluster.dashboard)
    assert url == f"{cluster.dashboard}/#/jobs/{job_id}/tasks/{task_id}"
    deadline = time.monotonic() + 60
    while True:
        found = await asyncio.to_thread(
            list_tasks, cluster.dashboard, filters=[("task_id", "=", task_id)], detail=True
        )
        if found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    [task] = found
    assert task.job_id == job_id
    assert task.node_id == made.metadata["ray_node_id"]
    # And back: the task's name is the asset partition; its records name the task and run.
    assert task.name == "flowstone:traced_steps/totals/eu"
    recorded = await rt.materializations("totals", "eu")
    assert [m.run_id for m in recorded if m.metadata.get("ray_task_id") == task.task_id] == [
        result.run_id
    ]
    [orders_made] = [m for m in result.materializations if m.asset == "orders"]
    assert ray_task_url(orders_made) is None
