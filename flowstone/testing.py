"""Helpers for testing pipelines.

``run_asset`` calls one asset function with upstream values you give it (no store, no
I/O managers). ``memory_runtime`` builds a runtime that keeps everything in memory. The
pytest fixture ``flowstone_runtime`` is a factory of such runtimes, closed after the test;
enable it with ``pytest_plugins = ["flowstone.testing"]`` in your ``conftest.py``. Only
the fixture needs pytest: the helpers work without it installed.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from actors.testing import MockClock as MockClock
from actors.testing import use_clock as use_clock
from flowstone.definitions._context import AssetContext
from flowstone.engine._node import make_node
from flowstone.io import MemoryIOManager
from flowstone.runtime._sync_runtime import Runtime

__all__ = ("MockClock", "flowstone_runtime", "memory_runtime", "run_asset", "use_clock")


def run_asset(
    pipeline: Any,
    asset: str,
    *,
    partition: Any = None,
    upstream: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    run_id: str = "test-run",
) -> Any:
    """Call ``asset``'s function with ``upstream`` values and return what it returns.

    The partition is validated as in a real run; every dependency must be given.
    """
    definition = pipeline.get(asset)
    node = make_node(definition, partition)
    given = dict(upstream or {})
    missing = [d for d in definition.dep_names() if d not in given]
    extra = [k for k in given if k not in definition.dep_names()]
    if missing or extra:
        raise ValueError(
            f"run_asset({asset!r}) needs upstream values for exactly "
            f"{list(definition.dep_names())}; "
            f"missing {missing}, unexpected {extra}"
        )
    declared = {
        name: (resources or {})[name] for name in definition.resources if name in (resources or {})
    }
    context = AssetContext(
        asset=asset,
        partition=node.key,
        partition_key=node.encoded,
        run_id=run_id,
        attempt=1,
        resources=declared,
        pipeline=pipeline.name,
        definition=definition,
    )
    result = definition.fn(context, **given)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def memory_runtime(pipeline: Any, **kwargs: Any) -> Runtime:
    """A ``Runtime`` with the memory record store and in-memory ``fs``/``memory`` managers."""
    managers = {
        "fs": MemoryIOManager(),
        "memory": MemoryIOManager(),
        **kwargs.pop("io_managers", {}),
    }
    kwargs.setdefault("storage", "memory")
    return Runtime(pipeline, io_managers=managers, **kwargs)


def flowstone_runtime(tmp_path: Any) -> Iterator[Any]:
    """Factory fixture: ``flowstone_runtime(pipeline, **kw)`` -> an in-memory ``Runtime``."""
    made: list[Runtime] = []

    def make(pipeline: Any, **kwargs: Any) -> Runtime:
        kwargs.setdefault("base_dir", tmp_path / ".flowstone")
        rt = memory_runtime(pipeline, **kwargs)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


try:
    import pytest
except ImportError:  # pragma: no cover - exercised in a subprocess without pytest
    pass
else:
    # Registered as a fixture only where pytest exists; the plain function stays importable.
    flowstone_runtime = pytest.fixture(flowstone_runtime)
