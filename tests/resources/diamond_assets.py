"""A diamond: source feeds left and right, which both feed joined."""

from __future__ import annotations

from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("diamond")


@pipeline.asset
def source(context: Any) -> list[int]:
    """Numbers to start from."""
    return [1, 2, 3]


@pipeline.asset(depends_on=["source"])
def left(context: Any, source: list[int]) -> list[int]:
    return [n * 2 for n in source]


@pipeline.asset(depends_on=["source"])
async def right(context: Any, source: list[int]) -> list[int]:
    return [n + 1 for n in source]


@pipeline.asset(depends_on=["left", "right"])
def joined(context: Any, left: list[int], right: list[int]) -> list[int]:
    return left + right
