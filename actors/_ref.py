"""``ActorRef``: the handle through which everything talks to an actor."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from actors._process import ActorStatistics, Process


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
    """A reference to an actor. Created by ``spawn``; compare with ``==`` and hash freely."""

    __slots__ = ("__weakref__", "_process")
    _process: Process

    def __init__(self) -> None:
        raise TypeError("ActorRef has no public constructor; use `await actors.spawn(...)`")

    @classmethod
    def _create(cls, process: Process) -> ActorRef:
        ref = object.__new__(cls)
        ref._process = process
        return ref

    def _rebind(self, cls: type[ActorRef]) -> ActorRef:
        """Return a reference of subclass ``cls`` to the same actor (used by supervisors)."""
        ref = object.__new__(cls)
        ref._process = self._process
        return ref

    async def call(self, message: Any, timeout: float = 5.0) -> Any:
        """Send ``message`` to ``handle_call`` and return the reply.

        Raises:
            NoProc: the actor is dead, or died before replying (also when its handler raised).
            CallTimeout: no reply within ``timeout`` seconds of the runtime clock.
        """
        return await self._process.call(message, timeout)

    def cast(self, message: Any) -> None:
        """Send ``message`` to ``handle_cast``; never raises, even if the actor is dead."""
        self._process.cast(message)

    def send(self, message: Any) -> None:
        """Send ``message`` to ``handle_info``; never raises, even if the actor is dead."""
        self._process.send(message)

    async def stop(self, reason: Any = "normal", timeout: float = 5.0) -> None:
        """Stop the actor after the messages already queued; ``terminate(reason)`` runs.

        Returns quietly if the actor is already dead; kills it if it has not exited after
        ``timeout`` seconds (``float("inf")`` waits forever).
        """
        await self._process.stop(reason, timeout)

    def kill(self) -> None:
        """Kill the actor at once: untrappable, reason ``"killed"``, no ``terminate``."""
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
        """Wait until the actor has exited and return the exit reason."""
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
    """Who is waiting for a ``call`` reply; passed to ``handle_call``."""

    __slots__ = ("_future", "ref")

    def __init__(self) -> None:
        raise TypeError("Caller has no public constructor")

    @classmethod
    def _create(cls, future: asyncio.Future[Any], ref: ActorRef | None) -> Caller:
        caller = object.__new__(cls)
        caller._future = future
        caller.ref = ref
        return caller

    _future: asyncio.Future[Any]
    ref: ActorRef | None
    """The calling actor, or None when the call came from outside any actor."""

    def reply(self, value: Any) -> None:
        """Deliver the reply (for handlers that returned ``NO_REPLY``); later replies are ignored."""
        if not self._future.done():
            self._future.set_result(value)

    @property
    def waiting(self) -> bool:
        """True while the caller still waits (no reply, no timeout)."""
        return not self._future.done()

    def __repr__(self) -> str:
        return f"<Caller {self.ref!r}>" if self.ref else "<Caller external>"
