"""``DynamicSupervisor``: children started on demand, known by their ref (Elixir's).

Each child is started from its own full ``ChildSpec`` (its id is only a label) and is
restarted one_for_one. A child that exits for good, or whose restart returns None
("ignore"), is forgotten. ``max_children`` counts every child, restarting ones included.
On exit the supervisor asks all its children to stop at once and kills the laggards with
one timer per distinct shutdown value, instead of stopping them one by one: with thousands
of children a sequential shutdown would take thousands of shutdown periods.

Children live in a dict used as an ordered set, so adding, finding (by ref) and removing a
child are O(1); the engine keeps thousands of them under one supervisor.
"""

from __future__ import annotations

from typing import Any, Final, final

import actors
from supervisors._child import Child, Entry
from supervisors._exceptions import AlreadyStarted, InvalidSpec, MaxChildren, NotFound, StartError
from supervisors._options import check_intensity, check_max_children, check_name
from supervisors._ref import DynamicSupervisorRef
from supervisors._requests import CountChildren, StartChild, TerminateChild, WhichChildren
from supervisors._shutdown import shutdown_children
from supervisors._supervision import StartFailed, Supervision, attach

_WHAT: Final = "invalid DynamicSupervisor.start() options"


@final
class DynamicSupervisor(Supervision):
    """A supervisor of children started on demand (Elixir's ``DynamicSupervisor``).

    Start one with ``await DynamicSupervisor.start()``; the hooks below (``init``,
    ``handle_*``, ``terminate``) are the runtime's, not meant to be called.
    """

    @classmethod
    async def start(
        cls,
        *,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        name: str | None = None,
    ) -> DynamicSupervisorRef:
        """Start a dynamic supervisor with no children.

        Args:
            max_children: refuse ``start_child`` once this many children are present
                (None: no limit).
            max_restarts: more restarts than this within ``max_seconds`` make it stop all
                children and exit with reason ``"shutdown"``.
            max_seconds: the sliding window, in exact seconds of the runtime clock.
            name: register the supervisor under this name (``actors.whereis``).

        Raises:
            InvalidSpec: an option is invalid.
            actors.NameTaken: ``name`` is held by a live actor.
        """
        check_max_children(_WHAT, max_children)
        check_intensity(_WHAT, max_restarts, max_seconds)
        check_name(_WHAT, name)
        box: list[DynamicSupervisor] = []
        ref = await actors.spawn(cls, (max_children, max_restarts, max_seconds), box, name=name)
        return await attach(box[0].wrap(ref))

    # -- actor hooks ------------------------------------------------------------------------

    async def init(self, options: Any, box: list[DynamicSupervisor]) -> None:
        """Set up an empty supervisor."""
        self.max_children, max_restarts, max_seconds = options
        self.strategy = "one_for_one"
        self._setup(max_restarts, max_seconds)
        self._children: dict[Entry, None] = {}  # an ordered set
        self._restarting: dict[actors.ActorRef, Entry] = {}  # by the ref they had
        self._handlers.update(
            {
                WhichChildren: self._which_children,
                CountChildren: self._count_children,
                StartChild: self._start_child,
                TerminateChild: self._terminate_child,
            }
        )
        box.append(self)

    def entries(self) -> list[Entry]:
        """Return every child in start order."""
        return list(self._children)

    def wrap(self, ref: actors.ActorRef) -> DynamicSupervisorRef:
        """Return ``ref`` (this supervisor) as a ``DynamicSupervisorRef``."""
        return DynamicSupervisorRef._wrap(ref, self)

    # -- restarts ---------------------------------------------------------------------------

    async def _restart_group(self, entry: Entry) -> Entry | None:
        if entry.last_ref is not None:
            self._restarting.pop(entry.last_ref, None)
        try:
            ref = await self._start(entry)
        except StartFailed as failed:
            self._log_start_failure(entry, failed.reason)
            return entry
        if ref is None:
            self._forget(entry)  # a restart that returns "ignore" removes the child
        return None

    def _schedule_retry(self, entry: Entry, delay: float) -> None:
        super()._schedule_retry(entry, delay)
        if entry.last_ref is not None:
            self._restarting[entry.last_ref] = entry

    def _exited_for_good(self, entry: Entry) -> None:
        self._forget(entry)

    def _forget(self, entry: Entry) -> None:
        entry.stopped()
        del self._children[entry]
        if entry.last_ref is not None:
            self._restarting.pop(entry.last_ref, None)

    async def _stop_all(self) -> None:
        """Stop every child at once (one kill timer per distinct shutdown value)."""
        running = [(e, e.ref) for e in self._children if e.ref is not None]
        for entry in self._children:
            entry.stopped()
        self._by_ref.clear()
        await shutdown_children(running, self.ref)

    # -- administration calls ---------------------------------------------------------------

    async def _which_children(self, _: WhichChildren) -> list[Child]:
        return [entry.snapshot() for entry in self._children]

    async def _count_children(self, _: CountChildren) -> dict[str, int]:
        return self.count()

    async def _start_child(self, request: StartChild) -> actors.ActorRef | None:
        spec = request.spec
        if spec.significant:
            raise InvalidSpec(
                "invalid DynamicSupervisor child spec",
                "significant",
                True,
                "False",
                child_id=spec.id,
                hint="a DynamicSupervisor has no auto_shutdown; use a Supervisor for that",
            )
        if self.max_children is not None and len(self._children) >= self.max_children:
            raise MaxChildren(self.ref, self.max_children)
        entry = Entry(spec)
        try:
            ref = await self._start(entry)
        except StartFailed as failed:
            reason = failed.reason
            if isinstance(reason, actors.NameTaken):
                raise AlreadyStarted(self.ref, spec.id, reason.holder, name=reason.name) from None
            raise StartError(
                f"{self.ref!r} could not start a child from spec {spec.id!r}: "
                f"{actors.format_reason(reason)}",
                child_id=spec.id,
                reason=reason,
                supervisor=self.ref,
            ) from (reason if isinstance(reason, BaseException) else None)
        if ref is not None:
            self._children[entry] = None
        return ref

    async def _terminate_child(self, request: TerminateChild) -> None:
        key = request.key
        entry = None
        if isinstance(key, actors.ActorRef):
            entry = self._by_ref.get(key) or self._restarting.get(key)
        if entry is None:
            raise NotFound(self.ref, key, self._children, by="ref")
        await self._stop(entry)
        self._forget(entry)
