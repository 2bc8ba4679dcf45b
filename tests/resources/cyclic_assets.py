"""Three assets in a cycle (alpha -> beta -> gamma -> alpha) and one that is fine."""

from __future__ import annotations

from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("cyclic")


@pipeline.asset(depends_on=["gamma"])
def alpha(context: Any, gamma: int) -> int:
    return gamma + 1


@pipeline.asset(depends_on=["alpha"])
def beta(context: Any, alpha: int) -> int:
    return alpha + 1


@pipeline.asset(depends_on=["beta"])
def gamma(context: Any, beta: int) -> int:
    return beta + 1


@pipeline.asset
def standalone(context: Any) -> int:
    return 0
