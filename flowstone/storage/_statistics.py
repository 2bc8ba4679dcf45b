"""When to refresh PostgreSQL's planner statistics of FlowStone's tables.

Internal, not part of the public API. The lineage and batch queries are index walks whose
plans depend on row estimates. A table that was never analyzed (autovacuum off, as on many
test servers, or not yet run after a bulk load) gets default estimates, and the planner then
sizes hash tables for hundreds of thousands of rows and reaches for sequential scans: an
upstream query at 1M records measured 25-80 ms without statistics and 0.4 ms with them. So the
store runs ``ANALYZE`` itself whenever the rows it wrote since the last one reach the number
known then (at least ``MIN_ROWS``): statistics are never more than 2x stale, at a cost of about
ten ANALYZEs (sampled, a fraction of a second each) per million records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("flowstone.storage")

MIN_ROWS = 1000


class AnalyzePolicy:
    """Starts ``analyze`` in the background when enough rows were written; one at a time."""

    def __init__(self, analyze: Callable[[], Awaitable[None]]) -> None:
        self._analyze = analyze
        self._basis = 0  # rows the last statistics knew about
        self._pending = 0  # rows written since
        self._task: asyncio.Task[None] | None = None

    def seed(self, live_rows: int, modified_since_analyze: int) -> None:
        """Start from the server's counters (``pg_stat_user_tables``) at open."""
        self._basis = max(live_rows - modified_since_analyze, 0)
        self._pending = modified_since_analyze
        self._maybe_start()

    def written(self, rows: int) -> None:
        """Count rows just committed."""
        self._pending += rows
        self._maybe_start()

    @property
    def running(self) -> bool:
        """Whether an ANALYZE is in progress."""
        return self._task is not None and not self._task.done()

    def _maybe_start(self) -> None:
        if self.running or self._pending < max(MIN_ROWS, self._basis):
            return
        self._basis += self._pending
        self._pending = 0
        self._task = asyncio.get_running_loop().create_task(self._guarded())

    async def _guarded(self) -> None:
        try:
            await self._analyze()
        except Exception as exc:
            # Statistics only make queries faster; the next threshold tries again.
            log.warning("could not refresh planner statistics: %s", exc)

    async def wait(self) -> None:
        """Wait for the ANALYZE in progress, if any."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Cancel the ANALYZE in progress, if any, and wait for it to end."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # does not re-raise the task's CancelledError
