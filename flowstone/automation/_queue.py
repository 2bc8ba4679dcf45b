"""``RunQueue``: submit, cancel and wait for runs through the durable queue, from any
process. The runtime's ``submit`` / ``cancel`` / ``wait`` delegate here; daemons claim
what it enqueues (``_executor``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import require_serves
from flowstone.automation._errors import RunNotFound, WaitTimeout
from flowstone.automation._requests import new_run_id, queued_run
from flowstone.automation._store import AutomationStore, open_automation_store
from flowstone.storage import RunRecord, Storage
from flowstone.tenancy import current_tenant

#: Run statuses after which a run will not change by itself.
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class RunQueue:
    """The run queue of one record store, for one pipeline.

    Args:
        pipeline: the pipeline whose assets are submitted.
        storage: the (opened) record store serving ``pipeline`` (``wait`` reads its runs
            through it); the queue lives in the same database.
        user: what ``triggered_by`` says for runs submitted here.

    Raises:
        StorageError: ``storage`` serves another pipeline.
    """

    def __init__(self, pipeline: Any, storage: Storage, *, user: str = "flowstone") -> None:
        require_serves(storage, pipeline)
        self.pipeline = pipeline
        self.storage = storage
        self.user = user
        self._store: AutomationStore | None = None

    async def store(self) -> AutomationStore:
        """Return the automation store, opened on first use."""
        if self._store is None:
            store = open_automation_store(self.storage)
            await store.open()
            self._store = store
        return self._store

    async def close(self) -> None:
        """Close the store's connections."""
        store, self._store = self._store, None
        if store is not None:
            await store.close()

    async def submit(
        self,
        asset: str,
        partition: Any = None,
        *,
        upstream: bool = True,
        triggered_by: str | None = None,
        priority: int = 0,
    ) -> str:
        """Queue a run of ``asset`` (with its upstream closure when ``upstream``); return
        its id. Raises ``AssetNotFound`` / ``InvalidPartition`` at once."""
        run = queued_run(
            self.pipeline,
            asset,
            partition,
            now=wall_now(),
            triggered_by=triggered_by or self.user,
            upstream=upstream,
            priority=priority,
            tenant=current_tenant(),
        )
        await (await self.store()).enqueue([run], wall_now())
        return run.record.run_id

    async def submit_backfill(
        self, asset: str, partitions: Iterable[Any], *, triggered_by: str | None = None
    ) -> tuple[str, list[str]]:
        """Queue one run per partition (kind ``backfill``, one backfill id); return the
        backfill id and the run ids. All runs are recorded in one transaction."""
        backfill_id = new_run_id()
        now = wall_now()
        runs = [
            queued_run(
                self.pipeline,
                asset,
                key,
                now=now,
                triggered_by=triggered_by or f"backfill:{backfill_id}",
                trigger="backfill",
                backfill_id=backfill_id,
                tenant=current_tenant(),
            )
            for key in partitions
        ]
        await (await self.store()).enqueue(runs, now)
        return backfill_id, [r.record.run_id for r in runs]

    async def cancel(self, run_id: str) -> str:
        """Cancel a queued run, or ask the daemon running it to cancel it.

        Returns ``"cancelled"``, ``"requested"``, ``"finished"`` or ``"unknown"`` (not a
        queued run).
        """
        return await (await self.store()).request_cancel(run_id, wall_now())

    async def wait(self, run_id: str, timeout: float | None = None) -> RunRecord:
        """Poll the record store until the run is succeeded, failed or cancelled.

        Raises:
            RunNotFound: no such run.
            WaitTimeout: still not finished after ``timeout`` seconds.
        """
        clock = actors.get_clock()
        deadline = None if timeout is None else clock.now() + timeout
        delay = 0.02
        while True:
            record = await self.storage.get_run(run_id)
            if record is None:
                raise RunNotFound(run_id)
            if record.status in FINAL_STATUSES:
                return record
            if deadline is not None and clock.now() >= deadline:
                raise WaitTimeout(
                    f"run {run_id!r} is still {record.status} after {timeout or 0.0:g} s; "
                    "wait longer, or check that a daemon is running (`flowstone daemons`)"
                )
            pause = delay if deadline is None else min(delay, max(0.0, deadline - clock.now()))
            await actors.sleep(pause)
            delay = min(delay * 1.5, 0.5)
