"""``Runtime``: the blocking API. It owns an event loop in a background thread on which
the ``AsyncRuntime``, its actors and its supervision tree live; every method submits a
coroutine there and waits for the result. Usable from scripts, notebooks (which already
run a loop in the main thread) and the CLI alike."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from flowstone.approvals import Approvals, Notifier
from flowstone.engine._results import BackfillResult, Materialization, RunResult
from flowstone.errors import BackfillInterrupted
from flowstone.runtime._loops import loop_factory
from flowstone.runtime._runtime import AsyncRuntime
from flowstone.tenancy import current_tenant, tenant_scope

if TYPE_CHECKING:
    from flowstone.definitions._pipeline import Pipeline
    from flowstone.engine._gate import GateKeeper
    from flowstone.io import IOManager
    from flowstone.storage import RunLogLine, RunRecord
    from flowstone.telemetry import Telemetry

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = loop_factory()()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a blocking Runtime method was called from its own event loop")
        return self.submit(coro).result()

    def stop(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_default_executor()

        self.submit(drain()).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


async def _in_tenant_scope(tenant: str, coro: Coroutine[Any, Any, T]) -> T:
    async with tenant_scope(tenant):
        return await coro


class Lineage:
    """``rt.lineage`` of a blocking ``Runtime`` (see ``AsyncLineage`` for semantics)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def upstream(self, asset: str, partition: Any = None, **kw: Any) -> list[tuple[str, Any]]:
        """Transitive recorded upstream, nearest first."""
        return self._rt._call(self._rt.aio.lineage.upstream(asset, partition, **kw))

    def downstream(self, asset: str, partition: Any = None) -> list[tuple[str, Any]]:
        """Transitive recorded downstream, nearest first."""
        return self._rt._call(self._rt.aio.lineage.downstream(asset, partition))

    def impact(self, asset: str, partition: Any = None) -> list[Any]:
        """Assets (or asset partitions) affected if ``asset`` changes."""
        return self._rt._call(self._rt.aio.lineage.impact(asset, partition))

    def stale(self, asset: str | None = None) -> list[Any]:
        """Materializations made stale by newer upstream data or code versions."""
        return self._rt._call(self._rt.aio.lineage.stale(asset))

    def at(self, asset: str, partition: Any, timestamp: datetime) -> Materialization | None:
        """The materialization of ``asset`` current at ``timestamp``, with its inputs."""
        return self._rt._call(self._rt.aio.lineage.at(asset, partition, timestamp))


class Audit:
    """``rt.audit`` of a blocking ``Runtime`` (see ``flowstone.approvals.AsyncAudit``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def report(self, asset: str, partition: Any = None) -> dict[str, Any]:
        """Executions, lineage, approvals and content digests of one asset partition."""
        return self._rt._call(self._rt.aio.audit.report(asset, partition))


class Runtime:
    """Materialize assets of a pipeline and query what was recorded (blocking API).

    Takes the same arguments as ``AsyncRuntime``; use it as a context manager or call
    ``close()``.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        storage: str | None = None,
        io_managers: Mapping[str, IOManager] | None = None,
        resources: Mapping[str, Any] | None = None,
        ray_address: str | None = None,
        *,
        base_dir: str | os.PathLike[str] = ".flowstone",
        max_workers: int | None = None,
        user: str | None = None,
        gatekeeper: GateKeeper | None = None,
        notifiers: Sequence[Notifier] = (),
        telemetry: Telemetry | None = None,
    ) -> None:
        self.aio = AsyncRuntime(
            pipeline,
            storage,
            io_managers,
            resources,
            ray_address,
            base_dir=base_dir,
            max_workers=max_workers,
            user=user,
            gatekeeper=gatekeeper,
            notifiers=notifiers,
            telemetry=telemetry,
        )
        self.pipeline = pipeline
        self.graph = self.aio.graph
        self.events = self.aio.events
        self._loop = _LoopThread(f"flowstone-{pipeline.name}")
        self.lineage = Lineage(self)
        self.approvals = Approvals(self.aio.approvals, self._call)
        self.audit = Audit(self)
        self._closed = False
        try:
            self._call(self.aio.start())
        except BaseException:
            self._loop.stop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this Runtime is closed; create a new one")
        tenant = current_tenant()
        if tenant is not None:
            # Context variables do not cross into the loop thread: re-enter the caller's
            # tenant scope there, so I/O managers see it.
            coro = _in_tenant_scope(tenant, coro)
        return self._loop.run(coro)

    def materialize(self, asset: str, partition: Any = None) -> RunResult:
        """See ``AsyncRuntime.materialize``."""
        return self._call(self.aio.materialize(asset, partition))

    def materialize_all(self, asset: str, partition: Any = None) -> RunResult:
        """See ``AsyncRuntime.materialize_all``."""
        return self._call(self.aio.materialize_all(asset, partition))

    def backfill(
        self,
        asset: str,
        partitions: Any,
        max_parallel: int = 10,
        *,
        force: bool = False,
        progress: bool = False,
    ) -> BackfillResult:
        """See ``AsyncRuntime.backfill``; ``progress=True`` shows a progress bar.

        Raises:
            BackfillInterrupted: Ctrl-C (``KeyboardInterrupt``) arrived while it ran: the
                backfill was cancelled as a whole first; ``.result`` says what it did.
        """
        run = self.aio.backfill(asset, partitions, max_parallel, force=force)
        if not progress:
            return self._interruptible(run)
        from flowstone.runtime._progress import BackfillProgress

        with BackfillProgress(self.events, asset):
            return self._interruptible(run)

    def _interruptible(self, backfill: Coroutine[Any, Any, BackfillResult]) -> BackfillResult:
        if self._closed:
            backfill.close()
            raise RuntimeError("this Runtime is closed; create a new one")
        tenant = current_tenant()
        future = self._loop.submit(_in_tenant_scope(tenant, backfill) if tenant else backfill)
        try:
            return future.result()
        except KeyboardInterrupt:
            self._loop.run(self.aio.cancel_backfills())
            raise BackfillInterrupted(future.result()) from None

    def cancel(self, run_id: str) -> bool:
        """See ``AsyncRuntime.cancel``."""
        return self._call(self.aio.cancel(run_id))

    def submit(self, asset: str, partition: Any = None, *, upstream: bool = True) -> str:
        """See ``AsyncRuntime.submit``."""
        return self._call(self.aio.submit(asset, partition, upstream=upstream))

    def submit_backfill(self, asset: str, partitions: Any) -> tuple[str, list[str]]:
        """See ``AsyncRuntime.submit_backfill``."""
        return self._call(self.aio.submit_backfill(asset, partitions))

    def wait(self, run_id: str, timeout: float | None = None) -> RunResult:
        """See ``AsyncRuntime.wait``."""
        return self._call(self.aio.wait(run_id, timeout))

    def resume(self, run_id: str) -> RunResult:
        """See ``AsyncRuntime.resume``."""
        return self._call(self.aio.resume(run_id))

    def load_value(self, asset: str, partition: Any = None) -> Any:
        """See ``AsyncRuntime.load_value``."""
        return self._call(self.aio.load_value(asset, partition))

    def materializations(
        self, asset: str, partition: Any = None, **kw: Any
    ) -> list[Materialization]:
        """See ``AsyncRuntime.materializations``."""
        return self._call(self.aio.materializations(asset, partition, **kw))

    def runs(self, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        """See ``AsyncRuntime.runs``."""
        return self._call(self.aio.runs(limit, status))

    def logs(self, run_id: str, *, limit: int | None = None) -> list[RunLogLine]:
        """See ``AsyncRuntime.logs``."""
        return self._call(self.aio.logs(run_id, limit=limit))

    def partition_status(self, asset: str) -> Any:
        """The status of every partition of ``asset`` as ranges, plus counts."""
        return self._call(self.aio.partition_status(asset))

    def add_dynamic_partitions(self, name: str, keys: list[str]) -> list[str]:
        """See ``AsyncRuntime.add_dynamic_partitions``."""
        return self._call(self.aio.add_dynamic_partitions(name, keys))

    def close(self) -> None:
        """Stop everything and release the event loop thread (idempotent)."""
        if self._closed:
            return
        try:
            self._call(self.aio.close())
        finally:
            self._closed = True
            self._loop.stop()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Runtime {self.pipeline.name!r} storage={self.aio.storage.url!r}>"
