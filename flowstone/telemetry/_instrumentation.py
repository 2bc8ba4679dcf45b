"""``TelemetryInstrumentation``: the engine's ``Instrumentation``, with OpenTelemetry.

Internal, not part of the public API. Where each hook runs is said by the engine's protocol
(``flowstone.engine._instrumentation``); here, every hook is guarded: an exception inside
OpenTelemetry (or in this module) is logged once and swallowed, so it never fails an
attempt, a run or the lineage writer (apache/airflow#34416 failed tasks when tracing was on).
Exporting happens on the SDK's own threads behind its bounded queues: a collector that is
down, slow or refusing costs dropped spans, never a slower run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from flowstone.engine._instrumentation import NO_SCOPE, RunScope, Scope
from flowstone.storage import MaterializationRecord, Storage
from flowstone.telemetry import _spans
from flowstone.telemetry._log_flush import LogFlusher
from flowstone.telemetry._metrics import Metrics
from flowstone.telemetry._run_logs import CAPTURE, CURRENT, Attribution
from flowstone.telemetry._worker import RayStepHook

if TYPE_CHECKING:
    from flowstone.engine._materializer import Job
    from flowstone.engine._planning import RunSpec
    from flowstone.telemetry._telemetry import Telemetry

_EMPTY: Mapping[str, Any] = {}
MAX_LINKS = 128
"""Links per commit span (the SDK's default limit); a larger batch links its first ones."""


class TelemetryInstrumentation:
    """Spans, metrics and run logs for one runtime's engine."""

    def __init__(self, telemetry: Telemetry, storage: Storage, version: str) -> None:
        self.telemetry = telemetry
        self.storage = storage
        provider = telemetry.tracer_provider
        self.tracer = provider.get_tracer("flowstone", version) if provider is not None else None
        meters = telemetry.meter_provider
        self.metrics = Metrics(meters, version) if meters is not None else None
        self.propagator = telemetry.propagator
        self.io_min_ns = _nanoseconds(telemetry.io_span_min_ms)
        self.capture = telemetry.capture_logs
        self.runs: dict[str, _Traced] = {}
        """The runs in progress that have a span, by run id."""
        self.attempts: dict[str, SpanContext] = {}
        """Span contexts of the attempts in progress, by the id of the record they write
        (a commit span links to the attempts whose records it carries)."""
        self.worker_hook = RayStepHook(
            traces=self.tracer is not None,
            propagators=telemetry.propagators,
            log_lines=telemetry.log_lines_per_run,
            log_level=telemetry.log_level,
            io_min_ns=self.io_min_ns,
        )
        self.logs = LogFlusher(
            storage,
            telemetry.log_lines_per_run,
            telemetry.log_flush_lines,
            telemetry.log_flush_seconds,
        )
        """Stores the captured lines of this runtime's runs while they run."""
        self._closed = False
        if self.capture:
            CAPTURE.acquire(telemetry.log_level)

    def close(self) -> None:
        """Stop capturing logs for this runtime (idempotent)."""
        if not self._closed:
            self._closed = True
            if self.capture:
                CAPTURE.release()
            self.logs.stop()

    # -- hooks ------------------------------------------------------------------------------

    def run(self, spec: RunSpec, stored: Mapping[str, Any] | None = None) -> RunScope:
        return _RunScope(self, spec, stored)

    def attempt(self, job: Job, attempt: int) -> Scope:
        return _AttemptScope(self, job, attempt)

    def io(self, operation: str, asset: str, partition_key: str | None, run_id: str) -> Scope:
        tracer = self.tracer
        if tracer is None:
            return NO_SCOPE
        try:
            parent = _spans.IO_PARENT.get()
            if parent is not None:  # the recording attempt this I/O belongs to
                return _spans.IoScope(
                    parent, tracer, operation, asset, partition_key, run_id, self.io_min_ns
                )
            traced = self.runs.get(run_id)
            if traced is not None and not traced.recording:
                return NO_SCOPE  # the run was sampled out (decided once, at its start)
            if not trace.get_current_span().is_recording():
                return NO_SCOPE  # outside an attempt, or the attempt was sampled out
            # Outside an attempt but inside a span of the caller's (a load the application
            # asked for): a span of its own, as there is no attempt to carry its duration.
            attributes: dict[str, Any] = {"flowstone.asset": asset, "flowstone.run_id": run_id}
            if partition_key is not None:
                attributes["flowstone.partition"] = partition_key
            return _spans.SpanScope(tracer, _spans.IO_NAMES[operation], attributes)
        except Exception:
            _spans.failed("open an I/O span")
            return NO_SCOPE

    def commit(self, runs: int, materializations: Sequence[MaterializationRecord]) -> Scope:
        if self.tracer is None and self.metrics is None:
            return NO_SCOPE
        return _CommitScope(self, runs, materializations)

    def restarted(self, run_id: str | None, child: str, reason: str) -> None:
        try:
            if self.metrics is not None:
                self.metrics.restarts.add(1, {"flowstone.child": child})
            traced = self.runs.get(run_id) if run_id is not None else None
            if traced is not None and traced.recording:
                attributes = {"flowstone.child": child, "flowstone.reason": reason[:1000]}
                traced.span.add_event(_spans.RESTART_EVENT, attributes)
        except Exception:
            _spans.failed("report a restart")

    def remote(self, payload: Any) -> None:
        if not payload:
            return
        try:
            for line in payload.get("logs", ()):
                CAPTURE.adopt(line)
            spans = payload.get("spans", ())
            if spans:
                self._relay(spans)
        except Exception:
            _spans.failed("take in a Ray worker's spans and logs")

    def carrier(self) -> Mapping[str, str]:
        if self.tracer is None:
            return _EMPTY
        try:
            span = trace.get_current_span()
            if not span.get_span_context().is_valid:
                return _EMPTY
            return self.carrier_of(span)
        except Exception:
            _spans.failed("write a trace context")
            return _EMPTY

    def _relay(self, spans: Sequence[_spans.Wire]) -> None:
        """Hand spans made in a Ray worker to this process's span processors."""
        provider = self.telemetry.tracer_provider
        processor = getattr(provider, "_active_span_processor", None)
        resource = getattr(provider, "resource", None)
        if processor is None or resource is None:
            return  # not an SDK provider: nothing here could export them
        scope = _scope()
        for wire in spans:
            processor.on_end(_spans.from_wire(wire, resource, scope))

    # -- helpers ----------------------------------------------------------------------------

    def carrier_of(
        self, span: trace.Span, context: otel_context.Context | None = None
    ) -> dict[str, str]:
        """The trace context of ``span`` as the configured propagators write it (``context``:
        one that holds ``span`` already, saving a copy)."""
        carrier: dict[str, str] = {}
        if context is None:
            context = trace.set_span_in_context(span)
        self.propagator.inject(carrier, context=context)
        return carrier


def _nanoseconds(milliseconds: float) -> int:
    """``milliseconds`` in nanoseconds (infinity: longer than any I/O)."""
    return round(milliseconds * 1e6) if milliseconds < 1e12 else 2**62


class _Traced:
    """A run's span, the context holding it (the parent of its attempts, made once) and
    its sampling decision (read once: every attempt and I/O of the run follows it)."""

    __slots__ = ("context", "recording", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.context = trace.set_span_in_context(span)
        self.recording = span.is_recording()


def _scope() -> Any:
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    return InstrumentationScope("flowstone")


class _RunScope:
    """The ``flowstone.run`` span, the run's log buffer, and the run's trace context."""

    def __init__(
        self, owner: TelemetryInstrumentation, spec: RunSpec, stored: Mapping[str, Any] | None
    ) -> None:
        self.owner, self.spec, self.stored = owner, spec, stored
        self.span: trace.Span | None = None
        self.context: Mapping[str, str] = _EMPTY
        self.status = "unknown"
        self.error: BaseException | None = None

    async def __aenter__(self) -> _RunScope:
        owner, spec = self.owner, self.spec
        if owner.capture:
            owner.logs.open(spec.run_id)
        if owner.tracer is None:
            return self
        try:
            stored = (self.stored or {}).get("trace_context") or None
            parent = owner.propagator.extract(dict(stored)) if stored else None
            self.span = owner.tracer.start_span(
                _spans.RUN, parent, attributes=_run_attributes(spec)
            )
            traced = owner.runs[spec.run_id] = _Traced(self.span)
            # A resumed run keeps the context of the run's first span: every resumption is a
            # child of it, in the same trace.
            self.context = dict(stored) if stored else owner.carrier_of(self.span, traced.context)
        except Exception:
            _spans.failed("open a run span")
            return self
        if self.stored and traced.recording:
            await self._gate_waits(self.span)
        return self

    async def _gate_waits(self, run_span: trace.Span) -> None:
        """A resumed run: one ``flowstone.gate.wait`` span per gate it waited at, from the
        waiting attempt's start to now (the decision let the run resume)."""
        owner = self.owner
        try:
            waiting = await owner.storage.materializations(
                run_id=self.spec.run_id, status="waiting"
            )
            parent = trace.set_span_in_context(run_span)
            for record in waiting:
                attributes: dict[str, Any] = {
                    "flowstone.asset": record.asset,
                    "flowstone.run_id": record.run_id,
                    "flowstone.attempt": record.attempt,
                }
                if record.partition is not None:
                    attributes["flowstone.partition"] = record.partition
                approval = record.metadata.get("approval_id")
                if approval is not None:
                    attributes["flowstone.approval_id"] = str(approval)
                start = int(record.started_at.timestamp() * 1e9)
                span = owner.tracer.start_span(  # type: ignore[union-attr]
                    _spans.GATE_WAIT, parent, attributes=attributes, start_time=start
                )
                span.end()
        except asyncio.CancelledError:
            raise
        except Exception:
            _spans.failed("report gate waits")

    def finish(self, status: str, error: BaseException | None = None) -> None:
        self.status, self.error = status, error

    def metadata(self) -> Mapping[str, Any]:
        return {"trace_context": self.context} if self.context else _EMPTY

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        owner = self.owner
        try:
            owner.runs.pop(self.spec.run_id, None)
            if self.span is not None:
                self.span.set_attribute("flowstone.status", self.status)
                error = exc or self.error
                if error is not None:
                    _spans.mark_error(self.span, error)
                self.span.end()
            if owner.metrics is not None:
                owner.metrics.run_finished(self.status)
        except Exception:
            _spans.failed("end a run span")
        if owner.capture:
            await owner.logs.finish(self.spec.run_id)


def _run_attributes(spec: RunSpec) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "flowstone.run_id": spec.run_id,
        "flowstone.run.kind": spec.kind,
        "flowstone.targets": tuple(spec.targets),
        "flowstone.trigger": spec.trigger,
    }
    if spec.partition is not None:
        attributes["flowstone.partition"] = spec.partition
    if spec.backfill_id is not None:
        attributes["flowstone.backfill_id"] = spec.backfill_id
    return attributes


class _AttemptScope:
    """``flowstone.materialize``: one attempt's span, metrics and log attribution."""

    __slots__ = (
        "attempt",
        "context",
        "error",
        "io_ns",
        "io_token",
        "job",
        "log_token",
        "owner",
        "record_id",
        "span",
        "started",
        "status",
        "token",
    )

    def __init__(self, owner: TelemetryInstrumentation, job: Job, attempt: int) -> None:
        self.owner, self.job, self.attempt = owner, job, attempt
        self.span: trace.Span | None = None
        self.context: otel_context.Context | None = None
        self.io_ns: dict[str, int] = {}
        """Nanoseconds spent in loads and stores, by operation (``_spans.IoScope``)."""
        self.token: object | None = None
        self.io_token: Any = None
        self.log_token: Any = None
        self.status: str | None = None
        self.error: BaseException | None = None
        self.record_id: str | None = None
        self.started = 0.0

    def __enter__(self) -> _AttemptScope:
        owner, job = self.owner, self.job
        try:
            node = job.node
            if owner.capture:
                who = Attribution(job.run_id, node.asset, node.encoded, self.attempt, job.tenant)
                self.log_token = CURRENT.set(who)
            if owner.metrics is not None:
                self.started = time.perf_counter()
                owner.metrics.started(node.asset)
            if owner.tracer is not None:
                self._start_span(owner.tracer)
        except Exception:
            _spans.failed("open an attempt")
        return self

    def _start_span(self, tracer: trace.Tracer) -> None:
        owner, job, node = self.owner, self.job, self.job.node
        traced = owner.runs.get(job.run_id)
        if traced is not None and not traced.recording:
            return  # the run was sampled out: so are its attempts, at no cost
        parent = traced.context if traced is not None else None
        attributes: dict[str, Any] = {
            "flowstone.asset": node.asset,
            "flowstone.run_id": job.run_id,
            "flowstone.attempt": self.attempt,
            "flowstone.executor": job.asset.executor,
        }
        if node.encoded is not None:
            attributes["flowstone.partition"] = node.encoded
        span = tracer.start_span(_spans.MATERIALIZE, parent, attributes=attributes)
        self.span = span
        self.context = trace.set_span_in_context(span, parent)
        self.token = otel_context.attach(self.context)
        self.io_token = _spans.IO_PARENT.set(self)
        self.record_id = MaterializationRecord.make_id(
            job.run_id, node.asset, node.encoded, self.attempt
        )
        owner.attempts[self.record_id] = span.get_span_context()

    def finish(self, status: str, error: BaseException | None = None) -> None:
        self.status, self.error = status, error

    def carrier(self) -> Mapping[str, str]:
        if self.span is None:
            return _EMPTY
        try:
            return self.owner.carrier_of(self.span)
        except Exception:
            _spans.failed("write a trace context")
            return _EMPTY

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = self.status or _status_of(exc)
        try:
            self._end_span(status, exc or self.error)
            metrics = self.owner.metrics
            if metrics is not None:
                elapsed = time.perf_counter() - self.started
                metrics.attempt_finished(self.job.node.asset, status, elapsed)
        except Exception:
            _spans.failed("close an attempt")
        finally:
            if self.log_token is not None:
                CURRENT.reset(self.log_token)

    def _end_span(self, status: str, error: BaseException | None) -> None:
        if self.io_token is not None:
            _spans.IO_PARENT.reset(self.io_token)
        if self.token is not None:
            otel_context.detach(self.token)  # type: ignore[arg-type]
        if self.record_id is not None:
            self.owner.attempts.pop(self.record_id, None)
        span = self.span
        if span is None:
            return
        try:
            span.set_attribute("flowstone.status", status)
            if self.io_ns:
                _spans.set_io_attributes(span, self.io_ns)
            if error is not None:
                _spans.mark_error(span, error)
        finally:
            span.end()  # a span never ended would never be exported


def _status_of(exc: BaseException | None) -> str:
    if exc is None:
        return "succeeded"
    return "cancelled" if isinstance(exc, asyncio.CancelledError) else "failed"


class _CommitScope:
    """``flowstone.lineage.commit``: one transaction, linked to the attempts it carries."""

    def __init__(
        self,
        owner: TelemetryInstrumentation,
        runs: int,
        materializations: Sequence[MaterializationRecord],
    ) -> None:
        self.owner, self.runs, self.materializations = owner, runs, materializations
        self.started = 0.0
        self.span: trace.Span | None = None

    def __enter__(self) -> _CommitScope:
        owner = self.owner
        self.started = time.perf_counter()
        if owner.tracer is None or not self.materializations:
            # Run records alone (a run starting or ending) get no span of their own: a
            # root span each would clutter trace views; the metrics still count them.
            return self
        try:
            attempts = owner.attempts
            found = (attempts.get(m.id) for m in self.materializations)
            links = [Link(context) for context in found if context is not None][:MAX_LINKS]
            attributes = {
                "flowstone.commit.runs": self.runs,
                "flowstone.commit.materializations": len(self.materializations),
            }
            # A root span: the commit serves many runs, it belongs to none of their traces.
            self.span = owner.tracer.start_span(
                _spans.COMMIT, otel_context.Context(), attributes=attributes, links=links
            )
        except Exception:
            _spans.failed("open a commit span")
        return self

    def finish(self, status: str, error: BaseException | None = None) -> None:
        return None

    def carrier(self) -> Mapping[str, str]:
        return _EMPTY

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.span is not None:
                if exc is not None:
                    _spans.mark_error(self.span, exc)
                self.span.end()
            metrics = self.owner.metrics
            if metrics is not None:
                metrics.commit_size.record(self.runs + len(self.materializations))
                metrics.commit_duration.record(time.perf_counter() - self.started)
        except Exception:
            _spans.failed("close a commit span")
