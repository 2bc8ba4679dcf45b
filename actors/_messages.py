"""Messages the runtime itself delivers, and the vocabulary of exit reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actors._ref import ActorRef

NORMAL = "normal"
SHUTDOWN = "shutdown"
KILLED = "killed"
NOPROC = "noproc"


@dataclass(frozen=True, slots=True)
class Exit:
    """Delivered to ``handle_info`` of a trapping actor when a linked actor exits."""

    ref: ActorRef
    reason: Any


@dataclass(frozen=True, slots=True)
class Down:
    """Delivered to ``handle_info`` when a monitored actor exits."""

    monitor_id: int
    ref: ActorRef
    reason: Any


def is_shutdown(reason: Any) -> bool:
    """Return True for ``"shutdown"`` and ``("shutdown", info)``."""
    return reason == SHUTDOWN or (
        isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN
    )


def is_clean(reason: Any) -> bool:
    """Return True for the reasons OTP treats as clean: normal, shutdown, (shutdown, info)."""
    return reason == NORMAL or is_shutdown(reason)


def format_reason(reason: Any) -> str:
    """Render an exit reason for messages and logs."""
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return repr(reason)
