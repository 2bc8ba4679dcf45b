"""One materialization of one asset partition: the job, and the actor that runs it.

The ``Materializer`` actor is thin: it runs its ``Job`` and exits. The job owns the attempt
loop: find the inputs' records, load the inputs, call the asset function (through its
executor, under its timeout), store the value, and record the attempt through the lineage
client. An exception from user code is a *failed attempt*, retried under the asset's
``RetryPolicy``; an exception in the engine itself crashes the actor, and its supervisor
restarts it (the job keeps its attempt counter, so a restart consumes an attempt rather than
repeating one).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import actors
from flowstone.clock import utcnow
from flowstone.definitions._context import AssetContext
from flowstone.engine._attempt import (
    attempt_record,
    cancelled_error,
    describe,
    with_timeout,
)
from flowstone.engine._boundary import StoreGuard
from flowstone.engine._events import Event, EventBus
from flowstone.engine._gate import GateKeeper, GateRequest, Wait, is_gate
from flowstone.engine._instrumentation import NO_INSTRUMENTATION, Instrumentation, Scope
from flowstone.engine._node import Node, NodeId, Upstream, missing_upstream, upstream_of
from flowstone.engine._results import Materialization
from flowstone.errors import AssetInterrupted, CheckpointRejected, MissingUpstream, StorageError
from flowstone.storage import InputRef, MaterializationRecord
from flowstone.tenancy import tenant_scope

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._catalog import PartitionCatalog
    from flowstone.engine._executor import Executor, Executors
    from flowstone.engine._io_service import IOService
    from flowstone.engine._registry import RunRegistry


class Recorder(Protocol):
    """Writes records durably (the lineage client)."""

    async def record(self, record: MaterializationRecord) -> None:
        """Return once ``record`` is durable."""
        ...


class SucceededRecords(Protocol):
    """Finds the newest succeeded record of nodes (the record reader)."""

    async def latest_succeeded(
        self, nodes: Sequence[Node]
    ) -> dict[str | None, MaterializationRecord]:
        """Newest succeeded record per encoded partition (nodes share one asset)."""
        ...


class Resources(Protocol):
    """The resources an asset declared (the runtime's resource manager)."""

    def for_asset(self, asset: AssetDefinition) -> Mapping[str, Any]:
        """The declared resources of ``asset`` by name."""
        ...


@dataclass(frozen=True, slots=True)
class JobServices:
    """What every job of a runtime uses, and only that. Read-only: built once by the
    engine's assembly and shared by all jobs."""

    pipeline: str
    lookup: Callable[[str], AssetDefinition]
    io: IOService
    lineage: Recorder
    records: SucceededRecords
    catalog: PartitionCatalog
    executors: Executors
    registry: RunRegistry
    events: EventBus
    resources: Resources
    user: str
    host: str
    gatekeeper: GateKeeper
    instrumentation: Instrumentation = NO_INSTRUMENTATION


class _Waiting(Exception):
    """Internal: the gate asked the run to wait for approval ``approval_id``."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(approval_id)
        self.approval_id = approval_id


@dataclass(frozen=True, slots=True)
class JobOrder:
    """Which node to materialize, for which run, on whose behalf."""

    node: Node
    run_id: str
    triggered_by: str
    trigger: str
    tenant: str | None
    known: Mapping[NodeId, Materialization]
    """Succeeded outcomes of this run's nodes so far: inputs found here are not looked up."""
    attempts_before: int = 0
    """Attempts of this node this run recorded before (a resumed run numbers after them)."""


class Job:
    """Everything needed to materialize one node within one run."""

    def __init__(
        self, services: JobServices, order: JobOrder, outcome: asyncio.Future[Materialization]
    ) -> None:
        self._services = services
        self.order = order
        self.node = order.node
        self.asset: AssetDefinition = services.lookup(order.node.asset)
        self.run_id = order.run_id
        self.outcome = outcome
        self.attempts = order.attempts_before
        self._current_start: datetime | None = None
        self._task: asyncio.Future[Materialization] | None = None
        self._guard: StoreGuard | None = None
        self._recorded = 0
        """The newest attempt number already recorded (a cancel records the next one)."""
        self.cancel_requested = False
        self.actor: actors.ActorRef | None = None
        """The materializer running this job (a new one after a restart)."""

    @property
    def tenant(self) -> str | None:
        """The tenant scope the run was started in."""
        return self.order.tenant

    @property
    def instrumentation(self) -> Instrumentation:
        """What observes this job's attempts."""
        return self._services.instrumentation

    @property
    def done(self) -> bool:
        """True once the final outcome has been delivered."""
        return self.outcome.done()

    def finish(self, result: Materialization) -> None:
        """Deliver the final outcome to whoever waits for this node."""
        if not self.outcome.done():
            self.outcome.set_result(result)

    def start(self) -> asyncio.Future[Materialization]:
        """Start the attempt loop in its own task (inside the run's tenant scope)."""
        self._task = asyncio.ensure_future(self._run_scoped())
        return self._task

    def cancel(self) -> None:
        """Cancel the job: the running attempt is interrupted and recorded as cancelled.

        An attempt in a worker thread whose value is being stored is let finish (and
        recorded as the success it is): its value and its record stay in step."""
        if self._guard is not None and not self._guard.abandon():
            return
        self.cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run_scoped(self) -> Materialization:
        if self.order.tenant is None:
            result = await self._run()
        else:
            async with tenant_scope(self.order.tenant):
                result = await self._run()
        # Delivered from the job's own task rather than by the actor awaiting it: the
        # waiting scheduler learns one loop iteration sooner (the critical path of a chain).
        self.finish(result)
        return result

    async def _run(self) -> Materialization:
        """Run attempts until one succeeds or the retry policy gives up."""
        retry = self.asset.retry
        rng: random.Random | None = None
        while True:
            self.attempts += 1
            attempt = self.attempts
            with self._services.instrumentation.attempt(self, attempt) as observed:
                made, failure = await self._attempt_once(attempt, observed)
            if failure is None or isinstance(failure, _NOT_RETRIED):
                return made
            if retry is None or not retry.should_retry(failure, attempt):
                return made
            rng = rng or random.Random()
            delay = retry.delay_for(attempt, rng)
            self._publish("materialization.retried", attempt, delay=delay)
            await actors.sleep(delay)

    async def _attempt_once(
        self, attempt: int, observed: Scope
    ) -> tuple[Materialization, Exception | None]:
        """One attempt, recorded: its outcome, and the exception when it failed."""
        started = utcnow()
        self._current_start = started
        self._publish("materialization.started", attempt)
        inputs_used: list[InputRef] = []
        upstreams: list[Upstream] = []
        try:
            upstreams, inputs_used = await self._resolve_inputs()
            metadata = await self._attempt(upstreams, attempt)
        except _Waiting as waiting:
            made = await self._record_waiting(attempt, started, inputs_used, upstreams, waiting)
            observed.finish("waiting")
            return made, None
        except Exception as exc:
            about = self._about(exc)
            record = self._record("failed", attempt, started, inputs_used, about, exc)
            await self._record_attempt(record)
            observed.finish("failed", exc)
            self._publish("materialization.failed", attempt, error=describe(exc))
            return self._result(record, upstreams if inputs_used else []), exc
        record = self._record("succeeded", attempt, started, inputs_used, metadata, None)
        await self._record_attempt(record)
        observed.finish("succeeded")
        self._publish("materialization.succeeded", attempt)
        made = self._result(record, upstreams)
        self._services.registry.remember(self.node, made)
        return made, None

    async def _record_waiting(
        self,
        attempt: int,
        started: datetime,
        inputs: list[InputRef],
        upstreams: list[Upstream],
        waiting: _Waiting,
    ) -> Materialization:
        """Record the gate's attempt as waiting (no finish time: it has not ended)."""
        metadata = {"approval_id": waiting.approval_id}
        record = self._record("waiting", attempt, started, inputs, metadata, None)
        record = replace(record, finished_at=None)
        await self._record_attempt(record)
        self._publish("materialization.waiting", attempt, approval_id=waiting.approval_id)
        return self._result(record, upstreams)

    def _about(self, exc: BaseException) -> dict[str, Any]:
        """Metadata a failed attempt keeps about its error: the missing pairs (encoded),
        so the runtime can raise ``MissingUpstream`` again from the record."""
        if not isinstance(exc, MissingUpstream):
            return {}
        pairs = []
        for asset, key in exc.missing:
            definition = self._services.lookup(asset).partitions
            encoded = None if key is None or definition is None else definition.encode(key)
            pairs.append([asset, encoded])
        return {"missing": pairs}

    async def _record_attempt(self, record: MaterializationRecord) -> None:
        await self._services.lineage.record(record)
        self._recorded = record.attempt

    def _result(self, record: MaterializationRecord, upstreams: list[Upstream]) -> Materialization:
        """The public form of this job's ``record``; the keys are this job's own (canonical)
        keys, so nothing is decoded again."""
        inputs = [(n.asset, n.key) for up in upstreams for n in up.nodes]
        return Materialization.from_record(record, self.node.partition, inputs)

    async def _resolve_inputs(self) -> tuple[list[Upstream], list[InputRef]]:
        """Find the upstream nodes and their latest succeeded records (the consumed inputs)."""
        services, known = self._services, self.order.known
        upstreams = upstream_of(
            self.asset, self.node, services.lookup, services.catalog.stored_keys, now=utcnow()
        )
        used: list[InputRef] = []
        missing: list[Node] = []
        for up in upstreams:
            # Inputs this run produced are known already; only the others are looked up.
            unknown = [n for n in up.nodes if n.id not in known]
            latest = await services.records.latest_succeeded(unknown) if unknown else {}
            for n in up.nodes:
                made = known.get(n.id)
                record_id = made.id if made is not None else None
                if record_id is None and n.encoded in latest:
                    record_id = latest[n.encoded].id
                if record_id is None:
                    missing.append(n)
                else:
                    used.append(InputRef(n.asset, n.encoded, record_id))
        if missing:
            raise missing_upstream(self.node, missing)
        return upstreams, used

    def context(self, attempt: int) -> AssetContext:
        """The context handed to the asset function for ``attempt``."""
        return AssetContext(
            asset=self.asset.name,
            partition=self.node.key,
            partition_key=self.node.encoded,
            run_id=self.run_id,
            attempt=attempt,
            resources=self._services.resources.for_asset(self.asset),
            pipeline=self._services.pipeline,
            definition=self.asset,
        )

    async def _attempt(self, upstreams: list[Upstream], attempt: int) -> dict[str, Any]:
        """Load inputs, call the function, store the value; return the metadata to record.

        A remote executor (Ray) does all three in its worker, so values never pass
        through this process.
        """
        services, asset = self._services, self.asset
        context = self.context(attempt)
        if is_gate(asset):
            return await self._pass_gate(upstreams, context)
        executor = services.executors.for_asset(asset)
        if executor.remote:
            work = executor.materialize(asset, self.node, self.run_id, context, upstreams)
            remote_metadata: dict[str, Any] = await self._timed(work)
            return remote_metadata
        io = services.io
        if executor is services.executors.local and io.all_blocking(asset, upstreams):
            # Plain function and plain I/O managers: load, call and store in ONE trip to
            # the thread pool instead of one per step.
            guard = self._guard = StoreGuard()
            blocking = partial(io.attempt_blocking, asset, self.node, upstreams, context, guard)
            try:
                # An attempt under a timeout stays in the pool: only there can it be timed out.
                work = services.executors.local.call_attempt(
                    asset.name, blocking, may_inline=asset.timeout is None
                )
                metadata = await self._timed(work, may_expire=guard.abandon)
            finally:
                self._guard = None
            return {**metadata, **context.metadata}
        # The timeout bounds the whole attempt: loads, the call and the store.
        metadata = await self._timed(self._load_call_store(executor, upstreams, context))
        return {**metadata, **context.metadata}

    async def _load_call_store(
        self, executor: Executor, upstreams: list[Upstream], context: AssetContext
    ) -> dict[str, Any]:
        io, asset = self._services.io, self.asset
        values: dict[str, Any] = {}
        for up in upstreams:
            values[up.dep] = await io.load_upstream(up, self.run_id, self.node)
        value = await executor.run(asset.fn, context, values, asset)
        return await io.store(asset, self.node, self.run_id, value)

    async def _pass_gate(self, upstreams: list[Upstream], context: AssetContext) -> dict[str, Any]:
        """Ask the gatekeeper; store what passes, or signal that the run waits."""
        io = self._services.io
        values = {up.dep: await io.load_upstream(up, self.run_id, self.node) for up in upstreams}
        request = GateRequest(
            definition=self.asset,
            partition=self.node.key,
            partition_key=self.node.encoded,
            run_id=self.run_id,
            attempt=context.attempt,
            context=context,
            inputs=values,
        )
        decision = await self._services.gatekeeper.reached(request)
        if isinstance(decision, Wait):
            raise _Waiting(decision.approval_id)
        metadata = await io.store(self.asset, self.node, self.run_id, decision.value)
        return {**metadata, **dict(decision.metadata), **context.metadata}

    async def _timed(self, awaitable: Any, may_expire: Callable[[], bool] | None = None) -> Any:
        if self.asset.timeout is None:
            return await awaitable
        timeout, name, part = self.asset.timeout, self.asset.name, self.node.encoded
        return await with_timeout(awaitable, timeout, name, part, may_expire)

    def _record(
        self,
        status: str,
        attempt: int,
        started: datetime,
        inputs: list[InputRef],
        metadata: dict[str, Any],
        exc: BaseException | None,
    ) -> MaterializationRecord:
        services, order = self._services, self.order
        return attempt_record(
            order,
            self.asset,
            status=status,
            attempt=attempt,
            started=started,
            inputs=inputs,
            metadata=metadata,
            exc=exc,
            user=services.user,
            host=services.host,
        )

    async def record_cancelled(self) -> Materialization:
        """Record the interrupted attempt as cancelled and return it."""
        started = self._current_start or utcnow()
        # Cancelled during a retry delay, the last attempt is recorded already: the
        # cancellation is the attempt that would have come next, with a record of its own.
        attempt = self._recorded + 1 if self._recorded >= self.attempts else self.attempts
        record = self._record("cancelled", max(attempt, 1), started, [], {}, None)
        record = cancelled_error(record, self.run_id)
        await self._services.lineage.record(record)
        self._publish("materialization.cancelled", record.attempt)
        return self._result(record, [])

    def unrecorded(self, refused: StorageError) -> Materialization:
        """The failed outcome of an attempt whose record the store refused."""
        started = self._current_start or utcnow()
        record = self._record("failed", max(self.attempts, 1), started, [], {}, refused)
        self._publish("materialization.failed", record.attempt, error=describe(refused))
        return self._result(record, [])

    def _publish(self, kind: str, attempt: int, **data: Any) -> None:
        events = self._services.events
        if not events.active:
            return
        events.publish(
            Event(
                kind=kind,
                run_id=self.run_id,
                at=utcnow(),
                asset=self.node.asset,
                partition=self.node.encoded,
                attempt=attempt,
                data=data,
            )
        )


_NOT_RETRIED = (CheckpointRejected, AssetInterrupted, MissingUpstream)
"""Failures a retry cannot fix: a decision, an interruption the code raised on purpose, an
input that is not there."""


def _about(exc: BaseException) -> dict[str, Any]:
    """Metadata a failed attempt keeps about its error (the missing pairs, for one)."""
    if isinstance(exc, MissingUpstream):
        return {
            "missing": [
                [asset, str(key) if key is not None else None] for asset, key in exc.missing
            ]
        }
    return {}


class Materializer(actors.Actor):
    """The actor that owns one (asset, partition) while it is being materialized.

    The job runs in a task the handler awaits: killing the actor cancels it with the
    actor (nothing is orphaned), and cancelling the run cancels just the job, which is
    then recorded as cancelled.
    """

    async def init(self, job: Job) -> None:
        self.job = job
        previous, job.actor = job.actor, self.ref
        if previous is not None:  # restarted by the run's supervisor
            reason = actors.format_reason(previous.exit_reason)
            job.instrumentation.restarted(job.run_id, "materializer", reason)
        self.ref.send(_GO)

    async def handle_info(self, message: Any) -> None:
        if message is not _GO:
            return
        job = self.job
        task = job.start()
        try:
            result = await task
        except asyncio.CancelledError:
            if not job.cancel_requested:
                raise  # the actor itself is being killed
            result = await job.record_cancelled()
        except StorageError as refused:
            # The store refused this attempt's record (issue 12): report the attempt failed,
            # unrecorded, rather than crash and run it again.
            result = job.unrecorded(refused)
        job.finish(result)
        self.stop("normal")

    async def terminate(self, reason: Any) -> None:
        job = self.job
        if job.done or not actors.is_shutdown(reason):
            return
        # Stopped by its supervisor before the job finished (runtime closing): record the
        # attempt as cancelled (never as succeeded) and release whoever waits for it.
        job.finish(await job.record_cancelled())


_GO = object()
