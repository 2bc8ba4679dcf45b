"""``Child``: what ``which_children`` reports; ``Entry``: the supervisor's record of a child.

``Entry`` is internal, not part of the public API. A temporary child's entry drops its start
function once the child runs: it will never be restarted, and a start closure may hold large
arguments (OTP's ``do_not_save_start_parameters_for_temporary_children``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, final

import actors
from supervisors._backoff import Backoff
from supervisors._child_spec import ChildSpec, ChildType, RestartType, Shutdown, StartFunction

ChildState: TypeAlias = Literal["running", "restarting", "stopped"]
RUNNING: Final = "running"
RESTARTING: Final = "restarting"
STOPPED: Final = "stopped"


@final
@dataclass(frozen=True, slots=True)
class Child:
    """One child as ``which_children`` reports it, in start order.

    Attributes:
        id: the id of its spec (for a ``DynamicSupervisor``, the id of the spec it was
            started with; those need not be unique).
        ref: the running actor, or None when it is not running.
        type: ``"worker"`` or ``"supervisor"``.
        state: ``"running"``; ``"restarting"`` while the supervisor retries a failed
            restart or waits out a backoff delay (OTP shows the atom ``restarting``); or
            ``"stopped"`` (terminated with ``terminate_child``, a transient child that
            exited cleanly, or a start that returned None).
    """

    id: Hashable
    ref: actors.ActorRef | None
    type: ChildType
    state: ChildState = RUNNING

    @property
    def restarting(self) -> bool:
        """True while the supervisor is still trying to restart this child."""
        return self.state == RESTARTING


@final
class Entry:
    """Internal: one child as its supervisor tracks it (mutable, owned by that actor)."""

    __slots__ = (
        "attempt",
        "backoff",
        "failures",
        "id",
        "last_ref",
        "ref",
        "restart",
        "shutdown",
        "significant",
        "start",
        "started_at",
        "state",
        "timer",
        "type",
    )

    def __init__(self, spec: ChildSpec) -> None:
        self.id: Hashable = spec.id
        self.start: StartFunction | None = spec.start
        self.restart: RestartType = spec.restart
        self.shutdown: Shutdown = spec.shutdown
        self.type: ChildType = spec.type
        self.significant = spec.significant
        self.backoff: Backoff | None = spec.backoff
        self.ref: actors.ActorRef | None = None
        self.last_ref: actors.ActorRef | None = None  # kept after it exits
        self.state: ChildState = STOPPED
        self.attempt = 0  # bumped whenever a pending retry becomes stale
        self.timer: actors.TimerHandle | None = None  # a pending backoff delay
        self.failures = 0  # consecutive restarts, for the backoff
        self.started_at = 0.0

    def running(self, ref: actors.ActorRef, now: float) -> None:
        """Record that the child runs as ``ref``."""
        self.cancel_retry()
        self.ref = self.last_ref = ref
        self.state = RUNNING
        self.started_at = now
        if self.restart == "temporary":
            self.start = None

    def stopped(self) -> None:
        """Record that the child does not run and no retry is pending."""
        self.ref = None
        self.state = STOPPED
        self.cancel_retry()

    def cancel_retry(self) -> None:
        """Make a pending retry (message or backoff timer) stale."""
        self.attempt += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def snapshot(self) -> Child:
        """Return the public view of this entry."""
        return Child(self.id, self.ref, self.type, self.state)

    def __repr__(self) -> str:
        return f"<Entry {self.id!r} {self.restart} {self.state} {self.ref!r}>"
