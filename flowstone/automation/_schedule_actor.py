"""``ScheduleActor``: one per schedule; turns cron fire times into ticks and runs.

Internal. Each look at the schedule (at its next fire time, and at least every
``tick_interval``) reads the schedule's persisted state, works out the due tick times from
the newest stored tick (``catch_up`` decides what happens to missed ones) and, for each:
claims the tick row (unique per schedule and time: only one daemon wins), computes the run,
and completes the tick and creates the run in one transaction. A daemon dying between the
claim and the completion leaves a claimed row whose lease expires; the next look of any
daemon takes it over, so the tick is neither lost nor run twice.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import DaemonContext
from flowstone.automation._crash import crash_point
from flowstone.automation._records import TickOutcome, TickStatus
from flowstone.automation._requests import queued_run, stable_run_id
from flowstone.automation._store import LostLease
from flowstone.definitions._schedule import ScheduleDefinition
from flowstone.errors import InvalidPartition
from flowstone.partitions import TimeWindowPartitions

log = logging.getLogger("flowstone.automation")


def closed_window(partitions: TimeWindowPartitions, moment: datetime) -> Any:
    """The key of the newest window that has ended at ``moment``.

    Raises:
        InvalidPartition: no window has ended yet (``moment`` is before the first end).
    """
    key = partitions.key_for_time(moment)
    if partitions.window_end(key) > moment:
        key = partitions.shift(key, -1)
    return key


def tick_partition(schedule: ScheduleDefinition, pipeline: Any, tick: datetime) -> Any:
    """The partition a tick requests (see ``pipeline.schedule``'s ``partition``)."""
    if schedule.partition is not None:
        return schedule.partition(tick.astimezone(ZoneInfo(schedule.timezone)))
    partitions = pipeline.get(schedule.asset).partitions
    if partitions is None:
        return None
    if isinstance(partitions, TimeWindowPartitions):
        return closed_window(partitions, tick)
    raise InvalidPartition(
        f"schedule {schedule.name!r}: asset {schedule.asset!r} is partitioned "
        f"({partitions.describe()}) but not by time; give pipeline.schedule(..., "
        f"partition=lambda scheduled_time: ...)"
    )


def _last_fire(schedule: ScheduleDefinition, after: datetime, until: datetime) -> datetime | None:
    """The newest fire time in ``(after, until]`` (searching backwards in growing steps)."""
    window = timedelta(minutes=1)
    while True:
        start = max(after, until - window)
        found = schedule.fire_times(start, until, limit=1_000_000)
        if found:
            return found[-1]
        if start == after:
            return None
        window *= 16


def due_ticks(
    schedule: ScheduleDefinition, anchor: datetime, now: datetime, grace: float
) -> tuple[list[datetime], datetime | None]:
    """Return the ticks to run after ``anchor`` and one missed tick to record as skipped.

    Ticks within ``grace`` seconds of ``now`` always run; older (missed) ones follow
    ``catch_up``: ``all`` runs them (at most 1,000 per look), ``latest`` runs the newest
    only, ``skip`` runs none (recording the newest as skipped, so it is not looked at again).
    """
    if schedule.catch_up == "all":
        return schedule.fire_times(anchor, now, limit=1000), None
    boundary = now - timedelta(seconds=grace)
    recent = schedule.fire_times(max(anchor, boundary), now, limit=1000)
    if recent:
        return recent, None
    missed = _last_fire(schedule, anchor, boundary) if anchor < boundary else None
    if missed is None:
        return [], None
    return ([missed], None) if schedule.catch_up == "latest" else ([], missed)


class ScheduleActor(actors.Actor):
    """Ticks one schedule for one daemon (see the module docstring)."""

    async def init(self, ctx: DaemonContext, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.origin = f"schedule:{name}"
        self._later(0.0)

    def _later(self, delay: float) -> None:
        ref = self.ref
        actors.get_clock().call_later(delay, lambda: ref.send("tick"))

    async def handle_info(self, message: object) -> None:
        if message == "tick":
            self._later(await self.tick())

    async def handle_call(self, message: object, caller: actors.Caller) -> object:
        if message == "tick":
            return await self.tick()
        raise ValueError(f"ScheduleActor does not understand {message!r}")

    async def tick(self) -> float:
        """Run every due tick; return the seconds until the next look."""
        interval = self.ctx.config.tick_interval
        schedule: ScheduleDefinition | None = self.ctx.definitions.current.pipeline.schedules.get(
            self.name
        )
        if schedule is None:
            return interval  # removed by a reload; the tree stops this actor
        now = wall_now()
        (state,) = await self.ctx.store.states(self.ctx.pipeline_name, [self.origin], now)
        if state.enabled:
            newest, unfinished = await self.ctx.store.tick_anchor(
                self.ctx.pipeline_name, self.origin
            )
            anchor = max(newest or state.since, state.since)
            due, skipped = due_ticks(schedule, anchor, now, self.ctx.config.tick_grace)
            for tick in sorted({*(t for t in unfinished if t >= state.since), *due}):
                await self._run_tick(schedule, tick, None)
            if skipped is not None:
                await self._run_tick(schedule, skipped, "missed while no daemon was running")
        upcoming = schedule.fire_times(now, now + timedelta(seconds=interval), limit=1)
        if not upcoming:
            return interval
        return min(interval, max(0.001, (upcoming[0] - wall_now()).total_seconds()))

    async def _run_tick(
        self, schedule: ScheduleDefinition, tick: datetime, skip: str | None
    ) -> None:
        store, owner = self.ctx.store, self.ctx.config.daemon_id
        now = wall_now()
        lease_until = now + timedelta(seconds=self.ctx.config.lease)
        if not await store.claim_tick(
            self.ctx.pipeline_name, self.origin, tick, owner, now, lease_until
        ):
            return
        crash_point("tick_claimed")
        outcome = (
            TickOutcome(TickStatus.SKIPPED, info={"reason": skip})
            if skip is not None
            else self._outcome(schedule, tick, now)
        )
        try:
            created = await store.complete_tick(
                self.ctx.pipeline_name, self.origin, tick, owner, wall_now(), outcome
            )
        except LostLease:
            log.warning("schedule %s: tick %s was taken over by another daemon", self.name, tick)
            return
        crash_point("run_created")
        self.ctx.observer.tick(self.origin, outcome.status, (now - tick).total_seconds())
        if created:
            log.info("schedule %s: tick %s -> run %s", self.name, tick, ", ".join(created))

    def _outcome(self, schedule: ScheduleDefinition, tick: datetime, now: datetime) -> TickOutcome:
        definitions = self.ctx.definitions.current
        try:
            partition = tick_partition(schedule, definitions.pipeline, tick)
            run = queued_run(
                definitions.pipeline,
                schedule.asset,
                partition,
                now=now,
                triggered_by=self.origin,
                trigger="schedule",
                run_id=stable_run_id(self.ctx.pipeline_name, self.origin, tick.isoformat()),
                metadata={
                    "scheduled_time": tick.isoformat(),
                    "code_version": definitions.code_version,
                },
            )
        except InvalidPartition as exc:
            return TickOutcome(TickStatus.SKIPPED, info={"reason": str(exc)})
        except Exception:
            return TickOutcome(TickStatus.FAILED, error=traceback.format_exc())
        return TickOutcome(TickStatus.REQUESTED, runs=((run, None),))
