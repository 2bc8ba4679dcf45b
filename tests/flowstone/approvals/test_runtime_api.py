"""rt.approvals, rt.audit.report, rt.lineage.at and rt.wait on a real runtime."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowstone as fs
from flowstone.engine._gate import Wait
from tests.flowstone.approvals.gates import reach, report_pipeline

DAY = dt.date(2026, 3, 1)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[fs.Runtime]:
    with fs.Runtime(report_pipeline(), base_dir=tmp_path / ".fs") as runtime:
        yield runtime


def _gate(rt: fs.Runtime, run_id: str, day: dt.date = DAY) -> str:
    outcome = rt._call(rt.aio.gates.gatekeeper.reached(reach(rt.pipeline, run_id, day)))
    assert isinstance(outcome, Wait)
    return outcome.approval_id


def test_pending_filters_by_checkpoint_partition_and_age(rt: fs.Runtime) -> None:
    ids = [_gate(rt, f"run-{i}", DAY + dt.timedelta(days=i)) for i in range(4)]
    assert [a.id for a in rt.approvals.pending()] == ids
    assert [a.id for a in rt.approvals.pending("approved_report", "2026-03-02")] == [ids[1]]
    assert [a.id for a in rt.approvals.pending("approved_report", DAY)] == [ids[0]]
    window = (dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    assert [a.id for a in rt.approvals.pending("approved_report", partition_range=window)] == ids[
        1:3
    ]
    assert rt.approvals.pending(older_than=dt.timedelta(hours=1)) == []
    assert rt.approvals.pending("draft_report") == []
    approval = rt.approvals.get(ids[0])
    assert approval.partition == DAY
    assert repr(approval) == f"<Approval approved_report[2026-03-01] pending id={ids[0]} run=run-0>"


def test_a_listed_approval_equals_the_one_get_returns(rt: fs.Runtime) -> None:
    ids = [_gate(rt, f"run-{i}", DAY + dt.timedelta(days=i)) for i in range(2)]
    listed = rt.approvals.pending()
    assert listed == [rt.approvals.get(i) for i in ids]
    assert listed[1].partition == DAY + dt.timedelta(days=1)
    assert listed[1].partition_key == "2026-03-02"
    assert listed[1].is_open
    assert listed[1].value is not None


def test_get_and_decide_an_unknown_id_raise_approval_not_found(rt: fs.Runtime) -> None:
    with pytest.raises(fs.ApprovalNotFound, match=r"^no approval with id 'x'; list the open"):
        rt.approvals.get("x")
    with pytest.raises(fs.ApprovalNotFound):
        rt.approvals.approve("x", by="alice")


def test_the_second_decider_is_told_who_decided_and_when(rt: fs.Runtime) -> None:
    approval_id = _gate(rt, "run-1")
    first = rt.approvals.approve(approval_id, by="alice")
    with pytest.raises(fs.ApprovalAlreadyDecided) as caught:
        rt.approvals.reject(approval_id, by="bob", reason="no")
    assert (caught.value.decided_by, caught.value.decided_at) == ("alice", first.decided_at)
    assert caught.value.status == "approved"


def test_the_audit_report_shows_digests_of_the_stored_bytes_and_the_approval(
    rt: fs.Runtime, tmp_path: Path
) -> None:
    made = rt.materialize("draft_report", DAY).materializations[0]
    approval_id = _gate(rt, "run-1")
    rt.approvals.approve(approval_id, by="alice", reason="checked")
    report = rt.audit.report("draft_report", DAY)
    stored = Path(made.metadata["path"])
    assert stored.is_relative_to(tmp_path / ".fs" / "storage")
    expected = "sha256:" + hashlib.sha256(stored.read_bytes()).hexdigest()
    assert report["current"]["digest"] == expected
    assert [e["status"] for e in report["executions"]] == ["succeeded"]
    gate = rt.audit.report("approved_report", "2026-03-01")
    assert gate["current"] is None
    [approval] = gate["approvals"]
    assert (approval["status"], approval["decided_by"], approval["reason"]) == (
        "approved",
        "alice",
        "checked",
    )
    assert [e["event"] for e in approval["audit"]] == ["requested", "approved"]


def test_lineage_at_returns_the_materialization_current_then(rt: fs.Runtime) -> None:
    before = dt.datetime.now(dt.UTC)
    first = rt.materialize("draft_report", DAY).materializations[0]
    between = dt.datetime.now(dt.UTC)
    second = rt.materialize("draft_report", DAY).materializations[0]
    assert rt.lineage.at("draft_report", DAY, before - dt.timedelta(seconds=1)) is None
    assert rt.lineage.at("draft_report", DAY, between).id == first.id  # type: ignore[union-attr]
    now = dt.datetime.now(dt.UTC)
    assert rt.lineage.at("draft_report", DAY, now).id == second.id  # type: ignore[union-attr]


def test_wait_returns_a_finished_runs_result_and_refuses_unknown_runs(rt: fs.Runtime) -> None:
    run = rt.materialize("draft_report", DAY)
    waited = rt.wait(run.run_id, timeout=5)
    assert (waited.run_id, waited.status) == (run.run_id, "succeeded")
    assert [m.id for m in waited.materializations] == [m.id for m in run.materializations]
    with pytest.raises(fs.RunNotFound, match=r"^no run with id 'nope'"):
        rt.wait("nope")


def test_pipelines_sharing_a_store_see_and_fire_only_their_own_gates(tmp_path: Path) -> None:
    other = report_pipeline()
    other.name = "other_reports"
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    with (
        fs.Runtime(report_pipeline(), storage=storage, base_dir=tmp_path) as mine,
        fs.Runtime(other, storage=storage, base_dir=tmp_path) as theirs,
    ):
        _gate(mine, "run-mine")
        _gate(theirs, "run-theirs")
        assert [a.run_id for a in mine.approvals.pending()] == ["run-mine"]
        assert [a.run_id for a in theirs.approvals.pending()] == ["run-theirs"]
