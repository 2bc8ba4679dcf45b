"""``Supervision``: what every supervisor does, whatever its strategy.

Internal, not part of the public API. A supervisor is an actor that traps exits and links to
each child it starts. This class owns the parts OTP's ``supervisor.erl`` shares between
strategies: the restart decision table (exit reason x restart type), the restart intensity,
the retry loop of failed restarts, starting a child from its spec and stopping one, the
parent's exit signal, and call dispatch. Subclasses decide which children a restart
involves (the strategy) and what happens to the specs.

Everything runs in the supervisor's own task, one message at a time, as OTP's supervisor is
a serial server: while it starts or stops a child it answers nothing else.

A terminated child's pending ``Exit`` must never be taken for a crash. Rather than scan the
mailbox (``unlink`` would, at O(mailbox) per child), the supervisor forgets a child's ref
before stopping it: an ``Exit`` from a ref it no longer knows is dropped on arrival, as OTP
flushes it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import actors
from supervisors._child import RESTARTING, RUNNING, Entry
from supervisors._exceptions import SupervisorError
from supervisors._intensity import RestartIntensity
from supervisors._lookup import record
from supervisors._requests import Attach, Failure, Retry
from supervisors._shutdown import shutdown_child

if TYPE_CHECKING:
    from supervisors._ref import DynamicSupervisorRef, SupervisorRef

log = logging.getLogger("supervisors")

Handler = Callable[[Any], Awaitable[Any]]
R = TypeVar("R", bound=actors.ActorRef)


class StartFailed(Exception):
    """Internal: a child's start function failed; ``reason`` is why."""

    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason


class Supervision(actors.Actor):
    """Internal base of ``Supervisor`` and ``DynamicSupervisor``."""

    trap_exits = True
    strategy: str

    def _setup(self, max_restarts: int, max_seconds: float) -> None:
        record(self.ref.pid, self)
        self.intensity = RestartIntensity(max_restarts, max_seconds)
        self._by_ref: dict[actors.ActorRef, Entry] = {}  # running children only
        self._parent: actors.ActorRef | None = None
        self._handlers: dict[type, Handler] = {}

    # -- what subclasses provide ------------------------------------------------------------

    def wrap(self, ref: actors.ActorRef) -> SupervisorRef | DynamicSupervisorRef:
        """Return ``ref`` (this supervisor) as its ``SupervisorRef`` kind."""
        raise NotImplementedError

    def entries(self) -> list[Entry]:
        """Return every child in start order."""
        raise NotImplementedError

    async def _restart_group(self, entry: Entry) -> Entry | None:
        """Restart ``entry`` (and its group); return the entry whose start failed, if any."""
        raise NotImplementedError

    async def _stop_group(self, entry: Entry) -> None:
        """Stop the children that a restart of ``entry`` will start again (none by default)."""

    def _exited_for_good(self, entry: Entry) -> None:
        """``entry`` exited and will not be restarted: keep or forget its spec."""
        raise NotImplementedError

    async def _stop_all(self) -> None:
        """Stop every child as the supervisor exits."""
        raise NotImplementedError

    # -- messages ---------------------------------------------------------------------------

    async def handle_info(self, message: Any) -> None:
        """Handle a child's or the parent's exit, or a retry reminder."""
        if type(message) is actors.Exit:
            entry = self._by_ref.pop(message.ref, None)
            if entry is not None:
                await self._child_exited(entry, message.ref, message.reason)
            elif self._parent is not None and message.ref == self._parent:
                # OTP: an exit signal from the parent is an order to stop with that reason;
                # terminate() then stops the children in order.
                self.stop(message.reason)
            # Any other Exit comes from a child already stopped on purpose (flushed, see the
            # module docstring) or from an actor that linked to us uninvited: ignored.
        elif type(message) is Retry and message.current:
            # Yield first: a start that fails without ever suspending would otherwise make
            # this retry loop monopolise the event loop (the actor loop only waits when its
            # mailbox is empty), and a stop or a call could not get in between attempts.
            await asyncio.sleep(0)
            if message.current:
                await self._restart(message.entry)

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        """Run an administration request; a ``SupervisorError`` is sent back, not raised."""
        handler = self._handlers.get(type(message))
        if handler is not None:
            try:
                return await handler(message)
            except SupervisorError as error:
                error.supervisor = self.ref
                return Failure(error)
        if type(message) is Attach:
            self._parent = caller.ref
            return None
        return Failure(
            SupervisorError(
                f"{self.ref!r} does not understand the call {message!r}; talk to a "
                "supervisor through the methods of its SupervisorRef"
            )
        )

    async def terminate(self, reason: Any) -> None:
        """Stop every child (cancelling pending retries) before the supervisor exits."""
        for entry in self.entries():
            entry.cancel_retry()
        await self._stop_all()

    # -- restarts ---------------------------------------------------------------------------

    async def _child_exited(self, entry: Entry, ref: actors.ActorRef, reason: Any) -> None:
        if isinstance(reason, str) and reason == "noproc" and ref.exit_reason is not None:
            reason = ref.exit_reason  # it died before we linked: report its own reason
        entry.stopped()
        if not _restart_wanted(entry.restart, reason):
            self._exited_for_good(entry)
            return
        log.info(
            "%r: child %r exited (%s); restarting it (%s)",
            self.ref,
            entry.id,
            actors.format_reason(reason),
            entry.restart,
        )
        if entry.backoff is not None and await self._delay_restart(entry):
            return
        await self._restart(entry)

    async def _restart(self, entry: Entry) -> None:
        """Attempt a restart: it counts toward the intensity first (OTP's ``add_restart``)."""
        if not self.intensity.add(actors.get_clock().now()):
            self._give_up(entry)
            return
        failed = await self._restart_group(entry)
        if failed is not None:
            self._retry_later(failed)

    def _give_up(self, entry: Entry) -> None:
        log.error(
            "%r reached its maximum restart intensity (more than %d restarts in %g s) while "
            "restarting child %r; stopping all children and exiting with reason 'shutdown'",
            self.ref,
            self.intensity.max_restarts,
            self.intensity.max_seconds,
            entry.id,
        )
        entry.stopped()
        self.stop("shutdown")

    async def _delay_restart(self, entry: Entry) -> bool:
        """Apply the child's backoff; return True if its restart was postponed."""
        backoff = entry.backoff
        assert backoff is not None
        if actors.get_clock().now() - entry.started_at >= backoff.reset_after:
            entry.failures = 0  # it ran long enough to count as healthy again
        delay = backoff.delay(entry.failures)
        entry.failures += 1
        if delay <= 0:
            return False
        await self._stop_group(entry)
        self._schedule_retry(entry, delay)
        return True

    def _retry_later(self, entry: Entry) -> None:
        """A restart of ``entry`` failed: mark it restarting and try again (OTP's try_again)."""
        delay = 0.0
        if entry.backoff is not None:
            delay = entry.backoff.delay(entry.failures)
            entry.failures += 1
        self._schedule_retry(entry, delay)

    def _schedule_retry(self, entry: Entry, delay: float) -> None:
        entry.stopped()
        entry.state = RESTARTING
        reminder = Retry(entry, entry.attempt)
        if delay > 0:
            entry.timer = actors.get_clock().call_later(delay, _sender(self.ref, reminder))
        else:
            # Through the mailbox, so that calls and a shutdown can come in between
            # attempts, as in OTP.
            self.ref.send(reminder)

    # -- starting and stopping one child ----------------------------------------------------

    async def _start(self, entry: Entry) -> actors.ActorRef | None:
        """Start ``entry``'s child and link to it; None if its start function ignored.

        Raises:
            StartFailed: the start function raised or returned something unusable.
        """
        start = entry.start
        if start is None:
            raise StartFailed(RuntimeError(f"temporary child {entry.id!r} cannot be restarted"))
        try:
            result = start()
            if inspect.iscoroutine(result) or inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            raise StartFailed(exc) from exc
        if result is None:
            return None
        if not isinstance(result, actors.ActorRef):
            raise StartFailed(
                TypeError(
                    f"the start function of child {entry.id!r} returned {result!r}; it must "
                    "return (an awaitable of) an actors.ActorRef, or None to be ignored"
                )
            )
        self.link(result)
        entry.running(result, actors.get_clock().now())
        self._by_ref[result] = entry
        return result

    async def _stop(self, entry: Entry) -> None:
        """Stop ``entry``'s child per its ``shutdown`` (or cancel its pending restart)."""
        ref = entry.ref
        entry.stopped()
        if ref is not None:
            del self._by_ref[ref]  # its Exit will be dropped: see the module docstring
            await shutdown_child(entry, ref, self.ref)

    def _log_start_failure(self, entry: Entry, reason: Any) -> None:
        log.error(
            "%r: child %r failed to start: %s",
            self.ref,
            entry.id,
            actors.format_reason(reason),
            exc_info=reason if isinstance(reason, BaseException) else None,
        )

    def count(self) -> dict[str, int]:
        """Return OTP's ``count_children``: specs, active, supervisors, workers."""
        entries = self.entries()
        supervisors = sum(1 for e in entries if e.type == "supervisor")
        return {
            "specs": len(entries),
            "active": sum(1 for e in entries if e.state == RUNNING),
            "supervisors": supervisors,
            "workers": len(entries) - supervisors,
        }


async def attach(ref: R) -> R:
    """Tell a new supervisor who its parent is (the calling actor, if any); return ``ref``."""
    try:
        await ref.call(Attach(), timeout=None)
    except actors.NoProc:
        pass  # it has already exited (its children crashed at once): the ref says so
    except BaseException:
        ref.kill()  # cancelled while attaching: nobody would ever own this supervisor
        raise
    return ref


def _restart_wanted(restart: str, reason: Any) -> bool:
    """OTP's decision table: permanent always, transient unless clean, temporary never."""
    if restart == "permanent":
        return True
    return restart == "transient" and not actors.is_clean(reason)


def _sender(ref: actors.ActorRef, message: Any) -> Callable[[], None]:
    def send() -> None:
        ref.send(message)  # dropped if the supervisor has exited meanwhile

    return send
