"""The local (asyncio) backend: one task and one mailbox per actor.

An actor's life is the ``_run`` task. Messages are handled one at a time in arrival order.
Exit signals are not messages: an untrapped signal (or ``kill``) interrupts whatever the
actor is doing by cancelling its task, as an Erlang exit signal does. The bookkeeping that
must happen when an actor exits (names, links, monitors, pending callers) is done in one
place, ``_finalize``, which runs exactly once whichever way the actor ends.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors import _registry
from actors._clock import get_clock
from actors._context import set_current_process
from actors._exceptions import CallTimeout, NoProc, StartError
from actors._messages import KILLED, NOPROC, NORMAL, Down, Exit, format_reason
from actors._ref import NO_REPLY, ActorRef, Caller

if TYPE_CHECKING:
    from actors._actor import Actor

log = logging.getLogger("actors")
_pids = itertools.count(1)
_monitor_ids = itertools.count(1)
_tasks: set[asyncio.Task[None]] = set()  # strong references: tasks are never garbage-collected


@dataclass(frozen=True, slots=True)
class ActorStatistics:
    """A snapshot of one actor, for dashboards, logs and tests."""

    pid: int
    name: str | None
    actor_class: str
    alive: bool
    mailbox_depth: int
    peak_mailbox_depth: int
    messages_handled: int
    links: int
    monitors: int


class _Stop:
    __slots__ = ("reason",)

    def __init__(self, reason: Any) -> None:
        self.reason = reason


class _Call:
    __slots__ = ("caller", "message")

    def __init__(self, message: Any, caller: Caller) -> None:
        self.message = message
        self.caller = caller


class _Cast:
    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


class _ExitRequested(BaseException):  # noqa: N818 - internal control flow, never escapes
    """Raised inside the actor's task to leave the loop with a reason."""

    def __init__(self, reason: Any) -> None:
        self.reason = reason


class Process:
    """Internal: the local implementation behind an ``ActorRef``."""

    def __init__(self, actor: Actor, name: str | None) -> None:
        self.pid = next(_pids)
        self.name = name
        self.actor = actor
        self.ref = ActorRef._create(self)
        self.alive = True
        self.reason: Any = None
        self._mailbox: deque[Any] = deque()
        self._wakeup: asyncio.Event = asyncio.Event()
        self._links: set[Process] = set()
        self._monitors: dict[int, Process] = {}  # monitor id -> watcher (watchers of me)
        self._watching: dict[int, Process] = {}  # monitor id -> target (what I watch)
        self._callers: set[asyncio.Future[Any]] = set()
        self._exited: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending_exit: Any = None
        self._busy = False
        self._peak = 0
        self._handled = 0
        self._task: asyncio.Task[None] | None = None
        actor._process = self

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run ``init`` in the actor's own task and wait for it to finish."""
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.get_running_loop().create_task(
            self._run(args, kwargs, started), name=f"actor:{self.display_name}"
        )
        self._task = task
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        await started

    async def _run(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], started: asyncio.Future[None]
    ) -> None:
        set_current_process(self)
        try:
            await self.actor.init(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure of init is a failed start
            reason = self._reason_from(exc)
            self._finalize(reason)
            if not started.done():
                error = StartError(
                    f"{self.ref!r} failed in init: {format_reason(reason)}", reason=reason
                )
                if isinstance(exc, Exception):
                    error.__cause__ = exc
                started.set_exception(error)
            return
        started.set_result(None)
        reason = await self._loop()
        if self.alive:
            if reason != KILLED:
                await self._terminate(reason)
            self._finalize(reason)

    async def _loop(self) -> Any:
        while True:
            try:
                while not self._mailbox:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                envelope = self._mailbox.popleft()
                self._busy = True
                await self._dispatch(envelope)
                self._handled += 1
                self._busy = False
            except _ExitRequested as request:
                return request.reason
            except asyncio.CancelledError:
                # Cancelled by an exit signal or kill(); the reason was stored first.
                if self._pending_exit is not None:
                    return self._pending_exit
                return KILLED
            except Exception as exc:  # noqa: BLE001 - a handler crash is the actor's exit reason
                return exc

    async def _dispatch(self, envelope: Any) -> None:
        actor = self.actor
        if isinstance(envelope, _Call):
            caller = envelope.caller
            reply = await actor.handle_call(envelope.message, caller)
            if reply is not NO_REPLY:
                caller.reply(reply)
        elif isinstance(envelope, _Cast):
            await actor.handle_cast(envelope.message)
        elif isinstance(envelope, _Stop):
            raise _ExitRequested(envelope.reason)
        elif isinstance(envelope, Down) and envelope.monitor_id not in self._watching:
            return  # demonitored after the Down was queued: flushed, as demonitor(flush)
        else:
            if isinstance(envelope, Down):
                del self._watching[envelope.monitor_id]
            await actor.handle_info(envelope)

    async def _terminate(self, reason: Any) -> None:
        try:
            await self.actor.terminate(reason)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%r: terminate(%s) raised", self.ref, format_reason(reason))

    def _reason_from(self, exc: BaseException) -> Any:
        if isinstance(exc, _ExitRequested):
            return exc.reason
        if isinstance(exc, asyncio.CancelledError):
            return self._pending_exit if self._pending_exit is not None else KILLED
        return exc

    def _finalize(self, reason: Any) -> None:
        """Do the exit bookkeeping exactly once: names, callers, links, monitors."""
        if not self.alive:
            return
        self.alive = False
        self.reason = reason
        if self.name is not None:
            _registry.unregister(self.name, self)
        _registry.remove_live(self)
        for fut in list(self._callers):
            if not fut.done():
                fut.set_exception(
                    NoProc(
                        f"{self.ref!r} exited ({format_reason(reason)}) before replying",
                        ref=self.ref,
                        reason=reason,
                    )
                )
        self._callers.clear()
        self._mailbox.clear()
        for target in self._watching.values():
            target._drop_watcher(self)
        self._watching.clear()
        links, self._links = self._links, set()
        for peer in links:
            peer._links.discard(self)
            peer.exit_signal(self.ref, reason)
        monitors, self._monitors = self._monitors, {}
        for monitor_id, watcher in monitors.items():
            watcher._enqueue(Down(monitor_id, self.ref, reason))
        if not self._exited.done():
            self._exited.set_result(reason)

    # -- signals ----------------------------------------------------------------------------

    def exit_signal(self, sender: ActorRef, reason: Any) -> None:
        """Receive an exit signal from a linked actor (OTP's signal semantics)."""
        if not self.alive:
            return
        if self.actor.trap_exits:
            self._enqueue(Exit(sender, reason))
        elif reason != NORMAL:
            self._exit_now(reason)

    def _exit_now(self, reason: Any) -> None:
        """Make the actor exit with ``reason``, interrupting its current handler."""
        if self._pending_exit is not None or not self.alive:
            return
        self._pending_exit = reason
        if self._task is not None:
            self._task.cancel()

    def kill(self) -> None:
        """Untrappable exit with reason ``killed``; ``terminate`` does not run."""
        if not self.alive:
            return
        task = self._task
        self._finalize(KILLED)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def request_stop(self, reason: Any) -> None:
        """Exit after the current message (used by ``Actor.stop`` from inside)."""
        self._mailbox.appendleft(_Stop(reason))
        self._wakeup.set()

    async def stop(self, reason: Any, timeout: float) -> None:
        """Orderly stop: ``terminate`` runs; kill after ``timeout`` seconds."""
        if not self.alive:
            return
        self._enqueue(_Stop(reason))
        if timeout == float("inf"):
            await asyncio.shield(self._exited)
            return
        handle = get_clock().call_later(timeout, self.kill)
        try:
            await asyncio.shield(self._exited)
        finally:
            handle.cancel()

    async def wait(self) -> Any:
        """Wait for the exit and return its reason."""
        return await asyncio.shield(self._exited)

    # -- messages ---------------------------------------------------------------------------

    def _enqueue(self, envelope: Any) -> None:
        if not self.alive:
            return
        self._mailbox.append(envelope)
        depth = len(self._mailbox)
        if depth > self._peak:
            self._peak = depth
        self._wakeup.set()

    def cast(self, message: Any) -> None:
        """Queue a cast."""
        self._enqueue(_Cast(message))

    def send(self, message: Any) -> None:
        """Queue a plain message for ``handle_info``."""
        self._enqueue(message)

    async def call(self, message: Any, timeout: float) -> Any:
        """Queue a call and wait for its reply."""
        if not self.alive:
            raise NoProc(
                f"{self.ref!r} is not alive (exited: {format_reason(self.reason)}); "
                f"the call {message!r} was not delivered",
                ref=self.ref,
                reason=NOPROC,
            )
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._callers.add(fut)
        caller = Caller._create(fut, _current_ref())
        self._enqueue(_Call(message, caller))

        def expire() -> None:
            if not fut.done():
                fut.set_exception(CallTimeout(self.ref, message, timeout))

        handle = get_clock().call_later(timeout, expire) if timeout != float("inf") else None
        try:
            return await fut
        finally:
            self._callers.discard(fut)
            if handle is not None:
                handle.cancel()

    # -- links and monitors -----------------------------------------------------------------

    def link(self, ref: ActorRef) -> None:
        """Link with ``ref``; a dead peer delivers its exit (``noproc``) at once."""
        other = ref._process
        if other is self:
            return
        if not other.alive:
            self.exit_signal(ref, NOPROC)
            return
        self._links.add(other)
        other._links.add(self)

    def unlink(self, ref: ActorRef) -> None:
        """Remove the link with ``ref`` and drop an ``Exit`` from it not yet handled."""
        other = ref._process
        self._links.discard(other)
        other._links.discard(self)
        self._mailbox = deque(
            m for m in self._mailbox if not (isinstance(m, Exit) and m.ref == ref)
        )

    def monitor(self, ref: ActorRef) -> int:
        """Monitor ``ref``; return the monitor id."""
        monitor_id = next(_monitor_ids)
        target = ref._process
        self._watching[monitor_id] = target
        if target.alive:
            target._monitors[monitor_id] = self
        else:
            self._enqueue(Down(monitor_id, ref, NOPROC))
        return monitor_id

    def demonitor(self, monitor_id: int) -> None:
        """Stop monitoring; a queued ``Down`` for this id is flushed."""
        target = self._watching.pop(monitor_id, None)
        if target is not None:
            target._monitors.pop(monitor_id, None)

    def _drop_watcher(self, watcher: Process) -> None:
        for monitor_id in [m for m, w in self._monitors.items() if w is watcher]:
            del self._monitors[monitor_id]

    # -- introspection ----------------------------------------------------------------------

    @property
    def display_name(self) -> str:
        """``Class name#pid`` or ``Class #pid``."""
        label = type(self.actor).__name__
        return f"{label} {self.name!r} #{self.pid}" if self.name else f"{label} #{self.pid}"

    @property
    def idle(self) -> bool:
        """True when the actor waits for a message with an empty mailbox."""
        return not self.alive or (not self._busy and not self._mailbox)

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of this actor's counters."""
        return ActorStatistics(
            pid=self.pid,
            name=self.name,
            actor_class=type(self.actor).__name__,
            alive=self.alive,
            mailbox_depth=len(self._mailbox),
            peak_mailbox_depth=self._peak,
            messages_handled=self._handled,
            links=len(self._links),
            monitors=len(self._monitors),
        )


def _current_ref() -> ActorRef | None:
    from actors._context import current_process

    proc = current_process()
    return proc.ref if proc is not None else None
