"""``RayExecutor``: runs the assets declared with ``executor="ray"`` as Ray tasks.

Loaded by the engine the first time a Ray asset runs (``import ray`` happens here, never at
``import flowstone``). Each attempt of an asset partition is one Ray task that loads the
inputs, calls the function and stores the value *in the worker* (``flowstone.engine._ray_worker``);
only the metadata to record comes back. The task is named
``flowstone:<pipeline>/<asset>/<partition>``, so the Ray dashboard, ``ray list tasks`` and
``ray summary tasks`` show what FlowStone is running, one name per asset partition (the
run id is not in the name: each run would otherwise be its own group); the attempt's record
names its run.

FlowStone alone retries: tasks run with ``max_retries=0`` and the asset's ``RetryPolicy``
decides. A worker process that dies mid-step surfaces as a failed attempt whose error type is
Ray's (``WorkerCrashedError``, ``OutOfMemoryError``, ``NodeDiedError``...), and that attempt
is retried like any other. See docs/ray.md and docs/adr/0020-ray-executor-and-actor-backend.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from flowstone.engine._executor import Executor
from flowstone.engine._node import Node, task_name
from flowstone.engine._ray_worker import (
    AssetPlan,
    Bundle,
    TaskSpec,
    bound_task,
    pack,
    task_by_reference,
)
from flowstone.errors import ConfigurationError
from flowstone.io import MemoryIOManager
from flowstone.partitions import PartitionKey

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._context import AssetContext
    from flowstone.engine._io_service import IOService
    from flowstone.engine._materializer import Resources
    from flowstone.engine._node import Upstream
    from flowstone.io._manager import IOManager

log = logging.getLogger("flowstone.ray")

SHARED_MANAGERS = "'fs' (a shared filesystem), 's3', 'parquet' or 'postgres'"

LOCAL_CLUSTER_OPTIONS: dict[str, Any] = {
    # Ray's metrics tag every task with its name, and every tag value is a time series kept
    # for the life of each process: with one name per partition and run, a 10,000-partition
    # backfill grew the driver by ~8 KB per task (240 MB). The dashboard's job, actor and
    # task views read task events, not metrics, so a local cluster loses nothing it shows.
    "_system_config": {"enable_metrics_collection": False},
}
"""Extra ``ray.init`` options for the local cluster the executor starts itself."""

BOUND_BUNDLE_BYTES = 1 << 20
"""A bundle up to this size (pickled) is bound into the task function, exported once per
runtime through Ray's function table; a larger one goes to the object store instead (Ray
warns about exported functions from 10 MB)."""


def ray_problems(
    assets: Mapping[str, AssetDefinition], io_managers: Mapping[str, IOManager]
) -> list[str]:
    """Return why Ray assets could not run in Ray workers (one sentence each).

    A Ray asset stores its value and loads its inputs in the worker, so its I/O manager and
    those of its upstream assets must be reachable from another process: the in-memory
    manager keeps values in the driver's memory, where no worker can see them.
    """
    problems: list[str] = []
    for asset in assets.values():
        if asset.executor != "ray":
            continue
        if _process_local(io_managers.get(asset.io_manager)):
            problems.append(
                f"asset {asset.name!r} runs on Ray but its io manager {asset.io_manager!r} "
                f"keeps values in this process; use {SHARED_MANAGERS}"
            )
        for dep in asset.dep_names():
            upstream = assets.get(dep)
            if upstream is not None and _process_local(io_managers.get(upstream.io_manager)):
                problems.append(
                    f"asset {asset.name!r} runs on Ray and reads {dep!r}, whose io manager "
                    f"{upstream.io_manager!r} keeps values in this process; store {dep!r} "
                    f"with {SHARED_MANAGERS}"
                )
    return problems


def _process_local(manager: object) -> bool:
    return bool(getattr(manager, "process_local", isinstance(manager, MemoryIOManager)))


class RayExecutor(Executor):
    """Run Ray assets as Ray tasks; Ray is initialised on first use.

    ``ray_address`` (the runtime's ``ray_address=``) decides the cluster: ``None``
    starts a local Ray in this process (stopped again when the runtime closes), ``"auto"``
    or ``"ray://..."`` / ``"host:port"`` connects to a running cluster. If Ray is already
    initialised in this process (the user called ``ray.init``), that session is used.
    """

    name = "ray"
    remote = True

    def __init__(
        self,
        pipeline: str,
        assets: Mapping[str, AssetDefinition],
        io: IOService,
        resources: Resources,
        *,
        ray_address: str | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        problems = ray_problems(assets, io.managers)
        if problems:
            raise ConfigurationError("; ".join(problems))
        self._pipeline = pipeline
        self._assets = assets
        self._io = io
        self._resources = resources
        self.ray_address = ray_address
        self.init_options = dict(init_options or {})
        self._token = uuid.uuid4().hex
        self._ray: Any = None
        self._started_ray = False  # uses the local cluster FlowStone started
        self._lock: asyncio.Lock | None = None
        self._remote: Any = None
        self._extra_args: tuple[Any, ...] = ()  # after the spec: (token, [bundle ref]) or ()
        self._options: dict[str, dict[str, Any]] = {}  # task options per asset
        self._finished: Finished | None = None

    async def run(
        self, fn: Callable[..., Any], context: Any, inputs: Mapping[str, Any], asset: Any
    ) -> Any:
        raise NotImplementedError("RayExecutor is remote: the engine calls materialize()")

    async def materialize(
        self,
        asset: AssetDefinition,
        node: Node,
        run_id: str,
        context: AssetContext,
        upstreams: list[Upstream],
    ) -> dict[str, Any]:
        """Run one attempt as a Ray task; return the metadata the worker reported."""
        ray = await self._ensure_ray()
        name = task_name(self._pipeline, node)
        spec = TaskSpec(asset.name, node, run_id, context.attempt, list(upstreams), name)
        ref = self._submit(asset, name, pack(spec))
        try:
            return dict(await self._result_of(ref))
        except asyncio.CancelledError:
            # Cancelled (timeout or run cancelled): stop the work too, not only the wait.
            _cancel(ray, ref)
            raise
        except ray.exceptions.RayTaskError as error:
            raise _user_error(error) from None

    def _result_of(self, ref: Any) -> Any:
        """An awaitable of ``ref``'s value: batched (``Finished``) when Ray offers the hook."""
        if not hasattr(ref, "_on_completed"):
            return ref  # another Ray (or Ray Client) without it: plain ``await ref``
        assert self._finished is not None  # made with the task function, on this loop
        return self._finished.watch(ref)

    async def _ensure_ray(self) -> Any:
        if self._ray is not None:
            return self._ray
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._ray is None:
                ray = await asyncio.to_thread(self._init_ray)
                self._remote = self._task_function(ray, self._make_bundle())
                self._finished = Finished(asyncio.get_running_loop())
                self._ray = ray
        return self._ray

    def _task_function(self, ray: Any, bundle: Bundle) -> Any:
        """The Ray remote function every attempt runs, with the bundle bound into it when it
        is small (no per-task reference for Ray to serialize and track) and passed by
        reference otherwise."""
        decorate = ray.remote(max_retries=0, retry_exceptions=False)
        if len(_pickled(ray, bundle)) <= BOUND_BUNDLE_BYTES:
            self._extra_args = ()
            return decorate(bound_task(bundle))
        self._extra_args = (self._token, [_put_bundle(ray, bundle)])
        return decorate(task_by_reference)

    def _submit(self, asset: AssetDefinition, name: str, spec: TaskSpec | bytes) -> Any:
        """Submit one attempt as a Ray task named ``name``; return its ObjectRef."""
        options = self._options.get(asset.name)
        if options is None:
            options = self._options[asset.name] = self._task_options(asset)
        args = (spec, *self._extra_args)
        submit = getattr(self._remote, "_remote", None)
        if submit is None or "runtime_env" in options:
            # The public way: ``.options()`` builds a new wrapper (and re-parses any
            # runtime_env) on every call, ~0.2 ms a task.
            return self._remote.options(name=name, **options).remote(*args)
        # What ``.options(...).remote()`` calls in Ray 2.x, minus the per-call wrapper; the
        # options were validated once by ``_task_options``.
        return submit(args=args, kwargs=None, name=name, **options)

    def _task_options(self, asset: AssetDefinition) -> dict[str, Any]:
        options = dict(getattr(self._remote, "_default_options", {}))
        options.pop("max_calls", None)  # not allowed in .options()
        options.update(asset.ray_options.remote_args() if asset.ray_options else {})
        options["max_retries"] = 0
        self._remote.options(**options)  # raises now if Ray rejects an option
        return options

    def _init_ray(self) -> Any:
        address = self.ray_address
        if address is not None and _needs_local_token(address):
            _present_local_token()
        import ray

        if ray.is_initialized():
            if _session.owned:  # a local cluster another runtime of this process started
                _session.users += 1
                self._started_ray = True
            return ray
        options: dict[str, Any] = dict(self.init_options)
        if address is None:
            # "local", not None: ray.init() would join a cluster started with `ray start`
            # on this machine instead of starting a private one.
            log.info("starting a local Ray cluster")
            ray.init(address="local", **{**LOCAL_CLUSTER_OPTIONS, **options})
            _session.owned, _session.users = True, 1
            self._started_ray = True
        else:
            log.info("connecting to Ray at %s", address)
            ray.init(address=address, **options)
        return ray

    def _make_bundle(self) -> Bundle:
        """Collect, for every Ray asset and its upstream assets, what workers need."""
        plans: dict[str, AssetPlan] = {}
        for asset in self._assets.values():
            if asset.executor != "ray":
                continue
            plans[asset.name] = self._plan(asset, with_function=True)
            for dep in asset.dep_names():
                if dep not in plans:
                    plans[dep] = self._plan(self._assets[dep], with_function=False)
        managers = {plan.io_manager: self._io.managers[plan.io_manager] for plan in plans.values()}
        return Bundle(self._pipeline, plans, managers)

    def _plan(self, asset: AssetDefinition, *, with_function: bool) -> AssetPlan:
        template = self._io.context(asset, PartitionKey.NONE, run_id="")
        if not with_function:
            return AssetPlan(asset.name, asset.io_manager, template)
        return AssetPlan(
            asset.name,
            asset.io_manager,
            template,
            fn=asset.fn,
            resources=self._resources.for_asset(asset),
        )

    async def aclose(self) -> None:
        """Stop the local Ray cluster FlowStone started once no runtime uses it any more."""
        if self._started_ray and self._ray is not None:
            _session.users -= 1
            if _session.users <= 0 and _session.owned:
                _session.owned = False
                self._ray.shutdown()
        self._ray = None
        self._started_ray = False


class Finished:
    """Hands the results of finished Ray tasks to the event loop in batches.

    ``await ref`` makes Ray wrap every result in a ``concurrent.futures.Future`` and wake the
    event loop once per task from its I/O thread, where ``ray.wait`` (what a raw Ray driver
    calls) looks at many tasks at once. Here Ray's completion callback only queues the result,
    and the loop is woken once for every result queued since it last looked: on a busy
    driver one wake-up delivers several tasks. The callback runs on Ray's I/O thread; the
    futures are only touched on the loop's.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._queued: deque[tuple[asyncio.Future[Any], Any]] = deque()
        self._woken = False

    def watch(self, ref: Any) -> asyncio.Future[Any]:
        """A future of ``ref``'s value (its exception if the task failed)."""
        future: asyncio.Future[Any] = self.loop.create_future()
        ref._on_completed(partial(self._completed, future))
        return future

    def _completed(self, future: asyncio.Future[Any], result: Any) -> None:
        # Ray's I/O thread. Queue first, then wake: a delivery that already started has
        # cleared ``_woken`` before draining, so a result queued now is never stranded.
        self._queued.append((future, result))
        if not self._woken:
            self._woken = True
            try:
                self.loop.call_soon_threadsafe(self._deliver)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    def _deliver(self) -> None:
        self._woken = False
        queued = self._queued
        while queued:
            future, result = queued.popleft()
            if future.done():  # cancelled meanwhile (timeout, cancelled run)
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


class _Session:
    """Whether this process's Ray session is a local cluster FlowStone started, and how
    many runtimes use it (it is stopped when the last of them closes)."""

    owned = False
    users = 0


_session = _Session()


def _needs_local_token(address: str) -> bool:
    """True when connecting to ``address`` needs the local Ray token to be presented.

    Ray 2.60 clusters require a token by default, but a driver connecting to an explicit
    ``host:port`` sends one only with RAY_AUTH_MODE=token in its environment; otherwise
    it retries "Authentication token is missing" and fails with a bare ConnectionError.
    Ray enables the token by itself for ``"auto"``; an explicit RAY_AUTH_MODE and Ray Client
    (``ray://``) addresses are left alone.
    """
    if address == "auto" or "://" in address or "RAY_AUTH_MODE" in os.environ:
        return False
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    return os.path.isfile(path)


def _present_local_token() -> None:
    """Turn token authentication on for this process, as Ray does itself for ``"auto"``."""
    log.info("a Ray token is available locally: connecting with RAY_AUTH_MODE=token")
    os.environ["RAY_AUTH_MODE"] = "token"
    if "ray" in sys.modules:
        # Ray read its configuration when it was imported; make it read it again.
        try:
            from ray._private.authentication import authentication_token_setup as setup

            setup._enable_token_auth()
        except (ImportError, AttributeError):  # another Ray version: the variable must do
            log.debug("could not refresh Ray's configuration", exc_info=True)


def _pickled(ray: Any, bundle: Bundle) -> bytes:
    try:
        return bytes(ray.cloudpickle.dumps(bundle))
    except Exception as error:
        raise _unpicklable(bundle, error) from error


def _put_bundle(ray: Any, bundle: Bundle) -> Any:
    try:
        return ray.put(bundle)
    except Exception as error:
        raise _unpicklable(bundle, error) from error


def _unpicklable(bundle: Bundle, error: Exception) -> ConfigurationError:
    return ConfigurationError(
        "the functions, io managers and resources of the Ray assets "
        f"({', '.join(bundle.assets)}) must be picklable to reach Ray workers; "
        f"pickling failed: {type(error).__name__}: {error}"
    )


def _cancel(ray: Any, ref: Any) -> None:
    try:
        ray.cancel(ref, force=True)
    except Exception:  # already finished, or its worker is gone
        log.debug("could not cancel Ray task %s", ref, exc_info=True)


def _user_error(error: BaseException) -> BaseException:
    """The exception the asset function (or I/O manager) raised in the worker.

    Ray wraps it in ``RayTaskError``; unwrapping it keeps ``retry_on=(ValueError,)`` and the
    recorded error type meaningful. The worker's traceback is kept as a note.
    """
    cause = getattr(error, "cause", None)
    if not isinstance(cause, BaseException):
        return error
    # The wrapper's text is Ray's report: the task, the worker and the remote traceback.
    cause.add_note(f"raised in a Ray worker:\n{error}")
    return cause
