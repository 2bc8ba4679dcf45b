"""Family "flowstone": asset DAGs and a daily backfill, FlowStone vs Dagster vs plain Python.

- DAGs of 100 and 1,000 trivial assets (chain, diamond, layered; see ``_dags``), all
  materialized by one call (``materialize_all(sink)`` / Dagster's ``materialize(assets)``);
  the figure is wall time divided by the number of assets, after one warm-up run.
- A backfill of daily partitions of a two-asset chain: FlowStone's ``backfill(max_parallel=10)``
  against one Dagster ``materialize(partition_key=...)`` per partition (Dagster's backfills
  need its daemon; this is how a script backfills). Figure: wall time per partition.
- Lineage: ``lineage.upstream`` latency over the backfilled records (no Dagster equivalent).
- Peak RSS of each system's benchmark process (FlowStone and Dagster each run in a child).

FlowStone runs with storage "memory" + the memory I/O manager, and with SQLite + the "fs"
I/O manager (the like-for-like peer of a Dagster SQLite instance with its fs I/O manager).
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._dags import SHAPES, DagSpec, run_plain, trivial
from benchmarks._dagster import DagsterUnavailable, run_dagster
from benchmarks._flowstone_side import run_in_child
from benchmarks._options import Options
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value
from benchmarks._stats import now_ns, percentile

FS_MEM, FS_SQL = "FlowStone memory", "FlowStone SQLite"
DAG_SQL, DAG_EPH, PLAIN = "Dagster SQLite", "Dagster ephemeral", "plain Python"
BACKFILL_CHAIN = 2


def _specs(options: Options) -> list[DagSpec]:
    sizes = (100,) if options.quick else (100, 1_000)
    return [make(size) for size in sizes for make in SHAPES.values()]


def _reps(spec: DagSpec, options: Options) -> int:
    return options.pick(2, 5) if spec.size <= 100 else options.pick(1, 3)


def _dagster_runs(spec: DagSpec, options: Options) -> bool:
    """Dagster takes ~50 ms per asset: one 1,000-asset shape unless --exhaustive."""
    return spec.size <= 100 or options.exhaustive or spec.shape == "layered"


def _backfill_job(count: int, samples: int) -> dict[str, Any]:
    return {
        "task": "backfill",
        "count": count,
        "chain": BACKFILL_CHAIN,
        "max_parallel": 10,
        "lineage_samples": samples,
    }


class _Answers:
    """Turns one child's answer (FlowStone or Dagster side) into table values by job key."""

    def __init__(self, keys: list[str], answer: dict[str, Any] | None, error: str = "") -> None:
        self._by_key: dict[str, dict[str, Any]] = {}
        self.error = error or (answer or {}).get("error", "")
        self.peak_rss = (answer or {}).get("peak_rss_mib")
        self.version: str | None = None
        for key, result in zip(keys, (answer or {}).get("results", []), strict=False):
            self._by_key[key] = result

    def per_unit(self, key: str, units: int, missing: str = "not run") -> Value:
        """Median seconds of job ``key`` divided by ``units``, in microseconds."""
        if self.error:
            return Value.missing(self.error)
        result = self._by_key.get(key)
        if result is None:
            return Value.missing(missing)
        if "error" in result:
            return Value.missing(result["error"])
        figure = statistics.median(result["seconds"]) / units * 1e6
        return Value(figure, note=result.get("note", ""))

    def lineage(self, key: str) -> Value:
        result = self._by_key.get(key, {})
        samples = result.get("lineage_us")
        if self.error or not samples:
            return Value.missing(self.error or result.get("error", "not measured"))
        return Value(statistics.median(samples), p99=percentile(samples, 99))

    def memory(self) -> Value:
        if self.error or self.peak_rss is None:
            return Value.missing(self.error or "not measured")
        return Value(float(self.peak_rss))


def _flowstone(storage: str, io_manager: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return run_in_child({"storage": storage, "io_manager": io_manager, "jobs": jobs})


def _dagster(kind: str, keys: list[str], jobs: list[dict[str, Any]]) -> _Answers:
    try:
        answer = run_dagster({"kind": kind}, jobs)
    except DagsterUnavailable as exc:
        return _Answers(keys, None, error=str(exc))
    answers = _Answers(keys, {"peak_rss_mib": answer.peak_rss_mib, "results": answer.results})
    answers.version = answer.version
    return answers


def _plain_dag(spec: DagSpec) -> Value:
    samples = []
    for _ in range(20):
        started = now_ns()
        run_plain(spec)
        samples.append(now_ns() - started)
    return Value(statistics.median(samples) / 1_000 / spec.size)


def _plain_backfill(count: int) -> Value:
    started = now_ns()
    for _ in range(count):
        value = trivial()
        for _ in range(BACKFILL_CHAIN - 1):
            value = trivial(value)
    return Value((now_ns() - started) / 1_000 / count)


def run(options: Options) -> FamilyResult:
    """Measure every system on the same DAGs and partitions; build the family's table."""
    specs = _specs(options)
    count = options.pick(60, 365)
    fs_jobs = [{"task": "dag", "spec": s.to_json(), "reps": _reps(s, options)} for s in specs]
    fs_jobs.append(_backfill_job(count, options.pick(100, 500)))
    fs_keys = [s.label for s in specs] + ["backfill"]
    dagster_specs = [s for s in specs if _dagster_runs(s, options)]
    dagster_jobs: list[dict[str, Any]] = [
        {"task": "dag", "label": s.label, "assets": s.to_json()["assets"], "reps": 1}
        for s in dagster_specs
    ]
    dagster_jobs.append({"task": "partitions", "count": count, "chain": BACKFILL_CHAIN})
    dagster_keys = [s.label for s in dagster_specs] + ["backfill"]

    answers = {
        FS_MEM: _Answers(fs_keys, _flowstone("memory", "memory", fs_jobs)),
        FS_SQL: _Answers(fs_keys, _flowstone("sqlite", "fs", fs_jobs)),
        DAG_SQL: _dagster("sqlite", dagster_keys, dagster_jobs),
        DAG_EPH: _dagster("ephemeral", dagster_keys, dagster_jobs),
    }
    return _table(options, specs, count, answers)


def _table(
    options: Options, specs: list[DagSpec], count: int, answers: dict[str, _Answers]
) -> FamilyResult:
    dagster_ratio = Ratio(DAG_SQL, FS_SQL)
    result = FamilyResult(
        name="flowstone",
        title="flowstone: asset DAGs and a daily backfill, FlowStone vs Dagster vs plain Python",
        systems=[FS_MEM, FS_SQL, DAG_SQL, DAG_EPH, PLAIN],
        ratios=[dagster_ratio, Ratio(DAG_EPH, FS_MEM)],
    )
    target = Target(FS_SQL, ">=", 100, ratio=dagster_ratio, text=">= 100× less than Dagster SQLite")
    not_run = "not run (--exhaustive)"
    for spec in specs:
        values = {name: a.per_unit(spec.label, spec.size, not_run) for name, a in answers.items()}
        values[PLAIN] = _plain_dag(spec)
        result.add(Row(f"DAG {spec.label}: per asset", "µs", "lower", values, target))
    values = {name: a.per_unit("backfill", count) for name, a in answers.items()}
    values[PLAIN] = _plain_backfill(count)
    metric = f"daily backfill {count} × {BACKFILL_CHAIN} assets: per partition"
    result.add(Row(metric, "µs", "lower", values, target))
    no_lineage = Value.missing("no lineage query")
    lineage = {name: answers[name].lineage("backfill") for name in (FS_MEM, FS_SQL)}
    lineage |= {DAG_SQL: no_lineage, DAG_EPH: no_lineage}
    result.add(Row(f"lineage.upstream over {count} partitions (median)", "µs", "lower", lineage))
    memory = {name: a.memory() for name, a in answers.items()}
    result.add(Row("peak RSS of the benchmark process", "MiB", "lower", memory))
    version = answers[DAG_SQL].version
    result.notes += [
        f"Dagster {version or '(not run)'}: in-process executor, fs I/O manager, one"
        " materialize() per DAG and per partition; 1,000-asset DAGs: layered only unless"
        " --exhaustive",
        "FlowStone memory = memory store + memory I/O manager; SQLite = SQLite store + fs I/O"
        " manager; backfill max_parallel=10; each system runs in its own child process",
    ]
    if options.quick:
        result.notes.append("quick mode: 100-asset DAGs only, fewer partitions and repetitions")
    return result
