"""``EngineTree``: the supervision tree of one runtime.

::

    root (one_for_one)
    ├── lineage        LineageWriter: the single writer of records (group commit)
    ├── runs           DynamicSupervisor: one child per run in flight
    │   └── run:<id>   DynamicSupervisor: one Materializer per (asset, partition) in flight
    └── <services>     long-lived actors of other wings (deadline timers, daemons' tickers)

Names are ``flowstone:<tag>:...`` so several runtimes in one process never collide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import actors
import supervisors
from flowstone.engine._lineage_writer import LineageWriter
from flowstone.errors import RuntimeStopped
from flowstone.storage import Storage


class EngineTree:
    """Starts, extends and stops the supervision tree of one runtime."""

    def __init__(self, tag: str, storage: Storage, in_flight: Callable[[], int]) -> None:
        self.tag = tag
        self._storage = storage
        self._in_flight = in_flight
        self._root: supervisors.SupervisorRef | None = None
        self._runs: supervisors.DynamicSupervisorRef | None = None
        self._run_sups: dict[str, supervisors.DynamicSupervisorRef] = {}

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

        def start_writer() -> Awaitable[actors.ActorRef]:
            return actors.spawn(
                LineageWriter, self._storage, self._in_flight, name=self.lineage_name
            )

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
        """Start the supervisor of one run (a temporary child of the runs supervisor).

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

        async def start() -> actors.ActorRef:
            ref = await supervisors.DynamicSupervisor.start(
                max_restarts=3, max_seconds=5.0, name=f"flowstone:{self.tag}:run:{run_id}"
            )
            self._run_sups[run_id] = ref
            return ref

        await self._runs.start_child(
            supervisors.ChildSpec(run_id, start, restart="temporary", type="supervisor")
        )
        return self._run_sups[run_id]

    def run_supervisor(self, run_id: str) -> supervisors.DynamicSupervisorRef | None:
        """The supervisor of a run in flight."""
        return self._run_sups.get(run_id)

    async def end_run(self, run_id: str) -> None:
        """Stop the supervisor of a finished run."""
        ref = self._run_sups.pop(run_id, None)
        if ref is not None and ref.alive:
            await ref.stop("shutdown", timeout=float("inf"))

    async def stop(self) -> None:
        """Stop the whole tree (the writer flushes what it buffered)."""
        if self._root is not None and self._root.alive:
            await self._root.stop("shutdown", timeout=30.0)
