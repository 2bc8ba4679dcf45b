"""Test helpers: a hand-driven clock, waiting until everything is idle, ordering, leak checks.

Concurrency tests never sleep to synchronise. They install a ``MockClock`` (``use_clock``),
move time with ``await clock.advance(seconds)``, and use ``wait_all_idle()`` to let every
actor finish what it was given before asserting. ``Sequencer`` forces an order on code
running in several tasks. ``live_actors`` and ``runtime_tasks`` let a test suite fail any
test that leaves actors or their tasks behind.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, final

from actors import _registry
from actors._clock import Clock, set_clock
from actors._process import _tasks
from actors._ref import ActorRef

__all__ = (
    "MockClock",
    "Sequencer",
    "abandon",
    "live_actors",
    "runtime_tasks",
    "use_clock",
    "wait_all_idle",
)


@final
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


@final
class MockClock:
    """A clock that only moves when the test moves it.

    ``await clock.advance(5)`` moves time forward, firing the timers that fall due on the
    way in deadline order (ties in scheduling order), and lets the actors react
    (``wait_all_idle``) after each one, so a timer scheduled in reaction to another fires in
    the same ``advance`` if it is due by then.

    Args:
        start: the initial reading of ``now()``.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[_MockTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """Return the mock time."""
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _MockTimer:
        """Schedule ``callback`` at ``now() + delay`` (it runs during a later ``advance``)."""
        timer = _MockTimer(self._now + max(delay, 0.0), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def jump(self, seconds: float) -> None:
        """Move time forward without firing timers (due ones fire on the next ``advance``).

        Raises:
            ValueError: ``seconds`` is negative.
        """
        _check_forward(seconds)
        self._now += seconds

    async def advance(self, seconds: float = 0.0) -> None:
        """Move time forward by ``seconds``, firing every timer that falls due on the way.

        Waits for every actor to be idle before the first timer, after each timer and at
        the end. ``advance(0)`` fires only the timers already due.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        _check_forward(seconds)
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
        """Number of timers neither fired nor cancelled."""
        return sum(1 for t in self._timers if not t.cancelled)

    @property
    def next_deadline(self) -> float | None:
        """When the next pending timer falls due, or None if there is none."""
        pending = [t.deadline for t in self._timers if not t.cancelled]
        return min(pending) if pending else None

    def __repr__(self) -> str:
        return f"<MockClock now={self._now:g} timers={self.pending_timers}>"


def _check_forward(seconds: float) -> None:
    if seconds < 0:
        raise ValueError(f"time can't go backwards (asked to move by {seconds:g} s)")


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Install ``clock`` for the runtime during the block, then restore the previous one."""
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


async def wait_all_idle(max_rounds: int = 10_000) -> None:
    """Return once no actor, and nothing else on this event loop, can make progress.

    That is: no callback or task is ready to run, and no actor of this loop has a message or
    an exit it has not started on. Actors blocked in a handler (awaiting a mock-clock timer,
    a reply, I/O) count as idle, as tasks do for Trio's ``wait_all_tasks_blocked``.

    Raises:
        RuntimeError: the loop was still busy after ``max_rounds`` scheduling rounds (some
            task spins, e.g. in a loop of ``asyncio.sleep(0)``).
    """
    loop = asyncio.get_running_loop()
    # The loop's ready queue is private, but it is the only exact answer to "can anything
    # else run?"; loops without it (uvloop) fall back to the actors' own state.
    ready: Any = getattr(loop, "_ready", ())
    quiet = 0
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        if not ready and not _runnable_actors(loop):
            quiet += 1
            if quiet >= 2:  # a second round lets I/O callbacks and due loop timers in
                return
        else:
            quiet = 0
    busy = [p.ref for p in _runnable_actors(loop)]
    raise RuntimeError(
        f"the event loop did not become idle after {max_rounds} scheduling rounds; "
        f"actors with work pending: {busy or 'none (some other task keeps running)'}"
    )


def _runnable_actors(loop: asyncio.AbstractEventLoop) -> list[Any]:
    return [p for p in _registry.live_processes() if p.loop is loop and p.runnable]


@final
class Sequencer:
    """Force blocks of code in different tasks to run in a given order.

    ``async with seq(n):`` waits until the blocks numbered ``0 .. n-1`` have finished, then
    runs its body. Each number may be used once. If a block fails, every block still waiting
    raises ``RuntimeError`` instead of waiting forever.

    Example::

        seq = Sequencer()

        async def first():
            async with seq(0):
                ref.cast("a")

        async def second():
            async with seq(1):
                ref.cast("b")
    """

    def __init__(self) -> None:
        self._done: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self._claimed: set[int] = set()
        self._broken = False

    @asynccontextmanager
    async def __call__(self, position: int) -> AsyncIterator[None]:
        """Run the block as step ``position``."""
        if position in self._claimed:
            raise RuntimeError(f"Sequencer position {position} was already used")
        self._claimed.add(position)
        if position > 0 and not self._broken:
            await self._done[position - 1].wait()
        if self._broken:
            raise RuntimeError(f"Sequencer is broken: a block before {position} failed")
        try:
            yield
        except BaseException:
            self._broken = True
            for event in list(self._done.values()):
                event.set()  # wake every waiter so it sees the breakage
            raise
        self._done[position].set()

    def __repr__(self) -> str:
        done = sorted(p for p, e in self._done.items() if e.is_set())
        return f"<Sequencer done={done}{' broken' if self._broken else ''}>"


def live_actors() -> list[ActorRef]:
    """Return the references of every actor that has not exited (for leak checks)."""
    return [p.ref for p in _registry.live_processes()]


def runtime_tasks() -> list[asyncio.Task[None]]:
    """Return the actor tasks that have not finished (for the no-orphan-task check)."""
    return [t for t in _tasks if not t.done()]


def abandon(ref: ActorRef) -> None:
    """Forget a leaked actor whose event loop is closed: release its name, drop it from
    ``live_actors``. Only for test-suite cleanup after a leak has been reported."""
    for proc in _registry.live_processes():
        if proc is ref._process:
            _registry.abandon(proc)
