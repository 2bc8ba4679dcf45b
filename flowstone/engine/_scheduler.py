"""Running one plan: the nodes of a run start as soon as the nodes they wait for have
succeeded, each as a Materializer child of the run's supervisor."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import actors
import supervisors
from flowstone.engine._materializer import Job, Materializer
from flowstone.engine._node import Node, run_name
from flowstone.engine._results import Materialization
from flowstone.errors import FlowStoneError

if TYPE_CHECKING:
    from flowstone.engine._engine import Engine


@dataclass
class Plan:
    """The nodes of one run and, per node, the nodes of the same run it waits for."""

    nodes: dict[tuple[str, str | None], Node] = field(default_factory=dict)
    deps: dict[tuple[str, str | None], set[tuple[str, str | None]]] = field(default_factory=dict)
    conditional: set[tuple[str, str | None]] = field(default_factory=set)
    """Nodes planned only because they had no succeeded materialization at planning time;
    they are skipped if another run of this runtime made them meanwhile."""

    def add(self, node: Node, deps: Iterable[Node] = (), *, conditional: bool = False) -> None:
        """Add ``node`` (idempotent) waiting for ``deps`` (which must be added too)."""
        self.nodes.setdefault(node.id, node)
        self.deps.setdefault(node.id, set()).update(d.id for d in deps)
        if conditional:
            self.conditional.add(node.id)


@dataclass(frozen=True)
class RunSpec:
    """What to run and on whose behalf."""

    run_id: str
    kind: str
    targets: tuple[str, ...]
    plan: Plan
    triggered_by: str
    trigger: str = "manual"
    backfill_id: str | None = None
    partition: str | None = None
    tenant: str | None = None


class Scheduler:
    """Starts each node once all the nodes it waits for have succeeded.

    Completions arrive on one queue (O(1) per completion), so a 1,000-node run costs no
    more per node than a 10-node one.
    """

    def __init__(self, engine: Engine, spec: RunSpec, run_sup: Any) -> None:
        self.engine = engine
        self.spec = spec
        self.run_sup = run_sup
        self.done: asyncio.Queue[tuple[tuple[str, str | None], Any]] = asyncio.Queue()
        self.results: list[Materialization] = []
        self.succeeded: dict[tuple[str, str | None], Materialization] = {}
        """Succeeded outcomes of this run's nodes: downstream nodes read their inputs'
        record ids from here instead of querying the store."""

    async def run(self) -> tuple[list[Materialization], BaseException | None]:
        plan = self.spec.plan
        waiting = {nid: set(deps) for nid, deps in plan.deps.items()}
        dependents: dict[tuple[str, str | None], list[tuple[str, str | None]]] = {}
        for nid, deps in plan.deps.items():
            for dep in deps:
                dependents.setdefault(dep, []).append(nid)
        ready = [nid for nid, deps in waiting.items() if not deps]
        watcher = asyncio.ensure_future(self.run_sup.wait())
        watcher.add_done_callback(lambda _: self.done.put_nowait((("", None), _SUP_EXIT)))
        running = 0
        failure: BaseException | None = None
        try:
            while ready or running:
                for nid in ready:
                    if self.spec.run_id in self.engine.cancelled:
                        break
                    await self._launch(plan.nodes[nid], nid in plan.conditional)
                    running += 1
                ready = []
                if not running:
                    break
                nid, outcome = await self.done.get()
                if outcome is _SUP_EXIT:
                    if running:
                        failure = FlowStoneError(
                            f"run {self.spec.run_id} stopped: its supervisor exited "
                            f"({actors.format_reason(self.run_sup.exit_reason)})"
                        )
                        break
                    continue
                running -= 1
                if isinstance(outcome, BaseException):
                    failure = failure or outcome
                    continue
                if outcome.run_id == self.spec.run_id:
                    self.results.append(outcome)
                if outcome.status == "succeeded":
                    self.succeeded[nid] = outcome
                else:
                    if outcome.run_id != self.spec.run_id:
                        failure = failure or FlowStoneError(
                            f"upstream {outcome.asset} {outcome.status} in run {outcome.run_id}"
                        )
                    continue
                for child in dependents.get(nid, ()):
                    pending = waiting[child]
                    pending.discard(nid)
                    if not pending:
                        ready.append(child)
        finally:
            watcher.cancel()
        return self.results, failure

    async def _launch(self, node: Node, conditional: bool) -> None:
        engine = self.engine
        shared = engine.inflight.get(node.id)
        if shared is None:
            # Claim the node before any await, so concurrent runs share one materialization.
            future: asyncio.Future[Materialization] = asyncio.get_running_loop().create_future()
            engine.inflight[node.id] = future
            nid = node.id

            def release(_f: asyncio.Future[Materialization]) -> None:
                engine.inflight.pop(nid, None)

            future.add_done_callback(release)
            shared = future
            await self._start(node, future, conditional)

        def deliver(f: asyncio.Future[Materialization], nid: Any = node.id) -> None:
            outcome: Any
            if f.cancelled():
                outcome = FlowStoneError(f"{node.label()} was cancelled")
            else:
                outcome = f.exception() or f.result()
            self.done.put_nowait((nid, outcome))

        shared.add_done_callback(deliver)

    async def _start(
        self, node: Node, future: asyncio.Future[Materialization], conditional: bool
    ) -> None:
        engine = self.engine
        try:
            if conditional:
                # Planned because it was missing when the plan was made; another run of
                # this runtime may have made it since. (Another process may too: that race
                # costs a repeated materialization, never a wrong record, and a read here
                # would only narrow it.)
                made = engine.recent.get(node.id)
                if made is not None:
                    future.set_result(made)
                    return
            spec = self.spec
            job = Job(engine, node, spec.run_id, spec.triggered_by, spec.trigger, future)
            job.tenant = spec.tenant
            job.known = self.succeeded
            jobs = engine.jobs.get(spec.run_id)
            if jobs is not None:
                jobs.add(job)
                future.add_done_callback(lambda _f: jobs.discard(job))
            name = run_name(engine.pipeline.name, node, spec.run_id)
            child = supervisors.ChildSpec(
                node.label(),
                lambda: actors.spawn(Materializer, job, name=name),
                restart="transient",
            )
            await self.run_sup.start_child(child)
        except Exception as exc:  # reported as the node's outcome
            if not future.done():
                future.set_exception(exc)


_SUP_EXIT = object()


def run_status(results: list[Materialization], failure: BaseException | None) -> str:
    if any(r.status == "cancelled" for r in results):
        return "cancelled"
    if failure is not None or any(r.status != "succeeded" for r in results):
        return "failed"
    return "succeeded"
