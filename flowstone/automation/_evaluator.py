"""``AutomationEvaluator``: evaluates every asset's ``automation=`` policy once per slot.

Internal. Like a sensor (origin ``automation:<pipeline>``): the slot's tick row is claimed
first, so one daemon of the pipeline evaluates each slot; the runs requested (with run keys)
and the tick outcome commit together; then every decision is stored (the latest per asset
partition), which is what ``flowstone automation why`` prints.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta
from typing import Any

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import DaemonContext
from flowstone.automation._policies import Verdict, evaluate
from flowstone.automation._records import Decision, QueuedRun, TickOutcome, TickStatus
from flowstone.automation._requests import queued_run, stable_run_id
from flowstone.automation._sensor_actor import current_slot
from flowstone.automation._store import LostLease

#: The child id of the evaluator in a daemon's tree, and the stem of its tick origin.
ORIGIN = "automation"


def origin_of(pipeline: Any) -> str:
    """The tick origin of ``pipeline``'s policies: per pipeline, since daemons of several
    pipelines may share a store and each pipeline's policies are evaluated every slot."""
    return f"{ORIGIN}:{pipeline.name}"


log = logging.getLogger("flowstone.automation")


class AutomationEvaluator(actors.Actor):
    """Evaluates the pipeline's automation policies for one daemon."""

    async def init(self, ctx: DaemonContext) -> None:
        self.ctx = ctx
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
        raise ValueError(f"AutomationEvaluator does not understand {message!r}")

    async def tick(self) -> float:
        """Evaluate the current slot if this daemon wins it; return seconds to the next."""
        interval = self.ctx.config.automation_interval
        now = wall_now()
        slot, wait = current_slot(now, interval, 0.0)
        store, owner = self.ctx.store, self.ctx.config.daemon_id
        until = now + timedelta(seconds=self.ctx.config.lease)
        origin = origin_of(self.ctx.definitions.current.pipeline)
        if await store.claim_tick(self.ctx.pipeline_name, origin, slot, owner, now, until):
            await self._evaluate(slot, now)
        return wait + 0.001

    async def _evaluate(self, slot: datetime, now: datetime) -> None:
        definitions = self.ctx.definitions.current
        pipeline = definitions.pipeline
        verdicts: list[Verdict] = []
        try:
            for name, asset in pipeline.assets.items():
                if asset.automation is not None:
                    verdicts += await evaluate(
                        pipeline, self.ctx.storage, name, asset.automation, now
                    )
        except Exception:
            outcome = TickOutcome(TickStatus.FAILED, error=traceback.format_exc())
            await self._complete(slot, outcome)
            return
        runs: list[tuple[QueuedRun, str | None]] = []
        decisions: list[Decision] = []
        for v in verdicts:
            run_id = stable_run_id(origin_of(pipeline), v.run_key) if v.run_key else None
            if v.requested and v.run_key:
                run = queued_run(
                    pipeline, v.asset, v.key, now=now, triggered_by=f"automation:{v.asset}",
                    trigger="sensor", run_id=run_id,
                    metadata={"reason": v.reason, "code_version": definitions.code_version},
                )  # fmt: skip
                runs.append((run, v.run_key))
            policy = pipeline.get(v.asset).automation.describe()
            decisions.append(
                Decision(
                    v.asset,
                    v.encoded,
                    now,
                    policy,
                    v.requested,
                    v.reason,
                    run_id if v.requested else None,
                )
            )
        status = TickStatus.REQUESTED if runs else TickStatus.SKIPPED
        if await self._complete(slot, TickOutcome(status, runs=tuple(runs))):
            await self.ctx.store.record_decisions(self.ctx.pipeline_name, decisions)

    async def _complete(self, slot: datetime, outcome: TickOutcome) -> bool:
        try:
            await self.ctx.store.complete_tick(
                self.ctx.pipeline_name,
                origin_of(self.ctx.definitions.current.pipeline),
                slot,
                self.ctx.config.daemon_id,
                wall_now(),
                outcome,
            )
        except LostLease:
            log.warning("automation: slot %s was taken over by another daemon", slot)
            return False
        return True
