"""Real OS processes: 100 pending gates survive kill -9 with their deadlines, and those
that passed during the outage fire once, on the restarted process's first tick; an
approving process racing a deadline-firing process leaves one terminal state per gate."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flowstone.storage import open_storage
from tests.flowstone.approvals.gates import T0
from tests.pg import fresh_database

SCRIPT = Path(__file__).with_name("gate_script.py")
ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _output(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'flowstone.db'}"
    else:
        with fresh_database() as url:
            yield url


@pytest.mark.timeout(180)
def test_100_pending_gates_survive_kill_9_and_overdue_ones_fire_once_on_restart(
    store_url: str,
) -> None:
    creator = _run("create", store_url, "100")
    assert creator.stdout is not None
    assert creator.stdout.readline().strip() == "READY", creator.stderr.read()  # type: ignore[union-attr]
    creator.send_signal(signal.SIGKILL)
    creator.communicate(timeout=30)
    assert creator.returncode == -signal.SIGKILL

    # Restart 40.5 minutes after T0: the deadlines of gates 0..39 passed "during the outage".
    first = json.loads(_output(_run("restart", store_url, "40.5")))
    assert first["ticks"] == 1
    statuses = first["statuses"]
    assert len(statuses) == 100
    for i in range(100):
        status, deadline = statuses[f"run-{i}"]
        if i < 40:
            # Escalated once, with a new deadline one timeout after the tick.
            assert (status, deadline) == (
                "escalated",
                (T0 + dt.timedelta(minutes=41.5)).isoformat(),
            )
        else:
            assert (status, deadline) == ("pending", (T0 + dt.timedelta(minutes=i + 1)).isoformat())

    # A second restart at the same instant fires nothing more: each deadline fired once.
    again = json.loads(_output(_run("restart", store_url, "40.5")))
    assert again["statuses"] == statuses
    escalations = _audit_events(store_url).count("escalated")
    assert escalations == 40


def _audit_events(url: str) -> list[str]:
    import asyncio

    async def read() -> list[str]:
        async with open_storage(url) as storage:
            return [e.event for e in await storage.approvals.audit()]

    return asyncio.run(read())


@pytest.mark.timeout(180)
def test_an_approving_process_racing_a_deadline_process_leaves_one_decision_per_gate(
    store_url: str,
) -> None:
    creator = _run("create", store_url, "100", "reject")
    assert creator.stdout is not None
    assert creator.stdout.readline().strip() == "READY"
    creator.send_signal(signal.SIGKILL)
    creator.communicate(timeout=30)

    approver, firer = _run("approve", store_url), _run("deadlines", store_url)
    approved = json.loads(_output(approver))
    fired = json.loads(_output(firer))
    assert set(approved) == set(fired)
    assert len(approved) == 100
    for approval_id in approved:
        # Exactly one side decided each gate; the other was told it lost.
        sides = (approved[approval_id], fired[approval_id])
        assert sides in {("approved", "lost"), ("lost", "rejected")}
    events = _audit_events(store_url)
    assert events.count("approved") == sum(1 for s in approved.values() if s == "approved")
    assert events.count("rejected") == sum(1 for s in fired.values() if s == "rejected")
    assert events.count("approved") + events.count("rejected") == 100
