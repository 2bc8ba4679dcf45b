"""Gates inside real runs: a run waits at its gate holding nothing, a decision resumes it
(downstream receives the approved or modified value, a rejection fails it), and records
stay exactly once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowstone as fs
from tests.flowstone.approvals.gates import Report, report_pipeline

DAY = dt.date(2026, 3, 1)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[fs.Runtime]:
    with fs.Runtime(report_pipeline(), base_dir=tmp_path / ".fs") as runtime:
        yield runtime


def _statuses(rt: fs.Runtime, run_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in rt.wait(run_id, timeout=30).materializations:  # oldest first
        found.setdefault(m.asset, []).append(m.status)
    return found


def test_a_run_waits_at_its_gate_and_an_approval_resumes_it_to_the_end(rt: fs.Runtime) -> None:
    run = rt.materialize_all("published", DAY)
    assert run.status == "waiting"
    [approval] = rt.approvals.pending()
    assert (approval.run_id, approval.partition, approval.status) == (run.run_id, DAY, "pending")
    assert rt.runs()[0].status == "waiting"
    rt.approvals.approve(approval.id, by="alice")
    result = rt.wait(run.run_id, timeout=30)
    assert result.status == "succeeded"
    assert rt.aio.engine is not None
    assert _statuses(rt, run.run_id) == {
        "draft_report": ["succeeded"],
        "approved_report": ["waiting", "succeeded"],
        "published": ["succeeded"],
    }
    assert rt._call(rt.aio.load_value("published", DAY)) == "Report 2026-03-01"
    gate = rt.materializations("approved_report", DAY, status="succeeded")[0]
    assert gate.metadata["approval_id"] == approval.id
    assert gate.metadata["decided_by"] == "alice"


def test_a_modification_is_what_downstream_receives(rt: fs.Runtime) -> None:
    run = rt.materialize_all("published", DAY)
    [approval] = rt.approvals.pending()
    rt.approvals.modify(approval.id, Report(title="Corrected", total=40), by="bob")
    assert rt.wait(run.run_id, timeout=30).status == "succeeded"
    assert rt._call(rt.aio.load_value("published", DAY)) == "Corrected"
    assert rt._call(rt.aio.load_value("approved_report", DAY)) == Report(
        title="Corrected", total=40
    )


def test_a_rejection_fails_the_run_with_the_reason(rt: fs.Runtime) -> None:
    run = rt.materialize_all("published", DAY)
    [approval] = rt.approvals.pending()
    rt.approvals.reject(approval.id, by="carol", reason="numbers are stale")
    result = rt.wait(run.run_id, timeout=30)
    assert result.status == "failed"
    failed = rt.materializations("approved_report", DAY, status="failed")[0]
    assert failed.error is not None
    assert failed.error.type == "CheckpointRejected"
    assert "numbers are stale" in failed.error.message
    assert rt.materializations("published", DAY) == []


def test_a_backfill_through_a_gate_lists_one_request_per_partition(rt: fs.Runtime) -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(5)]
    rt.backfill("published", days)
    pending = rt.approvals.pending("approved_report")
    assert sorted(a.partition for a in pending) == days
    bulk = rt.approvals.approve_all("approved_report", by="lead")
    assert len(bulk.decided) == 5
    for approval in bulk.decided:
        assert rt.wait(approval.run_id, timeout=30).status == "succeeded"
    assert len(rt.materializations("published")) == 5


def test_an_auto_deciding_gate_never_waits(tmp_path: Path) -> None:
    pipeline = report_pipeline(auto_decide=lambda context, draft_report: fs.Approve())
    with fs.Runtime(pipeline, base_dir=tmp_path / ".fs") as rt:
        run = rt.materialize_all("published", DAY)
        assert run.status == "succeeded"
        report = rt.audit.report("published", DAY)
        [approval] = report["approvals"]
        assert (approval["status"], approval["decided_by"]) == (
            "approved",
            "flowstone:auto_decide",
        )
        assert report["current"]["digest"].startswith("sha256:")
        assert [i["asset"] for i in report["inputs"]] == ["approved_report"]
        assert all(entry["digest"] for entry in report["lineage"])


def test_two_gates_of_one_run_decided_together_resume_it_once_to_the_end(tmp_path: Path) -> None:
    p = fs.Pipeline("two_gates")
    calls: list[str] = []

    @p.asset
    def draft(context: object) -> int:
        return 1

    @p.checkpoint(depends_on=["draft"])
    def legal(context: object, draft: int) -> int:
        return draft

    @p.checkpoint(depends_on=["draft"])
    def finance(context: object, draft: int) -> int:
        return draft

    @p.asset(depends_on=["legal", "finance"])
    def release(context: object, legal: int, finance: int) -> int:
        calls.append("release")
        return legal + finance

    with fs.Runtime(p, base_dir=tmp_path / ".fs") as rt:
        run = rt.materialize_all("release")
        assert run.status == "waiting"
        first, second = rt.approvals.pending()

        async def both() -> None:
            import asyncio

            await asyncio.gather(
                rt.aio.approvals.approve(first.id, by="legal-team"),
                rt.aio.approvals.approve(second.id, by="finance-team"),
            )
            await rt.aio.gates.settle()

        rt._call(both())
        assert rt.wait(run.run_id, timeout=30).status == "succeeded"
        assert calls == ["release"]
        assert [m.status for m in rt.materializations("draft")] == ["succeeded"]


async def test_a_backfill_of_365_partitions_through_a_gate_lists_365_requests(
    tmp_path: Path,
) -> None:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    managers = {"fs": fs.io.MemoryIOManager()}
    async with fs.AsyncRuntime(
        report_pipeline(), storage="memory", io_managers=managers, base_dir=tmp_path
    ) as rt:
        await rt.backfill("published", days, max_parallel=20)
        pending = await rt.approvals.pending("approved_report")
        assert sorted(a.partition for a in pending) == days
        assert len({a.run_id for a in pending}) == 365
        assert await rt.materializations("published") == []
