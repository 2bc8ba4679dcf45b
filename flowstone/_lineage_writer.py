"""The lineage actor: the single writer of run and materialization records.

Group commit: records arrive as calls; the actor gathers every record that arrived while
the previous transaction was being written and commits them together in one transaction.
A caller's ``call`` returns only once its record is durable, so a materialization is
reported succeeded only after its record survives a crash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import actors
from flowstone.storage import MaterializationRecord, RunRecord, Storage, WriteBatch

log = logging.getLogger("flowstone.lineage")

_FLUSH = object()


@dataclass(frozen=True, slots=True)
class LineageStatistics:
    """Counters of the lineage actor."""

    records: int
    transactions: int
    largest_batch: int
    pending: int


class LineageWriter(actors.Actor):
    """Writes records through ``Storage.write`` in groups; replies when durable."""

    async def init(self, storage: Storage) -> None:
        self.storage = storage
        self._runs: list[RunRecord] = []
        self._mats: list[MaterializationRecord] = []
        self._waiting: list[actors.Caller] = []
        self._flush_queued = False
        self._records = 0
        self._transactions = 0
        self._largest = 0

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        if message == "statistics":
            return LineageStatistics(
                self._records, self._transactions, self._largest, len(self._waiting)
            )
        if message == "flush":
            self._queue_flush()
            self._waiting.append(caller)
            return actors.NO_REPLY
        kind, record = message
        if kind == "run":
            self._runs.append(record)
        else:
            self._mats.append(record)
        self._waiting.append(caller)
        self._queue_flush()
        return actors.NO_REPLY

    async def handle_cast(self, message: Any) -> None:
        kind, record = message
        (self._runs if kind == "run" else self._mats).append(record)
        self._queue_flush()

    async def handle_info(self, message: Any) -> None:
        if message is _FLUSH:
            self._flush_queued = False
            await self._flush()

    def _queue_flush(self) -> None:
        # The flush message goes to the back of the mailbox, so every record already
        # queued behind this one joins the same transaction.
        if not self._flush_queued:
            self._flush_queued = True
            self.ref.send(_FLUSH)

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
        # An orderly stop writes what is buffered; a crash leaves it to the callers' retry.
        if actors.is_clean(reason) and (self._runs or self._mats):
            try:
                await self._flush()
            except Exception:
                log.exception("lineage writer could not flush on %r", reason)
