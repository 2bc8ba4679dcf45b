"""FlowStone measurements in a child process, so its peak RSS is FlowStone's alone.

``python -m benchmarks._flowstone_side`` reads one JSON request on stdin and prints one JSON
answer on stdout, the same protocol as the Dagster side::

    {"storage": "memory" | "sqlite" | "postgresql://...", "io_manager": "memory" | "fs",
     "jobs": [{"task": "dag", "spec": {"label": ..., "assets": [[name, [deps]], ...]},
               "reps": 3},
              {"task": "backfill", "count": 365, "chain": 2, "max_parallel": 10,
               "executor": "local", "work": 0, "lineage_samples": 200},
              {"task": "lineage", "count": 365, "chain": 2, "lineage_samples": 200},
              {"task": "events", "single": 500, "concurrent": 5000, "callers": 64}]}

    -> {"peak_rss_mib": 80.1, "results": [{"seconds": [...], ...} | {"error": "..."}]}
      or {"error": "engine not available: ..."} when flowstone cannot run at all.

Every job gets a fresh Runtime (and, for SQLite, a fresh database in a temporary directory);
"lineage" only queries records already in a shared storage (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._assets import (
    dag_pipeline,
    daily_chain_pipeline,
    days,
    runtime_with_fallback,
)
from benchmarks._dags import SINK, DagSpec
from benchmarks._stats import peak_rss_mib


def _storage_url(storage: str, workdir: Path) -> str:
    return f"sqlite:///{workdir / 'fs.db'}" if storage == "sqlite" else storage


def _spec(data: dict[str, Any]) -> DagSpec:
    label = data["label"]
    assets = tuple((name, tuple(deps)) for name, deps in data["assets"])
    return DagSpec(label.split()[0], assets)


def _dag(fs: Any, request: dict[str, Any], job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    spec = _spec(job["spec"])
    runtime, style = runtime_with_fallback(
        fs,
        lambda style: dag_pipeline(fs, spec, request["io_manager"], style),
        storage=_storage_url(request["storage"], workdir),
        base_dir=str(workdir),
    )
    try:
        runtime.materialize_all(SINK)  # warm-up: first plan, schema, thread pool
        seconds = []
        for _ in range(job.get("reps", 1)):
            started = time.perf_counter()
            runtime.materialize_all(SINK)
            seconds.append(time.perf_counter() - started)
    finally:
        runtime.close()
    return {"seconds": seconds, "style": style}


def _backfill(
    fs: Any, request: dict[str, Any], job: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    chain, work, executor = job.get("chain", 2), job.get("work", 0), job.get("executor", "local")
    last = f"p{chain - 1}"
    runtime, style = runtime_with_fallback(
        fs,
        lambda style: daily_chain_pipeline(
            fs, chain, request["io_manager"], work=work, executor=executor, style=style
        )[0],
        storage=_storage_url(request["storage"], workdir),
        base_dir=str(workdir),
    )
    measured = days(2024, job["count"])
    try:
        runtime.backfill(last, days(2023, 10), max_parallel=job.get("max_parallel", 10))
        started = time.perf_counter()
        result = runtime.backfill(last, measured, max_parallel=job.get("max_parallel", 10))
        seconds = time.perf_counter() - started
        answer: dict[str, Any] = {"seconds": [seconds], "style": style}
        if len(result.succeeded) != len(measured) or result.failed:
            answer["note"] = f"{len(result.succeeded)} succeeded, {len(result.failed)} failed"
        answer["lineage_us"] = _lineage(runtime, last, measured, job.get("lineage_samples", 0))
    finally:
        runtime.close()
    return answer


def _lineage_only(
    fs: Any, request: dict[str, Any], job: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    """Query lineage over records an earlier backfill (and the caller) left in the storage."""
    chain = job.get("chain", 2)
    runtime, style = runtime_with_fallback(
        fs,
        lambda style: daily_chain_pipeline(fs, chain, request["io_manager"], style=style)[0],
        storage=_storage_url(request["storage"], workdir),
        base_dir=str(workdir),
    )
    try:
        partitions = days(2024, job["count"])
        latencies = _lineage(runtime, f"p{chain - 1}", partitions, job["lineage_samples"])
    finally:
        runtime.close()
    return {"seconds": [], "style": style, "lineage_us": latencies}


def _lineage(runtime: Any, asset: str, partitions: list[Any], samples: int) -> list[float]:
    """Latency of ``lineage.upstream`` for random recorded partitions, in microseconds."""
    chooser = random.Random(7)
    for partition in partitions[: min(10, samples)]:  # warm-up: connections, caches
        runtime.lineage.upstream(asset, partition)
    latencies = []
    for _ in range(samples):
        partition = chooser.choice(partitions)
        started = time.perf_counter_ns()
        runtime.lineage.upstream(asset, partition)
        latencies.append((time.perf_counter_ns() - started) / 1_000)
    return latencies


def _events(fs: Any, request: dict[str, Any], job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Records per second through the lineage actor, one caller vs many concurrent callers.

    One caller waits for each record to be durable before sending the next, so every record
    is its own transaction (no group commit); many concurrent callers let the actor gather
    whatever arrived during the previous transaction into the next one (group commit).
    """
    return asyncio.run(_events_async(request["storage"], job, workdir))


async def _events_async(storage_url: str, job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    import actors
    from flowstone.storage import MaterializationRecord, open_storage

    writer_module = importlib.import_module("flowstone.engine._lineage_writer")
    writer_class, message = writer_module.LineageWriter, writer_module.Record
    moment = dt.datetime.now(dt.UTC)
    run_id = f"bench-events-{random.getrandbits(32):08x}"

    def record(key: str) -> Any:
        return MaterializationRecord(
            id=MaterializationRecord.make_id(run_id, "bench_events", key, 1),
            run_id=run_id,
            asset="bench_events",
            partition=key,
            attempt=1,
            status="succeeded",
            started_at=moment,
            finished_at=moment,
            triggered_by="benchmarks",
        )

    async with open_storage(_storage_url(storage_url, workdir), base_dir=workdir) as storage:
        writer = await actors.spawn(writer_class, storage)
        try:
            single, many = job["single"], job["concurrent"]
            started = time.perf_counter()
            for i in range(single):
                await writer.call(message(record(f"s{i}")), timeout=60)
            one_by_one = single / (time.perf_counter() - started)

            async def caller(index: int, count: int) -> None:
                for i in range(count):
                    await writer.call(message(record(f"c{index}-{i}")), timeout=60)

            callers = job.get("callers", 64)
            started = time.perf_counter()
            await asyncio.gather(*(caller(k, many // callers) for k in range(callers)))
            grouped = (many // callers * callers) / (time.perf_counter() - started)
        finally:
            await writer.stop()
    return {"seconds": [], "events_single": one_by_one, "events_grouped": grouped}


TASKS = {"dag": _dag, "backfill": _backfill, "lineage": _lineage_only, "events": _events}


def measure(request: dict[str, Any]) -> dict[str, Any]:
    """Run every job of ``request``; a failing job is reported and the next one runs."""
    try:
        fs: Any = importlib.import_module("flowstone")
        fs.Runtime  # noqa: B018 - the engine may not be written yet
    except Exception as exc:  # report why the engine cannot run
        return {"error": f"engine not available: {type(exc).__name__}: {exc}"}
    results: list[dict[str, Any]] = []
    for job in request["jobs"]:
        with tempfile.TemporaryDirectory(prefix="bench-flowstone-") as tmp:
            try:
                results.append(TASKS[job["task"]](fs, request, job, Path(tmp)))
            except Exception as exc:  # one failed job must not hide others
                results.append({"error": f"{type(exc).__name__}: {exc}"})
    return {"peak_rss_mib": peak_rss_mib(), "results": results}


def run_in_child(
    request: dict[str, Any], timeout: float = 1800.0, module: str = "benchmarks._flowstone_side"
) -> dict[str, Any]:
    """Run ``request`` in a fresh interpreter of this venv (``python -m module``, this one
    by default); failures become ``{"error"}``."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", module],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the FlowStone run took longer than {timeout:.0f} s"}
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"the FlowStone process exited {done.returncode}: {tail}"}
    try:
        answer: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        return {"error": f"the FlowStone process printed no JSON: {exc}"}
    return answer


def main() -> None:
    request = json.load(sys.stdin)
    # Progress bars or prints from the engine must not corrupt the JSON answer.
    answer, sys.stdout = sys.stdout, sys.stderr
    json.dump(measure(request), answer)


if __name__ == "__main__":
    main()
