"""Whole-pipeline checks behind ``Pipeline.validate``; every problem is collected.

Problems come out per asset in definition order, then the cycles, so the same pipeline
always gives the same message.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from flowstone.definitions._asset import AssetDefinition
from flowstone.definitions._cycles import find_cycles
from flowstone.definitions._naming import did_you_mean, quoted_list, suggestion
from flowstone.definitions._pydantic_messages import readable_errors
from flowstone.errors import DefinitionProblem
from flowstone.partitions import MultiPartitions, PartitionsDefinition, default_mapping

if TYPE_CHECKING:
    from flowstone.definitions._pipeline import Pipeline
    from flowstone.io import IOManager, IOOptions

EXECUTORS = ("local", "ray")
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def pipeline_problems(
    pipeline: Pipeline,
    io_managers: Mapping[str, IOManager] | None,
    resources: Mapping[str, object] | None,
) -> tuple[list[DefinitionProblem], dict[str, IOOptions]]:
    """Return every problem of ``pipeline`` and the validated io options of each asset
    (empty when ``io_managers`` is None)."""
    assets = pipeline.assets
    problems: list[DefinitionProblem] = []
    io_options: dict[str, IOOptions] = {}
    for asset in pipeline.definitions:
        messages = [
            *_duplicate_problems(asset, assets),
            *_signature_problems(asset),
            *_dependency_problems(asset, assets, pipeline.name),
            *_partition_problems(asset, assets),
            *_executor_problems(asset),
        ]
        if io_managers is not None:
            messages += _io_problems(asset, io_managers, io_options)
        if resources is not None:
            messages += _resource_problems(asset, resources)
        problems += [DefinitionProblem(m, asset.name, asset.file, asset.line) for m in messages]
    problems += _cycle_problems(assets)
    return problems, io_options


def _duplicate_problems(asset: AssetDefinition, assets: Mapping[str, AssetDefinition]) -> list[str]:
    first = assets[asset.name]
    if first is asset:
        return []
    return [
        f"duplicate asset name, also defined at {first.location}; "
        "rename one of them with name='...'"
    ]


def _signature_problems(asset: AssetDefinition) -> list[str]:
    parameters = list(inspect.signature(asset.fn).parameters.values())[1:]
    deps = asset.dep_names()
    named = [p.name for p in parameters if p.kind in _NAMED]
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    missing = [] if takes_kwargs else [d for d in deps if d not in named]
    unexpected = [n for n in named if n not in deps]
    positional_only = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    found = []
    if missing:
        found.append(f"missing {_plural('parameter', missing)} {quoted_list(missing)}")
    if unexpected:
        found.append(f"unexpected {_plural('parameter', unexpected)} {quoted_list(unexpected)}")
    if positional_only:
        found.append(
            f"positional-only {_plural('parameter', positional_only)} "
            f"{quoted_list(positional_only)} (inputs are passed by keyword)"
        )
    if not found:
        return []
    expected = ", ".join(("context", *deps))
    keyword = "async def" if asset.is_async else "def"
    function = getattr(asset.fn, "__name__", asset.name)
    return [
        f"the parameters after context must be the names in depends_on: {'; '.join(found)}; "
        f"expected {keyword} {function}({expected})"
    ]


def _dependency_problems(
    asset: AssetDefinition, assets: Mapping[str, AssetDefinition], pipeline: str
) -> list[str]:
    problems = []
    for name in asset.dep_names():
        if name == asset.name:
            problems.append(f"depends on itself; remove {name!r} from depends_on")
        elif name not in assets:
            hint = did_you_mean(name, assets) or (
                f"; no asset of that name is defined in pipeline {pipeline!r}"
            )
            problems.append(f"depends on unknown asset {name!r}{hint}")
    return problems


def _partition_problems(asset: AssetDefinition, assets: Mapping[str, AssetDefinition]) -> list[str]:
    problems = []
    for dep in asset.deps:
        upstream = assets.get(dep.name)
        if upstream is None or upstream is asset:
            continue
        if dep.mapping is not None:
            found = dep.mapping.problems(asset.partitions, upstream.partitions)
            problems += [f"dependency {dep.name!r}: {problem}" for problem in found]
        elif default_mapping(asset.partitions, upstream.partitions) is None:
            problems.append(_unmatched_partitions(asset, upstream))
    return problems


def _unmatched_partitions(asset: AssetDefinition, upstream: AssetDefinition) -> str:
    name = upstream.name
    found = (
        f"dependency {name!r}: its partitions cannot be matched to this asset's without a "
        f"mapping; this asset has {_describe(asset.partitions)} and {name!r} has "
        f"{_describe(upstream.partitions)}"
    )
    if asset.partitions is None:
        return (
            f"{found}; to read every partition of {name!r}, write "
            f"fs.Dep({name!r}, mapping=fs.AllPartitionsMapping()) in depends_on"
        )
    dimension = _matching_dimension(asset.partitions, upstream.partitions)
    if dimension is not None:
        return (
            f"{found}; to read the partition of the same {dimension!r}, write "
            f"fs.Dep({name!r}, mapping=fs.DimensionMapping({dimension!r})) in depends_on"
        )
    return f"{found}; write fs.Dep({name!r}, mapping=...) with a partition mapping in depends_on"


def _describe(partitions: PartitionsDefinition | None) -> str:
    return "no partitions" if partitions is None else partitions.describe()


def _matching_dimension(
    downstream: PartitionsDefinition, upstream: PartitionsDefinition | None
) -> str | None:
    if not isinstance(downstream, MultiPartitions):
        return None
    return next((n for n, d in downstream.dimensions.items() if d == upstream), None)


def _executor_problems(asset: AssetDefinition) -> list[str]:
    problems = []
    if asset.executor not in EXECUTORS:
        problems.append(
            f"unknown executor {asset.executor!r}; known executors: {quoted_list(EXECUTORS)}"
        )
    elif asset.ray_options is not None and asset.executor != "ray":
        problems.append(
            f"ray_options are given but the executor is {asset.executor!r}; "
            "add executor='ray' or remove ray_options"
        )
    return problems


def _io_problems(
    asset: AssetDefinition, io_managers: Mapping[str, IOManager], validated: dict[str, IOOptions]
) -> list[str]:
    manager = io_managers.get(asset.io_manager)
    if manager is None:
        hint = suggestion(asset.io_manager, io_managers)
        return [
            f"unknown io_manager {asset.io_manager!r}{hint}; "
            f"known io managers: {quoted_list(io_managers)}"
        ]
    label = f"io_options for io_manager {asset.io_manager!r} ({type(manager).__name__})"
    try:
        validated[asset.name] = manager.validate_options(asset.io_options)
    except ValidationError as error:
        return [f"{label}: {line}" for line in readable_errors(error, manager.options_model)]
    except Exception as error:  # a custom validate_options may raise anything
        return [f"{label}: {error}"]
    return []


def _resource_problems(asset: AssetDefinition, resources: Mapping[str, object]) -> list[str]:
    return [
        f"requires resource {name!r}, which is not provided{suggestion(name, resources)}; "
        f"provided resources: {quoted_list(resources)}"
        for name in asset.resources
        if name not in resources
    ]


def _cycle_problems(assets: Mapping[str, AssetDefinition]) -> list[DefinitionProblem]:
    problems = []
    for cycle in find_cycles(assets):
        first = assets[cycle[0]]
        path = " -> ".join((*cycle, cycle[0]))
        message = (
            f"dependency cycle: {path} (each asset depends on the one before it); "
            "remove one of these dependencies"
        )
        problems.append(DefinitionProblem(message, first.name, first.file, first.line))
    return problems


def _plural(word: str, items: list[str]) -> str:
    return word if len(items) == 1 else word + "s"
