"""The supervision tree of one daemon.

Internal. ::

    daemon (one_for_one)
    ├── heartbeat            the daemon's row in `daemons`
    ├── executor             claims and executes queued runs, renews their leases
    └── automation (one_for_one)
        ├── schedule:<name>  one per schedule
        ├── sensor:<name>    one per sensor
        └── automation       the automation policies' evaluator (if any asset has one)

Each schedule and sensor is its own actor: one that crashes is restarted alone and never
stops another; restart intensity (``max_restarts`` in ``max_seconds``) applies as in OTP.
A reload adds and removes children to match the new definitions (``sync_automation``).
"""

from __future__ import annotations

from typing import Any

import actors
import supervisors
from flowstone.automation._context import DaemonContext
from flowstone.automation._evaluator import ORIGIN, AutomationEvaluator
from flowstone.automation._executor import RunExecutor
from flowstone.automation._heartbeat import Heartbeat
from flowstone.automation._schedule_actor import ScheduleActor
from flowstone.automation._sensor_actor import SensorActor


def executor_name(ctx: DaemonContext) -> str:
    """The registered name of a daemon's executor."""
    return f"flowstone:daemon:{ctx.config.daemon_id}:executor"


def child_name(ctx: DaemonContext, child: str) -> str:
    """The registered name of a schedule / sensor / evaluator actor."""
    return f"flowstone:daemon:{ctx.config.daemon_id}:{child}"


def automation_specs(ctx: DaemonContext) -> list[supervisors.ChildSpec]:
    """One child per schedule and sensor of the current definitions, plus the evaluator."""
    pipeline = ctx.definitions.current.pipeline
    specs = []
    for name in sorted(pipeline.schedules):
        specs.append(_spec(ctx, f"schedule:{name}", ScheduleActor, name))
    for name in sorted(pipeline.sensors):
        specs.append(_spec(ctx, f"sensor:{name}", SensorActor, name))
    if any(a.automation is not None for a in pipeline.assets.values()):
        specs.append(_spec(ctx, ORIGIN, AutomationEvaluator))
    return specs


def _spec(ctx: DaemonContext, child: str, actor: Any, *args: Any) -> supervisors.ChildSpec:
    name = child_name(ctx, child)
    return supervisors.ChildSpec(child, lambda: actors.spawn(actor, ctx, *args, name=name))


async def start_tree(ctx: DaemonContext) -> supervisors.SupervisorRef:
    """Start a daemon's tree (see the module docstring)."""
    config = ctx.config

    async def automation() -> actors.ActorRef:
        return await supervisors.Supervisor.start(
            automation_specs(ctx),
            max_restarts=config.max_restarts,
            max_seconds=config.max_seconds,
            name=child_name(ctx, "automation-supervisor"),
        )

    children = [
        supervisors.ChildSpec("heartbeat", lambda: actors.spawn(Heartbeat, ctx)),
        supervisors.ChildSpec(
            "executor",
            lambda: actors.spawn(RunExecutor, ctx, name=executor_name(ctx)),
            shutdown=config.drain_timeout + 5.0,
        ),
        supervisors.ChildSpec("automation", automation, type="supervisor"),
    ]
    return await supervisors.Supervisor.start(
        children,
        max_restarts=config.max_restarts,
        max_seconds=config.max_seconds,
        name=f"flowstone:daemon:{config.daemon_id}",
    )


async def sync_automation(ctx: DaemonContext) -> None:
    """Add and remove schedule / sensor actors to match ``ctx.definitions.current``."""
    sup = supervisors.whereis(child_name(ctx, "automation-supervisor"))
    if not isinstance(sup, supervisors.SupervisorRef):
        return
    wanted = {str(spec.id): spec for spec in automation_specs(ctx)}
    present = {str(child.id) for child in await sup.which_children()}
    for child_id in present - set(wanted):
        await sup.terminate_child(child_id)
        await sup.delete_child(child_id)
    for child_id in sorted(set(wanted) - present):
        await sup.start_child(wanted[child_id])
