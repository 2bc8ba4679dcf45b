"""What a daemon reports, to whoever observes it (the telemetry wing's daemon metrics).

Internal. The daemon's actors call a ``DaemonObserver`` at a few points (a run claimed,
started or handed back, a tick completed, a heartbeat written, the queue counted) and never
know what listens: ``flowstone.telemetry`` implements it with OpenTelemetry metrics, and
``NO_OBSERVER`` is the default. An implementation must not raise (the actors do not guard
the calls); ``counts_queue`` tells the executor whether counting the queue is worth a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class DaemonObserver(Protocol):
    """What a daemon's actors report (see the module doc)."""

    @property
    def counts_queue(self) -> bool:
        """True when ``queue_depth`` is wanted (the executor then counts after each poll)."""
        ...

    def run_claimed(self, takeover: bool) -> None:
        """The executor claimed a run (``takeover``: from a daemon whose lease expired)."""

    def run_started(self) -> None:
        """The executor started executing a claimed run."""

    def run_handed_back(self) -> None:
        """The executor handed an unfinished run back to the queue (drain, exit)."""

    def tick(self, origin: str, status: str, lag: float) -> None:
        """A schedule or sensor tick completed with ``status``, evaluated ``lag`` seconds
        after its slot (or fire) time."""

    def heartbeat(self, status: str) -> None:
        """The daemon wrote its heartbeat row."""

    def queue_depth(self, pipeline: str, total: int, pools: Mapping[str, int]) -> None:
        """The queue holds ``total`` queued runs of ``pipeline``, ``pools[p]`` of them in p."""


class NoObserver:
    """The default: every report returns at once."""

    counts_queue = False

    def run_claimed(self, takeover: bool) -> None:
        return None

    def run_started(self) -> None:
        return None

    def run_handed_back(self) -> None:
        return None

    def tick(self, origin: str, status: str, lag: float) -> None:
        return None

    def heartbeat(self, status: str) -> None:
        return None

    def queue_depth(self, pipeline: str, total: int, pools: Mapping[str, int]) -> None:
        return None


NO_OBSERVER: DaemonObserver = NoObserver()
