"""The mailbox of a local actor: an ordered queue of envelopes and a wake-up future.

Internal, not part of the public API. Envelopes record how a message arrived (call, cast,
plain send, runtime signal, stop request), so that ``unlink`` and ``demonitor`` can flush the
``Exit`` / ``Down`` messages the *runtime* queued without touching look-alike messages a user
sent with ``send``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from actors._messages import Down, Exit

if TYPE_CHECKING:
    from actors._ref import Caller


@dataclass(frozen=True, slots=True)
class CallEnvelope:
    """A ``call``: the reply goes to ``caller``."""

    message: Any
    caller: Caller


@dataclass(frozen=True, slots=True)
class CastEnvelope:
    """A ``cast``, for ``handle_cast``."""

    message: Any


@dataclass(frozen=True, slots=True)
class InfoEnvelope:
    """A plain ``send``, for ``handle_info``."""

    message: Any


@dataclass(frozen=True, slots=True)
class SignalEnvelope:
    """An ``Exit`` or ``Down`` queued by the runtime, for ``handle_info``."""

    message: Exit | Down


@dataclass(frozen=True, slots=True)
class StopEnvelope:
    """An orderly stop requested with ``ActorRef.stop``, queued behind earlier messages."""

    reason: Any


Envelope: TypeAlias = CallEnvelope | CastEnvelope | InfoEnvelope | SignalEnvelope | StopEnvelope


class Mailbox:
    """FIFO of envelopes with a peak-depth counter; one reader (the actor's task).

    The reader waits on a future of its own, resolved by the next ``put`` or ``nudge``
    (cheaper than an ``asyncio.Event``: nothing to clear, no list of waiters)."""

    __slots__ = ("_items", "_peak", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Envelope] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._peak = 0

    def put(self, envelope: Envelope) -> None:
        """Append ``envelope`` and wake the reader."""
        items = self._items
        items.append(envelope)
        if len(items) > self._peak:
            self._peak = len(items)
        if self._waiter is not None:
            self.nudge()

    def take(self) -> Envelope:
        """Remove and return the oldest envelope; the mailbox must not be empty."""
        return self._items.popleft()

    async def wait(self) -> None:
        """Return at once if the mailbox is not empty, else at the next ``put`` or ``nudge``."""
        if self._items:
            return
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def nudge(self) -> None:
        """Wake the reader without a message, so it re-checks whether it should exit."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def remove_if(self, predicate: Callable[[Envelope], bool]) -> int:
        """Drop every envelope ``predicate`` accepts; return how many were dropped."""
        kept = deque(e for e in self._items if not predicate(e))
        dropped = len(self._items) - len(kept)
        self._items = kept
        return dropped

    def clear(self) -> None:
        """Drop everything (the actor has exited)."""
        self._items.clear()

    @property
    def peak(self) -> int:
        """The largest depth seen since the actor started."""
        return self._peak

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Envelope]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"<Mailbox depth={len(self._items)} peak={self._peak}>"
