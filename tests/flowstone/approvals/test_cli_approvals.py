"""`flowstone approvals list|show|approve|modify|reject` and `flowstone audit`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowstone as fs
from flowstone.cli import cli
from flowstone.engine._gate import Wait
from tests.flowstone.approvals.gates import reach

MODULE = """
from tests.flowstone.approvals.gates import report_pipeline

pipeline = report_pipeline()
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    module = f"gates_cli_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(MODULE)
    (tmp_path / "flowstone.toml").write_text(
        f'[flowstone]\npipeline = "{module}:pipeline"\nbase_dir = ".fs"\n'
    )
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(module, None)


def gates(project: Path, days: int) -> list[str]:
    """Reach the gate for ``days`` partitions (as runs would) and return the approval ids."""
    from tests.flowstone.approvals.gates import report_pipeline

    pipeline = report_pipeline()
    ids = []
    with fs.Runtime(pipeline, base_dir=project / ".fs") as rt:
        for i in range(days):
            day = dt.date(2026, 3, 1) + dt.timedelta(days=i)
            request = reach(pipeline, f"run-{i}", day)
            outcome = rt._call(rt.aio.gates.gatekeeper.reached(request))
            assert isinstance(outcome, Wait)
            ids.append(outcome.approval_id)
    return ids


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_list_shows_the_open_approvals_and_filters_them(project: Path) -> None:
    ids = gates(project, 3)
    code, out = run("--json", "approvals", "list")
    assert code == 0
    assert [a["id"] for a in json.loads(out)] == ids
    code, out = run(
        "--json",
        "approvals",
        "list",
        "-c",
        "approved_report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-03",
    )
    assert [a["partition"] for a in json.loads(out)] == ["2026-03-02", "2026-03-03"]
    code, out = run("approvals", "list")
    assert code == 0
    assert "3 open approval(s)" in out


def test_show_prints_the_value_and_the_audit_trail(project: Path) -> None:
    [approval_id] = gates(project, 1)
    _code, out = run("--json", "approvals", "show", approval_id)
    data = json.loads(out)
    assert (data["status"], data["value"]["total"]) == ("pending", 42)
    assert [e["event"] for e in data["audit"]] == ["requested"]


def test_approve_modify_and_reject_decide_and_record_who(project: Path) -> None:
    one, two, three = gates(project, 3)
    assert run("approvals", "approve", one, "--by", "alice")[0] == 0
    code, out = run(
        "--json",
        "approvals",
        "modify",
        two,
        "--value",
        '{"title": "Fixed", "total": 7}',
        "--by",
        "bob",
        "--reason",
        "typo",
    )
    assert code == 0
    assert json.loads(out)[0]["modified_value"] == {"title": "Fixed", "total": 7}
    code, out = run("approvals", "reject", three, "--by", "carol", "--reason", "wrong numbers")
    assert code == 0
    assert "rejected" in out
    code, out = run("approvals", "approve", one, "--by", "dave")
    assert code == 1
    assert "is already approved (by alice at" in " ".join(out.split())


def test_invalid_decisions_exit_2_with_the_reason(project: Path) -> None:
    [approval_id] = gates(project, 1)
    code, out = run("approvals", "modify", approval_id, "--value", '{"title": 1}', "--by", "bob")
    assert code == 2
    assert "must be a Report" in out
    code, out = run("approvals", "reject", approval_id, "--by", "carol")
    assert code == 2
    assert "Missing option '--reason'" in out
    code, out = run("approvals", "approve", "nope")
    assert code == 2
    assert "no approval with id 'nope'" in out


def test_bulk_approval_decides_every_matching_gate_each_one_audited(project: Path) -> None:
    ids = gates(project, 5)
    code, out = run(
        "--json",
        "approvals",
        "approve",
        "-c",
        "approved_report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--by",
        "lead",
    )
    assert code == 0
    assert [a["id"] for a in json.loads(out)] == ids[1:4]
    code, out = run("--json", "approvals", "list")
    assert [a["id"] for a in json.loads(out)] == [ids[0], ids[4]]
    for approval_id in ids[1:4]:
        code, out = run("--json", "approvals", "show", approval_id)
        assert [(e["event"], e["actor"]) for e in json.loads(out)["audit"]][-1] == (
            "approved",
            "lead",
        )


def test_audit_prints_the_report_as_json_markdown_or_csv(project: Path) -> None:
    [approval_id] = gates(project, 1)
    run("approvals", "approve", approval_id, "--by", "alice")
    code, out = run("audit", "approved_report", "-p", "2026-03-01", "--json")
    assert code == 0
    report = json.loads(out)
    assert [a["status"] for a in report["approvals"]] == ["approved"]
    assert [e["event"] for e in report["approvals"][0]["audit"]] == ["requested", "approved"]
    code, out = run("audit", "approved_report", "-p", "2026-03-01", "--markdown")
    assert "# Audit report: approved_report [2026-03-01]" in out
    assert "### approved_report [2026-03-01]: approved" in out
    code, out = run("audit", "approved_report", "-p", "2026-03-01", "--csv")
    lines = out.splitlines()
    assert lines[0].startswith("section,asset,partition,id")
    assert [line.split(",")[5] for line in lines[1:]] == ["requested", "approved"]
