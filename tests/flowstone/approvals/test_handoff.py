"""The decision hand-off through the run queue, with real processes on SQLite and
PostgreSQL: concurrent deciders resume a run once; with a daemon running, the daemon
continues the run and the deciding CLI returns; without one, the decider continues it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs
from flowstone.automation._store import open_automation_store
from tests.flowstone.approvals.handoff_pipeline import executions, pipeline
from tests.flowstone.automation.processes import daemons, poll_until
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
SCRIPT = HERE / "handoff_script.py"
SPEC = "tests.flowstone.approvals.handoff_pipeline:pipeline"
REMAINING = {"left", "right", "joined"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'flowstone.db'}"
    else:
        with fresh_database() as url:
            yield url


def _env(out: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "FLOWSTONE_TEST_OUT": str(out)}


def _run(out: Path, *args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=_env(out),
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _start_waiting_run(out: Path, storage: str, base: Path) -> str:
    started = json.loads(_run(out, str(SCRIPT), "start", storage, str(base)))
    assert started["status"] == "waiting"
    return str(started["run_id"])


def _gates(rt: fs.Runtime, run_id: str) -> dict[str, str]:
    return {a.checkpoint: a.id for a in rt.approvals.pending() if a.run_id == run_id}


def _queue_row(rt: fs.Runtime, run_id: str) -> Any:
    async def read() -> Any:
        store = open_automation_store(rt.aio.storage)
        await store.open()
        try:
            entries = await store.entries(("queued", "claimed", "done"))
        finally:
            await store.close()
        return next(e for e in entries if e.run_id == run_id)

    return rt._call(read())


def _assert_once(rt: fs.Runtime, run_id: str, out: Path) -> None:
    result = rt.wait(run_id, timeout=30)
    assert result.status == "succeeded"
    statuses: dict[str, list[str]] = {}
    for m in result.materializations:
        statuses.setdefault(m.asset, []).append(m.status)
    # Each resumption that reaches a gate still open records it waiting again; what ran
    # (every succeeded record, every asset execution) is there exactly once.
    for asset in ("source", *sorted(REMAINING)):
        assert statuses[asset] == ["succeeded"], asset
    for gate in ("gate_a", "gate_b"):
        assert statuses[gate].count("succeeded") == 1, statuses
        assert set(statuses[gate]) == {"waiting", "succeeded"}, statuses
    ran = Counter(asset for asset, _ in executions(out))
    assert ran == {"source": 1, "left": 1, "right": 1, "joined": 1}
    assert rt.load_value("joined") == 5


@pytest.mark.timeout(240)
@pytest.mark.parametrize("trial", range(3))
def test_two_processes_approving_two_gates_at_once_resume_the_run_once(
    tmp_path: Path, storage: str, trial: int
) -> None:
    out, base, go = tmp_path / "out", tmp_path / "base", tmp_path / "go"
    out.mkdir()
    run_id = _start_waiting_run(out, storage, base)
    with fs.Runtime(pipeline, storage=storage, base_dir=base) as rt:
        gates = _gates(rt, run_id)
        assert set(gates) == {"gate_a", "gate_b"}
        procs = [
            subprocess.Popen(
                [sys.executable, str(SCRIPT), "approve", storage, str(base), gates[g], str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(out),
            )
            for g in ("gate_a", "gate_b")
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None
                assert proc.stdout.readline().startswith("READY")
            go.touch()  # both decide at the same moment
            answers = []
            for proc in procs:
                stdout, stderr = proc.communicate(timeout=120)
                assert proc.returncode == 0, stderr
                answers.append(json.loads(stdout.splitlines()[-1]))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert [a["status"] for a in answers] == ["approved", "approved"]
        assert not any(a["daemons"] for a in answers)  # no daemon: the deciders resumed it
        _assert_once(rt, run_id, out)
        pids = {pid for asset, pid in executions(out) if asset in REMAINING}
        assert pids <= {p.pid for p in procs}
        row = _queue_row(rt, run_id)
        assert row.state == "done"
        assert str(row.owner).startswith("decider:")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_with_a_daemon_running_the_daemon_continues_the_run_and_the_cli_returns(
    tmp_path: Path, storage: str
) -> None:
    out, base = tmp_path / "out", tmp_path / "base"
    out.mkdir()
    (tmp_path / "flowstone.toml").write_text(
        f'[flowstone]\npipeline = "{SPEC}"\nstorage = "{storage}"\n'
        f'base_dir = "base"\npython_path = ["{ROOT}"]\n'
    )
    cli = ("-c", "from flowstone.cli import main; main()")
    with daemons(SPEC, storage, tmp_path) as group:
        daemon = group.start()
        run_id = _start_waiting_run(out, storage, base)
        with fs.Runtime(pipeline, storage=storage, base_dir=base) as rt:
            gates = _gates(rt, run_id)
            said = _run(out, *cli, "approvals", "approve", gates["gate_a"], cwd=tmp_path)
            assert f"run {run_id}: queued for the daemons" in said
            poll_until(
                lambda: ("left", daemon.pid) in executions(out), 30, "the daemon to run left"
            )
            said = _run(out, *cli, "approvals", "approve", gates["gate_b"], cwd=tmp_path)
            assert "queued for the daemons" in said
            _assert_once(rt, run_id, out)
            ran = dict(executions(out))
            assert {ran[a] for a in REMAINING} == {daemon.pid}  # not the CLI's processes
            row = _queue_row(rt, run_id)
            assert row.state == "done"
            assert row.owner is not None
            assert not row.owner.startswith("decider:")


def test_without_a_daemon_the_deciding_process_completes_the_run(
    tmp_path: Path, storage: str
) -> None:
    out, base = tmp_path / "out", tmp_path / "base"
    out.mkdir()
    run_id = _start_waiting_run(out, storage, base)
    os.environ["FLOWSTONE_TEST_OUT"] = str(out)
    try:
        with fs.Runtime(pipeline, storage=storage, base_dir=base) as rt:
            gates = _gates(rt, run_id)
            rt.approvals.approve(gates["gate_a"], by="alice")
            rt.approvals.approve(gates["gate_b"], by="bob")
            rt._call(rt.aio.gates.settle())
            _assert_once(rt, run_id, out)
            assert {pid for a, pid in executions(out) if a in REMAINING} == {os.getpid()}
            assert rt.aio.gates.handed_to_daemons == set()
            row = _queue_row(rt, run_id)
            assert row.state == "done"
            assert str(row.owner).startswith("decider:")
    finally:
        del os.environ["FLOWSTONE_TEST_OUT"]
