"""A run resumed later, by another runtime, continues the trace its record keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import flowstone as fs
from flowstone.engine._gate import GateRequest, Proceed, Wait


@dataclass(frozen=True)
class CheckpointSpec:
    message: str


@dataclass
class Gatekeeper:
    """Waits until ``approved``, then passes its input on."""

    approved: bool = False

    async def reached(self, request: GateRequest) -> Proceed | Wait:
        if not self.approved:
            return Wait(approval_id=f"ap-{request.run_id}")
        return Proceed(request.inputs["draft"] * 10)


def gated() -> fs.Pipeline:
    p = fs.Pipeline("gated_report")

    @p.asset()
    def draft(context: Any) -> int:
        context.log.info("drafting")
        return 4

    @p.asset(depends_on=["draft"])
    def approved(context: Any, draft: int) -> int:
        raise AssertionError("a gate's function is not called by the engine")

    @p.asset(depends_on=["approved"])
    def published(context: Any, approved: int) -> int:
        context.log.info("publishing %d", approved)
        return approved + 1

    object.__setattr__(p.get("approved"), "checkpoint", CheckpointSpec("ok?"))
    return p


def traced() -> tuple[fs.Telemetry, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return fs.Telemetry(provider), exporter


async def test_a_run_resumed_by_another_runtime_shares_its_trace_id(tmp_path: Path) -> None:
    """The first runtime's run waits at a gate; a second runtime (its own tracer provider,
    as another daemon would have) resumes it from the store: same trace, child spans."""
    storage = f"sqlite:///{tmp_path / 'records.db'}"
    managers = {"fs": fs.io.FilesystemIOManager(tmp_path / "values")}
    first_telemetry, first_spans = traced()
    async with fs.AsyncRuntime(
        gated(),
        storage=storage,
        io_managers=managers,
        gatekeeper=Gatekeeper(),
        telemetry=first_telemetry,
        base_dir=tmp_path,
    ) as first_rt:
        first = await first_rt.materialize_all("published")
    assert first.status == "waiting"

    second_telemetry, second_spans = traced()
    async with fs.AsyncRuntime(
        gated(),
        storage=storage,
        io_managers=managers,
        gatekeeper=Gatekeeper(approved=True),
        telemetry=second_telemetry,
        base_dir=tmp_path,
    ) as second_rt:
        resumed = await second_rt.resume(first.run_id)
        lines = await second_rt.logs(first.run_id)
    assert resumed.status == "succeeded"

    [before] = [s for s in first_spans.get_finished_spans() if s.name == "flowstone.run"]
    [after] = [s for s in second_spans.get_finished_spans() if s.name == "flowstone.run"]
    assert after.context.trace_id == before.context.trace_id
    assert after.parent is not None
    assert after.parent.span_id == before.context.span_id
    assert [before.attributes["flowstone.status"], after.attributes["flowstone.status"]] == [  # type: ignore[index]
        "waiting",
        "succeeded",
    ]
    resumed_attempts = [
        s for s in second_spans.get_finished_spans() if s.name == "flowstone.materialize"
    ]
    assert {s.context.trace_id for s in resumed_attempts} == {before.context.trace_id}
    assert sorted(s.attributes["flowstone.asset"] for s in resumed_attempts) == [  # type: ignore[index]
        "approved",
        "published",
    ]
    # The wait at the gate, from the waiting attempt to the resumption, in the same trace.
    [wait] = [s for s in second_spans.get_finished_spans() if s.name == "flowstone.gate.wait"]
    assert wait.parent is not None
    assert wait.parent.span_id == after.context.span_id
    assert wait.attributes["flowstone.asset"] == "approved"  # type: ignore[index]
    assert wait.attributes["flowstone.approval_id"] == f"ap-{first.run_id}"  # type: ignore[index]
    [gate_attempt] = [
        s
        for s in first_spans.get_finished_spans()
        if s.name == "flowstone.materialize" and s.attributes["flowstone.asset"] == "approved"  # type: ignore[index]
    ]
    assert gate_attempt.attributes["flowstone.status"] == "waiting"  # type: ignore[index]
    # It starts when the waiting attempt did (the record keeps microseconds).
    assert gate_attempt.start_time - 1_000 <= wait.start_time <= gate_attempt.end_time  # type: ignore[operator]
    # Both halves of the run's log, under one run id.
    assert [x.message for x in lines] == ["drafting", "publishing 40"]
