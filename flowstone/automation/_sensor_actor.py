"""``SensorActor``: one per sensor; evaluates it once per slot and records the tick.

Internal. Time is cut into slots of ``interval`` seconds, shifted by a per-sensor offset
(``jitter`` × interval × a fraction derived from the sensor's name), so many sensors do not
all wake at once and every daemon computes the same slots. A daemon evaluates a slot only
after claiming its tick row (unique per sensor and slot), so a slot is evaluated at most
once whatever the number of daemons. The evaluation's run requests, the new cursor and the
tick's outcome are committed in one transaction, fenced by the claim; a run key creates a
run only if the sensor never used it before.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import math
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import DaemonContext
from flowstone.automation._crash import crash_point
from flowstone.automation._records import QueuedRun, TickOutcome, TickStatus
from flowstone.automation._requests import queued_run, stable_run_id
from flowstone.automation._store import LostLease
from flowstone.definitions._sensor import RunRequest, SensorContext, SensorDefinition, SensorResult
from flowstone.errors import FlowStoneError

log = logging.getLogger("flowstone.automation")


class SensorResultError(FlowStoneError, TypeError):
    """Raised (and recorded on the tick) when a sensor returns something unusable."""


def slot_offset(name: str, interval: float, jitter: float) -> float:
    """The fixed offset of a sensor's slots, in ``[0, jitter * interval)``."""
    fraction = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") / 2**32
    return fraction * jitter * interval


def current_slot(now: datetime, interval: float, offset: float) -> tuple[datetime, float]:
    """Return the start of the slot containing ``now`` and the seconds to the next one."""
    seconds = now.timestamp() - offset
    index = math.floor(seconds / interval)
    start = datetime.fromtimestamp(index * interval + offset, UTC)
    return start, (index + 1) * interval - seconds


def as_result(value: object, name: str) -> SensorResult:
    """Accept a ``SensorResult``, a list of ``RunRequest``, or None."""
    if value is None:
        return SensorResult()
    if isinstance(value, SensorResult):
        return value
    if isinstance(value, RunRequest):
        return SensorResult(run_requests=[value])
    if isinstance(value, Sequence) and all(isinstance(v, RunRequest) for v in value):
        return SensorResult(run_requests=list(value))
    raise SensorResultError(
        f"sensor {name!r} returned {value!r}; return fs.SensorResult(run_requests=[...], "
        f"cursor=...), a list of fs.RunRequest, or None"
    )


class SensorActor(actors.Actor):
    """Evaluates one sensor for one daemon (see the module docstring)."""

    async def init(self, ctx: DaemonContext, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.origin = f"sensor:{name}"
        self.evaluations = 0
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
        if message == "crash":  # for supervision tests: crash like an unexpected bug would
            raise RuntimeError(f"sensor actor {self.name!r} crashed on request")
        raise ValueError(f"SensorActor does not understand {message!r}")

    async def tick(self) -> float:
        """Evaluate the current slot if this daemon wins it; return seconds to the next."""
        sensor = self.ctx.definitions.current.pipeline.sensors.get(self.name)
        if sensor is None:
            return self.ctx.config.tick_interval
        offset = slot_offset(sensor.name, sensor.interval, sensor.jitter)
        now = wall_now()
        slot, wait = current_slot(now, sensor.interval, offset)
        (state,) = await self.ctx.store.states(self.ctx.pipeline_name, [self.origin], now)
        if state.enabled:
            await self._evaluate_slot(sensor, slot, state.cursor)
        return wait + 0.001

    async def _evaluate_slot(
        self, sensor: SensorDefinition, slot: datetime, cursor: str | None
    ) -> None:
        store, owner = self.ctx.store, self.ctx.config.daemon_id
        now = wall_now()
        until = now + timedelta(seconds=max(self.ctx.config.lease, sensor.timeout * 2))
        if not await store.claim_tick(self.ctx.pipeline_name, self.origin, slot, owner, now, until):
            return
        crash_point("tick_claimed")
        outcome = await self._outcome(sensor, slot, cursor)
        self.evaluations += 1
        try:
            created = await store.complete_tick(
                self.ctx.pipeline_name, self.origin, slot, owner, wall_now(), outcome
            )
        except LostLease:
            log.warning("sensor %s: slot %s was taken over by another daemon", self.name, slot)
            return
        crash_point("run_created")
        self.ctx.observer.tick(self.origin, outcome.status, (now - slot).total_seconds())
        if created:
            log.info("sensor %s: %d run(s) requested", self.name, len(created))

    async def _outcome(
        self, sensor: SensorDefinition, slot: datetime, cursor: str | None
    ) -> TickOutcome:
        definitions = self.ctx.definitions.current
        resources = {k: v for k, v in definitions.resources.items() if k in sensor.resources}
        context = SensorContext(sensor.name, cursor, resources, slot, self.ctx.storage)
        try:
            value = await asyncio.wait_for(_call(sensor, context), sensor.timeout)
            result = as_result(value, sensor.name)
            runs = tuple(self._run(r, slot) for r in result.run_requests)
        except TimeoutError:
            error = f"sensor {sensor.name!r} took longer than its timeout of {sensor.timeout:g} s"
            return TickOutcome(TickStatus.FAILED, error=error)
        except Exception:
            return TickOutcome(TickStatus.FAILED, error=traceback.format_exc())
        status = TickStatus.REQUESTED if runs else TickStatus.SKIPPED
        return TickOutcome(status, runs=runs, cursor=result.cursor)

    def _run(self, request: RunRequest, slot: datetime) -> tuple[QueuedRun, str | None]:
        definitions = self.ctx.definitions.current
        run_id = (
            stable_run_id(self.ctx.pipeline_name, self.origin, request.run_key)
            if request.run_key
            else None
        )
        metadata: dict[str, Any] = {"code_version": definitions.code_version}
        if request.run_key:
            metadata["run_key"] = request.run_key
        if request.tags:
            metadata["tags"] = dict(request.tags)
        run = queued_run(
            definitions.pipeline,
            request.asset,
            request.partition,
            now=wall_now(),
            triggered_by=self.origin,
            trigger="sensor",
            run_id=run_id,
            metadata=metadata,
        )
        return run, request.run_key


async def _call(sensor: SensorDefinition, context: SensorContext) -> object:
    if inspect.iscoroutinefunction(sensor.fn):
        return await sensor.fn(context)
    # A blocking sensor (an HTTP or SQL call) must not stall the daemon's other actors.
    return await asyncio.to_thread(sensor.fn, context)
