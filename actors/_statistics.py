"""``ActorStatistics``: the snapshot every actor gives of itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final


@final
@dataclass(frozen=True, slots=True)
class ActorStatistics:
    """A snapshot of one actor, for dashboards, logs and tests (``ref.statistics()``).

    Attributes:
        pid: the actor's process-unique id.
        name: its registered name, or None.
        actor_class: the name of its ``Actor`` subclass.
        alive: False once it has exited.
        trap_exits: whether exits of linked actors arrive as ``Exit`` messages.
        mailbox_depth: messages waiting to be handled.
        peak_mailbox_depth: the largest mailbox depth seen.
        messages_handled: calls, casts and infos whose handler returned.
        pending_calls: callers still waiting for a reply from this actor.
        links: actors linked with this one.
        monitors: monitors this actor holds on others.
        monitored_by: monitors others hold on this actor.
    """

    pid: int
    name: str | None
    actor_class: str
    alive: bool
    trap_exits: bool
    mailbox_depth: int
    peak_mailbox_depth: int
    messages_handled: int
    pending_calls: int
    links: int
    monitors: int
    monitored_by: int
