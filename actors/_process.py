"""The local (asyncio) backend: one task and one mailbox per actor.

Internal, not part of the public API: everything reaches it through ``ActorRef``.

An actor's life is its ``_run`` task: ``init``, then the message loop, then ``terminate``.
Messages are handled one at a time in arrival order. Exit signals are not messages: an
untrapped signal interrupts whatever the actor is doing by cancelling its task, as an Erlang
exit signal does. ``kill`` marks the actor dead at once and cancels its task; because a
coroutine can swallow ``CancelledError``, "dead" is decided by the runtime, never by whether
the task has finished (see docs/adr/0001-actor-runtime-on-asyncio.md).

The bookkeeping of an exit (name, pending callers, links, monitors) is done in one place,
``_finalize``, which runs exactly once whichever way the actor ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from actors import _registry
from actors._clock import get_clock
from actors._context import current_process, set_current_process
from actors._exceptions import CallingSelf, CallTimeout, NoProc, StartError
from actors._mailbox import (
    CallEnvelope,
    CastEnvelope,
    Envelope,
    InfoEnvelope,
    Mailbox,
    SignalEnvelope,
    StopEnvelope,
)
from actors._messages import KILLED, NOPROC, NORMAL, Down, Exit, format_reason
from actors._peers import Peers
from actors._ref import NO_REPLY, ActorRef, Caller
from actors._statistics import ActorStatistics

if TYPE_CHECKING:
    from actors._actor import Actor
    from actors.abc import ProcessBackend

log = logging.getLogger("actors")

# Strong references to every actor task: the event loop only keeps weak ones, and a task
# that is garbage-collected mid-flight would vanish without running its exit.
_tasks: set[asyncio.Task[None]] = set()


# "No exit is due" (None cannot say it: it is a legal user-chosen exit reason).
_NOTHING: Any = object()


_FAIR_BURST = 64
"""Messages an actor may handle back to back before it lets other tasks run."""


class Process(Peers):
    """Internal: the local implementation of ``actors.abc.ProcessBackend``."""

    def __init__(self, actor: Actor, name: str | None) -> None:
        self.pid = _registry.next_pid()
        self.name = name
        self.actor = actor
        self.ref = ActorRef._create(self)
        self.alive = True
        self.reason: Any = None
        self.loop = asyncio.get_running_loop()
        self._mailbox = Mailbox()
        self._links: set[ProcessBackend] = set()
        self._monitoring: dict[int, ProcessBackend] = {}  # my monitors: id -> target
        self._monitored_by: dict[int, ProcessBackend] = {}  # monitors on me: id -> watcher
        self._callers: dict[asyncio.Future[Any], Any] = {}  # waiting reply -> request
        self._exited: asyncio.Future[Any] = self.loop.create_future()
        self._signal_reason: Any = _NOTHING  # an untrapped exit signal taking effect
        self._stop_reason: Any = _NOTHING  # an orderly stop, after the current handler
        self._cancel_sent = False  # we cancelled our task for an exit signal ...
        self._cancel_seen = False  # ... and saw the CancelledError arrive
        self._busy = False
        self._handled = 0
        self._task: asyncio.Task[None] | None = None
        actor._process = self

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run ``init`` in the actor's own task and wait for it to finish."""
        started: asyncio.Future[None] = self.loop.create_future()
        task = self.loop.create_task(
            self._run(args, kwargs, started), name=f"actor {self.display_name}"
        )
        self._task = task
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        try:
            await started
        except asyncio.CancelledError:
            # The spawner gave up: nobody will ever receive this ref, so the actor must not
            # outlive the request (OTP: a start_link caller's death takes the child along).
            self.kill()
            raise

    async def _run(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], started: asyncio.Future[None]
    ) -> None:
        set_current_process(self)
        try:
            failure = await self._initialise(args, kwargs)
            if failure is not None:
                self._fail_start(failure, started)
                return
            if not started.done():
                started.set_result(None)
            reason = await self._loop()
            if self.alive:
                reason = await self._terminate(reason)
            self._finalize(reason)
        except BaseException as exc:
            # KeyboardInterrupt, SystemExit or a bug in the runtime: never leave the actor
            # half-alive with callers waiting, and let the exception propagate.
            self._finalize(exc)
            if not started.done():
                started.set_exception(exc)
            raise

    async def _initialise(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Failure | None:
        """Run ``init``; return why the start failed, or None if the actor is running."""
        self._busy = True
        try:
            await self.actor.init(*args, **kwargs)
        except asyncio.CancelledError:
            reason = self._on_cancelled()
            return _Failure(reason, self._interruption_text(reason))
        except Exception as exc:
            return _Failure(exc, f"init() raised {format_reason(exc)}")
        finally:
            self._busy = False
        interrupted = self._interrupting_reason()
        if interrupted is not _NOTHING:  # init swallowed the cancellation
            return _Failure(interrupted, self._interruption_text(interrupted))
        if self._stop_reason is not _NOTHING:
            reason = self._stop_reason
            return _Failure(reason, f"init() asked to stop with reason {format_reason(reason)}")
        return None

    def _interruption_text(self, reason: Any) -> str:
        if not self.alive:
            return "it was killed during init()"
        return f"an exit signal ({format_reason(reason)}) interrupted init()"

    def _fail_start(self, failure: _Failure, started: asyncio.Future[None]) -> None:
        self._finalize(failure.reason)
        if started.done():
            return
        error = StartError(
            f"{self.display_name} failed to start: {failure.text}", reason=failure.reason
        )
        if isinstance(failure.reason, BaseException):
            error.__cause__ = failure.reason
        started.set_exception(error)

    async def _loop(self) -> Any:
        """Handle messages one at a time until an exit is due; return its reason."""
        burst = 0
        while True:
            reason = self._due_exit()
            if reason is not _NOTHING:
                return reason
            try:
                if not self._mailbox:
                    burst = 0
                    await self._mailbox.wait()
                    continue
                if burst >= _FAIR_BURST:
                    # An actor whose mailbox never empties and whose handlers never suspend
                    # would otherwise keep the event loop to itself.
                    burst = 0
                    await asyncio.sleep(0)
                    continue
                burst += 1
                self._busy = True
                self._handled += await self._dispatch(self._mailbox.take())
            except asyncio.CancelledError:
                return self._on_cancelled()
            except Exception as exc:
                interrupted = self._interrupting_reason()
                if interrupted is not _NOTHING:  # the handler turned our cancellation into this
                    return interrupted
                log.error("%s crashed: %s", self.display_name, format_reason(exc), exc_info=exc)
                return exc
            finally:
                self._busy = False

    async def _dispatch(self, envelope: Envelope) -> int:
        """Hand one envelope to its hook; return 1 if a user hook ran, else 0."""
        actor = self.actor
        if isinstance(envelope, CallEnvelope):
            reply = await actor.handle_call(envelope.message, envelope.caller)
            if reply is not NO_REPLY:
                envelope.caller.reply(reply)
        elif isinstance(envelope, CastEnvelope):
            await actor.handle_cast(envelope.message)
        elif isinstance(envelope, InfoEnvelope | SignalEnvelope):
            await actor.handle_info(envelope.message)
        else:
            self.request_stop(envelope.reason)
            return 0
        return 1

    async def _terminate(self, reason: Any) -> Any:
        """Run ``terminate(reason)``; return the final exit reason."""
        await self._absorb_own_cancel()
        if not self.alive:  # killed while the cancellation was absorbed: no terminate
            return self.reason
        self._busy = True
        try:
            await self.actor.terminate(reason)
        except asyncio.CancelledError:
            pass  # killed (already finalized) or interrupted by an exit signal (below)
        except Exception:
            log.exception("%s: terminate(%s) raised", self.display_name, format_reason(reason))
        finally:
            self._busy = False
        return self._signal_reason if self._signal_reason is not _NOTHING else reason

    async def _absorb_own_cancel(self) -> None:
        """Consume the cancellation sent for an exit signal before ``terminate`` runs.

        A cancel requested while our own task was running (a handler linking to a dead actor)
        is only delivered at the task's next ``await``, which would be inside ``terminate``.
        ``uncancel`` then resets the task's cancel count so ``asyncio.timeout`` works there.
        """
        task = self._task
        if task is None or not self._cancel_sent:
            return
        if not self._cancel_seen:
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                pass
        self._cancel_sent = False
        task.uncancel()

    def _on_cancelled(self) -> Any:
        """Our task received CancelledError: return the exit reason it stands for."""
        self._cancel_seen = True
        interrupted = self._interrupting_reason()
        if interrupted is not _NOTHING:
            return interrupted
        # Cancelled from outside the runtime (event loop shutdown, a stray task.cancel()):
        # nothing asked for an orderly exit, so treat it as a kill.
        self._finalize(KILLED)
        return KILLED

    def _interrupting_reason(self) -> Any:
        if not self.alive:
            return self.reason
        return self._signal_reason

    def _due_exit(self) -> Any:
        interrupted = self._interrupting_reason()
        return interrupted if interrupted is not _NOTHING else self._stop_reason

    def _finalize(self, reason: Any) -> None:
        """Do the exit bookkeeping exactly once: name, callers, monitors, links."""
        if not self.alive:
            return
        self.alive = False
        self.reason = reason
        if self.name is not None:
            _registry.unregister(self.name, self)
        _registry.remove_live(self)
        self._mailbox.clear()
        self._fail_callers(reason)
        for monitor_id, target in self._monitoring.items():
            target.remove_monitor(monitor_id)
        self._monitoring.clear()
        self._notify_peers(reason)
        self._exited.set_result(reason)

    # -- exits ------------------------------------------------------------------------------

    def exit_signal(self, sender: ActorRef, reason: Any) -> None:
        """Receive the exit of a linked actor: trap it, ignore it (normal) or die of it."""
        if not self.alive:
            return
        if self.actor.trap_exits:
            self._mailbox.put(SignalEnvelope(Exit(sender, reason)))
        elif not _is_normal(reason):
            self._exit_now(reason)

    def _exit_now(self, reason: Any) -> None:
        """Make the actor exit with ``reason``, interrupting its current hook."""
        if self._signal_reason is not _NOTHING or self._task is None:
            return  # the first signal decides; later ones change nothing
        self._signal_reason = reason
        self._cancel_sent = True
        self._task.cancel()

    def kill(self) -> None:
        """Exit at once with reason ``killed``; untrappable, ``terminate`` does not run."""
        if not self.alive:
            return
        self._finalize(KILLED)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def request_stop(self, reason: Any) -> None:
        """Exit with ``reason`` once the current handler returns (the first request wins)."""
        if not self.alive or self._stop_reason is not _NOTHING:
            return
        self._stop_reason = reason
        self._mailbox.nudge()

    async def stop(self, reason: Any, timeout: float | None) -> None:
        """Orderly stop behind the queued messages; kill after ``timeout`` clock seconds."""
        if not self.alive:
            return
        if self._in_own_task():
            self.request_stop(reason)  # it cannot wait for its own exit
            return
        self._mailbox.put(StopEnvelope(reason))
        timer = None if _forever(timeout) else get_clock().call_later(_seconds(timeout), self.kill)
        try:
            await asyncio.shield(self._exited)
        finally:
            if timer is not None:
                timer.cancel()

    async def wait(self) -> Any:
        """Wait for the exit and return its reason."""
        if self.alive and self._in_own_task():
            raise CallingSelf(self.ref, "wait for")
        return await asyncio.shield(self._exited)

    # -- messages ---------------------------------------------------------------------------

    def cast(self, message: Any) -> None:
        """Queue a cast; dropped if the actor is dead."""
        if self.alive:
            self._mailbox.put(CastEnvelope(message))

    def send(self, message: Any) -> None:
        """Queue a plain message for ``handle_info``; dropped if the actor is dead."""
        if self.alive:
            self._mailbox.put(InfoEnvelope(message))

    async def call(self, message: Any, timeout: float | None) -> Any:
        """Queue a call and wait for its reply."""
        if not self.alive:
            raise NoProc(
                f"call {message!r} to {self.ref!r} failed: the actor is not alive "
                f"(it exited: {format_reason(self.reason)})",
                ref=self.ref,
                reason=NOPROC,
                request=message,
            )
        if self._in_own_task():
            raise CallingSelf(self.ref, "call")
        future: asyncio.Future[Any] = self.loop.create_future()
        self._callers[future] = message
        self._mailbox.put(CallEnvelope(message, Caller._create(future, _current_ref())))

        def expire() -> None:
            if not future.done():
                future.set_exception(CallTimeout(self.ref, message, _seconds(timeout)))

        timer = None if _forever(timeout) else get_clock().call_later(_seconds(timeout), expire)
        try:
            return await future
        finally:
            self._callers.pop(future, None)
            if timer is not None:
                timer.cancel()

    # -- links and monitors -----------------------------------------------------------------

    def link(self, ref: ActorRef) -> None:
        """Link with ``ref``; a dead peer sends its exit (``noproc``) at once."""
        other = ref._process
        if other is self or not self.alive:
            return
        if other.add_link(self):
            self._links.add(other)
        else:
            self.exit_signal(ref, NOPROC)

    def unlink(self, ref: ActorRef) -> None:
        """Remove the link with ``ref`` and drop its queued ``Exit``, if any."""
        other = ref._process
        self._links.discard(other)
        other.remove_link(self)
        self._mailbox.remove_if(
            lambda e: (
                isinstance(e, SignalEnvelope)
                and isinstance(e.message, Exit)
                and e.message.ref == ref
            )
        )

    def monitor(self, ref: ActorRef) -> int:
        """Monitor ``ref``; return the new monitor's id."""
        monitor_id = _registry.next_monitor_id()
        target = ref._process
        if self.alive and target.add_monitor(monitor_id, self):
            self._monitoring[monitor_id] = target
        else:
            self.down_signal(Down(monitor_id, ref, NOPROC))
        return monitor_id

    def demonitor(self, monitor_id: int) -> None:
        """Remove monitor ``monitor_id`` and drop its queued ``Down``, if any."""
        target = self._monitoring.pop(monitor_id, None)
        if target is not None:
            target.remove_monitor(monitor_id)
        self._mailbox.remove_if(
            lambda e: (
                isinstance(e, SignalEnvelope)
                and isinstance(e.message, Down)
                and e.message.monitor_id == monitor_id
            )
        )

    def down_signal(self, down: Down) -> None:
        """Queue the ``Down`` of a monitored actor; the monitor is gone from now on."""
        if self.alive:
            self._monitoring.pop(down.monitor_id, None)
            self._mailbox.put(SignalEnvelope(down))

    # -- introspection ----------------------------------------------------------------------

    @property
    def display_name(self) -> str:
        """``Class 'name' #pid`` or ``Class #pid``."""
        label = type(self.actor).__name__
        return f"{label} {self.name!r} #{self.pid}" if self.name else f"{label} #{self.pid}"

    @property
    def runnable(self) -> bool:
        """True when the actor has work it has not started: a message or an exit to act on."""
        if not self.alive or self._busy:
            return False
        return bool(self._mailbox) or self._due_exit() is not _NOTHING

    def _in_own_task(self) -> bool:
        return self._task is not None and asyncio.current_task() is self._task

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of this actor's counters."""
        return ActorStatistics(
            pid=self.pid,
            name=self.name,
            actor_class=type(self.actor).__name__,
            alive=self.alive,
            trap_exits=bool(self.actor.trap_exits),
            mailbox_depth=len(self._mailbox),
            peak_mailbox_depth=self._mailbox.peak,
            messages_handled=self._handled,
            pending_calls=sum(1 for f in self._callers if not f.done()),
            links=len(self._links),
            monitors=len(self._monitoring),
            monitored_by=len(self._monitored_by),
        )

    def __repr__(self) -> str:
        return f"<Process {self.display_name} {'alive' if self.alive else 'dead'}>"


class _Failure:
    """Why a start failed: the exit reason and a sentence for ``StartError``."""

    __slots__ = ("reason", "text")

    def __init__(self, reason: Any, text: str) -> None:
        self.reason = reason
        self.text = text


def _is_normal(reason: Any) -> bool:
    # Compare strings only: a user reason with an exotic __eq__ must not pass for "normal".
    return isinstance(reason, str) and reason == NORMAL


def _forever(timeout: float | None) -> bool:
    return timeout is None or timeout == float("inf")


def _seconds(timeout: float | None) -> float:
    return float("inf") if timeout is None else timeout


def _current_ref() -> ActorRef | None:
    proc = current_process()
    return proc.ref if proc is not None else None


if TYPE_CHECKING:  # the local backend implements the backend interface
    _backend_check: type[ProcessBackend] = Process
