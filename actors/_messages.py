"""Messages the runtime itself delivers, and the vocabulary of exit reasons.

Exit reasons follow OTP: ``"normal"``, ``"shutdown"``, ``("shutdown", info)``, ``"killed"``,
``"noproc"``, or the exception instance that crashed the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from actors._ref import ActorRef

NORMAL = "normal"
SHUTDOWN = "shutdown"
KILLED = "killed"
NOPROC = "noproc"


@final
@dataclass(frozen=True, slots=True)
class Exit:
    """Delivered to ``handle_info`` of a trapping actor when a linked actor exits.

    Attributes:
        ref: the linked actor that exited.
        reason: its exit reason (``"noproc"`` if it was already dead when linked).
    """

    ref: ActorRef
    reason: Any


@final
@dataclass(frozen=True, slots=True)
class Down:
    """Delivered to ``handle_info`` when a monitored actor exits.

    Attributes:
        monitor_id: the id ``monitor()`` returned; each monitor gets its own ``Down``.
        ref: the monitored actor.
        reason: its exit reason (``"noproc"`` if it was already dead when monitored).
    """

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
    """Render an exit reason for messages and logs: ``'normal'`` or ``ValueError: boom``."""
    if isinstance(reason, BaseException):
        text = str(reason)
        return f"{type(reason).__name__}: {text}" if text else type(reason).__name__
    return repr(reason)
