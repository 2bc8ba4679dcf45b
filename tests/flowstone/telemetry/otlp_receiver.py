"""A local OTLP/HTTP receiver for tests: decodes what exporters send with opentelemetry-proto.

Not a collector: it accepts ``POST /v1/traces`` and ``POST /v1/metrics`` (or any path, for
custom endpoints), decodes the protobuf bodies and keeps them. ``status`` makes it refuse
(e.g. 503) and ``delay`` makes it slow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Receiver:
    """What the receiver got, by path."""

    url: str
    status: int = 200
    delay: float = 0.0
    posts: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.posts]

    def traces(self) -> list[ExportTraceServiceRequest]:
        """Decoded trace requests (any path that is not a metrics path)."""
        return [_decode(ExportTraceServiceRequest, body) for p, body in self._bodies("traces")]

    def metrics(self) -> list[ExportMetricsServiceRequest]:
        """Decoded metrics requests."""
        return [_decode(ExportMetricsServiceRequest, body) for p, body in self._bodies("metrics")]

    def spans(self) -> list[Any]:
        """Every span received, flattened."""
        return [
            span
            for request in self.traces()
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def metric_names(self) -> set[str]:
        return {
            metric.name
            for request in self.metrics()
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }

    def _bodies(self, kind: str) -> list[tuple[str, bytes]]:
        with self.lock:
            posts = list(self.posts)
        return [(p, b) for p, b in posts if ("metrics" in p) == (kind == "metrics")]


def _decode(kind: Any, body: bytes) -> Any:
    message = kind()
    message.ParseFromString(body)
    return message


def attributes(item: Any) -> dict[str, Any]:
    """A protobuf span's or resource's attributes as a plain dict (scalars and arrays)."""
    found: dict[str, Any] = {}
    for kv in item.attributes:
        value = kv.value
        which = value.WhichOneof("value")
        if which == "array_value":
            found[kv.key] = [getattr(v, v.WhichOneof("value")) for v in value.array_value.values]
        else:
            found[kv.key] = getattr(value, which)
    return found


@contextmanager
def receiver(status: int = 200, delay: float = 0.0) -> Iterator[Receiver]:
    """Run a receiver on a free local port for the ``with`` block."""
    state = Receiver("", status, delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.posts.append((self.path, body))
            if state.delay:
                time.sleep(state.delay)
            reply = (
                ExportMetricsServiceResponse()
                if "metrics" in self.path
                else ExportTraceServiceResponse()
            ).SerializeToString()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
