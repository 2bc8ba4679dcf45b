"""The lineage actor: the single writer of run and materialization records.

Group commit: records arrive as calls; the actor gathers every record that arrived while
the previous transaction was being written and commits them together in one transaction.
A caller's ``call`` returns only once its record is durable, so a materialization is
reported succeeded only after its record survives a crash.

Commit delay: when many materializations are in flight (a backfill), their records arrive
one by one, each as its step ends, and would each get a transaction of its own. Like
PostgreSQL's ``commit_delay``/``commit_siblings``, the writer then waits up to
``commit_delay`` for the others before committing, and commits at once when every
materialization in flight is already waiting for it. A lone chain of steps never waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import actors
from flowstone.storage import MaterializationRecord, RunRecord, Storage, WriteBatch

log = logging.getLogger("flowstone.lineage")


@dataclass(frozen=True, slots=True)
class Record:
    """Write ``record`` (a call replies once it is durable; a cast does not wait)."""

    record: MaterializationRecord | RunRecord


@dataclass(frozen=True, slots=True)
class Flush:
    """Reply once everything received before this message is durable."""


@dataclass(frozen=True, slots=True)
class GetStatistics:
    """Reply with a ``LineageStatistics`` snapshot."""


@dataclass(frozen=True, slots=True)
class _Commit:
    """Sent by the writer to itself: commit what is buffered now."""


_COMMIT = _Commit()

COMMIT_DELAY = 0.003
"""Seconds the writer may wait for more records before committing (see the module doc).

Long enough to gather the records of steps that end within a commit or two of each other;
short, because a step's partition waits for it: on Ray, 10 ms left so many partitions waiting
for their records that Ray's queue ran dry between steps (ADR 0011)."""

COMMIT_SIBLINGS = 4
"""The writer waits only when at least this many materializations are in flight."""


@dataclass(frozen=True, slots=True)
class LineageStatistics:
    """Counters of the lineage actor."""

    records: int
    transactions: int
    largest_batch: int
    pending: int


class LineageWriter(actors.Actor):
    """Writes records through ``Storage.write`` in groups; replies when durable."""

    async def init(
        self,
        storage: Storage,
        in_flight: Callable[[], int] | None = None,
        commit_delay: float = COMMIT_DELAY,
        timer: actors.Clock | None = None,
    ) -> None:
        """Args: ``storage`` to write to; ``in_flight`` counts the materializations in
        flight (None: never wait); ``commit_delay`` in seconds; ``timer`` schedules the
        delayed commit (default: the loop's real time, see ``_queue_flush``)."""
        self.storage = storage
        self._in_flight = in_flight
        self._commit_delay = commit_delay
        self._timer_clock = timer
        self._timer: asyncio.TimerHandle | actors.TimerHandle | None = None
        self._runs: list[RunRecord] = []
        self._mats: list[MaterializationRecord] = []
        self._waiting: list[actors.Caller] = []
        self._flush_queued = False
        self._records = 0
        self._transactions = 0
        self._largest = 0

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        match message:
            case GetStatistics():
                return LineageStatistics(
                    self._records, self._transactions, self._largest, len(self._waiting)
                )
            case Flush():
                self._queue_flush()
                self._waiting.append(caller)
                return actors.NO_REPLY
            case Record(record):
                self._buffer(record)
                self._waiting.append(caller)
                self._queue_flush()
                return actors.NO_REPLY
        raise TypeError(f"lineage writer: unexpected call {message!r}")

    async def handle_cast(self, message: Any) -> None:
        if not isinstance(message, Record):
            raise TypeError(f"lineage writer: unexpected cast {message!r}")
        self._buffer(message.record)
        self._queue_flush()

    def _buffer(self, record: MaterializationRecord | RunRecord) -> None:
        if isinstance(record, RunRecord):
            self._runs.append(record)
        else:
            self._mats.append(record)

    async def handle_info(self, message: Any) -> None:
        if message is _COMMIT:
            self._flush_queued = False
            self._cancel_timer()
            await self._flush()

    def _queue_flush(self) -> None:
        if self._timer is not None and len(self._waiting) >= self._expected():
            # Waiting for more records, and everyone in flight has sent theirs.
            self._cancel_timer()
            self.ref.send(_COMMIT)
            return
        if self._flush_queued:
            return
        self._flush_queued = True
        if self._commit_delay > 0 and len(self._waiting) < self._expected():
            # By default real time, not the runtime's clock: this only groups writes, and a
            # test's frozen clock must not hold a runtime's records back. The writer's own
            # tests pass a mock clock as ``timer``.
            if self._timer_clock is not None:
                self._timer = self._timer_clock.call_later(self._commit_delay, self._send_flush)
            else:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self._commit_delay, self._send_flush)
        else:
            # The flush message goes to the back of the mailbox, so every record already
            # queued behind this one joins the same transaction.
            self.ref.send(_COMMIT)

    def _expected(self) -> int:
        """How many callers a delayed commit would wait for: the materializations in flight,
        or 0 (commit now) when fewer than ``COMMIT_SIBLINGS`` are."""
        if self._in_flight is None:
            return 0
        count = self._in_flight()
        return count if count >= COMMIT_SIBLINGS else 0

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send_flush(self) -> None:
        self._timer = None
        if self.ref.alive:
            self.ref.send(_COMMIT)

    async def _flush(self) -> None:
        if not (self._runs or self._mats or self._waiting):
            return
        runs, mats, waiting = self._runs, self._mats, self._waiting
        self._runs, self._mats, self._waiting = [], [], []
        if runs or mats:
            # Storage.write retries transient failures itself; if it finally raises, this
            # actor crashes, its callers get NoProc and retry against the restarted writer
            # (writes are idempotent, so nothing is duplicated).
            await self.storage.write(WriteBatch(runs=tuple(runs), materializations=tuple(mats)))
            self._transactions += 1
            size = len(runs) + len(mats)
            self._records += size
            self._largest = max(self._largest, size)
        for caller in waiting:
            caller.reply(True)

    async def terminate(self, reason: Any) -> None:
        self._cancel_timer()
        # An orderly stop writes what is buffered; a crash leaves it to the callers' retry.
        if actors.is_clean(reason) and (self._runs or self._mats):
            try:
                await self._flush()
            except Exception:
                log.exception("lineage writer could not flush on %r", reason)
