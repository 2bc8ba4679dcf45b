"""The one error hierarchy of the ``actors`` layer."""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """Base class of every error raised by the ``actors`` package."""


class StartError(ActorError):
    """Raised by ``spawn`` when the actor's ``init`` raised; the cause is chained."""

    def __init__(self, message: str, *, reason: Any = None) -> None:
        super().__init__(message)
        self.reason = reason


class NameTaken(StartError):
    """Raised by ``spawn`` when the requested name is registered to a live actor."""

    def __init__(self, name: str, holder: Any) -> None:
        super().__init__(
            f"cannot spawn an actor named {name!r}: the name is held by {holder!r}; "
            "choose another name or stop that actor first",
            reason=("already_started", holder),
        )
        self.name = name
        self.holder = holder


class NoProc(ActorError):
    """Raised when a call reaches an actor that is dead or dies before it replies."""

    def __init__(self, message: str, *, ref: Any = None, reason: Any = None) -> None:
        super().__init__(message)
        self.ref = ref
        self.reason = reason


class CallTimeout(ActorError, TimeoutError):
    """Raised by ``ActorRef.call`` when no reply arrived within the timeout."""

    def __init__(self, ref: Any, message: Any, timeout: float) -> None:
        super().__init__(
            f"{ref!r} did not reply to {message!r} within {timeout:g} s; the actor may be "
            "busy or deadlocked (pass a larger timeout= if the work is legitimately slow)"
        )
        self.ref = ref
        self.message = message
        self.timeout = timeout
