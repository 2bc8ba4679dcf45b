"""What a backfill had done when Ctrl-C stopped it, counted from the runtime's events."""

from __future__ import annotations

import shlex
import sys
import threading
from dataclasses import dataclass

from flowstone.engine._events import Event

_FINISHED_RUN = ("run.succeeded", "run.failed", "run.cancelled")


@dataclass(frozen=True)
class BackfillSummary:
    """A backfill's partitions at the moment it was interrupted."""

    backfill_id: str | None
    total: int | None
    succeeded: int
    failed: int
    in_flight: int

    @property
    def not_started(self) -> int | None:
        """Partitions never started here (unknown when the partitions were not counted)."""
        if self.total is None:
            return None
        return max(self.total - self.succeeded - self.failed - self.in_flight, 0)


class BackfillTally:
    """An event subscriber counting a backfill's finished and running partitions.

    Events are published on the runtime's loop thread and read on the main thread after
    Ctrl-C, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backfill_id: str | None = None
        self._total: int | None = None
        self._succeeded = self._failed = 0
        self._running: set[str] = set()

    def __call__(self, event: Event) -> None:
        """Count one event."""
        with self._lock:
            if event.kind == "backfill.started":
                self._backfill_id = event.run_id
                self._total = event.data.get("total")
            elif event.kind == "backfill.progress":
                self._succeeded = event.data.get("succeeded", self._succeeded)
                self._failed = event.data.get("failed", self._failed)
            elif event.kind == "run.started":
                self._running.add(event.run_id)
            elif event.kind in _FINISHED_RUN:
                self._running.discard(event.run_id)

    def summary(self) -> BackfillSummary:
        """The counts as they are now."""
        with self._lock:
            return BackfillSummary(
                self._backfill_id, self._total, self._succeeded, self._failed, len(self._running)
            )


def interrupted_report(summary: BackfillSummary, asset: str) -> list[str]:
    """Lines telling what was done, what was cancelled, what is left and how to resume."""
    left = summary.not_started
    name = f"backfill {summary.backfill_id} of {asset}" if summary.backfill_id else asset
    return [
        f"interrupted: {name} stopped",
        f"  done: {summary.succeeded + summary.failed} partitions "
        f"({summary.succeeded} succeeded, {summary.failed} failed)",
        f"  cancelled: {summary.in_flight} in flight, recorded as cancelled",
        f"  left: {'unknown' if left is None else left} not started",
        f"resume with the same command (partitions that succeeded are skipped): {resume_command()}",
    ]


def resume_command() -> str:
    """The command line of this process, as ``flowstone ...``."""
    return shlex.join(["flowstone", *sys.argv[1:]])
