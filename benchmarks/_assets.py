"""Build FlowStone pipelines from ``DagSpec`` and partitioned chains, in loops.

FlowStone requires an asset function's parameters after ``context`` to be named exactly as its
dependencies. Generated functions state their parameters through ``__signature__`` (the
clean way); if an engine refuses that, ``exec`` of a one-line ``def`` is the fallback.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any, Literal

from benchmarks._dags import DagSpec

Style = Literal["signature", "exec"]
PARTITION_START = dt.date(2023, 1, 1)
"""Partitioned benchmark assets start here: 2023 is for warm-up, 2024 is measured."""


def _work(amount: int) -> int:
    return sum(range(amount)) if amount else 1


def asset_function(
    name: str, deps: tuple[str, ...] | list[str], work: int = 0, style: Style = "signature"
) -> Callable[..., Any]:
    """A function ``name(context, <deps>...)`` that does ``work`` and returns a small int."""
    if style == "exec":
        namespace: dict[str, Any] = {"_work": _work}
        params = ", ".join(["context", *deps])
        exec(f"def {name}({params}):\n    return _work({work})\n", namespace)
        function: Callable[..., Any] = namespace[name]
        return function

    def function_(context: Any, *args: Any, **kwargs: Any) -> int:
        return _work(work)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(p, kind) for p in ("context", *deps)]
    function_.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    function_.__name__ = function_.__qualname__ = name
    return function_


def dag_pipeline(fs: Any, spec: DagSpec, io_manager: str, style: Style = "signature") -> Any:
    """A pipeline with every asset of ``spec`` (names and dependencies as given)."""
    pipeline = fs.Pipeline(f"bench_{spec.shape}_{spec.size}")
    for name, deps in spec.assets:
        decorate = pipeline.asset(name=name, depends_on=list(deps), io_manager=io_manager)
        decorate(asset_function(name, deps, style=style))
    return pipeline


def daily_chain_pipeline(
    fs: Any,
    length: int,
    io_manager: str,
    *,
    work: int = 0,
    executor: str = "local",
    style: Style = "signature",
) -> tuple[Any, str]:
    """``p0 -> p1 -> ...``, daily partitioned from 2023-01-01; returns (pipeline, last name)."""
    pipeline = fs.Pipeline(f"bench_daily_{length}_{executor}")
    daily = fs.DailyPartitions(start=PARTITION_START.isoformat())
    names = [f"p{i}" for i in range(length)]
    for i, name in enumerate(names):
        deps = names[max(0, i - 1) : i]
        options: dict[str, Any] = {"io_manager": io_manager, "partitioned_by": daily}
        if executor != "local":
            options["executor"] = executor
        pipeline.asset(name=name, depends_on=deps, **options)(
            asset_function(name, deps, work, style)
        )
    return pipeline, names[-1]


def days(year: int, count: int) -> list[dt.date]:
    """The first ``count`` days of ``year``."""
    first = dt.date(year, 1, 1)
    return [first + dt.timedelta(days=i) for i in range(count)]


def runtime_with_fallback(
    fs: Any, build: Callable[[Style], Any], **runtime_kwargs: Any
) -> tuple[Any, Style]:
    """Build the pipeline and its Runtime; retry with ``exec`` functions on a DefinitionError."""
    try:
        return fs.Runtime(build("signature"), **runtime_kwargs), "signature"
    except fs.DefinitionError:
        return fs.Runtime(build("exec"), **runtime_kwargs), "exec"
