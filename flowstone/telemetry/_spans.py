"""Span names, the span scope every hook opens, and spans as plain data (for Ray).

Internal, not part of the public API (the names are public: docs/observability.md).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping, Sequence
from time import perf_counter_ns, time_ns
from types import TracebackType
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes

RUN = "flowstone.run"
MATERIALIZE = "flowstone.materialize"
LOAD = "flowstone.io.load"
STORE = "flowstone.io.store"
COMMIT = "flowstone.lineage.commit"
RAY_STEP = "flowstone.ray.step"
GATE_WAIT = "flowstone.gate.wait"
RESTART_EVENT = "flowstone.restart"

IO_NAMES = {"load": LOAD, "store": STORE}
IO_MS = {"load": "flowstone.io.load_ms", "store": "flowstone.io.store_ms"}
"""Attributes of an attempt's (or a Ray step's) span: the time its loads and stores took, in
milliseconds, spans or not."""
IO_SPAN_MIN_MS = 1.0
"""Default of ``fs.Telemetry(io_span_min_ms=...)``: a shorter load or store gets no span."""

log = logging.getLogger("flowstone.telemetry")
_EMPTY: Mapping[str, str] = {}


class SpanScope:
    """A span made current for the ``with`` block; an exception marks it as an error.

    With ``io_parent``, the scope also times the loads and stores made inside it (it is
    their ``IO_PARENT``: a Ray step's span) and ends with their ``flowstone.io.*_ms``.
    Never raises: a failure inside OpenTelemetry is logged (once per kind) and ignored.
    """

    __slots__ = (
        "_attributes",
        "_io_parent",
        "_io_token",
        "_name",
        "_parent",
        "_tracer",
        "context",
        "io_ns",
        "span",
        "token",
    )

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        attributes: Attributes,
        parent: otel_context.Context | None = None,
        *,
        io_parent: bool = False,
    ) -> None:
        self._tracer, self._name, self._attributes, self._parent = tracer, name, attributes, parent
        self._io_parent = io_parent
        self.span: trace.Span | None = None
        self.context: otel_context.Context | None = None
        self.io_ns: dict[str, int] = {}
        self.token: object | None = None
        self._io_token: Any = None

    def __enter__(self) -> SpanScope:
        try:
            span = self._tracer.start_span(self._name, self._parent, attributes=self._attributes)
            self.span = span
            self.context = trace.set_span_in_context(span)
            self.token = otel_context.attach(self.context)
            if self._io_parent:
                self._io_token = IO_PARENT.set(self)
        except Exception:
            failed("start a span")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._io_token is not None:
                IO_PARENT.reset(self._io_token)
            if self.token is not None:
                otel_context.detach(self.token)  # type: ignore[arg-type]
            span = self.span
            if span is not None:
                try:
                    if self.io_ns:
                        set_io_attributes(span, self.io_ns)
                    if exc is not None:
                        mark_error(span, exc)
                finally:
                    span.end()
        except Exception:
            failed("end a span")

    def finish(self, status: str, error: BaseException | None = None) -> None:
        """Mark a failed status on the span."""
        if error is not None and self.span is not None:
            mark_error(self.span, error)

    def carrier(self) -> Mapping[str, str]:
        return _EMPTY


class IoParent(Protocol):
    """The attempt (or Ray step) whose loads and stores are being timed: its span, the
    context holding it (the parent of slow I/O spans), and the nanoseconds spent so far."""

    span: trace.Span | None
    context: otel_context.Context | None
    io_ns: dict[str, int]


IO_PARENT: contextvars.ContextVar[IoParent | None] = contextvars.ContextVar(
    "flowstone_io_parent", default=None
)
"""The recording attempt (or Ray step) of the code running now, for its I/O scopes."""


class IoScope:
    """One I/O manager load or store, timed; a span only when it is slow (or fails).

    A span costs the process tens of microseconds (start, end, export), as much as a trivial
    load or store: so the I/O is timed with ``perf_counter_ns`` and its duration added to
    the parent's ``flowstone.io.load_ms`` / ``store_ms``; only an I/O that took at least
    ``min_ns`` (or raised) gets its span, made afterwards with the measured start and end,
    as a child of the parent's span. With ``min_ns == 0`` every I/O gets its span, current
    while the I/O runs (spans the I/O manager's own instrumentation makes are its children).
    Never raises: a failure inside OpenTelemetry is logged and ignored.
    """

    __slots__ = (
        "_live",
        "_parent",
        "_partition",
        "_run_id",
        "_started",
        "asset",
        "min_ns",
        "operation",
        "tracer",
    )

    def __init__(
        self,
        parent: IoParent,
        tracer: trace.Tracer,
        operation: str,
        asset: str,
        partition_key: str | None,
        run_id: str | None,
        min_ns: int,
    ) -> None:
        self._parent, self.tracer, self.operation, self.asset = parent, tracer, operation, asset
        self._partition, self._run_id, self.min_ns = partition_key, run_id, min_ns
        self._live: SpanScope | None = None
        self._started = 0

    def __enter__(self) -> IoScope:
        if self.min_ns <= 0:
            self._live = SpanScope(
                self.tracer, IO_NAMES[self.operation], self._attributes(), self._parent.context
            ).__enter__()
        self._started = perf_counter_ns()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = perf_counter_ns() - self._started
        try:
            io_ns = self._parent.io_ns
            io_ns[self.operation] = io_ns.get(self.operation, 0) + elapsed
            if self._live is not None:
                self._live.__exit__(exc_type, exc, tb)
            elif elapsed >= self.min_ns or exc is not None:
                self._span(elapsed, exc)
        except Exception:
            failed("time an I/O")

    def _span(self, elapsed: int, error: BaseException | None) -> None:
        end = time_ns()
        span = self.tracer.start_span(
            IO_NAMES[self.operation],
            self._parent.context,
            attributes=self._attributes(),
            start_time=end - elapsed,
        )
        if error is not None:
            mark_error(span, error)
        span.end(end)

    def _attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"flowstone.asset": self.asset}
        if self._run_id is not None:
            attributes["flowstone.run_id"] = self._run_id
        if self._partition is not None:
            attributes["flowstone.partition"] = self._partition
        return attributes

    def finish(self, status: str, error: BaseException | None = None) -> None:
        return None

    def carrier(self) -> Mapping[str, str]:
        return _EMPTY


def set_io_attributes(span: trace.Span, io_ns: Mapping[str, int]) -> None:
    """Set ``flowstone.io.load_ms`` / ``store_ms`` on ``span``: the I/O took ``io_ns``.

    One ``set_attribute`` each: the SDK cleans a mapping given to ``set_attributes`` at
    several times the cost. Looked up by key, never iterated: an abandoned attempt's I/O
    may still be adding to ``io_ns`` from its worker thread."""
    for operation, name in IO_MS.items():
        nanoseconds = io_ns.get(operation)
        if nanoseconds is not None:
            span.set_attribute(name, nanoseconds / 1e6)


def mark_error(span: trace.Span, error: BaseException) -> None:
    """Record ``error`` on ``span`` and give it the error status."""
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:1000]))


_reported: set[str] = set()


def failed(what: str) -> None:
    """Log a telemetry failure, with its traceback the first time for each ``what``."""
    if what in _reported:
        log.debug("telemetry could not %s", what, exc_info=True)
        return
    _reported.add(what)
    log.warning("telemetry could not %s; runs are not affected", what, exc_info=True)


# -- spans as plain data ------------------------------------------------------------------------

Wire = tuple[Any, ...]


def to_wire(span: ReadableSpan) -> Wire:
    """``span`` as a tuple of plain values (picklable; SDK spans hold locks)."""
    context = span.context
    parent = span.parent
    assert context is not None  # a span the SDK ended always has one
    return (
        span.name,
        context.trace_id,
        context.span_id,
        int(context.trace_flags),
        (parent.span_id, parent.is_remote) if parent is not None else None,
        span.start_time,
        span.end_time,
        dict(span.attributes or {}),
        [(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events],
        span.status.status_code.value,
        span.status.description,
    )


def from_wire(wire: Wire, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    """Rebuild a span made in another process (for the local span processors)."""
    name, trace_id, span_id, flags, parent, start, end, attributes, events, code, text = wire
    context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))
    parent_context = None
    if parent is not None:
        parent_context = SpanContext(
            trace_id, parent[0], is_remote=parent[1], trace_flags=TraceFlags(flags)
        )
    return ReadableSpan(
        name,
        context=context,
        parent=parent_context,
        resource=resource,
        attributes=attributes,
        events=_events(events),
        kind=SpanKind.INTERNAL,
        status=Status(StatusCode(code), text),
        start_time=start,
        end_time=end,
        instrumentation_scope=scope,
    )


def _events(wires: Sequence[tuple[str, int, dict[str, Any]]]) -> list[Event]:
    return [Event(name, attributes, timestamp) for name, timestamp, attributes in wires]
