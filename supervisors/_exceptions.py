"""The one error hierarchy of the ``supervisors`` layer.

Every error names what was attempted, which child (``child_id``) of which supervisor
(``supervisor``), what was found instead and how to fix it; the same data is on the
exception as attributes so that callers branch on them rather than parse text. The names
mirror OTP's error atoms (``already_started``, ``already_present``, ``running``,
``restarting``, ``not_found``), hence the ``N818`` exemptions.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable
from typing import Any

import actors


class SupervisorError(Exception):
    """Base class of every error raised by the ``supervisors`` package."""

    supervisor: actors.ActorRef | None = None
    """The supervisor the error is about, when there is one."""


class InvalidSpec(SupervisorError, ValueError):
    """Raised when a child spec or supervisor option has a value that cannot work.

    Raised by ``ChildSpec(...)``, ``Backoff(...)``, ``Supervisor.start``,
    ``DynamicSupervisor.start`` and ``start_child`` before anything is started.

    Attributes:
        field: the option at fault (``"restart"``, ``"max_seconds"``, ``"children"``...).
        value: the value that was given.
        allowed: a description of the values that are accepted.
        child_id: the id of the child spec at fault, if the error is about one.
    """

    def __init__(
        self,
        what: str,
        field: str,
        value: Any,
        allowed: str,
        *,
        child_id: Hashable | None = None,
        hint: str = "",
    ) -> None:
        message = f"{what}: {field}={value!r} is not valid; expected {allowed}"
        super().__init__(f"{message}{'; ' + hint if hint else ''}")
        self.field = field
        self.value = value
        self.allowed = allowed
        self.child_id = child_id


class StartError(SupervisorError, actors.StartError):
    """Raised when a child could not be started.

    Raised by ``Supervisor.start`` (after stopping, in reverse order, the children already
    started), by ``start_child`` and by ``restart_child``. It is also an
    ``actors.StartError``, so a parent supervisor starting a nested supervisor sees an
    ordinary start failure.

    Attributes:
        child_id: the id of the child that failed to start.
        reason: why: the exception the start function raised (also ``__cause__``), the
            exit reason of an actor that stopped during ``init``, or a ``TypeError`` for a
            start function that returned something other than an ``ActorRef`` or None.
    """

    def __init__(
        self, message: str, *, child_id: Hashable, reason: Any, supervisor: Any = None
    ) -> None:
        actors.StartError.__init__(self, message, reason=reason)
        self.child_id = child_id
        self.supervisor = supervisor


class MaxChildren(SupervisorError):
    """Raised by ``DynamicSupervisor`` ``start_child`` when ``max_children`` are present.

    Children being restarted occupy their slot too.
    """

    def __init__(self, supervisor: actors.ActorRef, max_children: int) -> None:
        super().__init__(
            f"cannot start another child under {supervisor!r}: it already has its maximum of "
            f"{max_children} children (children being restarted count too); terminate a "
            "child first, or start the supervisor with a larger max_children="
        )
        self.supervisor = supervisor
        self.max_children = max_children


class NotFound(SupervisorError, LookupError):
    """Raised when a child administration call names a child the supervisor does not have."""

    def __init__(
        self, supervisor: actors.ActorRef, child_id: Any, known: Iterable[Any], *, by: str = "id"
    ) -> None:
        known = list(known)
        hint = _closest(child_id, known)
        listing = f"its children are {known!r}" if by == "id" else f"it has {len(known)} children"
        super().__init__(
            f"{supervisor!r} has no child with {by} {child_id!r} ({listing}){hint}; "
            "which_children() lists them"
        )
        self.supervisor = supervisor
        self.child_id = child_id


class AlreadyStarted(SupervisorError):
    """Raised by ``start_child`` when the child is already running.

    Either a child with the same id runs under this supervisor, or the child's start
    function asked for a registered name that a live actor (``ref``) already holds; that
    actor is not adopted.

    Attributes:
        child_id: the id of the spec passed to ``start_child``.
        ref: the running actor.
    """

    def __init__(
        self, supervisor: actors.ActorRef, child_id: Any, ref: actors.ActorRef, *, name: str = ""
    ) -> None:
        if name:
            text = (
                f"cannot start child {child_id!r} under {supervisor!r}: its start function "
                f"asked for the name {name!r}, which {ref!r} already holds (that actor is not "
                "adopted); stop it first or give the child another name"
            )
        else:
            text = (
                f"cannot start child {child_id!r} under {supervisor!r}: a child with this id "
                f"is already running as {ref!r}; use another id, or terminate_child() and "
                "delete_child() it first"
            )
        super().__init__(text)
        self.supervisor = supervisor
        self.child_id = child_id
        self.ref = ref


class AlreadyPresent(SupervisorError):
    """Raised by ``start_child`` when a spec with that id is present but not running."""

    def __init__(self, supervisor: actors.ActorRef, child_id: Any) -> None:
        super().__init__(
            f"cannot start child {child_id!r} under {supervisor!r}: a child spec with this id "
            "is already present (not running); restart_child() starts it again, "
            "delete_child() removes it so that a new spec can take the id"
        )
        self.supervisor = supervisor
        self.child_id = child_id


class Running(SupervisorError):
    """Raised by ``restart_child`` and ``delete_child`` when the child is running."""

    def __init__(self, supervisor: actors.ActorRef, child_id: Any, operation: str) -> None:
        super().__init__(
            f"cannot {operation} child {child_id!r} of {supervisor!r}: it is running; call "
            f"terminate_child({child_id!r}) first"
        )
        self.supervisor = supervisor
        self.child_id = child_id


class Restarting(SupervisorError):
    """Raised by ``restart_child`` and ``delete_child`` while the supervisor retries a start.

    The child's last automatic restart failed (or waits for its backoff delay) and the
    supervisor will try again on its own.
    """

    def __init__(self, supervisor: actors.ActorRef, child_id: Any, operation: str) -> None:
        super().__init__(
            f"cannot {operation} child {child_id!r} of {supervisor!r}: the supervisor is "
            "restarting it (its last start failed or waits for its backoff delay, and a "
            f"retry is pending); call terminate_child({child_id!r}) to stop the retries first"
        )
        self.supervisor = supervisor
        self.child_id = child_id


def _closest(wanted: Any, known: list[Any]) -> str:
    names = [k for k in known if isinstance(k, str)]
    if not isinstance(wanted, str) or not names:
        return ""
    matches = difflib.get_close_matches(wanted, names, n=1)
    return f"; did you mean {matches[0]!r}?" if matches else ""
