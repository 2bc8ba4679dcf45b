"""``LogFlusher``: stores the captured lines of a runtime's running runs, in batches.

Internal, not part of the public API. One per runtime (``TelemetryInstrumentation``). A
background task on the runtime's loop wakes when ``flush_seconds`` have passed since the
last batch (a timer of the actors clock, so a test drives it with a mock clock) or when one
run has ``flush_lines`` lines waiting (the logging thread wakes it), and stores what every
open run of the runtime has waiting in one ``append_run_logs`` per tenant. A run's last
lines are stored when it ends (``finish``). Stores are serialised, so a batch never
overtakes the one before it (a later batch may delete lines an earlier one inserted).

Nothing here is on a materialization's path: a log line costs a buffer append, and a
batch write happens at most once per interval (or per ``flush_lines`` lines) whatever the
number of materializations. A store that fails loses that batch's lines (reported once,
like any telemetry failure); it never fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence

import actors
from flowstone.storage import RunLogLine, Storage
from flowstone.telemetry import _spans
from flowstone.telemetry._run_logs import CAPTURE, Batch
from flowstone.tenancy import current_tenant, tenant_scope, without_tenant


class LogFlusher:
    """Stores the waiting lines of one runtime's open runs (see the module docstring)."""

    def __init__(self, storage: Storage, limit: int, flush_lines: int, flush_seconds: float):
        self.storage = storage
        self.limit = limit
        self.flush_lines = flush_lines
        self.flush_seconds = flush_seconds
        self.runs: set[str] = set()
        """The runs whose buffers this runtime opened and has not finished."""
        self.batches = 0
        """How many writes the flusher made (for tests and benchmarks)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None

    def open(self, run_id: str) -> None:
        """Start keeping ``run_id``'s lines; they are stored as they come (on the caller's
        loop, the runtime's)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._wake, self._lock, self._task = loop, asyncio.Event(), None, None
        CAPTURE.open(run_id, self.limit, self.flush_lines, self._wake_soon)
        self.runs.add(run_id)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._serve(), context=without_tenant())

    def _wake_soon(self) -> None:
        """Called from a logging thread when a run has ``flush_lines`` lines waiting."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to wake
            loop.call_soon_threadsafe(wake.set)

    async def _serve(self) -> None:
        wake = self._wake
        assert wake is not None
        while self.runs:
            timer = actors.get_clock().call_later(self.flush_seconds, wake.set)
            try:
                await wake.wait()
            finally:
                timer.cancel()
            wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Store what every open run of this runtime has waiting now; return the number
        of lines stored."""
        async with self._serial():
            batches = []
            for run_id in list(self.runs):
                buffer = CAPTURE.buffer(run_id)
                if buffer is not None:
                    batches.append(buffer.batch())
            return await self._store(batches)

    async def finish(self, run_id: str) -> None:
        """Store the last lines of ``run_id`` and stop keeping them."""
        async with self._serial():
            self.runs.discard(run_id)
            batch = CAPTURE.finish(run_id)
            if batch is not None:
                await self._store([batch])
        if not self.runs and self._wake is not None:
            self._wake.set()  # the task sees no run left and ends

    def stop(self) -> None:
        """Stop the background task (the runtime is closing; its runs have ended)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    def _serial(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _store(self, batches: Sequence[Batch]) -> int:
        lines: dict[str | None, list[RunLogLine]] = defaultdict(list)
        drop: dict[str | None, list[RunLogLine]] = defaultdict(list)
        for batch in batches:
            for line in batch.lines:
                lines[line.tenant].append(line)
            for line in batch.drop:
                drop[line.tenant].append(line)
        stored = 0
        for tenant in {*lines, *drop}:
            try:
                await self._append(tenant, lines[tenant], drop[tenant])
                stored += len(lines[tenant])
            except asyncio.CancelledError:
                raise
            except Exception:
                _spans.failed("store captured run log lines")
        return stored

    async def _append(
        self, tenant: str | None, lines: list[RunLogLine], drop: list[RunLogLine]
    ) -> None:
        if not lines and not drop:
            return
        self.batches += 1
        acting = current_tenant()
        if acting == tenant:
            await self.storage.append_run_logs(lines, drop=drop)
        elif acting is None and tenant is not None:
            with tenant_scope(tenant):
                await self.storage.append_run_logs(lines, drop=drop)
        else:  # acting for another tenant: store from a context acting for none
            task = asyncio.get_running_loop().create_task(
                self._append(tenant, lines, drop), context=without_tenant()
            )
            self.batches -= 1
            await task
