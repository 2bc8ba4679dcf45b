"""``Finished``: results of finished Ray tasks reach the event loop in batches.

Ray calls the completion callback on its own I/O thread; these tests do the same from a
plain thread with a stand-in for ``ObjectRef`` (only ``_on_completed`` is used), so what is
checked is the hand-over between threads, not Ray. The executor's tests run it against a
real cluster.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from flowstone.engine._ray import Finished


class Ref:
    """Stands in for a Ray ObjectRef: keeps the completion callback Ray would call."""

    def __init__(self) -> None:
        self.callback: Callable[[Any], None] | None = None

    def _on_completed(self, callback: Callable[[Any], None]) -> None:
        self.callback = callback

    def complete(self, result: Any) -> None:
        assert self.callback is not None
        self.callback(result)


def in_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` on another thread, as Ray runs completion callbacks; re-raise what it
    raised there."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if raised:
        raise raised[0]


def count_wake_ups(loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the loop's ``call_soon_threadsafe`` calls (restored after the test)."""
    woken = [0]
    wake = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        woken[0] += 1
        return wake(*args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    return woken


async def test_results_that_finish_together_are_delivered_with_one_wake_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    woken = count_wake_ups(loop, monkeypatch)
    finished = Finished(loop)
    refs = [Ref() for _ in range(3)]
    futures = [finished.watch(ref) for ref in refs]
    failure = ValueError("the task raised")

    def ray_io_thread() -> None:  # the loop is busy (blocked in join) meanwhile
        refs[0].complete({"rows": 1})
        refs[1].complete(failure)
        refs[2].complete({"rows": 3})

    in_thread(ray_io_thread)
    assert woken[0] == 1
    assert await futures[0] == {"rows": 1}
    with pytest.raises(ValueError, match="the task raised"):
        await futures[1]
    assert await futures[2] == {"rows": 3}

    # Once delivered, the next result wakes the loop again.
    later = Ref()
    future = finished.watch(later)
    in_thread(lambda: later.complete({"rows": 4}))
    assert await future == {"rows": 4}
    assert woken[0] == 2


async def test_a_result_for_a_future_cancelled_meanwhile_is_dropped() -> None:
    finished = Finished(asyncio.get_running_loop())
    timed_out, other = Ref(), Ref()
    cancelled = finished.watch(timed_out)
    waiting = finished.watch(other)
    cancelled.cancel()  # a timeout or a cancelled run gave up waiting

    def ray_io_thread() -> None:
        timed_out.complete({"late": True})
        other.complete({"rows": 2})

    in_thread(ray_io_thread)
    assert await waiting == {"rows": 2}
    assert cancelled.cancelled()


def test_a_result_arriving_after_the_loop_closed_is_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    finished = Finished(loop)
    ref = Ref()
    future = finished.watch(ref)
    loop.close()
    in_thread(lambda: ref.complete({"rows": 1}))  # must not raise on Ray's thread
    assert not future.done()
