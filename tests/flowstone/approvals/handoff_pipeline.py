"""A run with two gates, for the hand-off tests: every asset execution is logged with the
pid that ran it (to ``$FLOWSTONE_TEST_OUT/executions.log``), so a test can tell that the
remaining nodes ran exactly once, and in which process.

    source -> gate_a -> left  \\
           -> gate_b -> right  -> joined
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flowstone as fs


def _log(asset: str) -> None:
    out = os.environ.get("FLOWSTONE_TEST_OUT")
    if out:
        with open(Path(out) / "executions.log", "a", encoding="utf-8") as log:
            log.write(f"{asset} {os.getpid()}\n")


def two_gates() -> fs.Pipeline:
    """The pipeline above (no deadlines)."""
    p = fs.Pipeline("handoff")

    @p.asset()
    def source(context: Any) -> int:
        _log("source")
        return 1

    @p.checkpoint(depends_on=["source"], message="check a")
    def gate_a(context: Any, source: int) -> int:
        return source

    @p.checkpoint(depends_on=["source"], message="check b")
    def gate_b(context: Any, source: int) -> int:
        return source

    @p.asset(depends_on=["gate_a"])
    def left(context: Any, gate_a: int) -> int:
        _log("left")
        return gate_a + 1

    @p.asset(depends_on=["gate_b"])
    def right(context: Any, gate_b: int) -> int:
        _log("right")
        return gate_b + 2

    @p.asset(depends_on=["left", "right"])
    def joined(context: Any, left: int, right: int) -> int:
        _log("joined")
        return left + right

    return p


pipeline = two_gates()


def executions(out: Path) -> list[tuple[str, int]]:
    """The logged executions: (asset, pid), in order."""
    path = out / "executions.log"
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(asset, int(pid)) for asset, pid in rows]
