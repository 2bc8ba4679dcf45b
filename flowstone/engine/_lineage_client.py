"""``LineageClient``: how the engine writes records, through the lineage actor.

A record call returns once the record is durable. The writer may be restarting (its
supervisor restarts it after a crash); writes are idempotent, so the client retries a call
that found no writer, for a bounded time, with back-off on the runtime clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import actors
from flowstone.engine._lineage_writer import Flush, Record, raise_refused, record_durably
from flowstone.errors import FlowStoneError, RuntimeStopped
from flowstone.storage import MaterializationRecord, RunRecord

RECORD_TIMEOUT = 120.0
"""Seconds a record call may wait for its transaction (a database that is restarting)."""

_ATTEMPTS = 12


class LineageClient:
    """Record runs and materializations through the lineage actor registered as ``name``.

    ``stopped`` returns why the runtime's tree gave up (or None while it runs), so a call
    made after that fails at once with ``RuntimeStopped`` instead of waiting for a writer
    that will never come back.
    """

    def __init__(self, name: str, storage_url: str, stopped: Callable[[], str | None]) -> None:
        self.name = name
        self._storage_url = storage_url
        self._stopped = stopped

    async def record(self, record: MaterializationRecord | RunRecord) -> None:
        """Write ``record``; return once it is durable.

        Raises:
            StorageError: the store refused the record (``StorageUnavailable``: it could not
                take writes then); the writer lives on.
            RuntimeStopped: the runtime's supervision tree gave up.
        """

        async def send(ref: actors.ActorRef) -> None:
            await record_durably(ref, record, timeout=RECORD_TIMEOUT)

        await self._call(send, lambda: _describe(record))

    def record_nowait(self, record: RunRecord) -> None:
        """Queue a run record without waiting (progress markers, not guarantees)."""
        ref = actors.whereis(self.name)
        if ref is not None:
            ref.cast(Record(record))

    async def flush(self) -> None:
        """Return once every record sent before this call is durable."""

        async def send(ref: actors.ActorRef) -> None:
            raise_refused(await ref.call(Flush(), timeout=RECORD_TIMEOUT))

        await self._call(send, lambda: "a flush")

    async def _call(
        self, send: Callable[[actors.ActorRef], Awaitable[None]], what: Callable[[], str]
    ) -> None:
        """``send`` to the writer; while there is none (it crashed and its supervisor is
        restarting it), retry with back-off: writes are idempotent. The first try is the
        whole cost of the usual case (the description is built only for errors)."""
        delay = 0.005
        for _ in range(_ATTEMPTS):
            ref = actors.whereis(self.name)
            if ref is not None:
                try:
                    await send(ref)
                    return
                except actors.NoProc:
                    pass
            self._raise_if_stopped(what())
            await actors.sleep(delay)
            delay = min(delay * 2, 1.0)
        self._raise_if_stopped(what())
        raise FlowStoneError(
            f"could not record {what()}: the lineage writer kept failing "
            f"(storage {self._storage_url!r})"
        )

    def _raise_if_stopped(self, what: str) -> None:
        reason = self._stopped()
        if reason is not None:
            raise RuntimeStopped(
                f"could not record {what}: the runtime has stopped ({reason}); "
                "close it and create a new one"
            )


def _describe(record: MaterializationRecord | RunRecord) -> str:
    if isinstance(record, RunRecord):
        return f"run {record.run_id}"
    return f"materialization {record.id}"
