"""FlowStone on Ray and raw Ray, paired on one Ray cluster, in a child process.

``python -m benchmarks._ray_side`` reads one JSON request on stdin and prints one JSON answer::

    {"count": 200, "rounds": 5, "chain": 3, "work": 200000, "max_parallel": 10, "warmup": 10}

    -> {"ray_init_s": 4.1,
        "rounds": [{"flowstone": 2.1, "raw_files": 1.7, "raw_store": 1.5}, ...]}
      or {"error": "..."}

One local Ray cluster serves all three systems (FlowStone uses a Ray session that is already
initialised), so they run on the same warm worker pool with the same cluster options, and
each round runs the three back to back, in an order that rotates from round to round. On a
small shared machine the speed changes from one second to the next; measuring the systems
seconds apart, many times, is what makes their ratio worth reading. Every FlowStone round
backfills partitions no earlier round made, and every raw round writes into a fresh
directory, so every round does all of its work.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._assets import PARTITION_START, daily_chain_pipeline
from benchmarks._ray import (
    init_local_ray,
    persisting_step_function,
    raw_backfill,
    step_function,
)

SYSTEMS = ("raw_files", "flowstone", "raw_store")


def _dates(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


def measure(request: dict[str, Any]) -> dict[str, Any]:
    import ray

    import flowstone as fs
    from flowstone.engine._ray import LOCAL_CLUSTER_OPTIONS

    count, rounds, warmup = request["count"], request["rounds"], request["warmup"]
    chain, work, max_parallel = request["chain"], request["work"], request["max_parallel"]
    started = time.perf_counter()
    init_local_ray(ray, **LOCAL_CLUSTER_OPTIONS)
    ray_init = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ray-side-") as tmp:
            workdir = Path(tmp)
            pipeline, last = daily_chain_pipeline(fs, chain, "fs", work=work, executor="ray")
            runtime = fs.Runtime(
                pipeline, storage=f"sqlite:///{workdir / 'fs.db'}", base_dir=str(workdir / "fs")
            )
            in_store, in_files = step_function(ray), persisting_step_function(ray)
            # Explicit keys from the pipeline's first day; its partitions have no end,
            # so later rounds may pass today.
            first = PARTITION_START

            def flowstone(index: int, partitions: int) -> None:
                days = _dates(first + dt.timedelta(days=index * partitions), partitions)
                result = runtime.backfill(last, days, max_parallel=max_parallel)
                if len(result.succeeded) != partitions:
                    raise RuntimeError(f"FlowStone backfill: {result.errors}")

            def raw_files(index: int, partitions: int) -> None:
                base = str(workdir / "raw" / str(index))
                raw_backfill(ray, in_files, partitions, work, max_parallel, chain, base)

            def raw_store(index: int, partitions: int) -> None:
                raw_backfill(ray, in_store, partitions, work, max_parallel, chain)

            runs = {"raw_files": raw_files, "flowstone": flowstone, "raw_store": raw_store}
            try:
                for name in SYSTEMS:  # worker start-up, imports, the bundle's export
                    runs[name](0, warmup)
                measured: list[dict[str, float]] = []
                for index in range(rounds):
                    shift = index % len(SYSTEMS)
                    seconds: dict[str, float] = {}
                    for name in SYSTEMS[shift:] + SYSTEMS[:shift]:
                        # Write back the files earlier runs left dirty, so that the kernel
                        # does not do it in this run's time.
                        os.sync()
                        started = time.perf_counter()
                        runs[name](index + 1, count)
                        seconds[name] = time.perf_counter() - started
                    measured.append(seconds)
            finally:
                runtime.close()
    finally:
        ray.shutdown()
    return {"ray_init_s": ray_init, "rounds": measured}


def main() -> None:
    request = json.load(sys.stdin)
    # Progress bars or prints from the engine must not corrupt the JSON answer.
    answer, sys.stdout = sys.stdout, sys.stderr
    try:
        result = measure(request)
    except Exception as exc:  # reported to the parent, which prints it in the table
        result = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(result, answer)
    answer.flush()
    os._exit(0)  # Ray's threads can hold a clean exit up for seconds


if __name__ == "__main__":
    main()
