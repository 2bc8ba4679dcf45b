"""``ProcessSpanExporter``: OTLP encoding and sending in a child process, off this GIL.

Internal, not part of the public API. A ``SpanExporter`` (the SDK's public interface) for
the ``BatchSpanProcessor``: each batch is turned into plain tuples (``encode_batch``, a few
microseconds a span) and written, pickled, to the stdin of a child process
(``_export_child``), which rebuilds ``ReadableSpan`` objects with their public constructor
and hands them to the SDK's own OTLP exporter. The protobuf encoding (~75 µs a span on a
slow core) and the HTTP round trips then run on another core, without holding this
process's GIL away from the event loop. See docs/observability.md and ADR 0026.

Never harmful: a child that is dead, stuck or slow costs dropped spans, counted in
``dropped``, never an exception or a wait longer than ``write_timeout`` for the exporter's
thread (which is the SDK's, never the loop's). A dead child is started again at most once
per ``RESTART_SECONDS``. The child exits when its stdin ends, so it goes with this process
however this process ends (``kill -9`` too), and it also watches its parent process id.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from flowstone.telemetry._export_child import HEADER

log = logging.getLogger("flowstone.telemetry")

CHILD = Path(__file__).with_name("_export_child.py")
QUEUE_SIZE = 8192
"""Spans the child holds at most before it drops a batch (its exporter is slower)."""
BATCH_SIZE = 512
"""Spans per OTLP request the child sends (the SDK's default batch size)."""
WRITE_TIMEOUT = 1.0
"""Seconds a batch may wait for the pipe to the child before it is dropped."""
RESTART_SECONDS = 10.0
"""A child that died is started again at most this often."""

Wire = tuple[Any, ...]
_KINDS = {kind: kind.value for kind in SpanKind}


def encode_batch(spans: Sequence[ReadableSpan]) -> tuple[Any, ...]:
    """``spans`` as one picklable message of plain values (resources and scopes once)."""
    resources: dict[int, int] = {}
    resource_wires: list[tuple[dict[str, Any], str]] = []
    scopes: dict[int, int] = {}
    scope_wires: list[tuple[str, str | None, str | None, dict[str, Any] | None]] = []
    wires: list[Wire] = []
    for span in spans:
        resource = span.resource
        r = resources.get(id(resource))
        if r is None:
            r = resources[id(resource)] = len(resource_wires)
            resource_wires.append((dict(resource.attributes), resource.schema_url))
        scope = span.instrumentation_scope
        s = scopes.get(id(scope))
        if s is None:
            s = scopes[id(scope)] = len(scope_wires)
            if scope is None:
                scope_wires.append(("", None, None, None))
            else:
                extra = scope.attributes
                scope_wires.append(
                    (scope.name, scope.version, scope.schema_url, dict(extra) if extra else None)
                )
        context = span.context
        assert context is not None  # an ended SDK span always has one
        parent = span.parent
        events = span.events
        links = span.links
        status = span.status
        state = context.trace_state
        wires.append(
            (
                span.name,
                context.trace_id,
                context.span_id,
                context.trace_flags,
                state.to_header() if state else "",
                (parent.span_id, parent.is_remote, parent.trace_flags)
                if parent is not None
                else None,
                _KINDS[span.kind],
                span.start_time,
                span.end_time,
                _plain(span.attributes),
                [(e.name, e.timestamp, _plain(e.attributes)) for e in events] if events else None,
                [_link(link) for link in links] if links else None,
                status.status_code.value,
                status.description,
                r,
                s,
            )
        )
    return ("spans", resource_wires, scope_wires, wires)


def _link(link: Any) -> tuple[Any, ...]:
    context = link.context
    state = context.trace_state
    return (
        context.trace_id,
        context.span_id,
        context.is_remote,
        context.trace_flags,
        state.to_header() if state else "",
        _plain(link.attributes),
    )


def _plain(attributes: Any) -> dict[str, Any]:
    """``attributes`` as a dict: the SDK's ``BoundedAttributes`` (behind its read-only
    view) copies itself at C speed with ``copy()``, many times faster than ``dict()``,
    which goes through its locked iterator."""
    if not attributes:
        return {}
    copy = getattr(attributes, "copy", None)
    if copy is not None:
        found = copy()
        if type(found) is dict:
            return found
    return dict(attributes)


class ProcessSpanExporter(SpanExporter):
    """Hand spans to an OTLP exporter in a child process (see the module doc).

    Args:
        protocol: ``http/protobuf`` or ``grpc``.
        endpoint: the traces endpoint (None: the exporter reads ``OTEL_*``).
        environ: variables set in the child's environment over this process's (the
            ``OTEL_*`` mapping the telemetry was configured from).
        queue_size: spans the child holds at most (its exporter is slower: it drops).
        batch_size: spans per request the child sends.
        write_timeout: seconds a batch may wait for the pipe before it is dropped.
        clock: monotonic seconds for the restart interval (injectable for tests; the
            write and flush deadlines are ``time.monotonic``'s).
    """

    def __init__(
        self,
        protocol: str = "http/protobuf",
        endpoint: str | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        write_timeout: float = WRITE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.protocol, self.endpoint = protocol, endpoint
        self.environ = dict(environ or {})
        self.queue_size, self.batch_size = queue_size, batch_size
        self.write_timeout = write_timeout
        self._clock = clock
        self.dropped = 0
        """Spans dropped on this side: the child was dead, stuck or not reading."""
        self.exported = 0
        """Spans handed to the child."""
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._started_at = float("-inf")
        self._leftover: memoryview | None = None
        self._tokens = 0
        self._closed = False
        self._owner = os.getpid()
        self._start()

    # -- SpanExporter ----------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._after_fork()
        try:
            message = encode_batch(spans)
            body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            self._drop(len(spans), "turn spans into plain data")
            return SpanExportResult.FAILURE
        with self._lock:
            if self._closed or not self._send(body):
                self.dropped += len(spans)
                return SpanExportResult.FAILURE
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        self._after_fork()
        with self._lock:
            child = self._child
            if self._closed or child is None or child.stdout is None:
                return False
            self._tokens += 1
            token = self._tokens
            if not self._send(pickle.dumps(("flush", token)), deadline):
                return False
            return _await_token(child.stdout.fileno(), token, deadline)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the child to send what it holds and exit; kill it after ``timeout`` s."""
        self._after_fork()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            child = self._child
            if child is None:
                return
            deadline = time.monotonic() + timeout
            self._send(pickle.dumps(("close", max(timeout - 0.5, 0.1))), deadline)
            _close(child)
            try:
                child.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if self.dropped:
                log.warning(
                    "%d span(s) were dropped: the span export process could not take them",
                    self.dropped,
                )

    # -- the child -------------------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a process forked from the owner (the SDK restarts its batch thread there), let
        go of the owner's export process, never write to its pipe (messages of two writers
        would interleave), and start one of this process's own on the next export."""
        if self._owner == os.getpid():
            return
        self._owner = os.getpid()
        self._lock = threading.Lock()  # the owner's may have been held at the fork
        child, self._child, self._leftover = self._child, None, None
        self._started_at = float("-inf")
        if child is not None:
            _close(child)  # this process's copies of the pipes only

    @property
    def pid(self) -> int | None:
        """The export process's id (None while there is none)."""
        child = self._child
        return child.pid if child is not None else None

    def _start(self) -> bool:
        """Start the child (under ``_lock``, or before anyone else sees this object)."""
        self._started_at = self._clock()
        environ = {**os.environ, **self.environ}
        try:
            self._child = subprocess.Popen(
                [
                    sys.executable,
                    "-P",  # not the script's directory on sys.path: FlowStone's modules
                    str(CHILD),
                    self.protocol,
                    self.endpoint or "",
                    str(self.queue_size),
                    str(self.batch_size),
                    str(os.getpid()),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environ,
                start_new_session=True,  # a Ctrl-C to the terminal is the parent's to handle
            )
        except Exception:
            self._child = None
            log.warning("could not start the span export process", exc_info=True)
            return False
        assert self._child.stdin is not None
        os.set_blocking(self._child.stdin.fileno(), False)
        return True

    def _send(self, body: bytes, deadline: float | None = None) -> bool:
        """Write one message to the child within the deadline (under ``_lock``).

        A message is never torn: when only part of it fits before the deadline, the rest
        is kept and written first next time (the message counts as sent); while that rest
        cannot be written, new messages are refused (their spans dropped)."""
        child = self._running()
        if child is None:
            return False
        assert child.stdin is not None
        if deadline is None:
            deadline = time.monotonic() + self.write_timeout
        fd = child.stdin.fileno()
        try:
            if self._leftover is not None:
                self._leftover = _write(fd, self._leftover, deadline)
                if self._leftover is not None:
                    return False
            data = memoryview(HEADER.pack(len(body)) + body)
            rest = _write(fd, data, deadline)
        except OSError:  # BrokenPipeError: the child is gone
            self._lost(child)
            return False
        if rest is not None and len(rest) == len(data):
            return False  # nothing of it written: the pipe is full, the child not reading
        self._leftover = rest
        return True

    def _running(self) -> subprocess.Popen[bytes] | None:
        """The child, started again if it died and the restart interval has passed."""
        child = self._child
        if child is not None and child.poll() is None:
            return child
        if child is not None:
            self._lost(child)
        if self._clock() - self._started_at < RESTART_SECONDS or not self._start():
            return None
        return self._child

    def _lost(self, child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            child.kill()
        child.wait()
        _close(child)
        self._child = None
        self._leftover = None
        log.warning(
            "the span export process exited (%s); spans are dropped until it is started "
            "again (at most every %d s)",
            child.returncode,
            RESTART_SECONDS,
        )

    def _drop(self, count: int, what: str) -> None:
        self.dropped += count
        log.debug("could not %s", what, exc_info=True)


def _write(fd: int, data: memoryview, deadline: float) -> memoryview | None:
    """Write ``data`` to the non-blocking ``fd`` until the deadline; what is left, or None."""
    while data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            return data
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            continue
    return None


def _await_token(fd: int, token: int, deadline: float) -> bool:
    buffer = b""
    while time.monotonic() < deadline:
        ready = select.select([fd], [], [], max(deadline - time.monotonic(), 0))[0]
        if not ready:
            return False
        chunk = os.read(fd, 4096)
        if not chunk:
            return False
        buffer += chunk
        while len(buffer) >= HEADER.size:
            (got,) = HEADER.unpack(buffer[: HEADER.size])
            buffer = buffer[HEADER.size :]
            if got == token:
                return True
    return False


def _close(child: subprocess.Popen[bytes]) -> None:
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
