"""Executors run asset functions. The local executor runs coroutine functions on the event
loop and plain functions in a bounded thread pool; the Ray executor lives in
``flowstone.engine._ray`` and is loaded only when an asset asks for it."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flowstone.engine._boundary import await_user, call_user
from flowstone.errors import ConfigurationError

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._context import AssetContext
    from flowstone.engine._node import Node, Upstream


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

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._pool: ThreadPoolExecutor | None = None

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
