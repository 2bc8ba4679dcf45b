"""``Heartbeat``: keeps the daemon's row in the ``daemons`` table fresh.

Internal. The row says who the daemon is (host, pid, code version, what it ticks) and when
it was last alive; ``flowstone daemons`` lists the rows with the runs each daemon holds. Run
leases are renewed by the executor itself (it knows its runs); this row is for people.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import DaemonContext
from flowstone.automation._records import DaemonRecord


class Heartbeat(actors.Actor):
    """Writes the daemon's heartbeat row every ``heartbeat`` seconds."""

    async def init(self, ctx: DaemonContext) -> None:
        self.ctx = ctx
        self.started_at = wall_now()
        await self._beat("running")
        self._later()

    def _later(self) -> None:
        ref = self.ref
        actors.get_clock().call_later(self.ctx.config.heartbeat, lambda: ref.send("beat"))

    async def handle_info(self, message: object) -> None:
        if message == "beat":
            await self._beat("running")
            self._later()

    async def _beat(self, status: str) -> None:
        await self.ctx.store.register_daemon(self.record(status, wall_now()))
        self.ctx.observer.heartbeat(status)

    def record(self, status: str, now: datetime) -> DaemonRecord:
        """This daemon's row as of ``now``."""
        definitions = self.ctx.definitions.current
        pipeline = definitions.pipeline
        info: dict[str, Any] = {
            "pipeline": pipeline.name,
            "code_version": definitions.code_version,
            "schedules": sorted(pipeline.schedules),
            "sensors": sorted(pipeline.sensors),
            "max_runs": self.ctx.config.max_runs,
            "lease": self.ctx.config.lease,
        }
        if self.ctx.definitions.reload_error:
            info["reload_error"] = self.ctx.definitions.reload_error
        return DaemonRecord(
            self.ctx.config.daemon_id,
            socket.gethostname(),
            os.getpid(),
            self.started_at,
            now,
            status,
            info,
        )
