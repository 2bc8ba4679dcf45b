"""Check the arguments of ``@pipeline.asset(...)`` and build the ``AssetDefinition``.

Only what can be judged from one asset alone is checked here (the function's shape, the
types of the options); everything that needs the other assets or the runtime is checked by
``Pipeline.validate`` (see ``_validation``). All problems found are raised together.
"""

from __future__ import annotations

import inspect
import linecache
import math
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from flowstone.definitions._asset import AssetDefinition
from flowstone.definitions._asset_info import AssetInfo
from flowstone.definitions._dependency import Dep
from flowstone.definitions._naming import IDENTIFIER_RULE, is_identifier
from flowstone.definitions._ray_options import RayOptions
from flowstone.definitions._retry import RetryPolicy
from flowstone.errors import DefinitionError, DefinitionProblem
from flowstone.partitions import PartitionsDefinition

if TYPE_CHECKING:
    from flowstone.definitions._pipeline import Pipeline

_DEF_LINE = re.compile(r"\s*(async\s+)?def\s")
# Decorators with many arguments can push the def far below the first decorator line.
_MAX_DECORATOR_LINES = 200


def build_asset(fn: Callable[..., Any], pipeline: Pipeline, **options: Any) -> AssetDefinition:
    """Return the definition of ``fn`` with the decorator's ``options``.

    Raises:
        DefinitionError: listing every problem that can be seen from this asset alone.
    """
    if not callable(fn):
        raise DefinitionError(
            f"@pipeline.asset decorates a function, got {fn!r}; write "
            "@pipeline.asset(...) above a def, or call pipeline.asset(...)(fn)"
        )
    file, line = source_location(fn)
    name = options["name"] if options["name"] is not None else getattr(fn, "__name__", None)
    problems: list[str] = []
    values = _checked_values(fn, name, options, problems)
    if problems:
        who = name if isinstance(name, str) else None
        raise DefinitionError([DefinitionProblem(p, who, file, line) for p in problems])
    return AssetDefinition(**values, file=file, line=line, pipeline=pipeline)


def _checked_values(
    fn: Callable[..., Any], name: object, options: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    problems += _name_problems(name, options["name"] is not None)
    problems += _function_problems(fn)
    info = options["info"] if options["info"] is not None else AssetInfo()
    if not isinstance(info, AssetInfo):
        problems.append(
            f"info must be an fs.AssetInfo, got {info!r}; "
            "write info=fs.AssetInfo(owners=[...], tags={...})"
        )
        info = AssetInfo()
    description = options["description"]
    if description is not None and not isinstance(description, str):
        problems.append(f"description must be a string, got {description!r}")
    return {
        "name": name,
        "fn": fn,
        "deps": _deps(options["depends_on"], problems),
        "partitions": _partitions(options["partitioned_by"], problems),
        "io_manager": _io_manager(options["io_manager"], problems),
        "io_options": _io_options(options["io_options"], problems),
        "description": description if description is not None else inspect.getdoc(fn),
        "metadata": info.metadata,
        "tags": info.tags,
        "owners": tuple(info.owners),
        "group": info.group,
        "code_version": info.code_version,
        "retry": _typed(
            options["retry"], RetryPolicy, "retry", "fs.RetryPolicy(max_retries=3)", problems
        ),
        "timeout": _timeout(options["timeout"], problems),
        "executor": _executor(options["executor"], problems),
        "ray_options": _typed(
            options["ray_options"], RayOptions, "ray_options", "fs.RayOptions(num_cpus=2)", problems
        ),
        "resources": _resources(options["resources"], problems),
        "is_async": _is_async(fn),
    }


def source_location(fn: Callable[..., Any]) -> tuple[str, int]:
    """Return the file and the line of the ``def`` of ``fn`` (not of its first decorator)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        # A callable object: point at its class's __call__.
        code = getattr(type(fn).__dict__.get("__call__"), "__code__", None)
    if code is None:
        return "<unknown>", 0
    first = code.co_firstlineno
    # co_firstlineno of a decorated function is its first decorator's line; skip to the def.
    if linecache.getline(code.co_filename, first).lstrip().startswith("@"):
        for line in range(first + 1, first + _MAX_DECORATOR_LINES):
            text = linecache.getline(code.co_filename, line)
            if not text:
                break
            if _DEF_LINE.match(text):
                return code.co_filename, line
    return code.co_filename, first


def _name_problems(name: object, explicit: bool) -> list[str]:
    if name is None:
        return ["cannot name the asset after this callable; pass name='...'"]
    if is_identifier(name):
        return []
    if explicit:
        return [f"name={name!r} is not a valid asset name ({IDENTIFIER_RULE})"]
    return [
        f"the function name {name!r} is not a valid asset name ({IDENTIFIER_RULE}); pass name='...'"
    ]


def _function_problems(fn: Callable[..., Any]) -> list[str]:
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        return ["an asset function must return its value, not yield it; replace yield with return"]
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return [f"cannot read the signature of {fn!r}"]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not parameters or parameters[0].name != "context" or parameters[0].kind not in positional:
        found = repr(parameters[0].name) if parameters else "no parameters"
        function = getattr(fn, "__name__", "f")
        return [
            f"the first parameter must be `context`, found {found}; "
            f"write def {function}(context, ...)"
        ]
    return []


def _deps(depends_on: object, problems: list[str]) -> tuple[Dep, ...]:
    if isinstance(depends_on, str | Dep):
        problems.append(
            f"depends_on must be a list, got {depends_on!r}; write depends_on=[{depends_on!r}]"
        )
        return ()
    if not isinstance(depends_on, Sequence):
        problems.append(f"depends_on must be a list of asset names or fs.Dep, got {depends_on!r}")
        return ()
    deps: list[Dep] = []
    for item in depends_on:
        if isinstance(item, Dep):
            deps.append(item)
        elif is_identifier(item):
            deps.append(Dep(item))
        else:
            problems.append(f"depends_on entry {item!r} is not an asset name or fs.Dep")
    seen: set[str] = set()
    for dep in deps:
        if dep.name in seen:
            problems.append(f"depends_on lists {dep.name!r} twice")
        seen.add(dep.name)
    return tuple(deps)


def _partitions(partitioned_by: object, problems: list[str]) -> Any:
    if partitioned_by is None:
        return None
    if not isinstance(partitioned_by, PartitionsDefinition):
        problems.append(
            f"partitioned_by must be a partitions definition such as "
            f"fs.DailyPartitions(start='2024-01-01'), got {partitioned_by!r}"
        )
        return None
    return partitioned_by


def _io_manager(key: object, problems: list[str]) -> str:
    if not isinstance(key, str) or not key:
        problems.append(f"io_manager must be the key of an I/O manager such as 'fs', got {key!r}")
        return "fs"
    return key


def _io_options(options: object, problems: list[str]) -> Mapping[str, Any]:
    if options is None:
        return MappingProxyType({})
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        problems.append(f"io_options must be a dict with string keys, got {options!r}")
        return MappingProxyType({})
    return MappingProxyType(dict(options))


def _typed(value: object, kind: type, label: str, example: str, problems: list[str]) -> Any:
    if value is None or isinstance(value, kind):
        return value
    problems.append(
        f"{label} must be an fs.{kind.__name__}, got {value!r}; write {label}={example}"
    )
    return None


def _timeout(timeout: object, problems: list[str]) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        problems.append(f"timeout must be a number of seconds > 0 or None, got {timeout!r}")
        return None
    return float(timeout)


def _executor(executor: object, problems: list[str]) -> str:
    if not isinstance(executor, str):
        problems.append(f"executor must be a string such as 'local' or 'ray', got {executor!r}")
        return "local"
    return executor


def _resources(resources: object, problems: list[str]) -> tuple[str, ...]:
    if isinstance(resources, str):
        problems.append(
            f"resources must be a list, got {resources!r}; write resources=[{resources!r}]"
        )
        return ()
    if not isinstance(resources, Sequence) or not all(is_identifier(r) for r in resources):
        problems.append(f"resources must be a list of resource names, got {resources!r}")
        return ()
    return tuple(dict.fromkeys(resources))


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )
