"""Executors run asset functions. The local executor runs coroutine functions on the event
loop and plain functions in a bounded thread pool; the Ray executor lives in
``flowstone.engine._ray`` and is loaded only when an asset asks for it.

A trip to the thread pool and back costs tens of microseconds of CPU and two thread
switches, which is most of what a trivial asset costs. So a whole blocking attempt (load,
call, store) whose recent runs each took less than ``inline_below`` seconds runs on the
loop's thread instead (``LocalExecutor.call_attempt``), outside the running loop as seen
by asyncio; one slow run sends the asset back to the pool until it is fast again twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from flowstone.engine._boundary import await_user, call_user
from flowstone.errors import ConfigurationError

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._context import AssetContext
    from flowstone.engine._node import Node, Upstream

T = TypeVar("T")

INLINE_BELOW = 0.001
"""Blocking attempts that recently took less than this (seconds) run on the loop's thread."""
FAST_RUNS_TO_INLINE = 2
"""How many consecutive short runs (in the pool or inline) make the next one inline."""


class Executor(ABC):
    """Runs one asset function call and returns its value."""

    name: str = ""
    remote: bool = False
    """A remote executor implements ``materialize`` (inputs, call and store in its worker)
    instead of ``run``."""

    async def materialize(
        self,
        asset: AssetDefinition,
        node: Node,
        run_id: str,
        context: AssetContext,
        upstreams: list[Upstream],
    ) -> dict[str, Any]:
        """Load inputs, call the asset function and store its value remotely; return the
        metadata to record (remote executors only)."""
        raise NotImplementedError(f"executor {self.name!r} is not remote")

    @abstractmethod
    async def run(
        self, fn: Callable[..., Any], context: Any, inputs: Mapping[str, Any], asset: Any
    ) -> Any:
        """Call ``fn(context, **inputs)`` and return its value (raise what it raises)."""

    async def aclose(self) -> None:
        """Release workers."""


class LocalExecutor(Executor):
    """Coroutine functions on the loop; plain functions in a thread pool of ``max_workers``."""

    name = "local"

    def __init__(self, max_workers: int | None = None, inline_below: float = INLINE_BELOW) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.inline_below = inline_below
        self._pool: ThreadPoolExecutor | None = None
        self._fast_runs: dict[str, int] = {}
        """Consecutive runs shorter than ``inline_below``, per attempt key (an asset)."""

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="flowstone-asset")
        return self._pool

    async def run(
        self, fn: Callable[..., Any], context: Any, inputs: Mapping[str, Any], asset: Any
    ) -> Any:
        name = getattr(asset, "name", "?")
        if inspect.iscoroutinefunction(fn):
            return await await_user(name, fn(context, **inputs))
        loop = asyncio.get_running_loop()
        user_call = functools.partial(call_user, name, fn, context, **inputs)
        call = functools.partial(contextvars.copy_context().run, user_call)
        return await loop.run_in_executor(self._threads(), call)

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def call_in_context(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the pool with the caller's context variables (tenant scope...)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads(), contextvars.copy_context().run, fn)

    async def call_attempt(self, key: str, fn: Callable[[], T], *, may_inline: bool) -> T:
        """Run a blocking attempt ``fn`` with the caller's context variables: on the loop's
        thread when ``may_inline`` and the last runs of ``key`` were short (module
        docstring), otherwise in the pool. Its duration decides where the next one runs."""
        if may_inline and self._fast_runs.get(key, 0) >= FAST_RUNS_TO_INLINE:
            return self._inline(key, fn)
        loop = asyncio.get_running_loop()
        timed = functools.partial(self._timed, key, fn)
        return await loop.run_in_executor(self._threads(), contextvars.copy_context().run, timed)

    def _timed(self, key: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self._observe(key, time.perf_counter() - started)

    def _inline(self, key: str, fn: Callable[[], T]) -> T:
        # User code sees no running loop, as in a worker thread (asyncio.run works there).
        loop = asyncio.get_running_loop()
        asyncio._set_running_loop(None)
        try:
            context = contextvars.copy_context()
            return self._timed(key, lambda: context.run(fn))
        finally:
            asyncio._set_running_loop(loop)

    def _observe(self, key: str, seconds: float) -> None:
        runs = self._fast_runs
        runs[key] = runs.get(key, 0) + 1 if seconds < self.inline_below else 0

    async def call_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a plain blocking helper (an I/O manager method) in the same pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads(), functools.partial(fn, *args))


class Executors:
    """The executors of one runtime by name: ``local`` always, ``ray`` made on first use
    by ``load_ray`` (so ``import ray`` happens only when a Ray asset runs)."""

    def __init__(self, local: LocalExecutor, load_ray: Callable[[], Executor]) -> None:
        self.local = local
        self._load_ray = load_ray
        self._by_name: dict[str, Executor] = {"local": local}

    def for_asset(self, asset: AssetDefinition) -> Executor:
        """The executor ``asset`` asked for."""
        executor = self._by_name.get(asset.executor)
        if executor is None:
            executor = self._load(asset.executor)
        return executor

    def _load(self, name: str) -> Executor:
        if name != "ray":
            raise ConfigurationError(f"unknown executor {name!r}; expected 'local' or 'ray'")
        try:
            executor = self._load_ray()
        except ImportError as exc:
            raise ConfigurationError("executor 'ray' is not available: " + str(exc)) from exc
        self._by_name[name] = executor
        return executor

    async def aclose(self) -> None:
        """Release every executor's workers."""
        for executor in self._by_name.values():
            await executor.aclose()
