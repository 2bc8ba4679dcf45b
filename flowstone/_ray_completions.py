"""Completions of Ray tasks, found by polling from the event loop's own thread.

``await object_ref`` makes Ray call back into Python on its I/O thread for every task that
finishes: the callback takes the GIL away from the event loop, resolves a
``concurrent.futures.Future`` and wakes the loop, one task at a time. On a small machine
that costs more driver CPU than submitting the task.

``Completions`` instead keeps the refs in flight and lets one task on the event loop ask
``ray.wait(..., timeout=0)`` which of them are done, every ``FIRST_POLL`` seconds while
tasks finish, backing off to ``LONGEST_POLL`` while none does. Every Ray call stays on the
loop's thread: a second thread calling ``ray.wait`` while the loop submits tasks was seen
to hang inside Ray (docs/adr/0020).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("flowstone.ray")

FIRST_POLL = 0.001
LONGEST_POLL = 0.05
BACKOFF = 1.5


class Completions:
    """Resolve an asyncio future per Ray ref once its task has finished (one event loop)."""

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._interval = FIRST_POLL
        self._closed = False

    def watch(self, ref: Any) -> asyncio.Future[Any]:
        """Return a future resolved with ``ray.get(ref)`` (or failed with what it raises)
        once the task has finished."""
        if self._closed:
            raise RuntimeError("the Ray executor is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[ref] = future
        self._interval = FIRST_POLL  # new work: look again soon
        if self._poller is None or self._poller.done():
            self._poller = loop.create_task(self._poll(), name="flowstone ray completions")
        return future

    def forget(self, ref: Any) -> None:
        """Stop watching ``ref`` (its waiter was cancelled)."""
        self._pending.pop(ref, None)

    async def aclose(self) -> None:
        """Stop polling; the futures still waiting are cancelled."""
        self._closed = True
        poller, self._poller = self._poller, None
        if poller is not None and not poller.done():
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.cancel()

    async def _poll(self) -> None:
        ray = self._ray
        while self._pending:
            refs = list(self._pending)
            try:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            except Exception:  # Ray is shutting down: aclose() cancels the waiters
                log.debug("ray.wait failed", exc_info=True)
                ready = []
            for ref in ready:
                future = self._pending.pop(ref, None)
                if future is None or future.done():
                    continue
                try:
                    future.set_result(ray.get(ref))
                except Exception as error:  # the task's error, raised by the waiter
                    future.set_exception(error)
            if ready:
                self._interval = FIRST_POLL
            await asyncio.sleep(self._interval)
            self._interval = min(self._interval * BACKOFF, LONGEST_POLL)
