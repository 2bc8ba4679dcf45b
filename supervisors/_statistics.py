"""``SupervisorStatistics``: the snapshot a supervisor gives of itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import actors


@final
@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    """A snapshot of one supervisor, for dashboards, logs and tests (``ref.statistics()``).

    Attributes:
        strategy: ``"one_for_one"``, ``"one_for_all"`` or ``"rest_for_one"``.
        children: child specs it holds (running or not; OTP's ``specs``).
        active: children running now.
        restarting: children whose restart failed or waits for its backoff delay.
        workers: children of type ``"worker"``, running or not.
        supervisors: children of type ``"supervisor"``, running or not.
        restarts: restarts within the last ``max_seconds`` (the intensity window).
        total_restarts: restarts since the supervisor started.
        max_restarts: the intensity: more restarts than this in the window stop it.
        max_seconds: the window, in seconds.
        max_children: a ``DynamicSupervisor``'s limit (None: no limit, or a static one).
        actor: the supervisor's own actor counters (mailbox, links...).
    """

    strategy: str
    children: int
    active: int
    restarting: int
    workers: int
    supervisors: int
    restarts: int
    total_restarts: int
    max_restarts: int
    max_seconds: float
    max_children: int | None
    actor: actors.ActorStatistics
