"""The Ray side: a step's span, its I/O spans and its log lines, made in the worker.

Internal, not part of the public API. ``RayStepHook`` travels to Ray workers inside the
executor's bundle (it is small and picklable). In the worker it continues the trace context
the attempt sent with the task (``TaskSpec.trace``), so the step's span is a child of the
attempt's ``flowstone.materialize`` span, and captures the step's log lines. Neither is
exported from the worker: both travel back with the step's result (or on the exception it
raised) and the driver hands them to its own span processors and run-log buffer. Workers
need no exporter configuration and no network path to a collector, and nothing is lost
when Ray ends a worker process without a goodbye.
"""

from __future__ import annotations

import contextvars
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from flowstone.engine._instrumentation import NO_SCOPE, REMOTE_KEY
from flowstone.telemetry import _spans
from flowstone.telemetry._environment import propagator_from
from flowstone.telemetry._run_logs import CAPTURE, Attribution

_collected: contextvars.ContextVar[list[_spans.Wire] | None] = contextvars.ContextVar(
    "flowstone_worker_spans", default=None
)


@dataclass(frozen=True)
class RayStepHook:
    """Observe Ray steps in the worker (see the module doc); made by the driver."""

    traces: bool
    propagators: str
    log_lines: int
    log_level: int
    io_min_ns: int = round(_spans.IO_SPAN_MIN_MS * 1e6)
    """Loads and stores shorter than this get no span of their own (``_spans.IoScope``)."""

    def run(
        self, trace_context: Mapping[str, str] | None, step: Any, call: Callable[[], Any]
    ) -> Any:
        """Return ``call()``, observed as the Ray step ``step`` (a ``TaskSpec``)."""
        spans: list[_spans.Wire] = []
        spans_token = _collected.set(spans)
        who = Attribution(step.run_id, step.asset, step.node.encoded, step.attempt)
        key = f"{step.run_id}@ray:{os.getpid()}"
        _logs_ready(self.log_level)
        CAPTURE.open(key, self.log_lines)
        who_token = _attributed(who, key)
        scope = self._step_scope(trace_context, step)
        try:
            with scope:
                result = call()
        except BaseException as error:
            _attach(error, self._payload(spans, key))
            raise
        finally:
            _release(who_token)
            _collected.reset(spans_token)
        result[REMOTE_KEY] = self._payload(spans, key)
        return result

    def io(self, operation: str, asset: str, partition_key: str | None) -> Any:
        """One load or store in the worker, timed on the step's span (and a span of its own
        when slow); nothing when tracing is off or the step has no span."""
        if not self.traces:
            return NO_SCOPE
        parent = _spans.IO_PARENT.get()
        if parent is None:
            return NO_SCOPE
        return _spans.IoScope(
            parent, _tracer(), operation, asset, partition_key, None, self.io_min_ns
        )

    def _step_scope(self, trace_context: Mapping[str, str] | None, step: Any) -> Any:
        if not self.traces or not trace_context:
            return NO_SCOPE
        try:
            parent: Context = _propagator(self.propagators).extract(dict(trace_context))
            attributes: dict[str, Any] = {
                "flowstone.asset": step.asset,
                "flowstone.run_id": step.run_id,
                "flowstone.attempt": step.attempt,
                "flowstone.executor": "ray",
                "ray.task.name": step.task_name,
                "host.name": _HOST,
                "process.pid": os.getpid(),
            }
            if step.node.encoded is not None:
                attributes["flowstone.partition"] = step.node.encoded
            attributes.update(_ray_ids())
            return _spans.SpanScope(_tracer(), _spans.RAY_STEP, attributes, parent, io_parent=True)
        except Exception:
            _spans.failed("continue the trace in a Ray worker")
            return NO_SCOPE

    def _payload(self, spans: list[_spans.Wire], key: str) -> dict[str, Any]:
        return {"spans": list(spans), "logs": CAPTURE.close(key)}


_HOST = socket.gethostname()


def _attach(error: BaseException, payload: dict[str, Any]) -> None:
    try:
        error.__dict__[REMOTE_KEY] = payload  # travels with the pickled exception
    except Exception:  # an exception type without a __dict__: its spans are lost
        pass


def _attributed(who: Attribution, key: str) -> contextvars.Token[Attribution | None]:
    from flowstone.telemetry._run_logs import CURRENT

    return CURRENT.set(Attribution(who.run_id, who.asset, who.partition, who.attempt, key=key))


def _release(token: contextvars.Token[Attribution | None]) -> None:
    from flowstone.telemetry._run_logs import CURRENT

    CURRENT.reset(token)


def _ray_ids() -> dict[str, str]:
    try:
        import ray

        context = ray.get_runtime_context()
        return {"ray.task.id": str(context.get_task_id()), "ray.node.id": context.get_node_id()}
    except Exception:
        return {}


class _Collector(SpanProcessor):
    """Keeps the ended spans of the step in progress, as plain data."""

    def on_end(self, span: ReadableSpan) -> None:
        found = _collected.get()
        if found is not None:
            found.append(_spans.to_wire(span))


_state: dict[Any, Any] = {}


def _tracer() -> trace.Tracer:
    tracer: trace.Tracer | None = _state.get("tracer")
    if tracer is None:
        # The driver's sampler decided; this provider follows the parent's decision.
        provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), shutdown_on_exit=False)
        provider.add_span_processor(_Collector())
        tracer = _state["tracer"] = provider.get_tracer("flowstone")
    return tracer


def _propagator(names: str) -> Any:
    found = _state.get(("propagator", names))
    if found is None:
        found = _state[("propagator", names)] = propagator_from({"OTEL_PROPAGATORS": names})
    return found


def _logs_ready(level: int) -> None:
    if not _state.get("logs"):
        CAPTURE.acquire(level)  # for the life of the worker process
        _state["logs"] = True
