"""``CheckpointSpec`` and ``@pipeline.checkpoint``: a gate that waits for a human decision.

A checkpoint is an ``AssetDefinition`` whose ``checkpoint`` attribute holds the spec below;
the engine hands such a node to the runtime's gatekeeper instead of calling its function
(see ``flowstone/approvals``). Everything that can be judged from the decorator alone is
checked here, at definition time, and every problem is reported at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, final

from flowstone.definitions._asset import AssetDefinition
from flowstone.definitions._asset_builder import build_asset, source_location
from flowstone.definitions._dependency import Dep
from flowstone.errors import DefinitionError, DefinitionProblem
from flowstone.partitions import PartitionsDefinition

if TYPE_CHECKING:
    from flowstone.definitions._pipeline import Pipeline

ON_TIMEOUT: Final = ("escalate", "approve", "reject", "extend")
"""What a gate does when its deadline passes."""


class _Unset:
    """Internal: "partitioned_by was not given" (None means unpartitioned)."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Final = _Unset()


@final
@dataclass(frozen=True, slots=True)
class CheckpointSpec:
    """How a checkpoint gate asks for, waits for and times out a decision.

    Attributes:
        message: the text shown to the reviewer, or ``fn(context, **inputs) -> str``.
        timeout: how long a request stays open before ``on_timeout`` applies (None: forever).
        on_timeout: ``"escalate"``, ``"approve"``, ``"reject"`` or ``"extend"``.
        escalate_to: who an escalation goes to; several names are successive levels.
        condition: ``fn(context, **inputs) -> bool``; False passes the gate without a request.
        auto_decide: ``fn(context, **inputs) -> fs.Approve() | fs.Modify(v) | fs.Reject(r) |
            None`` (None: ask a person).
        max_escalations: escalations before the gate expires (``on_timeout="escalate"``).
        value_type: the type a modified value must fit (None: any value).
    """

    message: str | Callable[..., Any] | None = None
    timeout: dt.timedelta | None = None
    on_timeout: str = "reject"
    escalate_to: tuple[str, ...] = ()
    condition: Callable[..., Any] | None = None
    auto_decide: Callable[..., Any] | None = None
    max_escalations: int = 3
    value_type: Any = None

    def escalation_target(self, count: int) -> str | None:
        """Return who the ``count``-th escalation (1-based) goes to: the matching level, the
        last level once they run out, None when there is no ``escalate_to``."""
        if not self.escalate_to:
            return None
        return self.escalate_to[min(count, len(self.escalate_to)) - 1]


def build_checkpoint(
    fn: Callable[..., Any], pipeline: Pipeline, options: Mapping[str, Any]
) -> AssetDefinition:
    """Return the gate's definition: an asset whose ``checkpoint`` is the checked spec.

    Raises:
        DefinitionError: listing every problem of the decorator's arguments.
    """
    problems: list[str] = []
    spec = _spec(fn, options, problems)
    deps = options["depends_on"]
    if isinstance(deps, Sequence) and not isinstance(deps, str) and not deps:
        problems.append(
            "a checkpoint gates the value of its input: name it with depends_on=['draft']"
        )
    partitions = _partitions(pipeline, deps, options["partitioned_by"], problems)
    if problems:
        file, line = source_location(fn) if callable(fn) else ("<unknown>", 0)
        name = options["name"] or getattr(fn, "__name__", None)
        raise DefinitionError([DefinitionProblem(p, name, file, line) for p in problems])
    asset_options = {k: v for k, v in options.items() if k in _ASSET_OPTIONS}
    definition = build_asset(
        fn,
        pipeline,
        **asset_options,
        partitioned_by=partitions,
        info=None,
        retry=None,
        timeout=None,
        executor="local",
        ray_options=None,
        resources=(),
    )
    return dataclasses.replace(definition, checkpoint=spec)


_ASSET_OPTIONS = ("name", "depends_on", "io_manager", "io_options", "description")


def _spec(
    fn: Callable[..., Any], options: Mapping[str, Any], problems: list[str]
) -> CheckpointSpec:
    on_timeout = options["on_timeout"]
    if on_timeout not in ON_TIMEOUT:
        choices = ", ".join(repr(c) for c in ON_TIMEOUT)
        problems.append(f"on_timeout must be one of {choices}, got {on_timeout!r}")
    escalate_to = _escalate_to(options["escalate_to"], problems)
    if on_timeout == "escalate" and not escalate_to:
        problems.append(
            "on_timeout='escalate' needs someone to escalate to; add escalate_to='data-leads' "
            "(or a list of levels)"
        )
    max_escalations = options["max_escalations"]
    if (
        isinstance(max_escalations, bool)
        or not isinstance(max_escalations, int)
        or (max_escalations < 0)
    ):
        problems.append(f"max_escalations must be an integer >= 0, got {max_escalations!r}")
        max_escalations = 3
    message = options["message"]
    if message is not None and not isinstance(message, str) and not callable(message):
        problems.append(
            f"message must be a string or a function (context, **inputs) -> str, got {message!r}"
        )
    return CheckpointSpec(
        message=message,
        timeout=_timeout(options["timeout"], problems),
        on_timeout=on_timeout if on_timeout in ON_TIMEOUT else "reject",
        escalate_to=escalate_to,
        condition=_callable(options["condition"], "condition", "-> bool", problems),
        auto_decide=_callable(
            options["auto_decide"], "auto_decide", "-> fs.Approve() | None", problems
        ),
        max_escalations=max_escalations,
        value_type=_value_type(fn, options["value_type"], problems),
    )


def _timeout(timeout: object, problems: list[str]) -> dt.timedelta | None:
    if timeout is None:
        return None
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        if not math.isfinite(timeout):
            timeout = -1.0
        timeout = dt.timedelta(seconds=timeout)
    if not isinstance(timeout, dt.timedelta):
        problems.append(
            f"timeout must be a datetime.timedelta (or seconds), got {timeout!r}; write "
            "timeout=datetime.timedelta(hours=24), or None to wait forever"
        )
        return None
    if timeout <= dt.timedelta(0):
        seconds = timeout.total_seconds()
        problems.append(f"timeout must be positive, got {seconds:g} s; use None to wait forever")
        return None
    return timeout


def _escalate_to(value: object, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    levels = (value,) if isinstance(value, str) else value
    if (
        not isinstance(levels, Sequence)
        or not levels
        or not all(isinstance(v, str) and v for v in levels)
    ):
        problems.append(
            f"escalate_to must be a name or a list of names (escalation levels), got {value!r}"
        )
        return ()
    return tuple(levels)


def _callable(value: object, label: str, returns: str, problems: list[str]) -> Any:
    if value is None or callable(value):
        return value
    problems.append(f"{label} must be a function (context, **inputs) {returns}, got {value!r}")
    return None


def _value_type(fn: Callable[..., Any], explicit: object, problems: list[str]) -> Any:
    if explicit is not None:
        if not isinstance(explicit, type) and typing.get_origin(explicit) is None:
            problems.append(f"value_type must be a type (e.g. a pydantic model), got {explicit!r}")
            return None
        return explicit
    try:
        annotation = typing.get_type_hints(fn).get("return")
    except Exception:
        annotation = inspect.signature(fn).return_annotation if callable(fn) else None
        if isinstance(annotation, str) or annotation is inspect.Signature.empty:
            return None
    if annotation in (None, type(None), Any, inspect.Signature.empty):
        return None
    return annotation


def _partitions(
    pipeline: Pipeline, depends_on: object, explicit: object, problems: list[str]
) -> PartitionsDefinition | None:
    if explicit is not UNSET:
        if explicit is not None and not isinstance(explicit, PartitionsDefinition):
            problems.append(f"partitioned_by must be a partitions definition, got {explicit!r}")
            return None
        return explicit
    if not isinstance(depends_on, Sequence) or isinstance(depends_on, str):
        return None  # build_asset reports the malformed depends_on
    names = [d.name if isinstance(d, Dep) else d for d in depends_on]
    undefined = [n for n in names if isinstance(n, str) and n not in pipeline]
    if undefined:
        problems.append(
            f"a checkpoint takes the partitions of its input, but {undefined[0]!r} is not "
            f"defined yet; define the checkpoint after it, or pass partitioned_by=..."
        )
        return None
    found = [pipeline.get(n).partitions for n in names if isinstance(n, str)]
    return next((p for p in found if p is not None), None)
