"""The SQLite store's writer thread: one thread, fed through a queue, answering on the loop.

``loop.run_in_executor`` on a one-thread ``ThreadPoolExecutor`` does the same job with more
machinery per call: a work item and a ``concurrent.futures.Future`` chained to the asyncio
future, a condition variable on each side, the pool's idle-thread bookkeeping. A write is
on the critical path of every step of a chain, so this thread takes the call from a
``SimpleQueue`` and hands the result back with one ``call_soon_threadsafe``: about half the
CPU of the executor's round trip (docs/benchmarks.md, issue 17).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class WriterThread:
    """Run calls one at a time, in the order submitted, on one thread of their own."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``call``; the returned future (of the running loop) gets its result.

        A future cancelled before the thread reaches its call skips the call, as a call
        queued on an executor does; once it runs, it runs to the end.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, call))
        return future

    def shutdown(self) -> None:
        """Run the calls already queued, then stop the thread (blocks until it has)."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, call = job
            if future.cancelled():
                continue
            try:
                result, error = call(), None
            except BaseException as exc:  # handed to the caller, who re-raises it
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:
                pass  # the caller's loop is closed: nobody is waiting for the answer
            del job, future, call, result, error


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
