"""Pipelines the multi-process tests run in daemon subprocesses (daemon_script.py).

``FLOWSTONE_TEST_OUT`` names a directory where assets append what they did, one line per
execution, so the tests can count executions and measure overlaps across processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import flowstone as fs
from flowstone.automation._crash import crash_point


def _log(name: str, line: str) -> None:
    out = Path(os.environ["FLOWSTONE_TEST_OUT"])
    # O_APPEND writes of one short line are atomic across processes.
    with open(out / name, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


cron = fs.Pipeline("cron")


@cron.asset
def heartbeat_report(context: Any) -> str:
    _log("cron.log", context.run_id)
    crash_point("run_started")
    return context.run_id


cron.schedule("every_second", asset="heartbeat_report", cron="* * * * * *", catch_up="all")


sensors = fs.Pipeline("sensors")


@sensors.asset
def keyed(context: Any) -> str:
    _log("sensors.log", context.run_id)
    return context.run_id


@sensors.sensor(interval=1.0, jitter=0.0)
def every_other_second(context: fs.SensorContext) -> fs.SensorResult:
    # Each key is requested by two consecutive evaluations: only the first may create a run.
    second = int(context.tick_time.timestamp())
    keys = [f"k{second // 2}", f"k{(second - 1) // 2}"]
    return fs.SensorResult(
        run_requests=[fs.RunRequest("keyed", run_key=k) for k in keys], cursor=str(second)
    )


backfill = fs.Pipeline("backfill")
DAYS = fs.DailyPartitions(start="2024-01-01")


@backfill.asset(partitioned_by=DAYS)
def daily(context: Any) -> int:
    _log("backfill.log", f"{context.partition} {os.getpid()}")
    time.sleep(0.01)
    return context.partition.toordinal()


pools = fs.Pipeline("pools")


@pools.asset(pool="db", partitioned_by=fs.StaticPartitions([f"p{i}" for i in range(10)]))
def heavy(context: Any) -> None:
    start = time.time()
    time.sleep(0.3)
    _log("pools.log", f"{start} {time.time()} {os.getpid()}")


@pools.asset
def light(context: Any) -> None:
    return None


@pools.asset
def slow(context: Any) -> None:
    _log("slow.log", f"start {os.getpid()}")
    time.sleep(4.0)
    _log("slow.log", f"end {os.getpid()}")


def _twin(name: str) -> fs.Pipeline:
    """One of two pipelines sharing a store whose schedule, sensor and asset have the same
    names as its twin's."""
    p = fs.Pipeline(name)

    @p.asset
    def beat(context: Any) -> str:
        _log(f"{name}.log", context.run_id)
        return context.run_id

    p.schedule("every_second", asset="beat", cron="* * * * * *", catch_up="all")

    @p.sensor(name="every_other_second", interval=1.0, jitter=0.0)
    def keys(context: fs.SensorContext) -> fs.SensorResult:
        second = int(context.tick_time.timestamp())
        return fs.SensorResult(
            run_requests=[fs.RunRequest("beat", run_key=f"k{second // 2}")], cursor=str(second)
        )

    return p


twin_a = _twin("twin_a")
twin_b = _twin("twin_b")
