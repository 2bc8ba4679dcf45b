"""``TreeReporter``: a runtime publishes its supervision tree to the store, so a dashboard
in another process can show it (runs execute in the CLI's and daemons' processes).

Every ``interval`` seconds (real time: a monitoring heartbeat, not part of any run) the
reporter describes the tree and upserts one row for its runtime (``Storage.report_runtime``).
It runs as a plain task beside the supervision tree, never inside it: describing the tree
calls the supervisors, and a child of the root calling the root while the root stops its
children would make shutdowns wait. The first report comes after one interval, so a
short-lived runtime (a quick CLI command) writes nothing. Failures are logged and skipped:
the heartbeat never affects runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import supervisors
from flowstone.status._tree import describe_tree
from flowstone.storage import Storage
from flowstone.storage._changes import RuntimeSnapshot

log = logging.getLogger("flowstone.status")

DEFAULT_INTERVAL = 2.0
"""Seconds between two reports of one runtime."""

Root = Callable[[], "supervisors.SupervisorRef | None"]


class TreeReporter:
    """Publishes one runtime's supervision tree every ``interval`` seconds (internal)."""

    def __init__(
        self, storage: Storage, pipeline: str, root: Root, interval: float = DEFAULT_INTERVAL
    ) -> None:
        self.storage, self.pipeline, self.root, self.interval = storage, pipeline, root, interval
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started_at = datetime.now(UTC)
        self.reports = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reporting (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="flowstone-tree-reporter"
            )

    async def stop(self) -> None:
        """Stop reporting; the last report ages out of the dashboard's view."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def report(self) -> None:
        """Describe the tree and store it now."""
        root = self.root()
        if root is None:
            return
        snapshot = RuntimeSnapshot(
            id=self.id,
            pipeline=self.pipeline,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            seen_at=datetime.now(UTC),
            tree=await describe_tree("root", root),
        )
        await self.storage.report_runtime(snapshot)
        self.reports += 1

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.report()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let monitoring disturb the runtime
                log.debug("supervision tree not reported: %s", exc)
