"""Time for everything in the runtime that waits: call and stop timeouts, restart windows.

Nothing below the public edge reads ``time.monotonic()`` directly; it asks the current
``Clock``. Production uses ``MonotonicClock``; tests install ``actors.testing.MockClock`` and
advance it by hand, so timeout behaviour is tested without real sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, final, runtime_checkable


@runtime_checkable
class TimerHandle(Protocol):
    """A scheduled callback that can still be cancelled."""

    def cancel(self) -> None:
        """Cancel the callback; a no-op if it already ran."""


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source that can schedule callbacks on the running event loop."""

    def now(self) -> float:
        """Return the current monotonic time in seconds."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` (on the event loop thread) after ``delay`` seconds of this clock."""


@final
class MonotonicClock:
    """The production clock: ``time.monotonic`` and the running loop's timers."""

    def now(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule ``callback`` with ``loop.call_later``."""
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    def __repr__(self) -> str:
        return "<MonotonicClock>"


_clock: Clock = MonotonicClock()


def get_clock() -> Clock:
    """Return the clock the runtime currently uses."""
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Install ``clock`` for the whole runtime and return the previous one."""
    global _clock
    if not isinstance(clock, Clock):
        raise TypeError(
            f"set_clock() expects an object with now() and call_later(delay, callback); "
            f"got {clock!r}"
        )
    previous, _clock = _clock, clock
    return previous


async def sleep(seconds: float) -> None:
    """Sleep ``seconds`` of the current clock (real or mock).

    ``sleep(0)`` (or less) only yields to the event loop once, as ``asyncio.sleep(0)`` does:
    it must not wait for a mock clock to be advanced.
    """
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    handle = _clock.call_later(seconds, wake)
    try:
        await done
    finally:
        handle.cancel()
