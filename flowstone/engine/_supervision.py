"""``EngineTree``: the supervision tree of one runtime.

::

    root (one_for_one)
    ├── lineage        LineageWriter: the single writer of records (group commit)
    ├── runs           DynamicSupervisor: the run supervisors, in use or idle
    │   └── run-supervisor:<n>
    │                  DynamicSupervisor: one Materializer per (asset, partition) of the
    │                  one run it serves
    └── <services>     long-lived actors of other wings (deadline timers, daemons' tickers)

Names are ``flowstone:<tag>:...`` so several runtimes in one process never collide.

A run supervisor serves one run at a time. When its run ends normally it is kept, idle, for
a later run instead of being stopped (ADR 0030): starting and stopping a supervisor per run
was the largest part of a small run's cost. It is handed out again only once it is as good
as new: alive, no child left, and it never restarted a child (so its restart intensity
window is empty, as a new supervisor's is).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable

import actors
import supervisors
from flowstone.engine._instrumentation import NO_INSTRUMENTATION, Instrumentation
from flowstone.engine._lineage_writer import LineageWriter
from flowstone.errors import RuntimeStopped
from flowstone.storage import Storage

IDLE_RUN_SUPERVISORS = 64
"""Idle run supervisors kept for later runs, at most; beyond that a finished run's
supervisor is stopped."""


class EngineTree:
    """Starts, extends and stops the supervision tree of one runtime."""

    def __init__(
        self,
        tag: str,
        storage: Storage,
        in_flight: Callable[[], int],
        instrumentation: Instrumentation = NO_INSTRUMENTATION,
    ) -> None:
        self.tag = tag
        self._instrumentation = instrumentation
        self._writer: actors.ActorRef | None = None
        self._storage = storage
        self._in_flight = in_flight
        self._root: supervisors.SupervisorRef | None = None
        self._runs: supervisors.DynamicSupervisorRef | None = None
        self._run_sups: dict[str, supervisors.DynamicSupervisorRef] = {}
        self._idle: deque[supervisors.DynamicSupervisorRef] = deque()
        self._slots = itertools.count(1)

    @property
    def lineage_name(self) -> str:
        """The registered name of the lineage actor."""
        return f"flowstone:{self.tag}:lineage"

    @property
    def root(self) -> supervisors.SupervisorRef | None:
        """The root supervisor (None before ``start``)."""
        return self._root

    async def start(self) -> None:
        """Start the root supervisor with the lineage writer and the runs supervisor."""

        async def start_runs() -> actors.ActorRef:
            self._runs = await supervisors.DynamicSupervisor.start(
                max_restarts=10, max_seconds=5.0, name=f"flowstone:{self.tag}:runs"
            )
            return self._runs

        async def start_writer() -> actors.ActorRef:
            previous = self._writer
            if previous is not None:  # restarted by the root supervisor
                reason = actors.format_reason(previous.exit_reason)
                self._instrumentation.restarted(None, "lineage", reason)
            self._writer = await actors.spawn(
                LineageWriter,
                self._storage,
                self._in_flight,
                instrumentation=self._instrumentation,
                name=self.lineage_name,
            )
            return self._writer

        self._root = await supervisors.Supervisor.start(
            [
                supervisors.ChildSpec("lineage", start_writer),
                supervisors.ChildSpec("runs", start_runs, type="supervisor"),
            ],
            strategy="one_for_one",
            max_restarts=5,
            max_seconds=10.0,
            name=f"flowstone:{self.tag}:root",
        )

    def stopped(self) -> str | None:
        """Why the tree is gone (None while it runs or before it started)."""
        root = self._root
        if root is None or root.alive:
            return None
        return f"its supervision tree exited: {actors.format_reason(root.exit_reason)}"

    async def start_service(self, spec: supervisors.ChildSpec) -> actors.ActorRef:
        """Start a long-lived actor of another wing under the root supervisor."""
        if self._root is None:
            raise RuntimeError("start the engine tree before adding services")
        ref = await self._root.start_child(spec)
        if ref is None:
            raise RuntimeError(f"service {spec.id!r} did not start an actor")
        return ref

    async def start_run(self, run_id: str) -> supervisors.DynamicSupervisorRef:
        """Hand the run an idle run supervisor as good as new, or start one (a temporary
        child of the runs supervisor).

        Raises:
            RuntimeStopped: the tree gave up; no run can start any more.
        """
        if self._runs is None:
            raise RuntimeError("start the engine tree before running")
        reason = self.stopped()
        if reason is not None:
            raise RuntimeStopped(
                f"cannot start run {run_id}: the runtime has stopped ({reason}); close it "
                f"and create a new one"
            )
        ref = await self._take_idle()
        if ref is None:
            ref = await self._start_run_supervisor(self._runs)
        self._run_sups[run_id] = ref
        return ref

    async def _start_run_supervisor(
        self, runs: supervisors.DynamicSupervisorRef
    ) -> supervisors.DynamicSupervisorRef:
        slot = f"run-supervisor:{next(self._slots)}"
        started: list[supervisors.DynamicSupervisorRef] = []

        async def start() -> actors.ActorRef:
            ref = await supervisors.DynamicSupervisor.start(
                max_restarts=3, max_seconds=5.0, name=f"flowstone:{self.tag}:{slot}"
            )
            started.append(ref)
            return ref

        await runs.start_child(
            supervisors.ChildSpec(slot, start, restart="temporary", type="supervisor")
        )
        return started[0]

    async def _take_idle(self) -> supervisors.DynamicSupervisorRef | None:
        """The longest idle run supervisor that is as good as new, if any. One whose last
        child is still exiting waits for a later run; one that restarted a child since it
        was put aside is stopped."""
        for _ in range(len(self._idle)):
            ref = self._idle.popleft()
            if not ref.alive:
                continue
            stats = ref.statistics()
            if stats.total_restarts:
                await ref.stop("shutdown", timeout=float("inf"))
            elif stats.children:
                self._idle.append(ref)
            else:
                return ref
        return None

    def run_supervisor(self, run_id: str) -> supervisors.DynamicSupervisorRef | None:
        """The supervisor of a run in flight."""
        return self._run_sups.get(run_id)

    async def end_run(self, run_id: str, *, reuse: bool = False) -> None:
        """Release the supervisor of a finished run: kept for a later run when ``reuse``
        (the run ended normally: every job it started has delivered its outcome) and it
        never restarted a child; stopped otherwise, with whatever still runs under it."""
        ref = self._run_sups.pop(run_id, None)
        if ref is None or not ref.alive:
            return
        if (
            reuse
            and len(self._idle) < IDLE_RUN_SUPERVISORS
            and ref.statistics().total_restarts == 0
        ):
            self._idle.append(ref)
            return
        await ref.stop("shutdown", timeout=float("inf"))

    async def stop(self) -> None:
        """Stop the whole tree (the writer flushes what it buffered)."""
        if self._root is not None and self._root.alive:
            await self._root.stop("shutdown", timeout=30.0)
