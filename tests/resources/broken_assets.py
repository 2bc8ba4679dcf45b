"""A pipeline with one of each problem that only whole-pipeline validation can find."""

from __future__ import annotations

from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("broken")


@pipeline.asset
def raw_events(context: Any) -> list[str]:
    return []


@pipeline.asset(depends_on=["raw_event"])
def typo(context: Any, raw_event: list[str]) -> int:
    return 0


@pipeline.asset(depends_on=["raw_events", "narcissus"])
def narcissus(context: Any, raw_events: list[str], narcissus: int) -> int:
    return 0


@pipeline.asset(depends_on=["raw_events"])
def mismatched(context: Any, events: list[str]) -> int:
    return 0


@pipeline.asset
def raw_events(context: Any) -> list[str]:  # noqa: F811 - the duplicate under test
    return []


@pipeline.asset(executor="rey")
def misexecuted(context: Any) -> int:
    return 0


@pipeline.asset(
    io_manager="parket",
    resources=["warehouse"],
)
def misconfigured(context: Any) -> int:
    return 0


@pipeline.asset(io_manager="fs", io_options={"format": "csv", "colour": "red"})
def misformatted(context: Any) -> int:
    return 0


@pipeline.asset(depends_on=["ping"])
def pong(context: Any, ping: int) -> int:
    return ping


@pipeline.asset(depends_on=["pong"])
def ping(context: Any, pong: int) -> int:
    return pong
