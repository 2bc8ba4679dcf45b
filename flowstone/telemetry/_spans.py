"""Span names, the span scope every hook opens, and spans as plain data (for Ray).

Internal, not part of the public API (the names are public: docs/observability.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

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

log = logging.getLogger("flowstone.telemetry")
_EMPTY: Mapping[str, str] = {}


class SpanScope:
    """A span made current for the ``with`` block; an exception marks it as an error.

    Never raises: a failure inside OpenTelemetry is logged (once per kind) and ignored.
    """

    __slots__ = ("_attributes", "_name", "_parent", "_tracer", "span", "token")

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        attributes: Attributes,
        parent: otel_context.Context | None = None,
    ) -> None:
        self._tracer, self._name, self._attributes, self._parent = tracer, name, attributes, parent
        self.span: trace.Span | None = None
        self.token: object | None = None

    def __enter__(self) -> SpanScope:
        try:
            span = self._tracer.start_span(self._name, self._parent, attributes=self._attributes)
            self.span = span
            self.token = otel_context.attach(trace.set_span_in_context(span))
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
            if self.token is not None:
                otel_context.detach(self.token)  # type: ignore[arg-type]
            span = self.span
            if span is not None:
                if exc is not None:
                    mark_error(span, exc)
                span.end()
        except Exception:
            failed("end a span")

    def finish(self, status: str, error: BaseException | None = None) -> None:
        """Mark a failed status on the span."""
        if error is not None and self.span is not None:
            mark_error(self.span, error)

    def carrier(self) -> Mapping[str, str]:
        return _EMPTY


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
