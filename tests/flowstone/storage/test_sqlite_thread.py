"""The SQLite store's writer thread: order, results, errors, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import threading
from functools import partial

import pytest

from flowstone.storage._sqlite_thread import WriterThread


async def test_calls_run_in_order_on_one_thread_and_return_their_results() -> None:
    writer = WriterThread("test-writer")
    seen: list[tuple[int, str]] = []

    def call(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 10

    try:
        results = await asyncio.gather(*(writer.submit(partial(call, n)) for n in range(50)))
    finally:
        await asyncio.to_thread(writer.shutdown)
    assert results == [n * 10 for n in range(50)]
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test-writer"}


async def test_an_error_reaches_its_caller_and_the_thread_goes_on() -> None:
    writer = WriterThread("test-writer")

    def fail() -> None:
        raise ValueError("refused")

    try:
        with pytest.raises(ValueError, match="refused"):
            await writer.submit(fail)
        assert await writer.submit(lambda: "next") == "next"
    finally:
        await asyncio.to_thread(writer.shutdown)


async def test_a_call_cancelled_before_it_runs_is_skipped() -> None:
    writer = WriterThread("test-writer")
    release = threading.Event()
    ran: list[str] = []

    def blocker() -> None:
        release.wait(timeout=10)
        ran.append("blocker")

    try:
        first = writer.submit(blocker)
        second = writer.submit(lambda: ran.append("cancelled"))
        second.cancel()
        release.set()
        await first
        await writer.submit(lambda: ran.append("after"))
    finally:
        await asyncio.to_thread(writer.shutdown)
    assert ran == ["blocker", "after"]


def test_shutdown_runs_what_is_queued_then_stops() -> None:
    writer = WriterThread("test-writer")
    done: list[int] = []

    async def submit_and_stop() -> None:
        futures = [writer.submit(partial(done.append, n)) for n in range(5)]
        await asyncio.to_thread(writer.shutdown)
        await asyncio.gather(*futures)

    asyncio.run(submit_and_stop())
    assert done == [0, 1, 2, 3, 4]
    assert not writer._thread.is_alive()


def test_an_answer_for_a_closed_loop_is_dropped() -> None:
    writer = WriterThread("test-writer")
    release = threading.Event()

    async def submit() -> None:
        writer.submit(lambda: release.wait(timeout=10))

    asyncio.run(submit())  # the loop closes while the call still waits
    release.set()
    writer.shutdown()  # the thread did not die on the closed loop
    assert not writer._thread.is_alive()
