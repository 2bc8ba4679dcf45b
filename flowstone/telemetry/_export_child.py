"""The span export process: rebuilds spans sent by ``_export_process`` and exports them.

Internal, not part of the public API. Run as a script by ``ProcessSpanExporter`` (never
imported by FlowStone's own modules, and it imports nothing of FlowStone's: the process
starts in a fraction of a second). It reads length-prefixed pickled messages on stdin:

- ``("spans", resources, scopes, wires)``: spans as plain data (``encode_batch``), queued
  for export; past ``queue_size`` queued spans, a batch is dropped and counted;
- ``("flush", token)``: export what is queued, then write ``token`` back on stdout;
- ``("close", seconds)``: export what is queued within ``seconds``, shut down, exit.

End of file on stdin (the parent closed it, exited or was killed), or a new parent process
id (the parent died while another process held the pipe open), is a close of
``CLOSE_SECONDS``. The exporter is the SDK's own OTLP exporter, configured by the standard
``OTEL_*`` variables of this process's environment (the parent's, with the mapping its
telemetry was configured from on top). Only public SDK APIs are used: ``ReadableSpan``'s
constructor, ``SpanContext``, ``Link``, ``Event``, ``Status``, ``Resource``,
``InstrumentationScope``.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct
import sys
import threading
import time
from typing import Any

HEADER = struct.Struct("<I")
CLOSE_SECONDS = 5.0
PARENT_POLL_SECONDS = 1.0


def rebuild(message: tuple[Any, ...]) -> list[Any]:
    """The ``ReadableSpan`` objects of a ``("spans", ...)`` message."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import (
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
        TraceState,
    )

    _, resource_wires, scope_wires, wires = message
    resources = [Resource(attributes, schema_url) for attributes, schema_url in resource_wires]
    scopes = [
        InstrumentationScope(name, version, schema_url, attributes)
        for name, version, schema_url, attributes in scope_wires
    ]
    spans = []
    for wire in wires:
        (
            name,
            trace_id,
            span_id,
            flags,
            state,
            parent,
            kind,
            start,
            end,
            attributes,
            events,
            links,
            code,
            description,
            resource,
            scope,
        ) = wire
        trace_state = TraceState.from_header([state]) if state else None
        context = SpanContext(trace_id, span_id, False, TraceFlags(flags), trace_state)
        parent_context = None
        if parent is not None:
            parent_id, remote, parent_flags = parent
            parent_context = SpanContext(
                trace_id, parent_id, remote, TraceFlags(parent_flags), trace_state
            )
        spans.append(
            ReadableSpan(
                name,
                context=context,
                parent=parent_context,
                resource=resources[resource],
                attributes=attributes,
                events=[Event(n, a, t) for n, t, a in events] if events else (),
                links=[_link(*link) for link in links] if links else (),
                kind=SpanKind(kind),
                status=Status(StatusCode(code), description),
                start_time=start,
                end_time=end,
                instrumentation_scope=scopes[scope],
            )
        )
    return spans


def _link(
    trace_id: int, span_id: int, remote: bool, flags: int, state: str, attributes: Any
) -> Any:
    from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState

    trace_state = TraceState.from_header([state]) if state else None
    return Link(SpanContext(trace_id, span_id, remote, TraceFlags(flags), trace_state), attributes)


def make_exporter(protocol: str, endpoint: str | None) -> Any:
    """The SDK's OTLP span exporter for ``protocol`` (the rest from ``OTEL_*``)."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


class Child:
    """The reader (stdin, a thread) and the exporter loop (the main thread)."""

    def __init__(self, exporter: Any, queue_size: int, batch_size: int) -> None:
        self.exporter = exporter
        self.queue_size, self.batch_size = queue_size, batch_size
        self.pending: collections.deque[Any] = collections.deque()
        self.queued = 0
        self.dropped = 0
        self.condition = threading.Condition()
        self.close_by: float | None = None
        self.flushes: list[int] = []

    def read(self, stream: Any) -> None:
        """Take messages from ``stream`` until it ends; queue spans, note flushes and close."""
        try:
            while True:
                head = stream.read(HEADER.size)
                if len(head) < HEADER.size:
                    break
                (size,) = HEADER.unpack(head)
                body = stream.read(size)
                if len(body) < size:
                    break
                message = pickle.loads(body)
                kind = message[0]
                with self.condition:
                    if kind == "spans":
                        count = len(message[3])
                        if self.queued + count > self.queue_size:
                            self.dropped += count
                            continue
                        self.pending.append(message)
                        self.queued += count
                    elif kind == "flush":
                        self.flushes.append(message[1])
                    elif kind == "close":
                        self.close_by = time.monotonic() + float(message[1])
                        self.condition.notify()
                        return
                    self.condition.notify()
        except Exception:  # a torn message: the parent is gone or broken
            pass
        self.closing(CLOSE_SECONDS)

    def closing(self, seconds: float) -> None:
        with self.condition:
            if self.close_by is None:
                self.close_by = time.monotonic() + seconds
            self.condition.notify()

    def watch_parent(self, parent: int) -> None:
        """Close when the parent process is gone (this process was adopted by another)."""
        while self.close_by is None:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                self.closing(CLOSE_SECONDS)
                return

    def loop(self, out: Any) -> None:
        while True:
            with self.condition:
                while not self.pending and not self.flushes and self.close_by is None:
                    self.condition.wait()
                if self.close_by is not None and time.monotonic() > self.close_by:
                    break
                batch = self._take()
                flushes = [] if self.pending else self.flushes[:]
                if flushes:
                    self.flushes.clear()
                closing = self.close_by is not None and not self.pending and not batch
            if batch:
                try:
                    result = self.exporter.export(batch)
                except Exception as exc:  # the exporter's own failure: those spans are lost
                    result = None
                    report(f"the exporter raised: {exc!r}")
                if getattr(result, "name", None) != "SUCCESS":
                    self.dropped += len(batch)
            for token in flushes:
                out.write(HEADER.pack(token))
                out.flush()
            if closing:
                break

    def _take(self) -> list[Any]:
        batch: list[Any] = []
        while self.pending and len(batch) < self.batch_size:
            message = self.pending.popleft()
            self.queued -= len(message[3])
            try:
                batch.extend(rebuild(message))
            except Exception as exc:  # not what the parent should send: those are lost
                self.dropped += len(message[3])
                report(f"could not rebuild {len(message[3])} span(s): {exc!r}")
        return batch


_reported: set[str] = set()


def report(text: str) -> None:
    """One line on stderr (the parent's), once per kind of trouble."""
    kind = text.split(":")[0]
    if kind not in _reported:
        _reported.add(kind)
        print(f"flowstone span export process: {text}", file=sys.stderr, flush=True)


def main() -> None:
    protocol, endpoint, queue_size, batch_size, parent = sys.argv[1:6]
    exporter = make_exporter(protocol, endpoint or None)
    child = Child(exporter, int(queue_size), int(batch_size))
    reader = threading.Thread(target=child.read, args=(sys.stdin.buffer,), daemon=True)
    reader.start()
    threading.Thread(target=child.watch_parent, args=(int(parent),), daemon=True).start()
    try:
        child.loop(sys.stdout.buffer)
    finally:
        try:
            exporter.shutdown()
        finally:
            if child.dropped:
                print(
                    f"flowstone span export process: {child.dropped} span(s) dropped",
                    file=sys.stderr,
                )
            os._exit(0)  # the reader may be blocked on stdin: do not wait for it


if __name__ == "__main__":
    main()
