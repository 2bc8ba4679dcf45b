"""The in-process event bus: every run and materialization event is published here.

Subscribers (the dashboard, OpenTelemetry export, progress bars, tests) get events in
publication order. Publishing never blocks and never raises: a subscriber that fails is
logged and dropped, so observers can never break a run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger("flowstone.events")


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a run. ``kind`` names it, e.g. ``materialization.succeeded``."""

    kind: str
    run_id: str
    at: datetime
    asset: str | None = None
    partition: str | None = None
    attempt: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


EVENT_KINDS = (
    "run.started",
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "materialization.started",
    "materialization.succeeded",
    "materialization.failed",
    "materialization.retried",
    "materialization.skipped",
    "materialization.cancelled",
    "materialization.waiting",
    "backfill.started",
    "backfill.progress",
    "backfill.finished",
)

Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out of events to subscribers (callables or asyncio queues)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    @property
    def active(self) -> bool:
        """True when someone listens: publishers skip building events nobody would see."""
        return bool(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; return a function that unsubscribes it."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def queue(self, maxsize: int = 0) -> tuple[asyncio.Queue[Event], Callable[[], None]]:
        """Subscribe an ``asyncio.Queue`` (filled without blocking; full queues drop)."""
        q: asyncio.Queue[Event] = asyncio.Queue(maxsize)

        def put(event: Event) -> None:
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                pass

        return q, self.subscribe(put)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber."""
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed; unsubscribing it", subscriber)
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)
