"""The gatekeeper: a reached gate records one request and waits; a decided gate passes
with the right value or fails with the reason; condition and auto_decide are recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

import flowstone as fs
from flowstone.approvals import ApprovalsWing
from flowstone.engine._gate import Proceed, Wait
from tests.flowstone.approvals.gates import Clock, Report, reach, report_pipeline


async def test_a_reached_gate_records_one_pending_request_and_waits(
    make_wing: Callable[..., ApprovalsWing], clock: Clock
) -> None:
    wing = make_wing()
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Wait)
    approval = await wing.approvals.get(outcome.approval_id)
    assert (approval.status, approval.run_id, approval.checkpoint) == (
        "pending",
        "run-1",
        "approved_report",
    )
    assert approval.message == "Check Report 2026-03-01"
    assert approval.value == {"title": "Report 2026-03-01", "total": 42}
    assert approval.timeout_at == clock.value + dt.timedelta(hours=24)
    assert str(approval.partition) == "2026-03-01"
    again = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert again == outcome
    assert len(await wing.approvals.pending()) == 1
    trail = await wing.store.audit(approval_id=outcome.approval_id)
    assert [(e.event, e.actor) for e in trail] == [("requested", "flowstone:gate")]


async def test_two_processes_reaching_one_gate_at_once_store_one_request(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    first, second = make_wing(), make_wing()
    outcomes = await asyncio.gather(
        *(w.gatekeeper.reached(reach(w.pipeline, "run-1")) for w in (first, second, first))
    )
    assert len({o.approval_id for o in outcomes if isinstance(o, Wait)}) == 1
    assert len(await first.store.audit()) == 1


async def test_an_approved_gate_passes_the_value_of_its_function(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    wing = make_wing()
    waiting = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(waiting, Wait)
    await wing.approvals.approve(waiting.approval_id, by="alice", reason="looks right")
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Proceed)
    assert outcome.value == Report(title="Report 2026-03-01", total=42)
    assert outcome.metadata["approval_id"] == waiting.approval_id
    assert outcome.metadata["decided_by"] == "alice"
    assert outcome.metadata["input_digest"].startswith("sha256:")


async def test_a_modified_gate_passes_the_approvers_value_as_the_declared_type(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    wing = make_wing()
    waiting = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(waiting, Wait)
    modified = await wing.approvals.modify(
        waiting.approval_id, Report(title="Fixed", total=41), by="bob"
    )
    assert (modified.status, modified.modified_value) == (
        "modified",
        {"title": "Fixed", "total": 41},
    )
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Proceed)
    assert outcome.value == Report(title="Fixed", total=41)
    trail = await wing.store.audit(approval_id=waiting.approval_id)
    assert trail[-1].event == "modified"
    assert trail[-1].before_digest != trail[-1].after_digest


async def test_modify_with_a_value_of_the_wrong_type_is_refused_naming_the_type(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    wing = make_wing()
    waiting = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(waiting, Wait)
    with pytest.raises(
        fs.InvalidDecision,
        match=r"^the modified value for checkpoint 'approved_report' must be a Report, got "
        r"\{'title': 'x'\} \(total: Field required\)$",
    ):
        await wing.approvals.modify(waiting.approval_id, {"title": "x"}, by="bob")
    assert (await wing.approvals.get(waiting.approval_id)).status == "pending"


async def test_a_rejected_gate_fails_with_the_reason(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    wing = make_wing()
    waiting = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(waiting, Wait)
    await wing.approvals.reject(waiting.approval_id, by="carol", reason="totals are off")
    with pytest.raises(fs.CheckpointRejected) as caught:
        await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert str(caught.value) == (
        "checkpoint approved_report[2026-03-01] was rejected by carol: totals are off"
    )
    assert caught.value.reason == "totals are off"


async def test_a_rejection_needs_a_reason_and_a_decision_needs_a_name(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    wing = make_wing()
    waiting = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(waiting, Wait)
    with pytest.raises(fs.InvalidDecision, match=r"needs a reason, got ''; say why"):
        await wing.approvals.reject(waiting.approval_id, by="carol", reason="")
    with pytest.raises(fs.InvalidDecision, match=r"^a decision names who made it"):
        await wing.approvals.approve(waiting.approval_id, by=" ")
    with pytest.raises(fs.InvalidDecision, match=r"^a rejection needs a reason"):
        fs.Reject("  ")
    assert (await wing.approvals.get(waiting.approval_id)).status == "pending"


async def test_a_false_condition_passes_the_gate_with_a_recorded_automatic_approval(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    pipeline = report_pipeline(condition=lambda context, draft_report: draft_report["total"] > 100)
    wing = make_wing(pipeline)
    outcome = await wing.gatekeeper.reached(reach(pipeline, "run-1"))
    assert isinstance(outcome, Proceed)
    assert await wing.approvals.pending() == []
    [approval] = await wing.store.list_approvals(open_only=False)
    assert (approval.status, approval.decided_by) == ("approved", "flowstone:condition")
    trail = await wing.store.audit(approval_id=approval.id)
    assert [(e.event, e.actor) for e in trail] == [("condition_passed", "flowstone:condition")]


@pytest.mark.parametrize(
    ("decision", "status", "event"),
    [
        (fs.Approve(), "approved", "auto_approved"),
        (fs.Modify({"title": "Auto", "total": 1}), "modified", "auto_modified"),
        (fs.Reject("over budget"), "rejected", "auto_rejected"),
    ],
)
async def test_auto_decide_decides_and_is_recorded_as_automatic(
    make_wing: Callable[..., ApprovalsWing], decision: Any, status: str, event: str
) -> None:
    pipeline = report_pipeline(auto_decide=lambda context, draft_report: decision)
    wing = make_wing(pipeline)
    if status == "rejected":
        with pytest.raises(fs.CheckpointRejected, match="over budget"):
            await wing.gatekeeper.reached(reach(pipeline, "run-1"))
    else:
        outcome = await wing.gatekeeper.reached(reach(pipeline, "run-1"))
        assert isinstance(outcome, Proceed)
        assert outcome.value.total == (1 if status == "modified" else 42)
    [approval] = await wing.store.list_approvals(open_only=False)
    assert (approval.status, approval.decided_by) == (status, "flowstone:auto_decide")
    assert [e.event for e in await wing.store.audit(approval_id=approval.id)] == [event]


async def test_auto_decide_returning_none_asks_a_person(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    pipeline = report_pipeline(auto_decide=lambda context, draft_report: None)
    wing = make_wing(pipeline)
    assert isinstance(await wing.gatekeeper.reached(reach(pipeline, "run-1")), Wait)


async def test_auto_decide_returning_something_else_is_refused(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    pipeline = report_pipeline(auto_decide=lambda context, draft_report: True)
    wing = make_wing(pipeline)
    with pytest.raises(fs.InvalidDecision, match=r"must return fs.Approve\(\), .* got True$"):
        await wing.gatekeeper.reached(reach(pipeline, "run-1"))


async def test_a_large_input_is_summarised_in_the_request_with_its_digest(
    make_wing: Callable[..., ApprovalsWing],
) -> None:
    wing = make_wing()
    big = {"title": "Report", "total": 1, "rows": list(range(50_000))}
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1", value=big))
    assert isinstance(outcome, Wait)
    view = (await wing.approvals.get(outcome.approval_id)).value
    assert view["truncated"] is True
    assert view["type"] == "dict"
    assert view["json_bytes"] > 64 * 1024
    assert view["digest"].startswith("sha256:")
    assert len(view["head"]) == 2000
