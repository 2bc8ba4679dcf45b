"""``ChildSpec``: how a supervisor starts, restarts and stops one child.

Everything that can be checked without a supervisor is checked when the spec is built, so
that a typo (``restart="permanant"``) fails at the line that wrote it, not at the first
crash hours later.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, final

import actors
from supervisors._backoff import Backoff
from supervisors._exceptions import InvalidSpec

RestartType: TypeAlias = Literal["permanent", "transient", "temporary"]
ChildType: TypeAlias = Literal["worker", "supervisor"]
Shutdown: TypeAlias = float | Literal["brutal_kill", "infinity"]
StartResult: TypeAlias = actors.ActorRef | None
StartFunction: TypeAlias = Callable[[], Awaitable[StartResult] | StartResult]

RESTART_TYPES: Final = ("permanent", "transient", "temporary")
CHILD_TYPES: Final = ("worker", "supervisor")
WORKER_SHUTDOWN: Final = 5.0
"""Seconds a worker gets to stop before it is killed, unless its spec says otherwise."""


@final
@dataclass(frozen=True, slots=True, init=False)
class ChildSpec:
    """How to start a child, when to restart it and how to stop it (OTP's child spec).

    Args:
        id: names the child within its supervisor (any hashable value, unique there).
        start: a zero-argument callable returning an awaitable of the child's
            ``ActorRef``, e.g. ``lambda: actors.spawn(Worker, 1)``; the supervisor links
            to the ref. Returning None means "ignore" (OTP's ``ignore``): nothing runs and
            the spec is kept with no ref (a temporary spec is dropped).
        restart: ``"permanent"`` (always restarted), ``"transient"`` (restarted unless it
            exits with ``"normal"``, ``"shutdown"`` or ``("shutdown", info)``) or
            ``"temporary"`` (never restarted; its spec is forgotten when it exits).
        shutdown: how to stop it: seconds to wait after asking it to stop (then it is
            killed), ``"brutal_kill"`` (killed at once) or ``"infinity"`` (wait as long as
            it takes). None picks the default: 5.0 for workers, ``"infinity"`` for
            supervisors.
        type: ``"worker"`` or ``"supervisor"`` (a supervisor child is itself a supervisor).
        significant: with ``auto_shutdown`` on the supervisor, this child's exit may stop
            the supervisor (OTP's ``significant``); never for ``"permanent"`` children.
        backoff: delay this child's restarts (beyond OTP; see ``Backoff``).

    Raises:
        InvalidSpec: a value is not one of those listed above (also a ``ValueError``).
    """

    id: Hashable
    start: StartFunction
    restart: RestartType = field(default="permanent", kw_only=True)
    shutdown: Shutdown = field(default=WORKER_SHUTDOWN, kw_only=True)
    type: ChildType = field(default="worker", kw_only=True)
    significant: bool = field(default=False, kw_only=True)
    backoff: Backoff | None = field(default=None, kw_only=True)

    def __init__(
        self,
        id: Hashable,
        start: StartFunction,
        *,
        restart: RestartType = "permanent",
        shutdown: Shutdown | None = None,
        type: ChildType = "worker",
        significant: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        what = f"invalid ChildSpec {id!r}"
        _check_id(what, id)
        _check_start(what, id, start)
        _check_choice(what, id, "restart", restart, RESTART_TYPES)
        _check_choice(what, id, "type", type, CHILD_TYPES)
        _check_significant(what, id, significant, restart)
        if backoff is not None and not isinstance(backoff, Backoff):
            raise InvalidSpec(
                what, "backoff", backoff, "None or a supervisors.Backoff", child_id=id
            )
        setter = object.__setattr__
        setter(self, "id", id)
        setter(self, "start", start)
        setter(self, "restart", restart)
        setter(self, "shutdown", _resolve_shutdown(what, id, shutdown, type))
        setter(self, "type", type)
        setter(self, "significant", significant)
        setter(self, "backoff", backoff)


def _check_id(what: str, child_id: Any) -> None:
    try:
        hash(child_id)
    except TypeError:
        raise InvalidSpec(
            what, "id", child_id, "a hashable value such as a str or a tuple", child_id=None
        ) from None


def _check_start(what: str, child_id: Hashable, start: Any) -> None:
    if callable(start) and not isinstance(start, actors.ActorRef):
        return
    hint = ""
    if inspect.iscoroutine(start):
        start.close()  # never awaited, and never will be: close it to silence the warning
        hint = (
            "pass a function that starts the child, not the coroutine it returns: "
            "start=lambda: actors.spawn(Worker) rather than start=actors.spawn(Worker)"
        )
    elif isinstance(start, actors.ActorRef):
        hint = "pass a function that starts a new child each time, not a running actor's ref"
    raise InvalidSpec(
        what,
        "start",
        start,
        "a zero-argument callable returning an awaitable of an ActorRef",
        child_id=child_id,
        hint=hint,
    )


def _check_choice(
    what: str, child_id: Hashable, name: str, value: Any, allowed: tuple[str, ...]
) -> None:
    if not (isinstance(value, str) and value in allowed):
        choices = ", ".join(repr(a) for a in allowed)
        raise InvalidSpec(what, name, value, f"one of {choices}", child_id=child_id)


def _check_significant(what: str, child_id: Hashable, significant: Any, restart: str) -> None:
    if not isinstance(significant, bool):
        raise InvalidSpec(what, "significant", significant, "True or False", child_id=child_id)
    if significant and restart == "permanent":
        raise InvalidSpec(
            what,
            "significant",
            significant,
            'False for a "permanent" child',
            child_id=child_id,
            hint="a permanent child is always restarted, so its exit can never be the one "
            'that stops the supervisor; use restart="transient" or "temporary"',
        )


def _resolve_shutdown(what: str, child_id: Hashable, shutdown: Any, child_type: str) -> Shutdown:
    if shutdown is None:
        return "infinity" if child_type == "supervisor" else WORKER_SHUTDOWN
    if shutdown == "brutal_kill" and isinstance(shutdown, str):
        return "brutal_kill"
    if shutdown == "infinity" and isinstance(shutdown, str):
        return "infinity"
    if isinstance(shutdown, int | float) and not isinstance(shutdown, bool) and shutdown >= 0:
        return "infinity" if math.isinf(shutdown) else float(shutdown)
    raise InvalidSpec(
        what,
        "shutdown",
        shutdown,
        'a number of seconds >= 0, "brutal_kill", "infinity" or None (the default: 5.0 '
        'for workers, "infinity" for supervisors)',
        child_id=child_id,
    )
