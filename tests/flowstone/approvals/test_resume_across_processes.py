"""A decision made in a second OS process (the CLI) resumes a run started by a first
process that has already exited; the run completes and every record exists exactly once."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowstone as fs
from tests.flowstone.approvals.gates import report_pipeline
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent


def _python(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'flowstone.db'}"
    else:
        with fresh_database() as url:
            yield url


@pytest.mark.timeout(180)
def test_the_cli_in_another_process_approves_and_the_run_completes(
    tmp_path: Path, storage: str
) -> None:
    base = tmp_path / ".fs"
    started = json.loads(_python(str(HERE / "run_script.py"), str(base), storage, cwd=tmp_path))
    assert started["status"] == "waiting"  # and the first process has exited

    (tmp_path / "flowstone.toml").write_text(
        '[flowstone]\npipeline = "tests.flowstone.approvals.run_script:pipeline"\n'
        f'storage = "{storage}"\nbase_dir = ".fs"\npython_path = ["{ROOT}"]\n'
    )
    cli = ("-c", "from flowstone.cli import main; main()")
    [approval] = json.loads(_python(*cli, "--json", "approvals", "list", cwd=tmp_path))
    assert approval["run_id"] == started["run_id"]
    decided = json.loads(
        _python(
            *cli, "--json", "approvals", "approve", approval["id"], "--by", "alice", cwd=tmp_path
        )
    )
    assert decided[0]["status"] == "approved"

    with fs.Runtime(report_pipeline(), storage=storage, base_dir=base) as rt:
        result = rt.wait(started["run_id"], timeout=10)
        assert result.status == "succeeded"
        by_asset: dict[str, list[str]] = {}
        for m in result.materializations:
            by_asset.setdefault(m.asset, []).append(m.status)
        assert by_asset == {
            "draft_report": ["succeeded"],
            "approved_report": ["waiting", "succeeded"],
            "published": ["succeeded"],
        }
        day = dt.date(2026, 3, 1)
        assert len(rt.materializations("draft_report", day)) == 1
        assert len(rt.materializations("published", day)) == 1
        assert rt._call(rt.aio.load_value("published", day)) == "Report 2026-03-01"
        trail = rt.audit.report("published", day)["approvals"][0]["audit"]
        assert [(e["event"], e["actor"]) for e in trail] == [
            ("requested", "flowstone:gate"),
            ("approved", "alice"),
        ]
