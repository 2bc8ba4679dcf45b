"""The automation commands: submit, queue, cancel, schedules and sensors on/off/list,
sensor ticks with errors, automation why, daemons."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowstone.cli import cli

PIPELINE = textwrap.dedent(
    """
    import flowstone as fs

    pipeline = fs.Pipeline("cli_auto")
    days = fs.DailyPartitions(start="2025-01-01")

    @pipeline.asset(partitioned_by=days, automation=fs.Automation.on_missing())
    def numbers(context):
        return 1

    pipeline.schedule("nightly", asset="numbers", cron="0 2 * * *", timezone="Europe/Paris")

    @pipeline.sensor(interval=30)
    def landing(context):
        raise RuntimeError("no bucket")
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    module = f"cli_auto_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(PIPELINE)
    (tmp_path / "flowstone.toml").write_text(
        f'[flowstone]\npipeline = "{module}:pipeline"\nbase_dir = ".fs"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(module, None)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_submit_then_queue_then_cancel(project: Path) -> None:
    code, out = run("--json", "submit", "numbers", "-p", "2025-01-05")
    assert code == 0
    run_id = json.loads(out)["run_id"]
    code, out = run("--json", "queue")
    assert [(e["run_id"], e["state"]) for e in json.loads(out)] == [(run_id, "queued")]
    code, out = run("cancel", run_id)
    assert (code, out.strip()) == (0, "cancelled")
    code, out = run("--json", "runs", "--status", "cancelled")
    assert [r["run_id"] for r in json.loads(out)] == [run_id]


def test_schedules_and_sensors_are_listed_and_switched_off_for_good(project: Path) -> None:
    code, out = run("--json", "schedules", "list")
    (row,) = json.loads(out)
    assert row["name"] == "nightly"
    assert row["enabled"] is True
    assert row["detail"] == "numbers @ 0 2 * * * Europe/Paris (latest)"
    assert run("sensors", "off", "landing") == (0, "sensor landing off\n")
    (row,) = json.loads(run("--json", "sensors", "list")[1])
    assert row["enabled"] is False
    code, out = run("sensors", "on", "nope")
    assert code == 2
    assert "no sensor 'nope'; known: landing" in out


def test_run_now_queues_the_schedules_run_with_its_trigger(project: Path) -> None:
    code, out = run("--json", "schedules", "run-now", "nightly")
    assert code == 0
    (record,) = json.loads(run("--json", "runs", "--status", "queued")[1])
    assert record["run_id"] == json.loads(out)["run_id"]
    assert record["triggered_by"] == "schedule:nightly"


def test_automation_why_says_when_nothing_was_decided(project: Path) -> None:
    code, out = run("automation", "why", "numbers", "-p", "2025-01-05")
    assert (code, out.strip()) == (0, "no automation decision recorded for numbers[2025-01-05]")
