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

Failures never take the writer down (issue 12): a crash would fail every caller and, repeated,
the whole supervision tree. When the store cannot take writes for now
(``StorageUnavailable``: disk full, server gone) every record of the batch is refused to its
caller; when it refuses the batch itself, the records are written one by one so that one bad
record is refused alone and the others are written. A refused caller's ``record_durably``
raises the ``StorageError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import actors
from flowstone.engine._instrumentation import NO_INSTRUMENTATION, Instrumentation
from flowstone.errors import StorageError, StorageUnavailable
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
class Refused:
    """The writer's reply to a ``Record`` call whose record the store refused."""

    error: StorageError


def raise_refused(reply: object) -> None:
    """Raise the error of a ``Refused`` reply (a fresh one per caller); accept any other."""
    if isinstance(reply, Refused):
        raise type(reply.error)(str(reply.error)) from reply.error.__cause__


async def record_durably(
    writer: actors.ActorRef, record: MaterializationRecord | RunRecord, *, timeout: float
) -> None:
    """Write ``record`` through ``writer``; return once it is durable.

    Raises:
        StorageError: the store refused this record (``StorageUnavailable`` when it could
            not take writes at the time; the same record may be written later).
        actors.NoProc: the writer is not running.
    """
    raise_refused(await writer.call(Record(record), timeout=timeout))


_Entry = tuple[MaterializationRecord | RunRecord, actors.Caller | None]


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
        *,
        instrumentation: Instrumentation = NO_INSTRUMENTATION,
    ) -> None:
        """Args: ``storage`` to write to; ``in_flight`` counts the materializations in
        flight (None: never wait); ``commit_delay`` in seconds; ``timer`` schedules the
        delayed commit (default: the loop's real time, see ``_queue_flush``);
        ``instrumentation`` observes each commit (telemetry)."""
        self.storage = storage
        self._instrumentation = instrumentation
        self._in_flight = in_flight
        self._commit_delay = commit_delay
        self._timer_clock = timer
        self._timer: asyncio.TimerHandle | actors.TimerHandle | None = None
        self._entries: list[_Entry] = []
        self._flushers: list[actors.Caller] = []
        self._callers = 0  # callers waiting among the entries
        self._flush_queued = False
        self._records = 0
        self._transactions = 0
        self._largest = 0

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        match message:
            case GetStatistics():
                return LineageStatistics(
                    self._records, self._transactions, self._largest, self._waiting()
                )
            case Flush():
                self._flushers.append(caller)
                self._queue_flush()
                return actors.NO_REPLY
            case Record(record):
                self._entries.append((record, caller))
                self._callers += 1
                self._queue_flush()
                return actors.NO_REPLY
        raise TypeError(f"lineage writer: unexpected call {message!r}")

    async def handle_cast(self, message: Any) -> None:
        if not isinstance(message, Record):
            raise TypeError(f"lineage writer: unexpected cast {message!r}")
        self._entries.append((message.record, None))
        self._queue_flush()

    def _waiting(self) -> int:
        return self._callers + len(self._flushers)

    async def handle_info(self, message: Any) -> None:
        if message is _COMMIT:
            self._flush_queued = False
            self._cancel_timer()
            await self._flush()

    def _queue_flush(self) -> None:
        if self._timer is not None and self._waiting() >= self._expected():
            # Waiting for more records, and everyone in flight has sent theirs.
            self._cancel_timer()
            self.ref.send(_COMMIT)
            return
        if self._flush_queued:
            return
        self._flush_queued = True
        if self._commit_delay > 0 and self._waiting() < self._expected():
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
        entries, flushers = self._entries, self._flushers
        self._entries, self._flushers, self._callers = [], [], 0
        refused = await self._write(entries) if entries else {}
        for index, (_, caller) in enumerate(entries):
            error = refused.get(index)
            if caller is not None:
                caller.reply(True if error is None else Refused(error))
            elif error is not None:
                log.error("lineage writer: %s", error)  # a cast: nobody to tell
        for caller in flushers:
            caller.reply(True)

    async def _write(self, entries: Sequence[_Entry]) -> dict[int, StorageError]:
        """Write the entries in one transaction if the store takes them; return the errors
        of the entries it refused, by index."""
        try:
            records = [record for record, _ in entries]
            mats = [r for r in records if isinstance(r, MaterializationRecord)]
            with self._instrumentation.commit(len(records) - len(mats), mats):
                await self.storage.write(_batch(records))
        except Exception as exc:
            if isinstance(exc, StorageUnavailable) or len(entries) == 1:
                return {i: _refusal(record, exc) for i, (record, _) in enumerate(entries)}
            log.warning(
                "lineage writer: a batch of %d was refused (%s); writing its records one by one",
                len(entries),
                exc,
            )
            return await self._write_one_by_one(entries)
        self._count(len(entries))
        return {}

    async def _write_one_by_one(self, entries: Sequence[_Entry]) -> dict[int, StorageError]:
        """Isolate the records the store refuses, writing the others (in arrival order, so
        that the last version of an id still wins)."""
        refused: dict[int, StorageError] = {}
        unavailable: Exception | None = None
        for index, (record, _) in enumerate(entries):
            if unavailable is not None:
                refused[index] = _refusal(record, unavailable)
                continue
            try:
                await self.storage.write(_batch([record]))
            except Exception as exc:
                refused[index] = _refusal(record, exc)
                if isinstance(exc, StorageUnavailable):
                    unavailable = exc  # the rest would fail the same way: do not wait on it
                continue
            self._count(1)
        return refused

    def _count(self, size: int) -> None:
        self._transactions += 1
        self._records += size
        self._largest = max(self._largest, size)

    async def terminate(self, reason: Any) -> None:
        self._cancel_timer()
        # An orderly stop writes what is buffered; a kill leaves it to the callers' retry.
        if actors.is_clean(reason) and (self._entries or self._flushers):
            try:
                await self._flush()
            except Exception:
                log.exception("lineage writer could not flush on %r", reason)


def _batch(records: Sequence[MaterializationRecord | RunRecord]) -> WriteBatch:
    return WriteBatch(
        runs=tuple(r for r in records if isinstance(r, RunRecord)),
        materializations=tuple(r for r in records if isinstance(r, MaterializationRecord)),
    )


def _refusal(record: MaterializationRecord | RunRecord, exc: Exception) -> StorageError:
    """The error a refused record's caller gets: which record, and why."""
    if isinstance(record, RunRecord):
        what = f"run {record.run_id!r}"
    else:
        what = f"materialization {record.id!r}"
    kind = StorageUnavailable if isinstance(exc, StorageUnavailable) else StorageError
    cause = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
    error = kind(f"could not record {what}: {cause}")
    error.__cause__ = exc
    return error
