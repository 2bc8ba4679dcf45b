"""The backend interface behind ``ActorRef``.

An ``ActorRef`` holds one ``ProcessBackend`` and forwards everything to it. The local asyncio
backend (``actors._process.Process``) is the reference implementation; a Ray backend will
implement the same surface for actors living in Ray worker processes, so code above this layer
(supervisors, flowstone) only ever holds an ``ActorRef`` and never learns where an actor runs.

The contract, documented once here for every backend:

* Messages from one sender arrive in the order they were sent and are handled one at a time.
* ``call`` fails with ``NoProc`` when the actor is dead or exits before replying (every waiting
  caller fails at once, as the actor exits), with ``CallTimeout`` when the clock's timeout
  passes first, and with ``CallingSelf`` when an actor calls itself from its own task.
* ``cast`` and ``send`` never raise; to a dead actor they are dropped.
* Exactly one exit happens per process; at that moment its name is released, its links receive
  ``exit_signal`` and its monitors receive ``down_signal``.
* Links are symmetric and idempotent (``add_link`` on both sides); monitors are one-way and
  stack (every ``monitor`` call has its own id and its own ``Down``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from actors._messages import Down
    from actors._ref import ActorRef
    from actors._statistics import ActorStatistics

__all__ = ("ProcessBackend",)


@runtime_checkable
class ProcessBackend(Protocol):
    """What an ``ActorRef`` (and a peer process) needs from the process it denotes."""

    @property
    def pid(self) -> int:
        """A process-unique integer identity, shared by all backends."""

    @property
    def name(self) -> str | None:
        """The registered name, if any."""

    @property
    def ref(self) -> ActorRef:
        """The reference to this process."""

    @property
    def alive(self) -> bool:
        """True until the process has exited."""

    @property
    def reason(self) -> Any:
        """The exit reason once exited, else None."""

    @property
    def display_name(self) -> str:
        """``Class 'name' #pid``, for reprs and messages."""

    # -- used through ActorRef ------------------------------------------------------------

    async def call(self, message: Any, timeout: float | None) -> Any:
        """Deliver a call and return the reply (see the module docstring for failures)."""

    def cast(self, message: Any) -> None:
        """Deliver a cast; never raises."""

    def send(self, message: Any) -> None:
        """Deliver a plain message to ``handle_info``; never raises."""

    async def stop(self, reason: Any, timeout: float | None) -> None:
        """Stop in order (``terminate`` runs); kill when ``timeout`` seconds pass first."""

    def kill(self) -> None:
        """Exit at once with reason ``"killed"``; untrappable, ``terminate`` does not run."""

    async def wait(self) -> Any:
        """Wait for the exit and return its reason."""

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of the process's counters."""

    # -- used by peer processes -----------------------------------------------------------

    def add_link(self, peer: ProcessBackend) -> bool:
        """Record a link with ``peer``; return False (recording nothing) if already dead."""

    def remove_link(self, peer: ProcessBackend) -> None:
        """Forget the link with ``peer``, if any."""

    def exit_signal(self, sender: ActorRef, reason: Any) -> None:
        """Receive the exit of a linked process (trapped, ignored, or fatal)."""

    def add_monitor(self, monitor_id: int, watcher: ProcessBackend) -> bool:
        """Record that ``watcher`` monitors this process; return False if already dead."""

    def remove_monitor(self, monitor_id: int) -> None:
        """Forget monitor ``monitor_id``, if it still exists."""

    def down_signal(self, down: Down) -> None:
        """Receive the ``Down`` of a process this one monitors."""
