"""Deadlines: stored, fired once by whichever process looks, per ``on_timeout``; a decision
racing the deadline yields exactly one terminal state."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock, use_clock
from flowstone.approvals import ApprovalsWing, DrivenWallClock
from flowstone.approvals._timer import DeadlineTimer
from flowstone.engine._gate import Wait
from flowstone.storage import TERMINAL_STATUSES
from tests.flowstone.approvals.gates import Clock, reach, report_pipeline


async def _waiting(wing: ApprovalsWing, run_id: str = "run-1") -> str:
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, run_id))
    assert isinstance(outcome, Wait)
    return outcome.approval_id


async def test_nothing_fires_before_the_deadline(
    make_wing: Callable[..., ApprovalsWing], clock: Clock
) -> None:
    wing = make_wing()
    approval_id = await _waiting(wing)
    clock.advance(hours=23, minutes=59)
    assert await wing.decider.fire_due() == []
    assert (await wing.approvals.get(approval_id)).status == "pending"


async def test_escalation_goes_level_by_level_then_the_gate_expires(
    make_wing: Callable[..., ApprovalsWing], clock: Clock
) -> None:
    wing = make_wing(report_pipeline(max_escalations=2))
    approval_id = await _waiting(wing)
    seen = []
    for _ in range(3):
        clock.advance(hours=24)
        [fired] = await wing.decider.fire_due()
        seen.append((fired.status, fired.escalation_count, fired.escalated_to))
    assert seen == [
        ("escalated", 1, "team-leads"),
        ("escalated", 2, "head-of-data"),
        ("expired", 2, "head-of-data"),
    ]
    expired = await wing.approvals.get(approval_id)
    assert expired.decided_by == "flowstone:deadline"
    assert expired.reason is not None
    assert "after 2 escalation(s); expired" in expired.reason
    events = [e.event for e in await wing.store.audit(approval_id=approval_id)]
    assert events == ["requested", "escalated", "escalated", "expired"]
    with pytest.raises(fs.CheckpointRejected, match="expired"):
        await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))


async def test_an_escalated_gate_can_still_be_decided(
    make_wing: Callable[..., ApprovalsWing], clock: Clock
) -> None:
    wing = make_wing()
    approval_id = await _waiting(wing)
    clock.advance(hours=25)
    await wing.decider.fire_due()
    assert [a.status for a in await wing.approvals.pending()] == ["escalated"]
    approved = await wing.approvals.approve(approval_id, by="lead")
    assert (approved.status, approved.escalation_count) == ("approved", 1)


@pytest.mark.parametrize(
    ("on_timeout", "status"), [("approve", "approved"), ("reject", "rejected")]
)
async def test_on_timeout_approve_or_reject_decides_as_the_deadline(
    make_wing: Callable[..., ApprovalsWing], clock: Clock, on_timeout: str, status: str
) -> None:
    wing = make_wing(report_pipeline(on_timeout=on_timeout, escalate_to=None))
    approval_id = await _waiting(wing)
    clock.advance(hours=24)
    [fired] = await wing.decider.fire_due()
    assert (fired.id, fired.status, fired.decided_by) == (approval_id, status, "flowstone:deadline")
    assert await wing.decider.fire_due() == []


async def test_on_timeout_extend_keeps_the_gate_pending_with_a_later_deadline(
    make_wing: Callable[..., ApprovalsWing], clock: Clock
) -> None:
    wing = make_wing(report_pipeline(on_timeout="extend", escalate_to=None))
    approval_id = await _waiting(wing)
    first = (await wing.approvals.get(approval_id)).timeout_at
    assert first is not None
    clock.advance(hours=24)
    [fired] = await wing.decider.fire_due()
    assert (fired.status, fired.timeout_at) == ("pending", first + dt.timedelta(hours=24))
    assert [e.event for e in await wing.store.audit(approval_id=approval_id)][-1] == "extended"


async def test_a_deadline_fires_once_however_many_processes_look(
    make_wing: Callable[..., ApprovalsWing], clock: Clock
) -> None:
    first, second = make_wing(), make_wing()
    approval_id = await _waiting(first)
    clock.advance(hours=24)
    fired = await asyncio.gather(first.decider.fire_due(), second.decider.fire_due())
    assert sum(len(f) for f in fired) == 1
    assert (await first.approvals.get(approval_id)).escalation_count == 1


async def test_a_thousand_approvals_racing_their_deadlines_end_in_one_terminal_state_each(
    make_wing: Callable[..., ApprovalsWing], clock: Clock, storage: fs.storage.Storage
) -> None:
    """The apache/airflow#55054 case: an answer lands as the timeout fires."""
    # The SQL stores run the same race through real transactions, fewer times.
    trials = 1000 if type(storage).__name__ == "MemoryStorage" else 200
    rng = random.Random(55054)
    wing = make_wing(report_pipeline(on_timeout="reject", escalate_to=None))
    ids = [await _waiting(wing, f"run-{i}") for i in range(trials)]
    clock.advance(hours=24)  # every deadline is due now
    outcomes: dict[str, list[str]] = {i: [] for i in ids}
    losers: list[str | None] = []

    async def approve(approval_id: str) -> None:
        await asyncio.sleep(0) if rng.random() < 0.5 else None
        try:
            await wing.approvals.approve(approval_id, by="alice")
            outcomes[approval_id].append("approved")
        except fs.ApprovalAlreadyDecided as exc:
            losers.append(exc.decided_by)

    async def deadline(approval_id: str) -> None:
        record = await wing.store.get(approval_id)
        assert record is not None
        if record.is_open and (fired := await wing.decider.fire(record)) is not None:
            outcomes[approval_id].append(fired.status)

    tasks = []
    for approval_id in ids:
        pair = [approve(approval_id), deadline(approval_id)]
        rng.shuffle(pair)
        tasks += pair
    await asyncio.gather(*tasks)
    assert all(len(found) == 1 for found in outcomes.values()), "exactly one decision each"
    assert set(losers) <= {"flowstone:deadline"}, "an approver lost only to the deadline"
    records = await wing.store.list_approvals(open_only=False)
    assert len(records) == trials
    assert all(r.status in TERMINAL_STATUSES for r in records)
    for record in records:
        trail = [e.event for e in await wing.store.audit(approval_id=record.id)]
        assert trail == ["requested", record.status]
    won = {r.status for r in records}
    assert won == {"approved", "rejected"}, "both sides won some races"


async def test_the_timer_fires_due_deadlines_each_tick_of_the_runtime_clock(
    storage: fs.storage.Storage,
) -> None:
    mock = MockClock()
    with use_clock(mock):
        wall = DrivenWallClock()
        wing = ApprovalsWing(report_pipeline(), storage, now=wall.now, timer_interval=3600.0)
        await wing.start()
        assert wing._timer is not None
        try:
            # The first tick runs as the timer starts; let it finish (its store work runs on
            # the store's thread, which wait_all_idle does not see) before time moves, so the
            # next tick is scheduled from t=0.
            assert await wing._timer.call(("ticks",)) == 1
            approval_id = await _waiting(wing)
            statuses = []
            for _ in range(25):
                await mock.advance(3600)
                await wing._timer.call(("ticks",))  # queued behind the tick: it has finished
                statuses.append((await wing.approvals.get(approval_id)).status)
            assert statuses == ["pending"] * 23 + ["escalated"] * 2
            assert await wing._timer.call(("ticks",)) == 26  # one at start, one per hour
        finally:
            await wing.close()


async def test_a_deadline_that_passed_while_nothing_ran_fires_on_the_first_tick(
    storage: fs.storage.Storage,
) -> None:
    clock = Clock()
    before = ApprovalsWing(report_pipeline(), storage, now=clock, timer_interval=None)
    approval_id = await _waiting(before)
    clock.advance(hours=30)  # the process was down meanwhile
    mock = MockClock()
    with use_clock(mock):
        after = ApprovalsWing(report_pipeline(), storage, now=clock, timer_interval=3600.0)
        await after.start()  # no clock advance: the first tick runs as the timer starts
        try:
            assert after._timer is not None
            assert await after._timer.call(("ticks",)) == 1
            assert (await after.approvals.get(approval_id)).status == "escalated"
        finally:
            await after.close()


def test_the_timer_is_an_actor() -> None:
    assert issubclass(DeadlineTimer, actors.Actor)
