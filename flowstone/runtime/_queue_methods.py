"""The run-queue methods of ``AsyncRuntime`` (``submit``, ``submit_backfill``, ``wait`` and
the durable part of ``cancel``), kept apart so the runtime module stays about running.

They work from any process that shares the record store: a daemon (``fs.Daemon``,
``flowstone daemon``) executes what is submitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowstone.automation._queue import RunQueue
from flowstone.automation._store import AutomationStore
from flowstone.errors import StorageError

if TYPE_CHECKING:
    from flowstone.engine._assembly import EngineAssembly
    from flowstone.storage import Storage


class QueueMethods:
    """Mixed into ``AsyncRuntime``; see each method."""

    pipeline: Any
    storage: Storage
    _engine: EngineAssembly
    _run_queue: RunQueue | None = None

    async def start(self) -> None:  # provided by AsyncRuntime
        raise NotImplementedError

    @property
    def queue(self) -> RunQueue:
        """The durable run queue in this runtime's record store."""
        if self._run_queue is None:
            user = f"{self._engine.user}@{self._engine.host}"
            self._run_queue = RunQueue(self.pipeline, self.storage, user=user)
        return self._run_queue

    async def _queue_store(self) -> AutomationStore:
        """The queue's automation store, opened on first use (the decision hand-off's)."""
        return await self.queue.store()

    async def submit(self, asset: str, partition: Any = None, *, upstream: bool = True) -> str:
        """Queue a run of ``asset`` (with its upstream closure unless ``upstream=False``)
        and return its id at once; a daemon executes it. Follow it with ``wait(run_id)``.

        Raises:
            AssetNotFound, InvalidPartition: at once, nothing queued.
            StorageError: the record store is ``"memory"`` (no daemon could see it).
        """
        await self.start()
        return await self.queue.submit(asset, partition, upstream=upstream)

    async def submit_backfill(self, asset: str, partitions: Iterable[Any]) -> tuple[str, list[str]]:
        """Queue one run per partition (one backfill id); return it and the run ids."""
        await self.start()
        return await self.queue.submit_backfill(asset, partitions)

    async def _cancel_queued(self, run_id: str) -> bool:
        """Cancel a queued run, or ask the daemon running it to; False when unknown."""
        try:
            outcome = await self.queue.cancel(run_id)
        except StorageError:
            return False  # the memory store has no queue
        return outcome in ("cancelled", "requested")

    async def _close_queue(self) -> None:
        if self._run_queue is not None:
            await self._run_queue.close()
