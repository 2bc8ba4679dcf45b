"""Ctrl-C during `flowstone backfill` in a real process: exit 130, a summary, a resume hint,
and records that say what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.flowstone.cli.project import write_project

ROOT = Path(__file__).resolve().parents[3]

# Days 1-3 succeed at once; from day 4 on, while the file `hold` exists, a partition says
# it started and then waits (cancellably) for good.
PIPELINE = textwrap.dedent(
    """
    import asyncio
    from pathlib import Path

    import flowstone as fs

    HERE = Path(__file__).parent
    pipeline = fs.Pipeline("interrupted")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @pipeline.asset(partitioned_by=days)
    async def slow(context):
        day = context.partition.day
        if day >= 4 and (HERE / "hold").exists():
            (HERE / f"started-{day}").write_text("")
            await asyncio.Event().wait()
        return day
    """
)

BACKFILL = ["backfill", "slow", "--from", "2025-01-01", "--to", "2025-01-10", "--max-parallel", "2"]


@pytest.fixture
def held_project(tmp_path: Path) -> Path:
    """A project whose backfill holds from day 4 on (while the file `hold` exists)."""
    write_project(tmp_path, PIPELINE)
    (tmp_path / "hold").write_text("")
    return tmp_path


def flowstone(folder: Path, *args: str) -> subprocess.Popen[str]:
    """Start the CLI in its own process (the real console script's code path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)])}
    return subprocess.Popen(
        [sys.executable, "-m", "flowstone.cli", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_hear_ctrl_c,
    )


def _hear_ctrl_c() -> None:
    """In the child before it starts: SIGINT handled as at a terminal. A suite started as a
    background job (`make test &`) has SIGINT ignored, children inherit that, and Python
    then installs no KeyboardInterrupt handler: the CLI would never hear the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(paths: list[Path], process: subprocess.Popen[str]) -> None:
    """Wait until the child process has created ``paths`` (a readiness probe of another
    process, not test synchronisation)."""
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in paths):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the command never created {[p.name for p in paths]}:\n{out}\n{err}")
        time.sleep(0.02)


def test_ctrl_c_cancels_the_backfill_reports_it_and_exits_130(held_project: Path) -> None:
    process = flowstone(held_project, *BACKFILL)
    wait_for([held_project / "started-4", held_project / "started-5"], process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Aborted!" not in err
    lines = err.splitlines()
    assert lines[0].startswith("interrupted: backfill ")
    assert lines[0].endswith(" of slow stopped")
    assert lines[1:4] == [
        "  done: 3 partitions (3 succeeded, 0 failed)",
        "  cancelled: 2 in flight, recorded as cancelled",
        "  left: 5 not started",
    ]
    assert lines[4] == (
        "resume with the same command (partitions that succeeded are skipped): flowstone "
        "backfill slow --from 2025-01-01 --to 2025-01-10 --max-parallel 2"
    )

    runs = flowstone(held_project, "runs", "--json")
    out, err = runs.communicate(timeout=60)
    assert runs.returncode == 0, err
    statuses = sorted((r["partition"], r["status"]) for r in json.loads(out))
    assert statuses == [
        ("2025-01-01", "succeeded"),
        ("2025-01-02", "succeeded"),
        ("2025-01-03", "succeeded"),
        ("2025-01-04", "cancelled"),
        ("2025-01-05", "cancelled"),
    ]

    (held_project / "hold").unlink()
    resumed = flowstone(held_project, *BACKFILL, "--json")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    result = json.loads(out)
    assert (len(result["succeeded"]), len(result["skipped"])) == (7, 3)


def test_ctrl_c_during_materialize_cancels_the_run_and_exits_130(held_project: Path) -> None:
    process = flowstone(held_project, "materialize", "slow", "-p", "2025-01-07")
    wait_for([held_project / "started-7"], process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "error: interrupted; work in flight was cancelled" in err
    assert "Aborted!" not in err
    runs = flowstone(held_project, "runs", "--json")
    out, err = runs.communicate(timeout=60)
    assert [(r["partition"], r["status"]) for r in json.loads(out)] == [("2025-01-07", "cancelled")]
