"""``ActorRef``: the handle through which everything talks to an actor."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from actors._statistics import ActorStatistics
    from actors.abc import ProcessBackend


@final
class _NoReply:
    _instance: _NoReply | None = None

    def __new__(cls) -> _NoReply:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "actors.NO_REPLY"


NO_REPLY: Any = _NoReply()
"""Return this from ``handle_call`` to reply later with ``caller.reply(value)``."""


class ActorRef:
    """A reference to an actor: the only way to talk to it.

    Created by ``spawn`` (there is no public constructor). Two references compare equal and
    hash alike when they denote the same actor, whichever backend runs it. Supervisors
    subclass it (``SupervisorRef``) to add their own calls.
    """

    __slots__ = ("__weakref__", "_process")
    _process: ProcessBackend

    def __init__(self) -> None:
        raise TypeError("ActorRef has no public constructor; use `await actors.spawn(...)`")

    @classmethod
    def _create(cls, process: ProcessBackend) -> ActorRef:
        ref = object.__new__(cls)
        ref._process = process
        return ref

    def _rebind(self, cls: type[ActorRef]) -> ActorRef:
        """Return a reference of subclass ``cls`` to the same actor (used by supervisors)."""
        ref = object.__new__(cls)
        ref._process = self._process
        return ref

    async def call(self, message: Any, timeout: float | None = 5.0) -> Any:
        """Send ``message`` to ``handle_call`` and return the reply.

        Args:
            message: any object; it is handled after the messages already queued.
            timeout: seconds of the runtime clock to wait; ``None`` or ``float("inf")``
                waits as long as the actor lives.

        Raises:
            NoProc: the actor is dead, or exited before replying (also when ``handle_call``
                raised: the exception is the actor's exit reason, ``NoProc.reason``).
            CallTimeout: no reply within ``timeout``; a later reply is dropped.
            CallingSelf: an actor called itself from its own task.
        """
        return await self._process.call(message, timeout)

    def cast(self, message: Any) -> None:
        """Send ``message`` to ``handle_cast``; never raises, even if the actor is dead."""
        self._process.cast(message)

    def send(self, message: Any) -> None:
        """Send ``message`` to ``handle_info``; never raises, even if the actor is dead."""
        self._process.send(message)

    async def stop(self, reason: Any = "normal", timeout: float | None = 5.0) -> None:
        """Stop the actor after the messages already queued; ``terminate(reason)`` runs.

        Returns once the actor has exited, at once if it is already dead. If it has not
        exited ``timeout`` seconds (runtime clock) after the request, it is killed (reason
        ``"killed"``); ``None`` or ``float("inf")`` waits forever. Awaited from the actor's
        own task it cannot wait for itself: it then acts as ``self.stop(reason)`` (exit once
        the current handler returns) and returns at once.
        """
        await self._process.stop(reason, timeout)

    def kill(self) -> None:
        """Kill the actor at once: untrappable, reason ``"killed"``, ``terminate`` skipped.

        The actor counts as dead when this returns (links and monitors are notified, pending
        callers fail with ``NoProc``); its task is cancelled and finishes on its own.
        """
        self._process.kill()

    @property
    def alive(self) -> bool:
        """True until the actor has exited."""
        return self._process.alive

    @property
    def name(self) -> str | None:
        """The registered name, if any."""
        return self._process.name

    @property
    def pid(self) -> int:
        """A process-unique integer identity."""
        return self._process.pid

    @property
    def exit_reason(self) -> Any:
        """The exit reason once the actor has exited, else None."""
        return self._process.reason

    async def wait(self) -> Any:
        """Wait until the actor has exited and return the exit reason.

        Raises:
            CallingSelf: awaited from the actor's own task (it would wait forever).
        """
        return await self._process.wait()

    def statistics(self) -> ActorStatistics:
        """Return a snapshot: mailbox depth and peak, messages handled, links, monitors."""
        return self._process.statistics()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._process is self._process

    def __hash__(self) -> int:
        return hash(self._process.pid)

    def __repr__(self) -> str:
        state = "alive" if self._process.alive else "dead"
        return f"<{type(self).__name__} {self._process.display_name} {state}>"


@final
class Caller:
    """Who waits for a ``call`` reply; passed to ``handle_call``.

    Keep it and return ``NO_REPLY`` to answer later (from this or any other task) with
    ``reply``. If the actor exits first, the caller gets ``NoProc``.
    """

    __slots__ = ("_future", "ref")

    _future: asyncio.Future[Any]
    ref: ActorRef | None
    """The calling actor, or None when the call came from outside any actor."""

    def __init__(self) -> None:
        raise TypeError("Caller has no public constructor; handle_call receives one")

    @classmethod
    def _create(cls, future: asyncio.Future[Any], ref: ActorRef | None) -> Caller:
        caller = object.__new__(cls)
        caller._future = future
        caller.ref = ref
        return caller

    def reply(self, value: Any) -> None:
        """Deliver the reply; a second reply, or one after a timeout, is dropped."""
        if not self._future.done():
            self._future.set_result(value)

    @property
    def waiting(self) -> bool:
        """True while the caller still waits (no reply, no timeout, no exit)."""
        return not self._future.done()

    def __repr__(self) -> str:
        origin = repr(self.ref) if self.ref is not None else "outside any actor"
        state = "waiting" if self.waiting else "done"
        return f"<Caller from {origin} {state}>"
