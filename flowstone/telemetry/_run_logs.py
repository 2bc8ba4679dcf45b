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

The runtime stores a run's lines while it goes on, in batches (``RunBuffer.batch``; the
runtime's ``LogFlusher``, ``_log_flush``), so another process reads them before the run
ends and a process killed mid-run loses only the lines of its last interval.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from flowstone.errors import ConfigurationError
from flowstone.storage import RunLogLine

LINES_PER_RUN = 10_000
"""Default bound on the lines kept per run (the oldest are dropped first)."""
FLUSH_LINES = 1_000
"""Default: a run's waiting lines are stored once this many wait..."""
FLUSH_SECONDS = 1.0
"""...or this many seconds after the previous flush, whichever comes first."""
FLUSH_LINES_VARIABLE = "FLOWSTONE_LOG_FLUSH_LINES"
FLUSH_SECONDS_VARIABLE = "FLOWSTONE_LOG_FLUSH_SECONDS"
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


@dataclass(frozen=True, slots=True)
class Batch:
    """What one flush of a run's buffer stores: new lines (after a marker line when lines
    were dropped), and the stored lines to delete first (fallen out of the bound, or the
    previous marker)."""

    lines: list[RunLogLine]
    drop: list[RunLogLine]


class RunBuffer:
    """The kept lines of one run: at most ``limit``, the oldest dropped first.

    Lines may be stored while the run goes on (``batch``): the buffer remembers which of
    its lines are stored already, so that a stored line pushed out of the bound by newer
    ones is deleted from the store at the next batch, and the store never holds more than
    ``limit`` lines of this run plus one marker line saying how many were dropped.
    ``wake`` is called (from the thread that logs) when ``flush_lines`` lines wait.
    """

    def __init__(
        self,
        limit: int,
        flush_lines: int | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.limit = limit
        self.lines: deque[RunLogLine] = deque()
        self.dropped = 0
        self.stored = 0
        """How many of ``lines`` (the oldest) are stored already."""
        self.flush_lines = flush_lines
        self.wake = wake
        self._unstored_drops: list[RunLogLine] = []
        self._marker: RunLogLine | None = None
        self._marker_dropped = 0
        self._lock = threading.Lock()

    def add(self, line: RunLogLine) -> None:
        with self._lock:
            if len(self.lines) == self.limit:
                oldest = self.lines.popleft()
                self.dropped += 1
                if self.stored:
                    self.stored -= 1
                    self._unstored_drops.append(oldest)
            self.lines.append(line)
            waiting = len(self.lines) - self.stored
        if waiting == self.flush_lines and self.wake is not None:
            self.wake()

    def batch(self) -> Batch:
        """The lines to store now (and the stored ones to delete first); marks them stored.

        The marker line, when lines were dropped, sits just before the oldest kept line
        (its ``seq`` minus one, its time) and counts every line dropped so far; the marker
        stored before (now out of date) is in ``drop``.
        """
        with self._lock:
            new = list(itertools.islice(self.lines, self.stored, None))
            self.stored = len(self.lines)
            drop, self._unstored_drops = self._unstored_drops, []
            dropped = self.dropped
            if dropped == self._marker_dropped or not self.lines:
                return Batch(new, drop)
            if self._marker is not None:
                drop.append(self._marker)
            marker = self._marker = _marker(self.lines[0], dropped, self.limit)
            self._marker_dropped = dropped
        return Batch([marker, *new], drop)

    def take(self) -> list[RunLogLine]:
        """The kept lines, after a marker line when some were dropped; empties the buffer."""
        with self._lock:
            lines, dropped = list(self.lines), self.dropped
            self.lines.clear()
            self.dropped = self.stored = 0
        if dropped and lines:
            lines.insert(0, _marker(lines[0], dropped, self.limit))
        return lines


def _marker(first: RunLogLine, dropped: int, limit: int) -> RunLogLine:
    return RunLogLine(
        first.run_id,
        first.seq - 1,
        first.at,
        "WARNING",
        "flowstone.logs",
        f"[{dropped} earlier log line(s) of this run were dropped: at most "
        f"{limit} lines are kept per run]",
        tenant=first.tenant,
    )


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

    def open(
        self,
        run_id: str,
        limit: int = LINES_PER_RUN,
        flush_lines: int | None = None,
        wake: Callable[[], None] | None = None,
    ) -> RunBuffer:
        """Start keeping the lines of ``run_id`` (``flush_lines`` and ``wake``: see
        ``RunBuffer``); return its buffer."""
        return self._buffers.setdefault(run_id, RunBuffer(limit, flush_lines, wake))

    def buffer(self, run_id: str) -> RunBuffer | None:
        """The open buffer of ``run_id``."""
        return self._buffers.get(run_id)

    def close(self, run_id: str) -> list[RunLogLine]:
        """Stop keeping the lines of ``run_id``; return them."""
        buffer = self._buffers.pop(run_id, None)
        return buffer.take() if buffer is not None else []

    def finish(self, run_id: str) -> Batch | None:
        """Stop keeping the lines of ``run_id``; return what is left to store."""
        buffer = self._buffers.pop(run_id, None)
        return buffer.batch() if buffer is not None else None

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


def flush_settings(
    lines: int | None, seconds: float | None, environ: Mapping[str, str]
) -> tuple[int, float]:
    """How often captured lines are stored: ``lines`` and ``seconds`` as given, else
    ``FLOWSTONE_LOG_FLUSH_LINES`` and ``FLOWSTONE_LOG_FLUSH_SECONDS``, else the defaults.

    Raises:
        ConfigurationError: a count that is not a whole number >= 1, or seconds not > 0.
    """
    count = _setting(lines, environ, FLUSH_LINES_VARIABLE, "log_flush_lines", FLUSH_LINES)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigurationError(
            f"log_flush_lines={count!r} must be a whole number of lines >= 1 (e.g. 1000: "
            f"a run's lines are stored once that many wait)"
        )
    interval = _setting(seconds, environ, FLUSH_SECONDS_VARIABLE, "log_flush_seconds", None)
    if interval is None:
        interval = FLUSH_SECONDS
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 0 < interval < float("inf")
    ):
        raise ConfigurationError(
            f"log_flush_seconds={interval!r} must be a number of seconds > 0 (e.g. 1.0: a "
            f"run's lines are stored at least that often while it runs)"
        )
    return count, float(interval)


def _setting(
    given: object, environ: Mapping[str, str], variable: str, name: str, default: object
) -> Any:
    if given is not None:
        return given
    text = environ.get(variable, "").strip()
    if not text:
        return default
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise ConfigurationError(
        f"{variable}={text!r} (for {name}) must be a number; unset it for the default"
    )


CAPTURE = LogCapture()
"""The process's capture (log records are process-wide, so is their capture)."""
