"""The ``Actor`` base class: the callbacks users override."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors._context import current_process

if TYPE_CHECKING:
    from actors._process import Process
    from actors._ref import ActorRef, Caller


class Actor:
    """Base class of actors: one mailbox, one task, one message handled at a time.

    Every hook runs inside the actor's own task. An exception raised by ``handle_call``,
    ``handle_cast`` or ``handle_info`` crashes the actor: its exit reason is that exception,
    ``terminate`` runs, pending callers get ``NoProc`` and linked actors receive the exit.
    """

    trap_exits: bool = False
    """When True, exits of linked actors arrive in ``handle_info`` as ``Exit`` messages."""

    _process: Process

    async def init(self, *args: Any, **kwargs: Any) -> None:
        """Initialise state. Runs in the actor's task before ``spawn`` returns.

        Raising here makes ``spawn`` raise ``StartError`` (the exception is the cause).
        """

    async def handle_call(self, message: Any, caller: Caller) -> Any:
        """Answer a ``call``; the return value is the reply.

        Return ``actors.NO_REPLY`` to answer later with ``caller.reply(value)``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} received call {message!r} but does not implement "
            "handle_call(self, message, caller)"
        )

    async def handle_cast(self, message: Any) -> None:
        """Handle a ``cast`` (fire and forget)."""
        raise NotImplementedError(
            f"{type(self).__name__} received cast {message!r} but does not implement "
            "handle_cast(self, message)"
        )

    async def handle_info(self, message: Any) -> None:
        """Handle a plain ``send``, an ``Exit`` (when trapping) or a ``Down``.

        The default ignores the message, as OTP's gen_server does for unexpected info.
        """

    async def terminate(self, reason: Any) -> None:
        """Clean up. Runs on every exit except ``kill()``; exceptions here are ignored."""

    # -- available inside the actor ---------------------------------------------------------

    @property
    def ref(self) -> ActorRef:
        """This actor's reference."""
        return self._process.ref

    def stop(self, reason: Any = "normal") -> None:
        """Exit with ``reason`` once the current message has been handled."""
        self._process.request_stop(reason)

    def link(self, ref: ActorRef) -> None:
        """Link this actor with ``ref``: when either exits, the other receives the exit."""
        self._own_process().link(ref)

    def unlink(self, ref: ActorRef) -> None:
        """Remove the link with ``ref`` (a no-op if there is none)."""
        self._own_process().unlink(ref)

    def monitor(self, ref: ActorRef) -> int:
        """Monitor ``ref``; a ``Down`` message arrives when it exits. Return the monitor id."""
        return self._own_process().monitor(ref)

    def demonitor(self, monitor_id: int) -> None:
        """Remove a monitor; a ``Down`` not yet handled for it is dropped."""
        self._own_process().demonitor(monitor_id)

    def _own_process(self) -> Process:
        proc = current_process()
        if proc is not self._process:
            raise RuntimeError(
                f"link/monitor of {self._process.ref!r} must be called from inside that actor "
                "(its init or handlers), not from another task"
            )
        return proc

    def __repr__(self) -> str:
        proc = getattr(self, "_process", None)
        return f"<{type(self).__name__} {proc.ref!r}>" if proc else f"<{type(self).__name__}>"
