"""The worker side of the Ray backend: one ``ActorHost`` per Ray-hosted actor.

Internal. ``ActorHost`` is the class the driver turns into a Ray *async* actor. Inside the
Ray worker it spawns the user's actor with the local backend, so every actor semantic (one
message at a time, ``terminate`` on stop and on crashes, exit reasons, trapping) comes from
the same code as for local actors; the host only relays what the driver asks.

Ordering. Ray does not promise that methods of an async actor start in submission order, so
every operation that reaches the mailbox carries a sequence number and waits for its turn:
messages from the driver arrive in the order they were sent, as the ``ProcessBackend``
contract requires.

This module imports nothing from Ray: the driver applies ``ray.remote`` to the class.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
from collections.abc import AsyncIterator
from typing import Any

from actors._exceptions import NoProc, StartError
from actors._messages import Down, format_reason
from actors._ref import ActorRef
from actors._spawn import spawn


class RemoteExitReason(Exception):
    """An exit reason that could not be sent between processes, kept as its text."""


def portable(reason: Any) -> Any:
    """Return ``reason`` if it survives pickling, else a ``RemoteExitReason`` of its text.

    Exit reasons cross the process boundary (worker to driver); an exception class that
    cannot be unpickled (required keyword arguments, a class local to a function) must not
    turn an actor's exit into a serialization error.
    """
    try:
        pickle.loads(pickle.dumps(reason))
    except Exception:
        return RemoteExitReason(format_reason(reason))
    return reason


class RemotePeer:
    """Stands, inside the worker, for a driver-side actor that sent an exit or a ``Down``.

    It is dead as far as the worker is concerned: the worker cannot message it back. Its
    ``ref`` is what the hosted actor sees in ``Exit.ref`` / ``Down.ref``.
    """

    def __init__(self, pid: int, display_name: str) -> None:
        self.pid = pid
        self.name = None
        self.display_name = display_name
        self.alive = False
        self.reason: Any = "noproc"
        self.ref = ActorRef._create(self)  # type: ignore[arg-type]

    def add_link(self, peer: Any) -> bool:
        return False

    def remove_link(self, peer: Any) -> None:
        pass

    def add_monitor(self, monitor_id: int, watcher: Any) -> bool:
        return False

    def remove_monitor(self, monitor_id: int) -> None:
        pass


class ActorHost:
    """Hosts one actor in a Ray worker; every method is called by the driver's ``RayProcess``."""

    def __init__(self) -> None:
        self._ref: ActorRef | None = None
        self._next = 0  # the sequence number whose turn it is
        self._turns: dict[int, asyncio.Future[None]] = {}

    async def start(
        self, actor_class: type, args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None
    ) -> tuple[str, Any]:
        """Spawn the actor; return ``("ok", worker pid)`` or ``("error", (text, reason))``."""
        try:
            self._ref = await spawn(actor_class, *args, name=name, **kwargs)
        except StartError as error:
            return "error", (str(error), portable(error.reason))
        return "ok", os.getpid()

    async def wait(self) -> Any:
        """Return the actor's exit reason once it has exited (the driver's monitor)."""
        return portable(await self._actor().wait())

    async def call(self, seq: int, message: Any) -> tuple[str, Any]:
        """Relay a call; return ``("ok", reply)`` or ``("noproc", exit reason)``."""
        async with self._ordered(seq):
            pending = asyncio.ensure_future(self._actor().call(message, timeout=None))
            # Let the call reach the mailbox before the next operation takes its turn.
            await asyncio.sleep(0)
        try:
            return "ok", await pending
        except NoProc as error:
            return "noproc", portable(error.reason)

    async def cast(self, seq: int, message: Any) -> None:
        """Relay a cast."""
        async with self._ordered(seq):
            self._actor().cast(message)

    async def send(self, seq: int, message: Any) -> None:
        """Relay a plain message for ``handle_info``."""
        async with self._ordered(seq):
            self._actor().send(message)

    async def stop(self, seq: int, reason: Any) -> None:
        """Stop the actor after the messages already relayed (the driver enforces timeouts)."""
        async with self._ordered(seq):
            pending = asyncio.ensure_future(self._actor().stop(reason, timeout=None))
            await asyncio.sleep(0)
        await pending

    async def exit_signal(self, seq: int, pid: int, label: str, reason: Any) -> None:
        """Deliver the exit of a linked driver-side actor (trapped, ignored or fatal)."""
        async with self._ordered(seq):
            self._actor()._process.exit_signal(RemotePeer(pid, label).ref, reason)

    async def down(self, seq: int, monitor_id: int, pid: int, label: str, reason: Any) -> None:
        """Deliver a ``Down`` as a plain message (monitors held by a hosted actor)."""
        async with self._ordered(seq):
            self._actor().send(Down(monitor_id, RemotePeer(pid, label).ref, reason))

    async def statistics(self) -> Any:
        """Return the hosted actor's ``ActorStatistics``."""
        return self._actor().statistics()

    async def pid(self) -> int:
        """Return the worker's operating-system process id."""
        return os.getpid()

    def _actor(self) -> ActorRef:
        if self._ref is None:
            raise RuntimeError("ActorHost used before start()")
        return self._ref

    @contextlib.asynccontextmanager
    async def _ordered(self, seq: int) -> AsyncIterator[None]:
        """Run the block when it is ``seq``'s turn; the next number's turn comes after it."""
        if seq != self._next:
            future = asyncio.get_running_loop().create_future()
            self._turns[seq] = future
            await future
        try:
            yield
        finally:
            self._next += 1
            waiting = self._turns.pop(self._next, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)


__all__ = ("ActorHost", "RemoteExitReason", "RemotePeer", "portable")
