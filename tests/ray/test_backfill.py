"""Backfills of Ray assets: at most ``max_parallel`` partitions in flight, driver memory flat
in the number of partitions, 10,000 partitions x 3 assets on the local cluster, and a driver
killed mid-backfill resumes where it stopped when run again."""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import ray_backfill_pipelines as pipelines

import flowstone as fs

pytestmark = pytest.mark.ray

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module", autouse=True)
def cluster(ray_cluster: Any) -> Any:
    return ray_cluster


def days(first: int, count: int) -> list[datetime.date]:
    start = datetime.date(2000, 1, 1) + datetime.timedelta(days=first)
    return [start + datetime.timedelta(days=i) for i in range(count)]


def most_overlapping(windows: list[tuple[datetime.datetime, datetime.datetime]]) -> int:
    """The largest number of [start, end] windows open at one moment."""
    edges = sorted(
        [(start, 1) for start, _ in windows] + [(end, -1) for _, end in windows],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def runtime(tmp_path: Path, pipeline: fs.Pipeline) -> fs.AsyncRuntime:
    return fs.AsyncRuntime(pipeline, base_dir=tmp_path)


async def test_at_most_max_parallel_partitions_are_in_flight(tmp_path: Path) -> None:
    """Ray could run eight of these steps at once; the backfill keeps three partitions going."""
    async with runtime(tmp_path, pipelines.chain) as rt:
        result = await rt.backfill("third", days(0, 30), max_parallel=3)
        assert (len(result.succeeded), result.failed) == (30, [])
        windows: dict[Any, list[datetime.datetime]] = {}
        for asset in ("first", "second", "third"):
            for m in await rt.materializations(asset):
                assert m.finished_at is not None
                span = windows.setdefault(m.partition, [m.started_at, m.finished_at])
                span[0], span[1] = min(span[0], m.started_at), max(span[1], m.finished_at)
    peak = most_overlapping([(start, end) for start, end in windows.values()])
    assert 2 <= peak <= 3


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~85 s on a busy 2-core machine
async def test_ten_thousand_partitions_of_three_assets_complete_with_flat_driver_memory(
    tmp_path: Path,
) -> None:
    """30,000 Ray tasks; the driver's memory (RSS: Ray's own C++ side included) does not
    grow with the partitions: the last 7,500 add under 4 KB each (names, keys, results)."""
    total, quarter = 10_000, 2_500
    async with runtime(tmp_path, pipelines.chain) as rt:
        succeeded = 0
        after_first_quarter = 0
        for start in range(0, total, quarter):
            result = await rt.backfill("third", days(start, quarter), max_parallel=64)
            assert result.failed == []
            succeeded += len(result.succeeded)
            if start == 0:
                after_first_quarter = rss_bytes()
        growth = rss_bytes() - after_first_quarter
    assert succeeded == total
    assert growth < (total - quarter) * 4096


async def test_a_driver_killed_mid_backfill_resumes_when_run_again(
    tmp_path: Path, cluster: Any
) -> None:
    """SIGKILL the driver process after some partitions; re-running skips the done ones."""
    partitions = days(0, 60)
    span = f"{partitions[0]}..{partitions[-1]}"
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # as a fresh shell
    driver = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "ray_backfill_pipelines.py"),
        "--address",
        cluster.address,
        "--base-dir",
        str(tmp_path),
        "--range",
        span,
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=HERE,
    )
    assert driver.stdout is not None
    done = 0
    while done < 10:
        line = await asyncio.wait_for(driver.stdout.readline(), timeout=120)
        assert line, "the driver exited before finishing ten partitions"
        done += line.startswith(b"done ")
    driver.send_signal(signal.SIGKILL)
    await driver.wait()

    async with runtime(tmp_path, pipelines.slow) as rt:
        result = await rt.backfill("slow_third", span, max_parallel=8)
    assert len(result.skipped) >= done
    assert result.failed == []
    assert len(result.skipped) + len(result.succeeded) == len(partitions)
