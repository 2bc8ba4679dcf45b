"""The messages a supervisor handles: administration calls and its own retry reminders.

Internal, not part of the public API: ``SupervisorRef`` sends the calls, the supervisor
sends ``Retry`` to itself.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import final

from supervisors._child import RESTARTING, Entry
from supervisors._child_spec import ChildSpec
from supervisors._exceptions import SupervisorError


@final
@dataclass(frozen=True, slots=True)
class Attach:
    """Sent once by ``start``: the caller, if an actor, is the supervisor's parent."""


@final
@dataclass(frozen=True, slots=True)
class WhichChildren:
    """List the children."""


@final
@dataclass(frozen=True, slots=True)
class WhichChild:
    """Describe one child by id."""

    id: Hashable


@final
@dataclass(frozen=True, slots=True)
class CountChildren:
    """Count specs, running children, supervisors and workers."""


@final
@dataclass(frozen=True, slots=True)
class StartChild:
    """Add a child and start it."""

    spec: ChildSpec


@final
@dataclass(frozen=True, slots=True)
class TerminateChild:
    """Stop a child (by id, or by ref for a ``DynamicSupervisor``)."""

    key: Hashable


@final
@dataclass(frozen=True, slots=True)
class RestartChild:
    """Start a stopped child again."""

    id: Hashable


@final
@dataclass(frozen=True, slots=True)
class DeleteChild:
    """Forget a stopped child's spec."""

    id: Hashable


@final
@dataclass(frozen=True, slots=True)
class Failure:
    """The reply to a call that failed: the ref raises ``error`` in the caller's task.

    (Raising inside ``handle_call`` would crash the supervisor instead.)
    """

    error: SupervisorError


@final
@dataclass(frozen=True, slots=True)
class Retry:
    """A reminder to try restarting ``entry`` again; stale once ``entry.attempt`` moved on."""

    entry: Entry
    attempt: int

    @property
    def current(self) -> bool:
        """True if the entry still waits for this very retry."""
        return self.entry.state == RESTARTING and self.entry.attempt == self.attempt


def unwrap(reply: object) -> object:
    """Raise the error a supervisor replied with, or return the reply."""
    if isinstance(reply, Failure):
        raise reply.error
    return reply
