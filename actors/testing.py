"""Test helpers: a hand-driven clock and a way to wait until every actor is idle.

Concurrency tests never sleep to synchronise: they advance ``MockClock`` explicitly and use
``wait_all_idle()`` to let every actor finish what it was given.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from actors import _registry
from actors._clock import set_clock
from actors._process import _tasks

__all__ = ("MockClock", "live_actors", "runtime_tasks", "use_clock", "wait_all_idle")


class _MockTimer:
    __slots__ = ("callback", "cancelled", "deadline", "seq")

    def __init__(self, deadline: float, seq: int, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _MockTimer) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class MockClock:
    """A clock that only moves when a test advances it.

    ``await clock.advance(5)`` moves time forward, firing due timers in deadline order, and
    lets the actors react (``wait_all_idle``) after each one.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[_MockTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """Return the mock time."""
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _MockTimer:
        """Schedule ``callback`` at ``now() + delay``."""
        timer = _MockTimer(self._now + max(delay, 0.0), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def jump(self, seconds: float) -> None:
        """Move time forward without firing timers (they fire on the next ``advance``)."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        self._now += seconds

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer that falls due on the way."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        target = self._now + seconds
        await wait_all_idle()
        while self._timers and self._timers[0].deadline <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.deadline)
            timer.callback()
            await wait_all_idle()
        self._now = target
        await wait_all_idle()

    @property
    def pending_timers(self) -> int:
        """Number of timers not yet fired or cancelled."""
        return sum(1 for t in self._timers if not t.cancelled)

    def __repr__(self) -> str:
        return f"<MockClock now={self._now:g} timers={self.pending_timers}>"


@contextmanager
def use_clock(clock: object) -> Iterator[object]:
    """Install ``clock`` for the duration of the block."""
    previous = set_clock(clock)  # type: ignore[arg-type]
    try:
        yield clock
    finally:
        set_clock(previous)


async def wait_all_idle(max_rounds: int = 10_000) -> None:
    """Return once every live actor waits on an empty mailbox and nothing else is runnable.

    Repeatedly yields to the event loop; idleness must hold for several consecutive rounds so
    that callbacks scheduled with ``call_soon`` and task wake-ups have all run.
    """
    stable = 0
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        if all(p.idle for p in _registry.live_processes()):
            stable += 1
            if stable >= 3:
                return
        else:
            stable = 0
    raise RuntimeError(
        f"actors did not become idle after {max_rounds} scheduling rounds: "
        f"{[p.ref for p in _registry.live_processes() if not p.idle]}"
    )


def live_actors() -> list[object]:
    """Return the references of every actor that has not exited (for leak checks)."""
    return [p.ref for p in _registry.live_processes()]


def runtime_tasks() -> list[asyncio.Task[None]]:
    """Return the actor tasks that have not finished (for the no-orphan-task fixture)."""
    return [t for t in _tasks if not t.done()]
