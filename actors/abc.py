"""The backend interface behind ``ActorRef``.

The local asyncio backend (``actors._process.Process``) is the reference implementation; the
Ray backend implements the same surface for actors that live in Ray worker processes. Code
above this layer (supervisors, flowstone) only ever holds an ``ActorRef``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from actors._process import ActorStatistics
    from actors._ref import ActorRef


@runtime_checkable
class ProcessBackend(Protocol):
    """What an ``ActorRef`` needs from the process it denotes."""

    pid: int
    name: str | None
    ref: ActorRef
    alive: bool
    reason: Any

    @abstractmethod
    async def call(self, message: Any, timeout: float) -> Any:
        """Deliver a call and return the reply; NoProc / CallTimeout on failure."""

    @abstractmethod
    def cast(self, message: Any) -> None:
        """Deliver a cast; never raises."""

    @abstractmethod
    def send(self, message: Any) -> None:
        """Deliver a plain message; never raises."""

    @abstractmethod
    async def stop(self, reason: Any, timeout: float) -> None:
        """Orderly stop, killing after ``timeout``."""

    @abstractmethod
    def kill(self) -> None:
        """Untrappable exit with reason ``killed``."""

    @abstractmethod
    async def wait(self) -> Any:
        """Wait for the exit reason."""

    @abstractmethod
    def exit_signal(self, sender: ActorRef, reason: Any) -> None:
        """Receive an exit signal from a linked process."""

    @abstractmethod
    def statistics(self) -> ActorStatistics:
        """Return a snapshot of counters."""
