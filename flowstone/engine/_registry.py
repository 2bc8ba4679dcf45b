"""``RunRegistry``: what is in flight in one runtime, and which runs were cancelled.

The scheduler claims nodes here (so two runs of one runtime share one materialization of a
node instead of racing), jobs register under their run (so a run can be cancelled), and
successes are remembered (so a node planned because it was missing is skipped once another
run made it). Every mutation goes through a method; nothing outside reads the fields.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from flowstone.engine._node import Node, NodeId

if TYPE_CHECKING:
    from flowstone.engine._results import Materialization

RECENT_KEPT = 4_096
"""How many of its newest succeeded materializations a registry remembers."""


class Cancellable(Protocol):
    """A job the registry can cancel."""

    def cancel(self) -> None:
        """Interrupt the running attempt; it is recorded as cancelled."""
        ...


class RunRegistry:
    """In-flight nodes, the jobs of each run, cancellations and recent successes."""

    def __init__(self, recent_kept: int | None = None) -> None:
        self._inflight: dict[NodeId, asyncio.Future[Materialization]] = {}
        self._jobs: dict[str, set[Cancellable]] = {}
        self._cancelled: set[str] = set()
        self._recent: OrderedDict[NodeId, Materialization] = OrderedDict()
        self._recent_kept = RECENT_KEPT if recent_kept is None else recent_kept

    # -- nodes --------------------------------------------------------------------------------

    def in_flight(self) -> int:
        """How many nodes are being materialized now."""
        return len(self._inflight)

    def shared(self, node: Node) -> asyncio.Future[Materialization] | None:
        """The outcome of ``node`` if another run of this runtime is materializing it."""
        return self._inflight.get(node.id)

    def claim(self, node: Node) -> asyncio.Future[Materialization]:
        """Claim ``node`` for the caller: the returned future is its outcome, released from
        the registry once it is set. Call only when ``shared(node)`` is None."""
        future: asyncio.Future[Materialization] = asyncio.get_running_loop().create_future()
        nid = node.id
        self._inflight[nid] = future
        future.add_done_callback(lambda _f: self._inflight.pop(nid, None))
        return future

    def remember(self, node: Node, made: Materialization) -> None:
        """Note that ``node`` succeeded (bounded: the oldest are forgotten)."""
        recent = self._recent
        recent[node.id] = made
        recent.move_to_end(node.id)
        if len(recent) > self._recent_kept:
            recent.popitem(last=False)

    def recently_made(self, node: Node) -> Materialization | None:
        """A success of ``node`` this registry remembers, if any."""
        return self._recent.get(node.id)

    def recent_ids(self) -> Iterator[NodeId]:
        """The remembered node ids, oldest first."""
        return iter(self._recent)

    # -- runs -----------------------------------------------------------------------------------

    def open_run(self, run_id: str) -> None:
        """Start tracking the jobs of ``run_id``."""
        self._jobs[run_id] = set()

    def add_job(
        self, run_id: str, job: Cancellable, outcome: asyncio.Future[Materialization]
    ) -> None:
        """Track ``job`` under its run until ``outcome`` is set."""
        jobs = self._jobs.get(run_id)
        if jobs is None:
            return
        jobs.add(job)
        outcome.add_done_callback(lambda _f: jobs.discard(job))

    def close_run(self, run_id: str) -> bool:
        """Stop tracking ``run_id``; return True if it was cancelled."""
        self._jobs.pop(run_id, None)
        if run_id in self._cancelled:
            self._cancelled.discard(run_id)
            return True
        return False

    def running(self) -> list[str]:
        """The ids of the runs in flight."""
        return list(self._jobs)

    def cancel(self, run_id: str) -> bool:
        """Cancel ``run_id``: its running jobs are interrupted, nothing else of it starts.
        Return False when the run is not in flight here."""
        jobs = self._jobs.get(run_id)
        if jobs is None:
            return False
        self._cancelled.add(run_id)
        for job in list(jobs):
            job.cancel()
        return True

    def is_cancelled(self, run_id: str) -> bool:
        """True once ``cancel(run_id)`` was called for the run in flight."""
        return run_id in self._cancelled
