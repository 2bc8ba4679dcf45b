"""A sample pipeline with checkpoint gates, and helpers that drive the gatekeeper the way
the engine does (a ``GateRequest`` per node reached)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

import flowstone as fs
from flowstone.definitions._context import AssetContext
from flowstone.engine._gate import GateRequest

DAYS = fs.DailyPartitions(start="2026-01-01", end="2026-12-31")
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Report(BaseModel):
    """The value type of the ``approved_report`` gate."""

    title: str
    total: int


def report_pipeline(
    *,
    timeout: dt.timedelta | None = dt.timedelta(hours=24),
    on_timeout: str = "escalate",
    escalate_to: Any = ("team-leads", "head-of-data"),
    condition: Callable[..., Any] | None = None,
    auto_decide: Callable[..., Any] | None = None,
    max_escalations: int = 3,
) -> fs.Pipeline:
    """draft_report (daily) -> approved_report (gate) -> published."""
    p = fs.Pipeline("reports")

    @p.asset(partitioned_by=DAYS)
    def draft_report(context: Any) -> dict[str, Any]:
        return {"title": f"Report {context.partition}", "total": 42}

    @p.checkpoint(
        depends_on=["draft_report"],
        message=lambda context, draft_report: f"Check {draft_report['title']}",
        timeout=timeout,
        on_timeout=on_timeout,
        escalate_to=escalate_to,
        condition=condition,
        auto_decide=auto_decide,
        max_escalations=max_escalations,
    )
    def approved_report(context: Any, draft_report: dict[str, Any]) -> Report:
        return Report(**draft_report)

    @p.asset(depends_on=["approved_report"], partitioned_by=DAYS)
    def published(context: Any, approved_report: Report) -> str:
        return approved_report.title

    return p


def reach(
    pipeline: fs.Pipeline,
    run_id: str,
    day: dt.date = dt.date(2026, 3, 1),
    value: dict[str, Any] | None = None,
    gate: str = "approved_report",
) -> GateRequest:
    """The request the engine makes when run ``run_id`` reaches ``gate`` for ``day``."""
    definition = pipeline.get(gate)
    key = DAYS.encode(day)
    context = AssetContext(
        asset=gate,
        partition=day,
        partition_key=key,
        run_id=run_id,
        attempt=1,
        resources={},
        pipeline=pipeline.name,
        definition=definition,
    )
    inputs = {"draft_report": value or {"title": f"Report {day}", "total": 42}}
    return GateRequest(definition, day, key, run_id, 1, context, inputs)


class Clock:
    """A settable wall clock for tests (deadline logic without sleeping)."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += dt.timedelta(**delta)
