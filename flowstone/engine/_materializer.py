"""One materialization of one asset partition: the job, and the actor that runs it.

The ``Materializer`` actor is thin: it runs its ``Job`` and exits. The job owns the attempt
loop: load the inputs, call the asset function (through its executor, under its timeout),
store the value, and record the attempt through the lineage actor. An exception from user
code is a *failed attempt*, retried under the asset's ``RetryPolicy``; an exception in the
engine itself crashes the actor, and its supervisor restarts it (the job keeps its attempt
counter, so a restart consumes an attempt rather than repeating one).
"""

from __future__ import annotations

import asyncio
import random
import traceback
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import actors
from flowstone.definitions._context import AssetContext
from flowstone.engine._events import Event
from flowstone.engine._node import Node, Upstream, upstream_of
from flowstone.engine._results import Materialization, materialization_of
from flowstone.errors import IOManagerError, MissingUpstream, StorageError
from flowstone.storage import ErrorInfo, InputRef, MaterializationRecord
from flowstone.tenancy import tenant_scope

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._engine import Engine


TENANT_DIMENSIONS = ("tenant",)
"""Names of the multi-partition dimension that says which tenant a partition belongs to."""


class AssetTimeout(TimeoutError):
    """Raised (and recorded) when an asset function exceeds its ``timeout``."""


class Job:
    """Everything needed to materialize one node within one run."""

    def __init__(
        self,
        engine: Engine,
        node: Node,
        run_id: str,
        triggered_by: str,
        trigger: str,
        future: asyncio.Future[Materialization],
    ) -> None:
        self.engine = engine
        self.node = node
        self.asset: AssetDefinition = engine.pipeline.get(node.asset)
        self.run_id = run_id
        self.triggered_by = triggered_by
        self.trigger = trigger
        self.future = future
        self.attempts = 0
        self.current_start: datetime | None = None
        self.task: asyncio.Future[Materialization] | None = None
        self.cancel_requested = False
        self.tenant: str | None = None
        self.known: dict[tuple[str, str | None], Materialization] = {}

    @property
    def done(self) -> bool:
        """True once the final outcome has been delivered."""
        return self.future.done()

    def finish(self, result: Materialization) -> None:
        """Deliver the final outcome to whoever waits for this node."""
        if not self.future.done():
            self.future.set_result(result)

    async def run_scoped(self) -> Materialization:
        """``run`` inside the tenant scope of whoever started the run (if any), then
        deliver the outcome."""
        if self.tenant is None:
            result = await self.run()
        else:
            async with tenant_scope(self.tenant):
                result = await self.run()
        # Delivered from the job's own task rather than by the actor awaiting it: the
        # waiting scheduler learns one loop iteration sooner (the critical path of a chain).
        self.finish(result)
        return result

    async def run(self) -> Materialization:
        """Run attempts until one succeeds or the retry policy gives up."""
        engine, asset = self.engine, self.asset
        retry = asset.retry
        rng: random.Random | None = None
        while True:
            self.attempts += 1
            attempt = self.attempts
            started = datetime.now(UTC)
            self.current_start = started
            self._publish("materialization.started", attempt)
            inputs_used: list[InputRef] = []
            upstreams: list[Upstream] = []
            try:
                upstreams, inputs_used = await self._resolve_inputs()
                metadata = await self._attempt(upstreams, attempt)
            except Exception as exc:
                record = self._record("failed", attempt, started, inputs_used, {}, exc)
                await engine.record(record)
                self._publish("materialization.failed", attempt, error=_describe(exc))
                if retry is not None and retry.should_retry(exc, attempt):
                    rng = rng or random.Random()
                    delay = retry.delay_for(attempt, rng)
                    self._publish("materialization.retried", attempt, delay=delay)
                    await actors.sleep(delay)
                    continue
                return self._result(record, upstreams if inputs_used else [])
            record = self._record("succeeded", attempt, started, inputs_used, metadata, None)
            await engine.record(record)
            self._publish("materialization.succeeded", attempt)
            made = self._result(record, upstreams)
            engine.remember_succeeded(self.node, made)
            return made

    def _result(self, record: MaterializationRecord, upstreams: list[Upstream]) -> Materialization:
        """The public form of this job's ``record``; the keys are this job's own (canonical)
        keys, so nothing is decoded again."""
        inputs = [(n.asset, n.key) for up in upstreams for n in up.nodes]
        return materialization_of(record, self.node.key, inputs)

    async def _resolve_inputs(self) -> tuple[list[Upstream], list[InputRef]]:
        """Find the upstream nodes and their latest succeeded records (the consumed inputs)."""
        engine = self.engine
        upstreams = upstream_of(self.asset, self.node, engine.pipeline.get, engine.dynamic_keys)
        used: list[InputRef] = []
        missing: list[Node] = []
        for up in upstreams:
            # Inputs this run produced are known already; only the others are looked up.
            unknown = [n for n in up.nodes if n.id not in self.known]
            latest = await engine.latest_succeeded(unknown) if unknown else {}
            for n in up.nodes:
                made = self.known.get(n.id)
                record_id = made.id if made is not None else None
                if record_id is None and n.encoded in latest:
                    record_id = latest[n.encoded].id
                if record_id is None:
                    missing.append(n)
                else:
                    used.append(InputRef(n.asset, n.encoded, record_id))
        if missing:
            raise engine.missing_upstream(self.node, missing)
        return upstreams, used

    def context(self, attempt: int) -> AssetContext:
        """The context handed to the asset function for ``attempt``."""
        engine, asset = self.engine, self.asset
        return AssetContext(
            asset=asset.name,
            partition=self.node.key,
            partition_key=self.node.encoded,
            run_id=self.run_id,
            attempt=attempt,
            resources=engine.resources_for(asset),
            pipeline=engine.pipeline.name,
            definition=asset,
        )

    async def _attempt(self, upstreams: list[Upstream], attempt: int) -> dict[str, Any]:
        """Load inputs, call the function, store the value; return the metadata to record.

        A remote executor (Ray) does all three in its worker, so values never pass
        through this process.
        """
        engine, asset = self.engine, self.asset
        context = self.context(attempt)
        executor = engine.executor_for(asset)
        if executor.remote:
            work = executor.materialize(self, context, upstreams)
            remote_metadata: dict[str, Any] = await self._timed(work)
            return remote_metadata
        if executor is engine.local and engine.all_blocking(asset, upstreams):
            # Plain function and plain I/O managers: load, call and store in ONE trip to
            # the thread pool instead of one per step.
            blocking = partial(engine.attempt_blocking, asset, self.node, upstreams, context)
            metadata = await self._timed(engine.local.call_in_context(blocking))
            return {**metadata, **context.metadata}
        values: dict[str, Any] = {}
        for up in upstreams:
            values[up.dep] = await self._load(up)
        value = await self._timed(executor.run(asset.fn, context, values, asset))
        metadata = await engine.store_value(asset, self.node, self.run_id, value)
        return {**metadata, **context.metadata}

    async def _load(self, up: Upstream) -> Any:
        """Load one dependency's value(s); many partitions come as one table when the
        upstream's I/O manager can load a range at once (``load_partitions``)."""
        engine = self.engine
        if not up.single and len(up.nodes) > 1:
            batch = await engine.load_partitions(up.nodes, self.run_id)
            if batch is not None:
                return batch
        loaded = {value_key(n): await engine.load_value(n, self.run_id) for n in up.nodes}
        return shape(up, loaded)

    async def _timed(self, awaitable: Any) -> Any:
        if self.asset.timeout is None:
            return await awaitable
        return await _with_timeout(awaitable, self.asset.timeout, self.asset.name)

    def _record(
        self,
        status: str,
        attempt: int,
        started: datetime,
        inputs: list[InputRef],
        metadata: dict[str, Any],
        exc: BaseException | None,
    ) -> MaterializationRecord:
        engine = self.engine
        return MaterializationRecord(
            id=MaterializationRecord.make_id(
                self.run_id, self.node.asset, self.node.encoded, attempt
            ),
            run_id=self.run_id,
            asset=self.node.asset,
            partition=self.node.encoded,
            attempt=attempt,
            status=status,
            started_at=started,
            finished_at=datetime.now(UTC),
            triggered_by=self.triggered_by,
            trigger=self.trigger,
            user=engine.user,
            host=engine.host,
            code_version=self.asset.code_version,
            inputs=tuple(inputs),
            metadata=_jsonable(metadata),
            error=_error_info(exc) if exc is not None else None,
            tenant=self.record_tenant(),
        )

    def record_tenant(self) -> str | None:
        """The tenant of this node's records: its partition's tenant dimension, else the
        tenant scope the run was started in."""
        key = self.node.key
        if isinstance(key, dict):
            for dimension in TENANT_DIMENSIONS:
                if dimension in key:
                    return str(key[dimension])
        return self.tenant

    def cancel(self) -> None:
        """Cancel the job: the running attempt is interrupted and recorded as cancelled."""
        self.cancel_requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def record_cancelled(self) -> Materialization:
        """Record the interrupted attempt as cancelled and return it."""
        started = self.current_start or datetime.now(UTC)
        error = ErrorInfo("Cancelled", f"run {self.run_id} was cancelled")
        record = self._record("cancelled", max(self.attempts, 1), started, [], {}, None)
        record = _replace_error(record, error)
        await self.engine.record(record)
        self._publish("materialization.cancelled", record.attempt)
        return self.engine.to_materialization(record)

    def unrecorded(self, refused: StorageError) -> Materialization:
        """The failed outcome of an attempt whose record the store refused."""
        started = self.current_start or datetime.now(UTC)
        record = self._record("failed", max(self.attempts, 1), started, [], {}, refused)
        self._publish("materialization.failed", record.attempt, error=_describe(refused))
        return self.engine.to_materialization(record)

    def _publish(self, kind: str, attempt: int, **data: Any) -> None:
        if not self.engine.events.active:
            return
        self.engine.events.publish(
            Event(
                kind=kind,
                run_id=self.run_id,
                at=datetime.now(UTC),
                asset=self.node.asset,
                partition=self.node.encoded,
                attempt=attempt,
                data=data,
            )
        )


class Materializer(actors.Actor):
    """The actor that owns one (asset, partition) while it is being materialized.

    The job runs in a task the handler awaits: killing the actor cancels it with the
    actor (nothing is orphaned), and cancelling the run cancels just the job, which is
    then recorded as cancelled.
    """

    async def init(self, job: Job) -> None:
        self.job = job
        self.ref.send(_GO)

    async def handle_info(self, message: Any) -> None:
        if message is not _GO:
            return
        job = self.job
        job.task = asyncio.ensure_future(job.run_scoped())
        try:
            result = await job.task
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


async def _with_timeout(awaitable: Any, timeout: float, asset: str) -> Any:
    """Await ``awaitable`` for at most ``timeout`` seconds of the runtime clock."""
    task = asyncio.ensure_future(awaitable)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not task.done():
            expired = True
            task.cancel()

    handle = actors.get_clock().call_later(timeout, expire)
    try:
        return await task
    except asyncio.CancelledError:
        if expired:
            raise AssetTimeout(
                f"asset {asset!r} did not finish within its timeout of {timeout:g} s"
            ) from None
        raise
    finally:
        handle.cancel()


def value_key(node: Node) -> Any:
    """Key of an input value in the dict an asset receives: the partition key, or its
    string form for keys that cannot be dict keys (multi-partition keys are dicts)."""
    return node.encoded if isinstance(node.key, dict) else node.key


def shape(up: Upstream, loaded: dict[Any, Any]) -> Any:
    if up.single:
        return next(iter(loaded.values())) if loaded else None
    if len(up.nodes) == 1 and up.nodes[0].key is None:
        return loaded[None]
    return loaded


def _error_info(exc: BaseException) -> ErrorInfo:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ErrorInfo(type(exc).__qualname__, str(exc), text[-20_000:])


def _replace_error(record: MaterializationRecord, error: ErrorInfo) -> MaterializationRecord:
    from dataclasses import replace

    return replace(record, error=error)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    import json

    if all(type(key) is str and type(value) in _SCALARS for key, value in metadata.items()):
        return dict(metadata)  # the usual case: nothing to check
    if all(type(key) is str for key in metadata):
        try:
            json.dumps(metadata)  # the usual case: every value serialises, check them at once
            return dict(metadata)
        except (TypeError, ValueError):
            pass
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        clean[str(key)] = value
    return clean


__all__ = ("AssetTimeout", "IOManagerError", "Job", "Materializer", "MissingUpstream")
