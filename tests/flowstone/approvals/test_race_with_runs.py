"""The apache/airflow#55054 case with real runs: approvals landing as their deadlines fire
(on_timeout="approve") leave one terminal decision per gate, no run waiting, no run failed
by the race, and every downstream record exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowstone as fs
from flowstone.clock import set_wall_clock
from tests.flowstone.approvals.gates import T0, report_pipeline


class SettableClock:
    """A wall clock the test moves by hand (a ``flowstone.clock.WallClock``)."""

    def __init__(self) -> None:
        self.value = T0

    def now(self) -> dt.datetime:
        return self.value


@pytest.fixture
def wall() -> Iterator[SettableClock]:
    clock = SettableClock()
    previous = set_wall_clock(clock)
    yield clock
    set_wall_clock(previous)


@pytest.mark.parametrize("storage", ["sqlite", "memory"])
async def test_approvals_racing_deadlines_leave_every_run_succeeded_once(
    tmp_path: Path, wall: SettableClock, storage: str
) -> None:
    pipeline = report_pipeline(on_timeout="approve", escalate_to=None)
    url = f"sqlite:///{tmp_path / 'flowstone.db'}" if storage == "sqlite" else "memory"
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(40)]
    rng = random.Random(55054)
    async with fs.AsyncRuntime(pipeline, storage=url, base_dir=tmp_path / ".fs") as rt:
        runs = [await rt.materialize_all("published", day) for day in days]
        assert {r.status for r in runs} == {"waiting"}
        wall.value += dt.timedelta(hours=24)  # every deadline is due
        approvals = await rt.approvals.pending()
        lost: list[str] = []

        async def approve(approval_id: str) -> None:
            if rng.random() < 0.5:
                await asyncio.sleep(0)
            try:
                await rt.approvals.approve(approval_id, by="alice")
            except fs.ApprovalAlreadyDecided as exc:
                lost.append(str(exc.decided_by))

        async def deadline(approval_id: str) -> None:
            record = await rt.gates.store.get(approval_id)
            if record is not None and record.is_open:
                await rt.gates.decider.fire(record)

        racers = [f(a.id) for a in approvals for f in (approve, deadline)]
        rng.shuffle(racers)
        await asyncio.gather(*racers)
        await rt.gates.settle()
        results = [await rt.wait(r.run_id, timeout=30) for r in runs]

        assert [r.status for r in results] == ["succeeded"] * len(days)
        decided = await rt.gates.store.list_approvals(open_only=False)
        assert {a.status for a in decided} == {"approved"}
        winners = {a.decided_by for a in decided}
        assert winners <= {"alice", "flowstone:deadline"}
        assert set(lost) <= {"flowstone:deadline"}
        for approval in decided:
            trail = [e.event for e in await rt.gates.store.audit(approval_id=approval.id)]
            assert trail == ["requested", "approved"]
        for day in days:
            made = await rt.materializations("published", day)
            assert [m.status for m in made] == ["succeeded"]


async def test_a_deadline_fired_by_the_runtimes_timer_decides_and_resumes_the_run(
    tmp_path: Path, wall: SettableClock
) -> None:
    pipeline = report_pipeline(on_timeout="approve", escalate_to=None)
    async with fs.AsyncRuntime(pipeline, storage="memory", base_dir=tmp_path) as rt:
        run = await rt.materialize_all("published", dt.date(2026, 3, 1))
        assert run.status == "waiting"
        timer = rt.gates._timer
        assert timer is not None
        root = rt.engine.tree.root
        assert root is not None
        children = await root.which_children()
        assert "approvals.deadlines" in [c.id for c in children]
        assert await rt.gates.fire_deadlines() == 0  # not due yet
        wall.value += dt.timedelta(hours=24)
        # Fires now (unless the timer's own once-a-second tick got there first: same result).
        await rt.gates.fire_deadlines()
        await rt.gates.settle()
        assert (await rt.wait(run.run_id, timeout=30)).status == "succeeded"
        [approval] = await rt.gates.store.list_approvals(open_only=False)
        assert (approval.status, approval.decided_by) == ("approved", "flowstone:deadline")
