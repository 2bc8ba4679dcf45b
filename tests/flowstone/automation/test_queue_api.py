"""rt.submit / rt.wait / rt.cancel / rt.runs(status=...) through the durable queue, with a
daemon in this process on a SQLite store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs
from flowstone.automation import RunNotFound, WaitTimeout

RELEASE = threading.Event()


def slow_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("queued")

    @p.asset(partitioned_by=fs.DailyPartitions(start="2025-01-01"))
    def raw(context: Any) -> int:
        return 1

    @p.asset
    def slow(context: Any) -> int:
        RELEASE.wait(timeout=20)
        return 2

    return p


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[fs.AsyncRuntime]:
    rt = fs.AsyncRuntime(slow_pipeline(), f"sqlite:///{tmp_path / 'db.sqlite'}", base_dir=tmp_path)
    yield rt
    await rt.close()


async def test_bad_submissions_fail_at_once_and_queue_nothing(runtime: fs.AsyncRuntime) -> None:
    with pytest.raises(
        fs.InvalidPartition, match=r"asset 'raw' is partitioned .* needs a partition key"
    ):
        await runtime.submit("raw")
    with pytest.raises(fs.AssetNotFound, match="did you mean 'raw'"):
        await runtime.submit("rwa", "2025-01-02")
    assert await runtime.runs(status="queued") == []


async def test_a_queued_run_is_cancelled_at_once_and_wait_reports_it(
    runtime: fs.AsyncRuntime,
) -> None:
    run_id = await runtime.submit("raw", "2025-01-02")
    (queued,) = await runtime.runs(status="queued")
    assert queued.run_id == run_id
    assert queued.partition == "2025-01-02"
    assert await runtime.cancel(run_id)
    result = await runtime.wait(run_id, timeout=1)
    assert result.status == "cancelled"
    assert result.materializations == []


async def test_wait_names_the_run_when_it_times_out_or_does_not_exist(
    runtime: fs.AsyncRuntime,
) -> None:
    run_id = await runtime.submit("raw", "2025-01-02")
    with pytest.raises(
        WaitTimeout,
        match=rf"^run '?{run_id}'? is still queued after 0.05 s; .*check that a daemon is running",
    ):  # the approvals wing has its own rt.wait with the same errors: both phrasings pass
        await runtime.wait(run_id, timeout=0.05)
    with pytest.raises(RunNotFound, match=r"no run .*'nope'"):
        await runtime.wait("nope")


@pytest.mark.timeout(60)
async def test_a_daemon_runs_what_is_submitted_and_cancels_on_request(
    runtime: fs.AsyncRuntime, tmp_path: Path
) -> None:
    RELEASE.clear()
    daemon = fs.Daemon(
        runtime.pipeline, runtime.storage.url, base_dir=tmp_path, poll_interval=0.05,
        heartbeat=0.1, lease=2.0,
    )  # fmt: skip
    serving = asyncio.create_task(daemon.serve())
    try:
        done = await runtime.submit("raw", "2025-01-03")
        result = await runtime.wait(done, timeout=20)
        assert result.status == "succeeded"
        assert [(m.asset, m.partition_key) for m in result.materializations] == [
            ("raw", "2025-01-03")
        ]
        slow = await runtime.submit("slow")
        for _ in range(400):
            if await runtime.runs(status="running"):
                break
            await asyncio.sleep(0.05)
        assert await runtime.cancel(slow)
        result = await runtime.wait(slow, timeout=20)
        assert result.status == "cancelled"
    finally:
        RELEASE.set()
        daemon.stop()
        await serving
