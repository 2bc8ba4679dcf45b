"""``SupervisorRef`` and ``DynamicSupervisorRef``: references to supervisors.

A supervisor is an actor, so these are ``ActorRef``s (``call``, ``stop``, ``wait``... work as
on any actor) with the child administration calls added. Each call is a ``call`` without a
timeout, as in OTP: the supervisor is a serial server that may legitimately be busy
stopping or starting a child. An error is built inside the supervisor, sent back and
raised here, in the caller's task.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast, final

import actors
from supervisors._child import RESTARTING, RUNNING, Child
from supervisors._child_spec import ChildSpec
from supervisors._exceptions import InvalidSpec
from supervisors._requests import (
    CountChildren,
    DeleteChild,
    RestartChild,
    StartChild,
    TerminateChild,
    WhichChild,
    WhichChildren,
    unwrap,
)
from supervisors._statistics import SupervisorStatistics

if TYPE_CHECKING:
    from supervisors._supervision import Supervision

R = TypeVar("R", bound="_SupervisorRefBase")


class _SupervisorRefBase(actors.ActorRef):
    __slots__ = ("_core",)
    _core: Supervision

    @classmethod
    def _wrap(cls: type[R], ref: actors.ActorRef, core: Supervision) -> R:
        wrapped = cast(R, ref._rebind(cls))
        wrapped._core = core
        return wrapped

    async def which_children(self) -> list[Child]:
        """Return every child in start order: id, ref (None if not running), type, state.

        Raises:
            actors.NoProc: the supervisor is not running.
        """
        return cast(list[Child], await self._request(WhichChildren()))

    async def count_children(self) -> dict[str, int]:
        """Return ``{"specs", "active", "supervisors", "workers"}`` as OTP counts them.

        ``specs`` counts every child, running or not; ``active`` only the running ones;
        ``supervisors`` and ``workers`` count by type, running or not (a child being
        restarted counts there but not in ``active``).
        """
        return cast(dict[str, int], await self._request(CountChildren()))

    def statistics(self) -> SupervisorStatistics:  # type: ignore[override]
        """Return a snapshot of the supervisor: children, restarts in the window, totals.

        Unlike the administration calls this reads the supervisor's state directly, without
        waiting for it, so it works while it is busy and after it has exited. The actor's own
        counters (``ActorRef.statistics()``) are in ``.actor``.
        """
        core = self._core
        entries = core.entries()
        counts = core.count()
        return SupervisorStatistics(
            strategy=core.strategy,
            children=counts["specs"],
            active=counts["active"],
            restarting=sum(1 for e in entries if e.state == RESTARTING),
            workers=counts["workers"],
            supervisors=counts["supervisors"],
            restarts=core.intensity.in_window(actors.get_clock().now()),
            total_restarts=core.intensity.total,
            max_restarts=core.intensity.max_restarts,
            max_seconds=core.intensity.max_seconds,
            max_children=getattr(core, "max_children", None),
            actor=super().statistics(),
        )

    async def _request(self, message: Any) -> Any:
        return unwrap(await self.call(message, timeout=None))

    def __repr__(self) -> str:
        core = self._core
        entries = core.entries()
        running = sum(1 for e in entries if e.state == RUNNING)
        restarting = sum(1 for e in entries if e.state == RESTARTING)
        intensity = core.intensity
        window = intensity.in_window(actors.get_clock().now())
        base = super().__repr__()[:-1]  # "<XRef Class 'name' #pid alive"
        return (
            f"{base} {core.strategy}, {len(entries)} children ({running} running"
            f"{f', {restarting} restarting' if restarting else ''}), "
            f"{window}/{intensity.max_restarts} restarts in {intensity.max_seconds:g} s>"
        )


@final
class SupervisorRef(_SupervisorRefBase):
    """A reference to a ``Supervisor``: an ``ActorRef`` plus OTP's child administration.

    Obtained from ``await Supervisor.start(...)``. ``await ref.stop("shutdown")`` stops the
    children in reverse start order, then the supervisor.
    """

    __slots__ = ()

    async def which_child(self, id: Hashable) -> Child:
        """Return the child with this id.

        Raises:
            NotFound: no child has this id.
        """
        return cast(Child, await self._request(WhichChild(id)))

    async def start_child(self, spec: ChildSpec) -> actors.ActorRef | None:
        """Add ``spec`` as the last child and start it; return its ref (None if ignored).

        Raises:
            AlreadyStarted: a child with this id runs (``.ref``), or the start function's
                registered name is held by another actor.
            AlreadyPresent: a child with this id exists but does not run.
            StartError: the start function failed; the spec is not kept.
            InvalidSpec: ``spec`` is not a ``ChildSpec``, or is significant under a
                supervisor whose ``auto_shutdown`` is ``"never"``.
        """
        return cast("actors.ActorRef | None", await self._request(StartChild(_spec(spec))))

    async def terminate_child(self, id: Hashable) -> None:
        """Stop the child per its ``shutdown``; keep its spec (a temporary one is dropped).

        Also stops the retries of a child being restarted. Stopping a stopped child again
        is fine. Terminating is not a crash: it is not restarted and does not count toward
        the restart intensity.

        Raises:
            NotFound: no child has this id.
        """
        await self._request(TerminateChild(id))

    async def restart_child(self, id: Hashable) -> actors.ActorRef | None:
        """Start a stopped child again from its spec; return its ref (None if ignored).

        Raises:
            NotFound: no child has this id.
            Running: it is running.
            Restarting: the supervisor is retrying its restart (terminate it first).
            StartError: the start function failed; the child stays stopped.
        """
        return cast("actors.ActorRef | None", await self._request(RestartChild(id)))

    async def delete_child(self, id: Hashable) -> None:
        """Forget a stopped child's spec.

        Raises:
            NotFound: no child has this id.
            Running: it is running (terminate it first).
            Restarting: the supervisor is retrying its restart (terminate it first).
        """
        await self._request(DeleteChild(id))


@final
class DynamicSupervisorRef(_SupervisorRefBase):
    """A reference to a ``DynamicSupervisor``: children are started on demand, known by ref.

    Obtained from ``await DynamicSupervisor.start(...)``.
    """

    __slots__ = ()

    async def start_child(self, spec: ChildSpec) -> actors.ActorRef | None:
        """Start a child from ``spec``; return its ref, or None if its start ignored it.

        Raises:
            MaxChildren: ``max_children`` children are present (restarting ones included).
            StartError: the start function failed; nothing is kept.
            AlreadyStarted: the start function's registered name is held by another actor.
            InvalidSpec: ``spec`` is not a ``ChildSpec``, or is ``significant``.
        """
        return cast("actors.ActorRef | None", await self._request(StartChild(_spec(spec))))

    async def terminate_child(self, ref: actors.ActorRef) -> None:
        """Stop the child ``ref`` per its ``shutdown`` and forget it.

        A child being restarted is known by the ref it had before; terminating it stops the
        retries.

        Raises:
            NotFound: ``ref`` is not a child (also when it has already exited and gone).
        """
        await self._request(TerminateChild(ref))


def _spec(spec: Any) -> ChildSpec:
    if not isinstance(spec, ChildSpec):
        raise InvalidSpec(
            "invalid child spec",
            "spec",
            spec,
            "a supervisors.ChildSpec",
            hint="build it with ChildSpec(id, start, ...)",
        )
    return spec
