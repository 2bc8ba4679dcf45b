"""Running one plan: the nodes of a run start as soon as the nodes they wait for have
succeeded, each as a Materializer child of the run's supervisor."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import actors
import supervisors
from flowstone.engine._materializer import Job, JobOrder, JobServices, Materializer
from flowstone.engine._node import Node, NodeId, run_name
from flowstone.errors import FlowStoneError
from flowstone.storage import MaterializationStatus, RunStatus

if TYPE_CHECKING:
    from flowstone.engine._planning import RunSpec
    from flowstone.engine._registry import RunRegistry
    from flowstone.engine._results import Materialization

_SUP_EXIT = object()


class Scheduler:
    """Starts each node once all the nodes it waits for have succeeded.

    Completions arrive on one queue (O(1) per completion), so a 1,000-node run costs no
    more per node than a 10-node one. This loop is the engine's core scheduling loop; it
    is longer than the rest on purpose (one place to read how a run progresses).
    """

    def __init__(
        self,
        spec: RunSpec,
        run_sup: supervisors.DynamicSupervisorRef,
        registry: RunRegistry,
        services: JobServices,
    ) -> None:
        self._spec = spec
        self._run_sup = run_sup
        self._registry = registry
        self._services = services
        self._done: asyncio.Queue[tuple[NodeId, Any]] = asyncio.Queue()
        self._results: list[Materialization] = list(spec.plan.done.values())
        self._succeeded: dict[NodeId, Materialization] = dict(spec.plan.done)
        """Succeeded outcomes of this run's nodes: downstream nodes read their inputs'
        record ids from here instead of querying the store."""

    async def run(self) -> tuple[list[Materialization], BaseException | None]:
        """Run the plan; return this run's materializations and the first engine failure."""
        plan = self._spec.plan
        waiting = {
            nid: {d for d in deps if d not in plan.done}
            for nid, deps in plan.deps.items()
            if nid not in plan.done
        }
        dependents: dict[NodeId, list[NodeId]] = {}
        for nid, deps in waiting.items():
            for dep in deps:
                dependents.setdefault(dep, []).append(nid)
        ready = [nid for nid, deps in waiting.items() if not deps]
        watcher = asyncio.ensure_future(self._run_sup.wait())
        watcher.add_done_callback(lambda _: self._done.put_nowait((("", None), _SUP_EXIT)))
        running = 0
        failure: BaseException | None = None
        try:
            while ready or running:
                for nid in ready:
                    if self._registry.is_cancelled(self._spec.run_id):
                        break
                    await self._launch(plan.nodes[nid], nid in plan.conditional)
                    running += 1
                ready = []
                if not running:
                    break
                nid, outcome = await self._done.get()
                if outcome is _SUP_EXIT:
                    if running:
                        failure = FlowStoneError(
                            f"run {self._spec.run_id} stopped: its supervisor exited "
                            f"({actors.format_reason(self._run_sup.exit_reason)})"
                        )
                        break
                    continue
                running -= 1
                if isinstance(outcome, BaseException):
                    failure = failure or outcome
                    continue
                if outcome.run_id == self._spec.run_id:
                    self._results.append(outcome)
                if outcome.status != MaterializationStatus.SUCCEEDED:
                    if outcome.run_id != self._spec.run_id:
                        failure = failure or FlowStoneError(
                            f"upstream {outcome.asset} {outcome.status} in run {outcome.run_id}"
                        )
                    continue  # a failed or waiting node releases none of its dependents
                self._succeeded[nid] = outcome
                for child in dependents.get(nid, ()):
                    pending = waiting[child]
                    pending.discard(nid)
                    if not pending:
                        ready.append(child)
        finally:
            watcher.cancel()
        return self._results, failure

    async def _launch(self, node: Node, conditional: bool) -> None:
        shared = self._registry.shared(node)
        if shared is None:
            # Claim the node before any await, so concurrent runs share one materialization.
            shared = self._registry.claim(node)
            await self._start(node, shared, conditional)
        done = self._done

        def deliver(f: asyncio.Future[Materialization], nid: NodeId = node.id) -> None:
            outcome: Any
            if f.cancelled():
                outcome = FlowStoneError(f"{node.label()} was cancelled")
            else:
                outcome = f.exception() or f.result()
            done.put_nowait((nid, outcome))

        shared.add_done_callback(deliver)

    async def _start(
        self, node: Node, outcome: asyncio.Future[Materialization], conditional: bool
    ) -> None:
        try:
            if conditional:
                # Planned because it was missing when the plan was made; another run of
                # this runtime may have made it since. (Another process may too: that race
                # costs a repeated materialization, never a wrong record, and a read here
                # would only narrow it.)
                made = self._registry.recently_made(node)
                if made is not None:
                    outcome.set_result(made)
                    return
            spec = self._spec
            order = JobOrder(
                node=node,
                run_id=spec.run_id,
                triggered_by=spec.triggered_by,
                trigger=spec.trigger,
                tenant=spec.tenant,
                known=self._succeeded,
                attempts_before=self._spec.plan.attempts_before.get(node.id, 0),
            )
            job = Job(self._services, order, outcome)
            self._registry.add_job(spec.run_id, job, outcome)
            name = run_name(self._services.pipeline, node, spec.run_id)
            child = supervisors.ChildSpec(
                node.label(),
                lambda: actors.spawn(Materializer, job, name=name),
                restart="transient",
            )
            await self._run_sup.start_child(child)
        except Exception as exc:  # reported as the node's outcome
            if not outcome.done():
                outcome.set_exception(exc)


def run_status(results: list[Materialization], failure: BaseException | None) -> RunStatus:
    """A run's final status from its materializations and its engine failure."""
    statuses = {r.status for r in results}
    if MaterializationStatus.CANCELLED in statuses:
        return RunStatus.CANCELLED
    if failure is not None or statuses - _NOT_FAILED:
        return RunStatus.FAILED
    if MaterializationStatus.WAITING in statuses:
        return RunStatus.WAITING
    return RunStatus.SUCCEEDED


_NOT_FAILED = frozenset({MaterializationStatus.SUCCEEDED, MaterializationStatus.WAITING})
