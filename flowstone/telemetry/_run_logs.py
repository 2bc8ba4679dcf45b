"""Run-log capture: the log lines asset code writes, attributed to their run and attempt.

Internal, not part of the public API. While an attempt runs, a context variable names it
(run id, asset, partition, attempt); context variables follow the attempt into the thread
pool that runs plain functions, so every Python ``logging`` record made on its behalf can be
attributed, whichever logger made it. Two process-wide pieces, installed while at least one
capture is in use and removed after the last:

- a log-record factory that stamps attributed records with ``flowstone_run_id``,
  ``flowstone_asset``, ``flowstone_partition``, ``flowstone_attempt`` and the current span's
  ``otelTraceID`` / ``otelSpanID`` (the names OpenTelemetry's logging instrumentation uses),
  so the user's own handlers and formatters can show them;
- a handler on the root logger that keeps attributed lines in a bounded buffer per run: the
  oldest lines are dropped first, and a marker line says how many.

A logger's own level still applies: ``context.log`` (``flowstone.asset.<name>``) is set to
INFO when nobody set its level, other loggers keep theirs (docs/observability.md).
"""

from __future__ import annotations

import contextvars
import dataclasses
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from flowstone.storage import RunLogLine

LINES_PER_RUN = 10_000
"""Default bound on the lines kept per run (the oldest are dropped first)."""
MESSAGE_CHARS = 16_000
"""A longer message (a huge traceback) is cut to its last this many characters."""
ASSET_LOGGER = "flowstone.asset"


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which run and attempt the code running now works for."""

    run_id: str
    asset: str
    partition: str | None
    attempt: int
    tenant: str | None = None
    key: str | None = None
    """The buffer its lines go to, when not the run's own (a Ray worker's step)."""


CURRENT: contextvars.ContextVar[Attribution | None] = contextvars.ContextVar(
    "flowstone_attribution", default=None
)


class RunBuffer:
    """The kept lines of one run: at most ``limit``, the oldest dropped first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: deque[RunLogLine] = deque(maxlen=limit)
        self.dropped = 0
        self._lock = threading.Lock()

    def add(self, line: RunLogLine) -> None:
        with self._lock:
            if len(self.lines) == self.limit:
                self.dropped += 1
            self.lines.append(line)

    def take(self) -> list[RunLogLine]:
        """The kept lines, after a marker line when some were dropped; empties the buffer."""
        with self._lock:
            lines, dropped = list(self.lines), self.dropped
            self.lines.clear()
            self.dropped = 0
        if dropped and lines:
            first = lines[0]
            marker = RunLogLine(
                first.run_id,
                first.seq - 1,
                first.at,
                "WARNING",
                "flowstone.logs",
                f"[{dropped} earlier log line(s) of this run were dropped: at most "
                f"{self.limit} lines are kept per run]",
                tenant=first.tenant,
            )
            lines.insert(0, marker)
        return lines


class LogCapture:
    """Process-wide: attributes log records and keeps each open run's lines."""

    def __init__(self) -> None:
        self._buffers: dict[str, RunBuffer] = {}
        self._users = 0
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._handler = _CaptureHandler(self)
        self._previous_factory: Callable[..., logging.LogRecord] | None = None

    # -- install ----------------------------------------------------------------------------

    def acquire(self, level: int = logging.INFO) -> None:
        """Install the record factory and the handler (reference-counted)."""
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            self._previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_stamping(self._previous_factory))
            self._handler.setLevel(level)
            logging.getLogger().addHandler(self._handler)
            asset_logger = logging.getLogger(ASSET_LOGGER)
            if asset_logger.level == logging.NOTSET:
                asset_logger.setLevel(logging.INFO)

    def release(self) -> None:
        """Undo ``acquire`` once the last user is gone."""
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            logging.getLogger().removeHandler(self._handler)
            previous = self._previous_factory
            if previous is not None and getattr(logging.getLogRecordFactory(), "_fs", False):
                logging.setLogRecordFactory(previous)
            self._previous_factory = None

    # -- runs -------------------------------------------------------------------------------

    def open(self, run_id: str, limit: int = LINES_PER_RUN) -> None:
        """Start keeping the lines of ``run_id``."""
        self._buffers.setdefault(run_id, RunBuffer(limit))

    def close(self, run_id: str) -> list[RunLogLine]:
        """Stop keeping the lines of ``run_id``; return them."""
        buffer = self._buffers.pop(run_id, None)
        return buffer.take() if buffer is not None else []

    def add(self, line: RunLogLine, key: str | None = None) -> None:
        """Keep ``line`` if its buffer (by default its run's) is open."""
        buffer = self._buffers.get(key or line.run_id)
        if buffer is not None:
            buffer.add(line)

    def adopt(self, line: RunLogLine) -> None:
        """Keep a line made in another process (a Ray worker), numbered in this one's order."""
        self.add(dataclasses.replace(line, seq=next(self._seq)))

    def line_of(self, record: logging.LogRecord, who: Attribution) -> RunLogLine:
        """The stored form of ``record``."""
        message = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
        if len(message) > MESSAGE_CHARS:
            message = "…" + message[-MESSAGE_CHARS:]
        return RunLogLine(
            run_id=who.run_id,
            seq=next(self._seq),
            at=datetime.fromtimestamp(record.created, UTC),
            level=record.levelname,
            logger=record.name,
            message=message,
            asset=who.asset,
            partition=who.partition,
            attempt=who.attempt,
            trace_id=getattr(record, "otelTraceID", None),
            span_id=getattr(record, "otelSpanID", None),
            tenant=who.tenant,
        )


class _CaptureHandler(logging.Handler):
    def __init__(self, capture: LogCapture) -> None:
        super().__init__()
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        try:
            who = CURRENT.get()
            if who is not None:
                self.capture.add(self.capture.line_of(record, who), who.key)
        except Exception:  # a log line must never break the code that logs it
            pass

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def _stamping(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        who = CURRENT.get()
        if who is not None:
            try:
                _stamp(record, who)
            except Exception:  # never let attribution break logging
                pass
        return record

    factory._fs = True  # type: ignore[attr-defined]
    return factory


def _stamp(record: logging.LogRecord, who: Attribution) -> None:
    record.flowstone_run_id = who.run_id
    record.flowstone_asset = who.asset
    record.flowstone_partition = who.partition
    record.flowstone_attempt = who.attempt
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        record.otelTraceID = format(context.trace_id, "032x")
        record.otelSpanID = format(context.span_id, "016x")


CAPTURE = LogCapture()
"""The process's capture (log records are process-wide, so is their capture)."""
