"""``Supervisor``: OTP's static supervisor, with its three strategies and child administration.

Children are kept in a dict by id, whose order is the start order (``start_child``
appends). A restart replaces a child's ref in place, so the order never changes.

Strategies (OTP's ``restart/3``), when child C must be restarted:
- ``one_for_one``: start C again.
- ``one_for_all``: stop every other child in reverse start order (temporary ones are
  dropped), then start every spec in start order, including specs stopped by hand.
- ``rest_for_one``: the same, limited to C and the children started after it.
If a start fails part-way, the children already started stay up, the failed child is marked
restarting and the supervisor retries with that child as the one to restart: under
one_for_all the whole group is stopped and started again; under rest_for_one only from the
failed child on.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Final, final

import actors
from supervisors._child import RESTARTING, RUNNING, Child, Entry
from supervisors._child_spec import ChildSpec
from supervisors._exceptions import (
    AlreadyPresent,
    AlreadyStarted,
    NotFound,
    Restarting,
    Running,
    StartError,
)
from supervisors._options import (
    AUTO_SHUTDOWNS,
    check_children,
    check_choice,
    check_intensity,
    check_name,
    check_significant,
    check_strategy,
)
from supervisors._ref import SupervisorRef
from supervisors._requests import (
    CountChildren,
    DeleteChild,
    RestartChild,
    StartChild,
    TerminateChild,
    WhichChild,
    WhichChildren,
)
from supervisors._supervision import StartFailed, Supervision, attach

_WHAT: Final = "invalid Supervisor.start() options"


@final
class Supervisor(Supervision):
    """A supervisor of a fixed list of children (OTP's ``supervisor``). It is an actor.

    Start one with ``await Supervisor.start([...])``; the hooks below (``init``,
    ``handle_*``, ``terminate``) are the runtime's, not meant to be called.
    """

    @classmethod
    async def start(
        cls,
        children: Iterable[ChildSpec],
        *,
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        name: str | None = None,
        auto_shutdown: str = "never",
    ) -> SupervisorRef:
        """Start a supervisor and its children, in list order; return once all run.

        Args:
            children: the child specs, started in this order and stopped in reverse.
            strategy: ``"one_for_one"``, ``"one_for_all"`` or ``"rest_for_one"``.
            max_restarts: more restarts than this within ``max_seconds`` (the restart being
                attempted counts) make the supervisor stop all children and exit with
                reason ``"shutdown"``, for its own parent to decide.
            max_seconds: the sliding window, in exact seconds of the runtime clock.
            name: register the supervisor under this name (``actors.whereis``).
            auto_shutdown: ``"never"``; ``"any_significant"`` (exit ``"shutdown"`` when a
                significant child exits and is not restarted) or ``"all_significant"``
                (when no significant child is left running).

        Raises:
            InvalidSpec: an option or child spec is invalid (nothing was started).
            StartError: a child failed to start; those already started were stopped in
                reverse order. ``child_id`` names it, ``reason`` says why.
            actors.NameTaken: ``name`` is held by a live actor.
        """
        check_strategy(_WHAT, strategy)
        check_intensity(_WHAT, max_restarts, max_seconds)
        check_name(_WHAT, name)
        check_choice(_WHAT, "auto_shutdown", auto_shutdown, AUTO_SHUTDOWNS)
        specs = check_children(_WHAT, children, auto_shutdown)
        options = (specs, strategy, max_restarts, max_seconds, auto_shutdown)
        box: list[Supervisor] = []
        try:
            ref = await actors.spawn(cls, options, box, name=name)
        except actors.StartError as exc:
            if isinstance(exc.reason, StartError):
                raise exc.reason from exc.reason.__cause__
            raise
        return await attach(box[0].wrap(ref))

    # -- actor hooks ------------------------------------------------------------------------

    async def init(self, options: Any, box: list[Supervisor]) -> None:
        """Start the children in order; on a failure stop them in reverse and fail."""
        specs, self.strategy, max_restarts, max_seconds, self.auto_shutdown = options
        self._setup(max_restarts, max_seconds)
        self._children: dict[Hashable, Entry] = {}
        self._handlers.update(
            {
                WhichChildren: self._which_children,
                WhichChild: self._which_child,
                CountChildren: self._count_children,
                StartChild: self._start_child,
                TerminateChild: self._terminate_child,
                RestartChild: self._restart_child,
                DeleteChild: self._delete_child,
            }
        )
        box.append(self)
        for spec in specs:
            entry = Entry(spec)
            try:
                ref = await self._start(entry)
            except StartFailed as failed:
                await self._stop_all()
                error = _start_error(self.ref, entry.id, failed.reason)
                error.args = (f"{error}; the children started before it were stopped",)
                raise error from _cause(failed)
            if ref is not None or entry.restart != "temporary":
                self._children[entry.id] = entry  # an ignored temporary child is dropped

    def entries(self) -> list[Entry]:
        """Return every child in start order."""
        return list(self._children.values())

    def wrap(self, ref: actors.ActorRef) -> SupervisorRef:
        """Return ``ref`` (this supervisor) as a ``SupervisorRef``."""
        return SupervisorRef._wrap(ref, self)

    # -- strategies -------------------------------------------------------------------------

    def _group(self, entry: Entry) -> list[Entry]:
        """The children a restart of ``entry`` involves, in start order."""
        if self.strategy == "one_for_one":
            return [entry]
        entries = list(self._children.values())
        if self.strategy == "one_for_all":
            return entries
        return entries[entries.index(entry) :]

    async def _stop_group(self, entry: Entry) -> None:
        """Stop the rest of ``entry``'s group in reverse start order; drop temporary ones."""
        if self.strategy == "one_for_one":
            return
        for other in reversed(self._group(entry)):
            if other is not entry:
                await self._stop(other)
                if other.restart == "temporary":
                    del self._children[other.id]

    async def _restart_group(self, entry: Entry) -> Entry | None:
        await self._stop_group(entry)
        for member in self._group(entry):
            try:
                ref = await self._start(member)
            except StartFailed as failed:
                self._log_start_failure(member, failed.reason)
                return member
            if ref is None:  # ignored: it stays stopped (a temporary spec is dropped)
                member.stopped()
                if member.restart == "temporary":
                    del self._children[member.id]
        return None

    def _exited_for_good(self, entry: Entry) -> None:
        if entry.restart == "temporary":
            del self._children[entry.id]
        if entry.significant and self._auto_shutdown_due():
            self.stop("shutdown")

    def _auto_shutdown_due(self) -> bool:
        if self.auto_shutdown == "any_significant":
            return True
        if self.auto_shutdown == "all_significant":
            return not any(e.significant and e.state != "stopped" for e in self._children.values())
        return False

    async def _stop_all(self) -> None:
        """Stop every child, one at a time, in reverse start order."""
        for entry in reversed(list(self._children.values())):
            await self._stop(entry)

    # -- administration calls ---------------------------------------------------------------

    async def _which_children(self, _: WhichChildren) -> list[Child]:
        return [entry.snapshot() for entry in self._children.values()]

    async def _which_child(self, request: WhichChild) -> Child:
        return self._find(request.id).snapshot()

    async def _count_children(self, _: CountChildren) -> dict[str, int]:
        return self.count()

    async def _start_child(self, request: StartChild) -> actors.ActorRef | None:
        spec = request.spec
        check_significant("invalid start_child() spec", spec, self.auto_shutdown)
        existing = self._children.get(spec.id)
        if existing is not None:
            if existing.ref is not None:
                raise AlreadyStarted(self.ref, spec.id, existing.ref)
            raise AlreadyPresent(self.ref, spec.id)
        entry = Entry(spec)
        ref = await self._start_on_request(entry)
        if ref is not None or entry.restart != "temporary":
            self._children[entry.id] = entry
        return ref

    async def _terminate_child(self, request: TerminateChild) -> None:
        entry = self._find(request.key)
        await self._stop(entry)
        if entry.restart == "temporary":
            del self._children[entry.id]

    async def _restart_child(self, request: RestartChild) -> actors.ActorRef | None:
        entry = self._find(request.id)
        self._refuse_unless_stopped(entry, "restart")
        return await self._start_on_request(entry)

    async def _delete_child(self, request: DeleteChild) -> None:
        entry = self._find(request.id)
        self._refuse_unless_stopped(entry, "delete")
        del self._children[entry.id]

    async def _start_on_request(self, entry: Entry) -> actors.ActorRef | None:
        """Start a child for ``start_child`` / ``restart_child``: failures go to the caller."""
        try:
            return await self._start(entry)
        except StartFailed as failed:
            reason = failed.reason
            if isinstance(reason, actors.NameTaken):
                raise AlreadyStarted(self.ref, entry.id, reason.holder, name=reason.name) from None
            raise _start_error(self.ref, entry.id, reason) from _cause(failed)

    def _find(self, child_id: Hashable) -> Entry:
        entry = self._children.get(child_id)
        if entry is None:
            raise NotFound(self.ref, child_id, self._children)
        return entry

    def _refuse_unless_stopped(self, entry: Entry, operation: str) -> None:
        if entry.state == RUNNING:
            raise Running(self.ref, entry.id, operation)
        if entry.state == RESTARTING:
            raise Restarting(self.ref, entry.id, operation)


def _start_error(supervisor: actors.ActorRef, child_id: Hashable, reason: Any) -> StartError:
    return StartError(
        f"{supervisor!r} could not start child {child_id!r}: {actors.format_reason(reason)}",
        child_id=child_id,
        reason=reason,
        supervisor=supervisor,
    )


def _cause(failed: StartFailed) -> BaseException | None:
    return failed.reason if isinstance(failed.reason, BaseException) else None
