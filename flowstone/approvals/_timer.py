"""``DeadlineTimer``: the actor that fires due approval deadlines, one tick at a time.

Deadlines live in the store, not in this actor: it keeps no per-gate timer, so any number
of gates cost one periodic query, and nothing is lost when the process dies. Whichever
FlowStone process runs one fires them; its first tick runs as it starts, so a deadline
that passed while nothing ran fires as soon as a process opens the store. Several
processes may run timers on one store: each transition is conditional on the deadline it
fires, so a deadline fires once.
"""

from __future__ import annotations

import logging
from typing import Any

import actors
from flowstone.approvals._decider import Decider
from flowstone.errors import StorageError

log = logging.getLogger("flowstone.approvals")

DEFAULT_INTERVAL = 1.0
"""Seconds between ticks (of the runtime clock)."""


class _Tick:
    """Internal: the message that makes the timer look for due deadlines."""


TICK = _Tick()


class DeadlineTimer(actors.Actor):
    """Fires due deadlines every ``interval`` seconds of the runtime clock (internal).

    ``call(("fire",))`` fires at once and replies with the number of approvals changed.
    """

    async def init(self, decider: Decider, interval: float = DEFAULT_INTERVAL) -> None:
        self._decider = decider
        self._interval = interval
        self._timer: actors.TimerHandle | None = None
        self.ticks = 0
        self.ref.send(TICK)

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, _Tick):
            self._timer = None
            await self._fire()
            self._timer = actors.get_clock().call_later(self._interval, self._wake)

    async def handle_call(self, message: Any, caller: Any) -> Any:
        if message == ("fire",):
            return await self._fire()
        if message == ("ticks",):
            return self.ticks
        raise ValueError(f"DeadlineTimer does not understand {message!r}")

    async def terminate(self, reason: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _wake(self) -> None:
        self.ref.send(TICK)

    async def _fire(self) -> int:
        self.ticks += 1
        try:
            return len(await self._decider.fire_due())
        except StorageError as exc:
            # The store is unreachable: the deadlines stay stored, the next tick retries.
            log.warning("approval deadlines not fired this tick: %s", exc)
            return 0
