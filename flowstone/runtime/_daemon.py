"""``fs.Daemon``: runs a pipeline's queue, schedules, sensors and automation until stopped.

The tree itself lives in flowstone/automation; this module (in the runtime layer, since it
builds ``AsyncRuntime``s) supplies what the tree runs claimed runs with (a ``RunLauncher``
over the runtime) and the reload of changed definitions: a reload builds a new runtime for
new runs, while runs in flight finish on the runtime (and code) they started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from typing import Any

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import (
    DaemonConfig,
    DaemonContext,
    Definitions,
    DefinitionsHolder,
    code_version_of,
    require_serves,
)
from flowstone.automation._executor import Drain
from flowstone.automation._observer import NO_OBSERVER, DaemonObserver
from flowstone.automation._reload import (
    ModuleWatcher,
    import_spec,
    locate,
    pipeline_modules,
    reload_pipeline,
)
from flowstone.automation._store import AutomationStore, open_automation_store
from flowstone.automation._tree import executor_name, start_tree, sync_automation
from flowstone.runtime._loops import loop_factory
from flowstone.runtime._runtime import AsyncRuntime
from flowstone.telemetry import Telemetry

log = logging.getLogger("flowstone.automation")


class RuntimeLauncher:
    """Executes claimed runs on the current runtime; retired runtimes close once idle."""

    def __init__(self, runtime: AsyncRuntime) -> None:
        self.current = runtime
        self.inflight: dict[str, AsyncRuntime] = {}
        self.retired: list[AsyncRuntime] = []

    async def resume(self, run_id: str) -> str:
        """Execute the recorded run on the current definitions; return its status."""
        runtime = self.current
        self.inflight[run_id] = runtime
        try:
            result = await runtime.resume(run_id)
            return str(result.status)
        finally:
            del self.inflight[run_id]
            await self._close_idle()

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run executing here."""
        runtime = self.inflight.get(run_id)
        return bool(runtime is not None and runtime.engine.registry.cancel(run_id))

    async def swap(self, runtime: AsyncRuntime) -> None:
        """Use ``runtime`` for new runs; the old one closes when its runs are done."""
        self.retired.append(self.current)
        self.current = runtime
        await self._close_idle()

    async def _close_idle(self) -> None:
        busy = set(map(id, self.inflight.values()))
        for runtime in [r for r in self.retired if id(r) not in busy]:
            self.retired.remove(runtime)
            await runtime.close()

    async def close(self) -> None:
        """Close every runtime."""
        for runtime in [*self.retired, self.current]:
            await runtime.close()


class Daemon:
    """Run the automation of ``pipeline``: queued runs, schedules, sensors, policies.

    Several daemons may share one record store (PostgreSQL, or SQLite on one machine):
    each tick and each run key creates at most one run, and a killed daemon's runs are
    taken over once their leases expire (docs/automation.md).

    Args:
        pipeline: the ``fs.Pipeline``, or ``"module:attribute"`` naming it.
        storage: the record store URL (as for ``fs.Runtime``); not ``"memory"``.
        config: an ``fs.DaemonConfig`` (limits, lease, intervals); keyword arguments of
            ``DaemonConfig`` may also be given directly (``max_runs=8``).
        reload: watch the pipeline's modules and reload changed definitions.
        reload_interval: seconds between looks at the modules' files.
        spec: ``"module:attribute"`` of the pipeline, for reload (found when omitted).
        runtime_kwargs: the other ``fs.Runtime`` arguments (io_managers, resources, ...).
    """

    def __init__(
        self,
        pipeline: Any,
        storage: str | None = None,
        *,
        config: DaemonConfig | None = None,
        reload: bool = False,
        reload_interval: float = 1.0,
        spec: str | None = None,
        **kwargs: Any,
    ) -> None:
        config_fields = set(DaemonConfig.__dataclass_fields__)
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in config_fields}
        base = config or DaemonConfig()
        self.config = DaemonConfig(**{**vars(base), **overrides}) if overrides else base
        self.spec = pipeline if isinstance(pipeline, str) else None
        self.pipeline = import_spec(pipeline) if isinstance(pipeline, str) else pipeline
        self.spec = spec or self.spec or locate(self.pipeline)
        self.storage_url = storage
        # One Telemetry for the daemon and every runtime it builds (a reload builds another):
        # a runtime given one never shuts it down, so a retired runtime cannot stop the
        # providers the new one and the daemon's own metrics still use.
        self._owns_telemetry = kwargs.get("telemetry") is None
        self.telemetry: Telemetry = kwargs.pop("telemetry", None) or Telemetry.from_environment()
        self.runtime_kwargs: Mapping[str, Any] = {**kwargs, "telemetry": self.telemetry}
        self.reload = reload
        self.reload_interval = reload_interval
        self.stopping = asyncio.Event()
        self.ctx: DaemonContext | None = None

    def run(self) -> None:
        """Run until SIGTERM or SIGINT (blocking), then drain and exit."""
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(self.serve(handle_signals=True))

    def stop(self) -> None:
        """Ask a running daemon to drain and exit (thread-safe only from its loop)."""
        self.stopping.set()

    async def serve(self, *, handle_signals: bool = False) -> None:
        """Run the daemon in the current loop until ``stop()`` (or a signal)."""
        self.stopping = asyncio.Event()
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
        runtime = self._runtime(self.pipeline)
        await runtime.start()
        # The daemon's own view of the pipeline's records (what sensors and policies read):
        # the runtime's store closes with that runtime, which a reload retires.
        storage = runtime.storage.for_pipeline(self.pipeline.name)
        await storage.open()
        store = open_automation_store(storage)
        await store.open()
        launcher = RuntimeLauncher(runtime)
        definitions = Definitions(
            self.pipeline, code_version_of(self.pipeline), _resources_of(runtime)
        )
        self.ctx = ctx = DaemonContext(
            self.config,
            store,
            storage,
            DefinitionsHolder(definitions),
            launcher,
            self._observer(),
        )
        tree = await start_tree(ctx)
        log.info("daemon %s started (code %s)", self.config.daemon_id, definitions.code_version)
        watcher = asyncio.create_task(self._watch(ctx, launcher)) if self.reload else None
        try:
            await self._until_stopped(tree)
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await self._shutdown(ctx, store, tree, launcher)

    async def _until_stopped(self, tree: actors.ActorRef) -> None:
        stop = asyncio.create_task(self.stopping.wait())
        down = asyncio.create_task(tree.wait())
        await asyncio.wait([stop, down], return_when=asyncio.FIRST_COMPLETED)
        for task in (stop, down):
            task.cancel()
        if not tree.alive:
            log.error("daemon %s: its supervision tree exited", self.config.daemon_id)

    async def _shutdown(
        self,
        ctx: DaemonContext,
        store: AutomationStore,
        tree: actors.ActorRef,
        launcher: RuntimeLauncher,
    ) -> None:
        with contextlib.suppress(Exception):
            await store.set_daemon_status(self.config.daemon_id, "draining", wall_now())
        executor = actors.whereis(executor_name(ctx))
        if executor is not None:
            timeout = self.config.drain_timeout
            with contextlib.suppress(actors.ActorError):
                handed = await executor.call(Drain(timeout), timeout=timeout + 5.0)
                if handed:
                    log.info("handed back %d run(s): %s", len(handed), ", ".join(handed))
        await tree.stop("shutdown", timeout=self.config.drain_timeout + 10.0)
        with contextlib.suppress(Exception):
            await store.set_daemon_status(self.config.daemon_id, "stopped", wall_now())
        await store.close()
        await ctx.storage.close()
        await launcher.close()
        if self._owns_telemetry:
            await asyncio.to_thread(self.telemetry.shutdown)

    def _observer(self) -> DaemonObserver:
        metrics = self.telemetry.daemon_metrics(self.pipeline.name)
        return NO_OBSERVER if metrics is None else metrics

    def _runtime(self, pipeline: Any) -> AsyncRuntime:
        return AsyncRuntime(pipeline, self.storage_url, **self.runtime_kwargs)

    # -- reload ------------------------------------------------------------------------------

    async def _watch(self, ctx: DaemonContext, launcher: RuntimeLauncher) -> None:
        if self.spec is None:
            log.error("reload: cannot tell which module defines the pipeline; pass 'module:attr'")
            return
        watcher = ModuleWatcher(pipeline_modules(ctx.definitions.current.pipeline, self.spec))
        while True:
            await actors.sleep(self.reload_interval)
            if watcher.changed():
                await self.reload_now(ctx, launcher, watcher.modules)

    async def reload_now(
        self, ctx: DaemonContext, launcher: RuntimeLauncher, modules: list[str]
    ) -> bool:
        """Load the definitions again; keep the previous ones if that fails."""
        assert self.spec is not None
        try:
            pipeline = reload_pipeline(self.spec, modules)
            require_serves(ctx.storage, pipeline)  # a renamed pipeline is another pipeline
            runtime = self._runtime(pipeline)
            await runtime.start()
        except Exception as exc:  # a syntax error is an Exception too
            ctx.definitions.reload_error = f"{type(exc).__name__}: {exc}"
            log.error(
                "reload failed, keeping the previous definitions: %s", ctx.definitions.reload_error
            )
            return False
        ctx.definitions.reload_error = None
        ctx.definitions.current = Definitions(
            pipeline, code_version_of(pipeline), _resources_of(runtime)
        )
        await launcher.swap(runtime)
        await sync_automation(ctx)
        log.info("reloaded definitions (code %s)", ctx.definitions.current.code_version)
        return True


def _resources_of(runtime: AsyncRuntime) -> Mapping[str, Any]:
    # The resources sensors may read: the runtime's, set up when it started. (Internal to
    # the runtime layer, which this module belongs to.)
    manager = getattr(runtime, "_resources", None)
    return dict(getattr(manager, "_values", {}))
