"""The user-code boundary: what asset code may raise, and what may become of its value.

Asset functions run on the event loop (coroutines) or in worker threads (plain functions).
``KeyboardInterrupt`` and ``SystemExit`` escaping there would stop the runtime's event loop,
and a ``CancelledError`` the code raises itself would look like a cancellation of the run;
at the boundary each becomes ``AssetInterrupted``, a failed attempt like any other error.

``StoreGuard`` keeps a value and its record in step when an attempt runs in a worker
thread, which cannot be interrupted: the thread asks the guard before storing, and a
timeout or a cancel abandons the attempt through the same guard. Whichever comes first
wins: an abandoned attempt never stores (its value is discarded), and a store that has
begun is let finish and recorded as the success it is.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from flowstone.errors import AssetInterrupted

T = TypeVar("T")

_STOPPERS = (KeyboardInterrupt, SystemExit, asyncio.CancelledError)


def call_user(asset: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call plain user code (in a worker thread) behind the boundary."""
    try:
        return fn(*args, **kwargs)
    except _STOPPERS as exc:
        raise AssetInterrupted(asset, type(exc).__name__) from exc


async def await_user(asset: str, awaitable: Awaitable[T]) -> T:
    """Await user code (on the loop) behind the boundary; a real cancellation of the
    awaiting task still propagates."""
    try:
        return await awaitable
    except (KeyboardInterrupt, SystemExit) as exc:
        raise AssetInterrupted(asset, type(exc).__name__) from exc
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the attempt itself is being cancelled (timeout, cancel, shutdown)
        raise AssetInterrupted(asset, "CancelledError") from exc


class StoreGuard:
    """Decides once whether a worker-thread attempt stores its value (module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "running"

    def begin_store(self) -> bool:
        """Called by the worker before storing: True when it may store."""
        with self._lock:
            if self._state == "running":
                self._state = "storing"
                return True
            return False

    def abandon(self) -> bool:
        """Called on timeout or cancel: True when the attempt is abandoned (it will not
        store), False when its store has already begun (let it finish)."""
        with self._lock:
            if self._state == "running":
                self._state = "abandoned"
                return True
            return self._state == "abandoned"


class Abandoned(Exception):
    """Internal: raised in the worker thread when its attempt was abandoned before storing."""
