"""Dagster measurements, run by ``benchmarks/.venv-dagster/bin/python`` (never our venv).

Reads one JSON request on stdin and prints one JSON document on stdout::

    {"instance": {"kind": "ephemeral" | "sqlite" | "postgres", "url": "postgresql://..."},
     "jobs": [{"task": "dag", "label": "chain 100", "assets": [["a0", []], ...], "reps": 3},
              {"task": "partitions", "count": 365, "chain": 1, "work": 0,
               "start": "2024-01-01"}]}

    -> {"dagster_version": "...", "peak_rss_mib": 120.5,
        "results": [{"seconds": [...]} | {"error": "..."}, ...]}

"seconds" holds one wall time per repetition (for "partitions", one total; the time of each
partition is in "per_partition").

"dag" materializes every asset of the DAG with one ``materialize()`` call per repetition
(in-process executor, the default fs I/O manager); "partitions" materializes a chain of
``chain`` daily-partitioned assets once per partition key, as a Dagster user backfilling
without a daemon would. This file imports nothing from FlowStone.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster


def _instance(spec: dict[str, Any], workdir: Path) -> dagster.DagsterInstance:
    kind = spec["kind"]
    if kind == "ephemeral":
        return dagster.DagsterInstance.ephemeral(tempdir=str(workdir))
    config = "telemetry:\n  enabled: false\n"
    if kind == "postgres":
        config += f"storage:\n  postgres:\n    postgres_url: {spec['url']}\n"
    elif kind != "sqlite":
        raise ValueError(f"unknown instance kind {kind!r}; expected ephemeral, sqlite, postgres")
    (workdir / "dagster.yaml").write_text(config)
    return dagster.DagsterInstance.from_config(str(workdir))


def _asset(name: str, deps: list[str], work: int = 0, **options: Any) -> Any:
    """Build an asset whose parameters name its upstream assets, as Dagster infers inputs."""
    params = ", ".join(["context", *deps])
    body = f"sum(range({work}))\n    return 1" if work else "return 1"
    namespace: dict[str, Any] = {}
    exec(f"def {name}({params}):\n    {body}\n", namespace)  # a fixed template
    return dagster.asset(name=name, **options)(namespace[name])


def _dag(job: dict[str, Any], instance: dagster.DagsterInstance) -> dict[str, Any]:
    assets = [_asset(name, deps) for name, deps in job["assets"]]
    seconds = []
    for _ in range(job.get("reps", 1)):
        started = time.perf_counter()
        dagster.materialize(assets, instance=instance)
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds}


def _partitions(job: dict[str, Any], instance: dagster.DagsterInstance) -> dict[str, Any]:
    daily = dagster.DailyPartitionsDefinition(start_date=job.get("start", "2024-01-01"))
    names = [f"p{i}" for i in range(job.get("chain", 1))]
    assets = [
        _asset(name, names[:i][-1:], job.get("work", 0), partitions_def=daily)
        for i, name in enumerate(names)
    ]
    keys = daily.get_partition_keys()[: job["count"]]
    each = []
    for key in keys:
        started = time.perf_counter()
        dagster.materialize(assets, instance=instance, partition_key=key)
        each.append(time.perf_counter() - started)
    return {"seconds": [sum(each)], "per_partition": each}


TASKS = {"dag": _dag, "partitions": _partitions}


def _warm_up(instance: dagster.DagsterInstance) -> None:
    """Pay the one-off costs (imports, first plan, schema) outside the measurements."""
    warm = [_asset("w0", []), _asset("w1", ["w0"]), _asset("w2", ["w1"])]
    dagster.materialize(warm, instance=instance)


def _peak_rss_mib() -> float:
    """``VmHWM`` (reset by exec, unlike ``ru_maxrss``, which keeps the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    request = json.load(sys.stdin)
    results: list[dict[str, Any]] = []
    # Anything Dagster prints must not corrupt the JSON answer: stdout is ours alone.
    answer, sys.stdout = sys.stdout, sys.stderr
    with tempfile.TemporaryDirectory(prefix="bench-dagster-") as tmp:
        os.environ.setdefault("DAGSTER_HOME", tmp)
        instance = _instance(request["instance"], Path(tmp))
        with instance:
            _warm_up(instance)
            for job in request["jobs"]:
                try:
                    results.append(TASKS[job["task"]](job, instance))
                except Exception as exc:  # one failed job must not hide others
                    results.append({"error": f"{type(exc).__name__}: {exc}"})
    peak = _peak_rss_mib()
    json.dump(
        {"dagster_version": dagster.__version__, "peak_rss_mib": peak, "results": results},
        answer,
    )


if __name__ == "__main__":
    main()
