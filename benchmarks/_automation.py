"""Family "automation": the run queue and daemons (docs/automation.md).

- queue throughput: runs claimed, executed and recorded per second with 1, 2 and 3 daemon
  processes on PostgreSQL (a backfill of one-node runs submitted in one transaction), next
  to Dagster's backfill daemon, which enqueues about 1 run/s (dagster-io/dagster#28998; not
  measured here: the figure is the issue's);
- tick lag and tick-to-run-start latency: many sensors, each requesting one run per
  evaluation, on SQLite and PostgreSQL: from the sensor's slot time to the commit of the
  run it requested, and to that run's start (p50, p99);
- idle RSS of a daemon process with 100 assets, 10 schedules and 10 sensors (dagster-daemon
  is not run here: it needs a Dagster instance with a code server).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._options import Options
from benchmarks._postgres import throwaway_database
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value
from benchmarks._stats import median, percentile

FS, DAGSTER = "FlowStone daemons", "Dagster daemon"
ROOT = Path(__file__).resolve().parents[1]
FAST = ("poll_interval=0.05", "heartbeat=1", "lease=10")


def _start(spec: str, storage: str, base: Path, *options: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "benchmarks._automation_side", spec, storage, str(base)]
    proc = subprocess.Popen(
        [*args, *FAST, *options], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    if not proc.stdout.readline().startswith("READY"):
        raise RuntimeError(f"the daemon for {spec} did not start")
    return proc


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


async def _runs(url: str) -> list[Any]:
    from flowstone.storage import open_storage

    storage = open_storage(url)
    await storage.open()
    try:
        return await storage.list_runs(limit=1_000_000)
    finally:
        await storage.close()


async def _tick_rows(url: str) -> list[Any]:
    """Every tick row of the store."""
    from flowstone.automation import open_automation_store
    from flowstone.storage import open_storage

    storage = open_storage(url)
    await storage.open()
    store = open_automation_store(storage)
    await store.open()
    try:
        return await store.ticks(None, None, 1_000_000)
    finally:
        await store.close()
        await storage.close()


def _wait_all(url: str, count: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        runs = asyncio.run(_runs(url))
        done = [r for r in runs if r.status in ("succeeded", "failed")]
        if len(done) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.05)


def _throughput(daemons: int, runs: int) -> Value:
    import flowstone as fs
    from benchmarks._automation_side import queue_pipeline

    with throwaway_database("fs_bench_queue") as url, tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        with fs.Runtime(queue_pipeline(), storage=url, base_dir=base):
            pass  # migrate before the daemons race to
        procs = [_start("queue", url, base, "max_runs=8") for _ in range(daemons)]
        try:
            days = [dt.date(2000, 1, 1) + dt.timedelta(days=i) for i in range(runs)]
            with fs.Runtime(queue_pipeline(), storage=url, base_dir=base) as rt:
                started = time.perf_counter()
                rt.submit_backfill("tiny", days)
            finished = _wait_all(url, runs, timeout=300)
            seconds = time.perf_counter() - started
        finally:
            _stop(procs)
    done = sum(1 for r in finished if r.status == "succeeded")
    return Value(done / seconds, note=f"{done} runs in {seconds:.1f} s")


def _latency(storage: str, sensors: int, interval: float, base: Path) -> tuple[Value, Value]:
    """(slot -> run created, slot -> run started) in ms, p50 and p99."""
    proc = _start(f"sensors:{sensors}:{interval}", storage, base, "max_runs=16")
    # A sensor's first evaluation is of the slot already under way when the daemon started
    # (up to one interval old): count only slots that began after the start.
    ready = dt.datetime.now(dt.UTC)
    try:
        time.sleep(interval * 2.5)
    finally:
        _stop([proc])
    runs = asyncio.run(_runs(storage))
    ticks = [t for t in asyncio.run(_tick_rows(storage)) if t.tick_at >= ready and t.run_ids]
    slot_of = {run_id: t.tick_at for t in ticks for run_id in t.run_ids}
    created = [(t.updated_at - t.tick_at).total_seconds() for t in ticks]
    started = [
        (run.started_at - slot_of[run.run_id]).total_seconds()
        for run in runs
        if run.status == "succeeded" and run.run_id in slot_of
    ]
    return _ms(created, "ticks"), _ms(started, "runs")


def _ms(seconds: list[float], what: str) -> Value:
    if not seconds:
        return Value.missing(f"no {what}")
    ms = sorted(s * 1000 for s in seconds)
    return Value(median(ms), p99=percentile(ms, 99), note=f"{len(ms)} {what}, ms")


def _idle_rss(url: str, base: Path) -> Value:
    proc = _start("idle:100", url, base)
    try:
        time.sleep(5)
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as status:
            line = next(x for x in status if x.startswith("VmRSS:"))
        return Value(int(line.split()[1]) / 1024, note="100 assets, 10 schedules, 10 sensors")
    finally:
        _stop([proc])


def run(options: Options) -> FamilyResult:
    """Measure the family (see the module docstring)."""
    ratio = Ratio(DAGSTER, FS)
    result = FamilyResult(
        name="automation",
        title="Run queue and daemons (PostgreSQL unless noted)",
        systems=[FS, DAGSTER],
        ratios=[ratio],
    )
    runs = options.pick(100, 300)
    dagster = Value(1.0, note="dagster#28998 (~1 run/s), not measured here")
    for count in (1, 2, 3):
        target = None
        peer = Value.missing("single daemon only")
        if count == 1:
            target, peer = Target(FS, ">=", 10, text=">= 10 runs/s (Dagster: ~1)"), dagster
        values = {FS: _throughput(count, runs), DAGSTER: peer}
        metric = f"queue throughput, {count} daemon(s), {runs} runs"
        result.add(Row(metric, "runs/s", "higher", values, target))
    sensors, interval = options.pick(200, 1000), options.pick(10, 30)
    label = f"tick-to-run-start, {sensors} sensors at {interval} s"
    tick_label = f"tick lag (slot to run created), {sensors} sensors at {interval} s"
    unmeasured = Value.missing("not measured")
    for store in ("SQLite", "PostgreSQL"):
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = f"sqlite:///{tmp / 'fs.db'}"
            if store == "PostgreSQL":
                url = stack.enter_context(throwaway_database("fs_bench_sensors"))
            created, started = _latency(url, sensors, interval, tmp)
        lag_target = Target(FS, "<=", 2000, text="p50 < 2 s (p99 shown)")
        tick_row = Row(f"{tick_label}, {store}", "ms", "lower", {FS: created, DAGSTER: unmeasured})
        tick_row.target = lag_target if store == "SQLite" else None
        result.add(tick_row)
        result.add(Row(f"{label}, {store}", "ms", "lower", {FS: started, DAGSTER: unmeasured}))
    with tempfile.TemporaryDirectory() as tmp:
        rss = _idle_rss(f"sqlite:///{Path(tmp) / 'fs.db'}", Path(tmp))
    result.add(Row("daemon idle RSS", "MiB", "lower",
                   {FS: rss, DAGSTER: Value.missing("dagster-daemon not run here")}))  # fmt: skip
    result.notes.append(
        "Throughput is end to end: claim (lease), resume, record, mark done; each run is one "
        "node. Latency runs include the run queue wait when all executor slots are busy."
    )
    return result
