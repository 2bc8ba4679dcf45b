"""Spans and metrics of runs, attempts, I/O and lineage commits (in-memory exporters)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import flowstone as fs
from actors.testing import wait_all_idle
from tests.flowstone.telemetry.conftest import Observed, two_steps


def ids(span: Any) -> tuple[int, int]:
    return span.context.trace_id, span.context.span_id


def parent_of(span: Any) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_run_is_one_trace_of_run_attempt_and_io_spans(
    make_runtime: Any, observed: Observed
) -> None:
    """flowstone.run is the root; each attempt is its child; loads and stores are theirs
    (every one of them with io_span_min_ms=0; test_io_spans: the threshold)."""
    telemetry = fs.Telemetry(
        observed.telemetry.tracer_provider, observed.telemetry.meter_provider, io_span_min_ms=0
    )
    rt = make_runtime(two_steps(), telemetry=telemetry)
    result = await rt.materialize_all("clean", "2025-01-02")

    run = observed.span("flowstone.run")
    raw, clean = sorted(observed.spans("flowstone.materialize"), key=lambda s: s.start_time)
    assert run.parent is None
    assert {
        s.context.trace_id for s in observed.spans() if s.name != "flowstone.lineage.commit"
    } == {run.context.trace_id}
    assert parent_of(raw) == parent_of(clean) == run.context.span_id
    stores = observed.spans("flowstone.io.store")
    [load] = observed.spans("flowstone.io.load")
    assert sorted(parent_of(s) for s in stores) == sorted(
        [raw.context.span_id, clean.context.span_id]
    )
    assert parent_of(load) == clean.context.span_id
    assert dict(run.attributes or {}) == {
        "flowstone.run_id": result.run_id,
        "flowstone.run.kind": "materialize_all",
        "flowstone.targets": ("clean",),
        "flowstone.trigger": "manual",
        "flowstone.partition": "2025-01-02",
        "flowstone.status": "succeeded",
    }
    clean_attributes = dict(clean.attributes or {})
    assert {clean_attributes.pop(f"flowstone.io.{op}_ms") >= 0 for op in ("load", "store")} == {
        True
    }
    assert clean_attributes == {
        "flowstone.asset": "clean",
        "flowstone.partition": "2025-01-02",
        "flowstone.run_id": result.run_id,
        "flowstone.attempt": 1,
        "flowstone.executor": "local",
        "flowstone.status": "succeeded",
    }
    assert dict(load.attributes or {}) == {
        "flowstone.asset": "raw",
        "flowstone.partition": "2025-01-02",
        "flowstone.run_id": result.run_id,
    }


async def test_the_run_record_keeps_the_runs_trace_context(
    make_runtime: Any, observed: Observed
) -> None:
    """The run's W3C traceparent is stored on its record, naming the run span."""
    rt = make_runtime(two_steps(), telemetry=observed.telemetry)
    result = await rt.materialize_all("clean", "2025-01-02")

    record = await rt.storage.get_run(result.run_id)
    run = observed.span("flowstone.run")
    assert record is not None
    traceparent = record.metadata["trace_context"]["traceparent"]
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert (version, int(trace_id, 16), int(span_id, 16)) == ("00", *ids(run))


async def test_a_failed_attempt_is_an_error_span_and_is_counted_failed(
    make_runtime: Any, observed: Observed
) -> None:
    """The exception is recorded on the attempt span; the run span is an error too."""
    rt = make_runtime(two_steps(fail_clean=True), telemetry=observed.telemetry)
    with pytest.raises(fs.RunFailed):
        await rt.materialize_all("clean", "2025-01-02")

    clean = next(
        s
        for s in observed.spans("flowstone.materialize")
        if s.attributes["flowstone.asset"] == "clean"
    )  # type: ignore[index]
    assert clean.status.status_code is StatusCode.ERROR
    assert clean.status.description == "ValueError: bad rows"
    assert clean.attributes["flowstone.status"] == "failed"  # type: ignore[index]
    assert [e.name for e in clean.events] == ["exception"]
    assert observed.span("flowstone.run").attributes["flowstone.status"] == "failed"  # type: ignore[index]
    counts = {
        tuple(sorted(a.items())): v for a, v in observed.metrics()["flowstone.materializations"]
    }
    assert counts == {
        (("flowstone.asset", "raw"), ("status", "succeeded")): 1,
        (("flowstone.asset", "clean"), ("status", "failed")): 1,
    }


async def test_each_retried_attempt_has_its_own_span(make_runtime: Any, observed: Observed) -> None:
    """Attempts 1 and 2 of a retried asset are two spans under the same run."""
    p = fs.Pipeline("flaky")
    calls: list[int] = []

    @p.asset(retry=fs.RetryPolicy(max_retries=1, delay=0.0, jitter=0.0))
    def flaky(context: Any) -> int:
        calls.append(context.attempt)
        if context.attempt == 1:
            raise ConnectionError("first try")
        return 1

    rt = make_runtime(p, telemetry=observed.telemetry)
    await rt.materialize("flaky")

    spans = sorted(observed.spans("flowstone.materialize"), key=lambda s: s.start_time)
    assert [
        (s.attributes["flowstone.attempt"], s.attributes["flowstone.status"]) for s in spans
    ] == [  # type: ignore[index]
        (1, "failed"),
        (2, "succeeded"),
    ]
    assert len({parent_of(s) for s in spans}) == 1


async def test_a_commit_span_links_to_the_attempts_whose_records_it_carries(
    make_runtime: Any, observed: Observed
) -> None:
    """Every attempt's record is carried by a commit span that links back to the attempt."""
    rt = make_runtime(two_steps(), telemetry=observed.telemetry)
    await rt.backfill("clean", ["2025-01-01", "2025-01-02", "2025-01-03"])

    attempts = {s.context.span_id for s in observed.spans("flowstone.materialize")}
    commits = observed.spans("flowstone.lineage.commit")
    linked = [link.context.span_id for c in commits for link in c.links]
    assert sorted(linked) == sorted(attempts)
    assert all(c.parent is None for c in commits)
    carried = sum(c.attributes["flowstone.commit.materializations"] for c in commits)  # type: ignore[misc]
    assert carried == len(attempts) == 6


async def test_metrics_have_fixed_names_and_never_a_partition_or_run_attribute(
    make_runtime: Any, observed: Observed
) -> None:
    """Counters, histograms and the in-flight gauge carry asset and status only."""
    rt = make_runtime(two_steps(), telemetry=observed.telemetry)
    await rt.backfill("clean", ["2025-01-01", "2025-01-02"])

    metrics = observed.metrics()
    assert set(metrics) == {
        "flowstone.materializations",
        "flowstone.materialization.duration",
        "flowstone.materializations.in_flight",
        "flowstone.lineage.commit.size",
        "flowstone.lineage.commit.duration",
        "flowstone.runs",
    }
    keys = {key for points in metrics.values() for attributes, _ in points for key in attributes}
    assert keys <= {"flowstone.asset", "status"}
    assert sorted(v for _, v in metrics["flowstone.materialization.duration"]) == [2, 2]
    assert [v for _, v in metrics["flowstone.materializations.in_flight"]] == [0, 0]
    assert sum(v for _, v in metrics["flowstone.lineage.commit.size"]) >= 1


async def test_a_supervisor_restart_is_an_event_on_the_run_span_and_a_metric(
    make_runtime: Any, observed: Observed
) -> None:
    """A killed materializer is restarted: the run span says so, the counter counts it."""
    p = fs.Pipeline("killable")
    release = asyncio.Event()

    @p.asset()
    async def slow(context: Any) -> str:
        await release.wait()
        return "done"

    rt = make_runtime(p, telemetry=observed.telemetry)
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    rt.events.subscribe(
        lambda e: (
            started.done() or e.kind != "materialization.started" or started.set_result(e.run_id)
        )
    )
    task = asyncio.ensure_future(rt.materialize("slow"))
    run_id = await started
    [child] = await rt.engine.tree.run_supervisor(run_id).which_children()
    child.ref.kill()
    await wait_all_idle()
    release.set()
    assert (await task).success

    [event] = observed.span("flowstone.run").events
    assert event.name == "flowstone.restart"
    assert event.attributes["flowstone.child"] == "materializer"  # type: ignore[index]
    assert event.attributes["flowstone.reason"] == "'killed'"  # type: ignore[index]
    assert observed.metrics()["flowstone.supervisor.restarts"] == [
        ({"flowstone.child": "materializer"}, 1)
    ]
    statuses = [s.attributes["flowstone.status"] for s in observed.spans("flowstone.materialize")]  # type: ignore[index]
    assert statuses == ["cancelled", "succeeded"]


async def test_a_run_resumed_from_its_stored_trace_context_continues_the_same_trace(
    observed: Observed,
) -> None:
    """The hook given a run record's metadata parents the new run span on the stored one."""
    from flowstone.engine._planning import Plan, RunSpec
    from flowstone.storage import MemoryStorage

    instrumentation = observed.telemetry.instrument(MemoryStorage())
    spec = RunSpec("r1", "materialize", ("gate",), Plan(), "alice@host")
    async with instrumentation.run(spec) as first:
        first.finish("waiting")
        stored = {"trace_context": dict(first.metadata()["trace_context"])}
    async with instrumentation.run(spec, stored) as resumed:
        resumed.finish("succeeded")
        assert resumed.metadata() == stored
    instrumentation.close()

    before, after = observed.spans("flowstone.run")
    assert after.context.trace_id == before.context.trace_id
    assert parent_of(after) == before.context.span_id
    assert [s.attributes["flowstone.status"] for s in (before, after)] == ["waiting", "succeeded"]  # type: ignore[index]


class CountingSampler:
    """Samples every run out, and counts the spans the SDK was asked to start."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

        self.asked: list[str] = []
        self.inner = ParentBased(ALWAYS_OFF)

    def should_sample(self, parent: Any, trace_id: int, name: str, *args: Any, **kw: Any) -> Any:
        self.asked.append(name)
        return self.inner.should_sample(parent, trace_id, name, *args, **kw)

    def get_description(self) -> str:
        return "counting"


async def test_a_sampled_out_run_starts_no_attempt_or_io_span(make_runtime: Any) -> None:
    """The run's sampling decision is taken once: its attempts and I/O never reach the SDK,
    while its metrics and its stored trace context are kept."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    sampler = CountingSampler()
    tracer_provider = TracerProvider(sampler=sampler)  # type: ignore[arg-type]
    reader = InMemoryMetricReader()
    telemetry = fs.Telemetry(tracer_provider, MeterProvider(metric_readers=[reader]))
    rt = make_runtime(two_steps(), telemetry=telemetry)
    result = await rt.materialize_all("clean", "2025-01-02")
    assert result.status == "succeeded"
    # Commits are roots of their own (they serve many runs): the sampler decides for them.
    assert [n for n in sampler.asked if n != "flowstone.lineage.commit"] == ["flowstone.run"]
    record = await rt.storage.get_run(result.run_id)
    assert record is not None
    flags = record.metadata["trace_context"]["traceparent"].rsplit("-", 1)[1]
    assert int(flags, 16) & 1 == 0  # kept, with its "not sampled" decision, for a resumption
    data = reader.get_metrics_data()
    assert data is not None
    names = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
    assert "flowstone.materializations" in names
