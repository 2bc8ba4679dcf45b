"""Checks of the options given to ``Supervisor.start`` and ``DynamicSupervisor.start``.

Internal, not part of the public API. Bad options are refused before any actor is spawned,
with an ``InvalidSpec`` naming the option, the value and what would be accepted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from supervisors._child_spec import ChildSpec
from supervisors._exceptions import InvalidSpec

STRATEGIES: Final = ("one_for_one", "one_for_all", "rest_for_one")
AUTO_SHUTDOWNS: Final = ("never", "any_significant", "all_significant")


def check_intensity(what: str, max_restarts: Any, max_seconds: Any) -> None:
    """Refuse a negative or non-integer ``max_restarts`` and a non-positive ``max_seconds``."""
    if not _is_int(max_restarts) or max_restarts < 0:
        raise InvalidSpec(what, "max_restarts", max_restarts, "an int >= 0")
    if not _is_number(max_seconds) or not max_seconds > 0 or math.isinf(max_seconds):
        raise InvalidSpec(what, "max_seconds", max_seconds, "a finite number of seconds > 0")


def check_choice(
    what: str, field: str, value: Any, allowed: tuple[str, ...], hint: str = ""
) -> None:
    """Refuse ``value`` unless it is one of the strings in ``allowed``."""
    if not (isinstance(value, str) and value in allowed):
        choices = "one of " + ", ".join(map(repr, allowed))
        raise InvalidSpec(what, field, value, choices, hint=hint)


def check_strategy(what: str, strategy: Any) -> None:
    """Refuse an unknown strategy; point ``simple_one_for_one`` at ``DynamicSupervisor``."""
    hint = ""
    if strategy == "simple_one_for_one":
        hint = "children started on demand belong under a DynamicSupervisor"
    check_choice(what, "strategy", strategy, STRATEGIES, hint)


def check_name(what: str, name: Any) -> None:
    """Refuse a name that is neither None nor a non-empty str."""
    if name is not None and not (isinstance(name, str) and name):
        raise InvalidSpec(what, "name", name, "None or a non-empty str")


def check_max_children(what: str, max_children: Any) -> None:
    """Refuse a ``max_children`` that is neither None nor an int >= 0."""
    if max_children is not None and (not _is_int(max_children) or max_children < 0):
        raise InvalidSpec(what, "max_children", max_children, "None (no limit) or an int >= 0")


def check_children(what: str, children: Any, auto_shutdown: str) -> list[ChildSpec]:
    """Return ``children`` as a list of specs with unique ids, or refuse them."""
    if isinstance(children, ChildSpec):
        raise InvalidSpec(
            what, "children", children, "a list of ChildSpec", hint="wrap it in a list: [spec]"
        )
    if isinstance(children, str | bytes | Mapping) or not isinstance(children, Iterable):
        raise InvalidSpec(what, "children", children, "a list of ChildSpec")
    specs = list(children)
    seen: set[Any] = set()
    for spec in specs:
        if not isinstance(spec, ChildSpec):
            raise InvalidSpec(
                what, "children", spec, "ChildSpec items", hint="build each with ChildSpec(...)"
            )
        if spec.id in seen:
            raise InvalidSpec(
                what,
                "children",
                [s.id for s in specs],
                "unique child ids",
                child_id=spec.id,
                hint=f"the id {spec.id!r} is used more than once",
            )
        seen.add(spec.id)
        check_significant(what, spec, auto_shutdown)
    return specs


def check_significant(what: str, spec: ChildSpec, auto_shutdown: str) -> None:
    """Refuse a significant child under a supervisor whose ``auto_shutdown`` is "never"."""
    if spec.significant and auto_shutdown == "never":
        raise InvalidSpec(
            what,
            "significant",
            True,
            "False when the supervisor's auto_shutdown is 'never'",
            child_id=spec.id,
            hint=f"start the supervisor with auto_shutdown='any_significant' or "
            f"'all_significant' for child {spec.id!r} to be significant",
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
