"""Fixtures for engine tests: small pipelines and in-memory runtimes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs


@pytest.fixture
async def make_runtime(tmp_path: Path) -> AsyncIterator[Callable[..., fs.AsyncRuntime]]:
    """Factory of AsyncRuntimes on the memory store and memory I/O managers; closed after."""
    made: list[fs.AsyncRuntime] = []

    def make(pipeline: fs.Pipeline, **kwargs: Any) -> fs.AsyncRuntime:
        managers = {"fs": fs.io.MemoryIOManager(), **kwargs.pop("io_managers", {})}
        kwargs.setdefault("storage", "memory")
        kwargs.setdefault("base_dir", tmp_path / ".flowstone")
        rt = fs.AsyncRuntime(pipeline, io_managers=managers, **kwargs)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


def chain_pipeline(partitioned: bool = True) -> fs.Pipeline:
    """raw -> clean -> report, daily when ``partitioned``."""
    p = fs.Pipeline("chain")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-03-31") if partitioned else None

    @p.asset(partitioned_by=days)
    def raw(context: Any) -> list[int]:
        base = context.partition.day if context.partition else 0
        return [base, base + 1, base + 2]

    @p.asset(depends_on=["raw"], partitioned_by=days)
    def clean(context: Any, raw: list[int]) -> list[int]:
        return [x * 10 for x in raw]

    @p.asset(depends_on=["clean"], partitioned_by=days)
    def report(context: Any, clean: list[int]) -> int:
        return sum(clean)

    return p
