"""``Actor``: the callbacks users override, and what an actor can do to itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors._context import current_process

if TYPE_CHECKING:
    from actors._process import Process
    from actors._ref import ActorRef, Caller


class Actor:
    """Base class of actors: one mailbox, one task, one message handled at a time.

    Subclass it, override the hooks you need and start it with ``await actors.spawn(Cls,
    ...)``. Keep state on ``self``; take arguments in ``init``, not ``__init__`` (``spawn``
    constructs the instance without arguments).

    Every hook runs inside the actor's own asyncio task, never concurrently with another hook
    of the same actor. An exception raised by ``handle_call``, ``handle_cast`` or
    ``handle_info`` crashes the actor: its exit reason is that exception, ``terminate`` runs,
    pending callers get ``NoProc`` and linked actors receive the exit.
    """

    trap_exits: bool = False
    """When True, exits of linked actors arrive in ``handle_info`` as ``Exit`` messages
    instead of making this actor exit too. May also be set in ``init`` (``self.trap_exits =
    True``); ``kill()`` is never trapped."""

    _process: Process

    async def init(self, *args: Any, **kwargs: Any) -> None:
        """Initialise state. Runs in the actor's task before ``spawn`` returns.

        Messages sent meanwhile wait in the mailbox. If this raises, the actor exits with
        the exception as reason (``terminate`` does not run) and ``spawn`` raises
        ``StartError`` with the exception as cause. Calling ``self.stop(reason)`` here makes
        ``spawn`` raise ``StartError`` with that reason, as OTP's ``{stop, Reason}`` does.
        """

    async def handle_call(self, message: Any, caller: Caller) -> Any:
        """Answer a ``call``; the return value is the reply.

        Runs in the actor's task. Return ``actors.NO_REPLY`` to answer later with
        ``caller.reply(value)``. Raising crashes the actor (reason = the exception) and the
        caller gets ``NoProc``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} received call {message!r} but does not implement "
            "handle_call(self, message, caller)"
        )

    async def handle_cast(self, message: Any) -> None:
        """Handle a ``cast`` (fire and forget). Runs in the actor's task; raising crashes it."""
        raise NotImplementedError(
            f"{type(self).__name__} received cast {message!r} but does not implement "
            "handle_cast(self, message)"
        )

    async def handle_info(self, message: Any) -> None:
        """Handle a plain ``send``, an ``Exit`` (when trapping) or a ``Down``.

        Runs in the actor's task; raising crashes it. The default ignores the message, as
        OTP's gen_server does for unexpected info.
        """

    async def terminate(self, reason: Any) -> None:
        """Clean up before exiting. Runs in the actor's task on every exit except ``kill``.

        ``reason`` is the stop reason, the exception that crashed a handler, or the reason
        of an untrapped exit signal. Exceptions raised here are logged (logger ``actors``)
        and otherwise ignored. A stop with a timeout kills the actor, and so interrupts this
        hook, when it takes too long; an untrapped exit signal arriving meanwhile interrupts
        it too and becomes the exit reason.
        """

    # -- available inside the actor ---------------------------------------------------------

    @property
    def ref(self) -> ActorRef:
        """This actor's reference."""
        return self._bound().ref

    def stop(self, reason: Any = "normal") -> None:
        """Exit with ``reason`` once the current handler returns (``terminate`` runs).

        Never blocks, so it is safe from any hook; the first request wins.
        """
        self._bound().request_stop(reason)

    def link(self, ref: ActorRef) -> None:
        """Link this actor with ``ref``: when either exits, the other receives the exit.

        Idempotent. If ``ref`` is already dead the exit arrives at once with reason
        ``"noproc"`` (an ``Exit`` message when trapping; otherwise this actor exits).
        """
        self._own_process("link").link(ref)

    def unlink(self, ref: ActorRef) -> None:
        """Remove the link with ``ref``; an ``Exit`` from it not yet handled is dropped."""
        self._own_process("unlink").unlink(ref)

    def monitor(self, ref: ActorRef) -> int:
        """Monitor ``ref`` and return the monitor id; a ``Down`` arrives when it exits.

        Monitors stack: each call has its own id and its own ``Down``. Monitoring a dead
        actor delivers ``Down(id, ref, "noproc")`` at once.
        """
        return self._own_process("monitor").monitor(ref)

    def demonitor(self, monitor_id: int) -> None:
        """Remove a monitor; its ``Down``, if queued and not yet handled, is dropped."""
        self._own_process("demonitor").demonitor(monitor_id)

    def _bound(self) -> Process:
        proc: Process | None = getattr(self, "_process", None)
        if proc is None:
            raise RuntimeError(
                f"{type(self).__name__} is not running: ref, stop, link and monitor are "
                "available from init() on; start actors with `await actors.spawn(...)`, "
                "not by instantiating the class"
            )
        return proc

    def _own_process(self, operation: str) -> Process:
        proc = self._bound()
        if current_process() is not proc:
            raise RuntimeError(
                f"{operation}() of {proc.ref!r} must be called from inside that actor (its "
                "init or handlers), not from another actor or task"
            )
        return proc

    def __repr__(self) -> str:
        proc: Process | None = getattr(self, "_process", None)
        if proc is None:
            return f"<{type(self).__name__} not started>"
        return f"<{proc.display_name} {'alive' if proc.alive else 'dead'}>"
