"""The one error hierarchy of the ``actors`` layer.

Every error carries the actor it is about (``ref``) and the data its message was built from, so
callers can branch on attributes rather than parse text. The OTP-flavoured names (``NoProc``,
``CallTimeout``) are fixed by the public contract, hence the ``N818`` exemptions.
"""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """Base class of every error raised by the ``actors`` package."""


class StartError(ActorError):
    """Raised by ``spawn`` when the actor did not start; ``reason`` is why it exited.

    The reason is the exception ``init`` raised (also chained as ``__cause__``), the exit
    reason ``init`` asked for with ``self.stop(reason)``, or the reason of an exit signal
    that interrupted ``init``.
    """

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
    """Raised by ``call`` when the actor is dead, or exits before it replies.

    ``reason`` is the actor's exit reason (``"noproc"`` when it was already dead) and
    ``request`` the message of the call that failed.
    """

    def __init__(
        self, message: str, *, ref: Any = None, reason: Any = None, request: Any = None
    ) -> None:
        super().__init__(message)
        self.ref = ref
        self.reason = reason
        self.request = request


class CallTimeout(ActorError, TimeoutError):
    """Raised by ``call`` when no reply arrived within the timeout; a late reply is dropped."""

    def __init__(self, ref: Any, request: Any, timeout: float) -> None:
        super().__init__(
            f"{ref!r} did not reply to {request!r} within {timeout:g} s; the actor may be "
            "busy or deadlocked (a reply that comes later is dropped; pass a larger timeout= "
            "if the work is legitimately slow)"
        )
        self.ref = ref
        self.request = request
        self.timeout = timeout


class CallingSelf(ActorError, RuntimeError):
    """Raised when an actor calls (or waits for) itself from its own task.

    An actor handles one message at a time, so a reply to a call it sends itself could only
    be produced after the current handler returns: it would wait for its timeout and fail.
    Failing at once with this error makes the mistake obvious.
    """

    def __init__(self, ref: Any, operation: str) -> None:
        super().__init__(
            f"{ref!r} cannot {operation} itself from its own handler: it handles one message "
            "at a time, so this would wait forever; do the work directly in the handler, or "
            "cast/send the message to yourself to handle it after the current one"
        )
        self.ref = ref
        self.operation = operation
