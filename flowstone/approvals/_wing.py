"""``ApprovalsWing``: the approvals wing as one object a runtime holds.

The runtime builds it with its pipeline and store and attaches three things: the
``gatekeeper`` (the engine's hook), ``approvals`` and ``audit`` (``rt.approvals``,
``rt.audit``); it calls ``start()`` / ``close()`` with its own life cycle and gives it a
``resume(run_id)`` coroutine. Everything else about gates lives here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import actors
import supervisors
from flowstone.approvals._api import AsyncApprovals
from flowstone.approvals._decider import Decider
from flowstone.approvals._gatekeeper import ApprovalGateKeeper
from flowstone.approvals._notifier import Notifications, Notifier
from flowstone.approvals._report import AsyncAudit
from flowstone.approvals._timer import DEFAULT_INTERVAL, DeadlineTimer
from flowstone.clock import utcnow
from flowstone.definitions._pipeline import Pipeline
from flowstone.errors import InvalidPartition
from flowstone.storage import ApprovalRecord, ApprovalStore, Storage

log = logging.getLogger("flowstone.approvals")

Resume = Callable[[str], Awaitable[Any]]


class HandOff(Protocol):
    """Continues a run after a decision through a durable queue (the runtime supplies
    ``flowstone.automation``'s; see docs/approvals.md, "How a decision resumes a run")."""

    async def enqueue(self, run_id: str, *, here: bool = False) -> str:
        """Queue the run; return ``"daemons"``, ``"here"`` or why nobody needs to."""
        ...

    async def run_here(self, run_id: str) -> int:
        """Claim the queued run and resume it in this process."""
        ...


#: Decisions after which the run only fails at the gate: resumed where they are made.
_FAILING = frozenset({"rejected", "expired"})
_MISSING = object()
_DECODED_MAX = 100_000

StartService = Callable[[supervisors.ChildSpec], Awaitable[actors.ActorRef]]


class ApprovalsWing:
    """Gates, decisions, deadlines, notifications and audit for one runtime (internal).

    Args:
        pipeline: the runtime's pipeline.
        storage: the runtime's record store (its ``approvals`` hold the gates).
        notifiers: told about requests, escalations and decisions.
        now: the wall clock (default: ``flowstone.clock.utcnow``).
        timer_interval: seconds between deadline ticks; None runs no timer in this process.
        ready: awaited before each call (the runtime's ``start``).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        storage: Storage,
        *,
        notifiers: Sequence[Notifier] = (),
        now: Callable[[], datetime] | None = None,
        timer_interval: float | None = DEFAULT_INTERVAL,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.storage = storage
        self.now = now if now is not None else utcnow
        self.notifications = Notifications(notifiers, storage.approvals, self.now)
        self.decider = Decider(
            storage.approvals,
            self.now,
            self.notifications,
            value_type=self._value_type,
            decode=self.decode,
            on_decided=self._decided,
        )
        self.gatekeeper = ApprovalGateKeeper(
            storage.approvals, self.now, self.notifications, pipeline=pipeline.name
        )
        self.approvals = AsyncApprovals(self)
        self.audit = AsyncAudit(self)
        self.resume: Resume | None = None
        self.hand_off: HandOff | None = None
        self.handed_to_daemons: set[str] = set()
        self._ready = ready
        self._interval = timer_interval
        self._timer: actors.ActorRef | None = None
        self._own_timer = False
        self._resumes: set[asyncio.Task[Any]] = set()
        self._decoded: dict[tuple[str, str], Any] = {}
        self._resuming: set[str] = set()
        self._again: set[str] = set()

    @property
    def store(self) -> ApprovalStore:
        """The approvals store."""
        return self.storage.approvals

    @property
    def has_gates(self) -> bool:
        """Whether the pipeline defines any checkpoint."""
        return any(d.checkpoint is not None for d in self.pipeline.assets.values())

    async def ready(self) -> None:
        """Wait until the runtime is started."""
        if self._ready is not None:
            await self._ready()

    async def start(self, start_service: StartService | None = None) -> None:
        """Start the deadline timer (its first tick fires deadlines that passed meanwhile),
        under the runtime's root supervisor when ``start_service`` is given."""
        if self._timer is not None or self._interval is None or not self.has_gates:
            return
        decider, interval = self.decider, self._interval
        if start_service is None:
            self._timer = await actors.spawn(DeadlineTimer, decider, interval)
            self._own_timer = True
            return
        spec = supervisors.ChildSpec(
            "approvals.deadlines", lambda: actors.spawn(DeadlineTimer, decider, interval)
        )
        self._timer = await start_service(spec)

    async def fire_deadlines(self) -> int:
        """Fire the deadlines due now; return how many approvals changed."""
        if self._timer is not None:
            fired: int = await self._timer.call(("fire",), timeout=60.0)
            return fired
        return len(await self.decider.fire_due())

    async def close(self) -> None:
        """Stop the timer and notifications; resumptions still running are cancelled."""
        timer, self._timer = self._timer, None
        if timer is not None and self._own_timer:
            await timer.stop()  # a supervised timer stops with the runtime's tree
        tasks = list(self._resumes)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.notifications.close()

    async def settle(self) -> None:
        """Wait for resumptions and notifications started so far (for tests and the CLI)."""
        while self._resumes:
            await asyncio.gather(*list(self._resumes), return_exceptions=True)
        await self.notifications.drain()

    async def _decided(self, record: ApprovalRecord) -> None:
        if self.hand_off is not None and await self._handed_off(record, self.hand_off):
            return
        if self.resume is None:
            return
        run_id = record.run_id
        if run_id in self._resuming:
            # Two gates of one run decided at once: one resumption at a time per run,
            # and one more after it, which passes both gates.
            self._again.add(run_id)
            return
        self._resuming.add(run_id)
        task = asyncio.get_running_loop().create_task(self._resume(run_id, record.id))
        self._resumes.add(task)
        task.add_done_callback(self._resumes.discard)

    async def _handed_off(self, record: ApprovalRecord, hand_off: HandOff) -> bool:
        """Queue the run durably before the decision call returns; resume it here unless
        live daemons will. False when the queue could not be reached (resume directly)."""
        run_id = record.run_id
        try:
            where = await hand_off.enqueue(run_id, here=record.status in _FAILING)
        except Exception:
            log.exception("could not queue run %s after approval %s", run_id, record.id)
            return False
        if where == "daemons":
            self.handed_to_daemons.add(run_id)
        elif where == "here":
            task = asyncio.get_running_loop().create_task(self._run_here(hand_off, run_id))
            self._resumes.add(task)
            task.add_done_callback(self._resumes.discard)
        return True

    @staticmethod
    async def _run_here(hand_off: HandOff, run_id: str) -> None:
        try:
            await hand_off.run_here(run_id)
        except Exception:
            # The decision and the queue row are stored: a daemon, or the next decision,
            # resumes the run.
            log.exception("resuming run %s after a decision failed", run_id)

    async def _resume(self, run_id: str, approval_id: str) -> None:
        assert self.resume is not None
        try:
            while True:
                self._again.discard(run_id)
                try:
                    await self.resume(run_id)
                except Exception:
                    # The decision is stored; any process resuming the run later goes on
                    # from it.
                    log.exception("resuming run %s after approval %s failed", run_id, approval_id)
                if run_id not in self._again:
                    return
        finally:
            self._resuming.discard(run_id)

    # -- keys ---------------------------------------------------------------------------

    def decode(self, checkpoint: str, key: str | None) -> Any:
        """Return the partition key of a stored gate (its string when it cannot be read)."""
        if key is None:
            return None
        # Listing the queue decodes every open gate's key, again on each refresh: remember
        # them (bounded), since parsing a time-window key costs more than the rest of a row.
        found = self._decoded.get((checkpoint, key), _MISSING)
        if found is _MISSING:
            if len(self._decoded) >= _DECODED_MAX:
                self._decoded.clear()
            found = self._decoded[(checkpoint, key)] = self._decode(checkpoint, key)
        return found

    def _decode(self, checkpoint: str, key: str) -> Any:
        if checkpoint not in self.pipeline:
            return key
        partitions = self.pipeline.get(checkpoint).partitions
        if partitions is None:
            return key
        try:
            return partitions.decode(key)
        except InvalidPartition:
            return key

    def encode(self, asset: str, partition: Any) -> str | None:
        """Return the string form of ``asset``'s partition key (validated)."""
        definition = self.pipeline.get(asset)
        if definition.partitions is None:
            if partition is not None:
                raise InvalidPartition(f"asset {asset!r} is not partitioned, got {partition!r}")
            return None
        if partition is None:
            raise InvalidPartition(f"asset {asset!r} is partitioned: pass partition=...")
        return str(definition.partitions.encode(definition.partitions.validate(partition)))

    def _value_type(self, checkpoint: str) -> Any:
        if checkpoint not in self.pipeline:
            return None
        spec = self.pipeline.get(checkpoint).checkpoint
        return None if spec is None else spec.value_type
