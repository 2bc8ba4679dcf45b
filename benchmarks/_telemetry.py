"""Family "telemetry": what tracing, metrics and run-log capture cost a 10,000-step backfill.

A daily backfill of a two-asset chain (5,000 partitions × 2 = 10,000 steps; 1,000 × 2 with
--quick), max_parallel=10, on the SQLite store with the fs I/O manager, each setting in its
own child process (``_telemetry_side``), settings alternated round by round so that a noisy
neighbour hurts them alike:

- no hook: the engine with its no-op instrumentation (what FlowStone costs without the wing);
- off: a runtime's default without OTEL_* variables (run logs captured, no spans, no metrics);
- no-op exporter: every span and metric recorded by the SDK, exported to an exporter that
  drops them;
- OTLP: exported over OTLP/HTTP to a local endpoint in another process (``_otlp_sink``);
- OTLP 10 %: the same with ``parentbased_traceidratio`` sampling at 0.1.

A second measurement calls the engine's hooks alone, as a two-step run calls them (20,000
runs, no engine, no storage): what each setting costs per step, free of the backfill's noise.

The steps do no work of their own, so every figure is the worst case: a step that computes
for 10 ms pays the same absolute cost, a far smaller share.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._options import Options
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value

NONE, OFF, NOOP, OTLP, SAMPLED = "no hook", "off", "no-op exporter", "OTLP", "OTLP 10 %"
SETTINGS = {NONE: "none", OFF: "off", NOOP: "noop", OTLP: "otlp", SAMPLED: "otlp"}
CHAIN = 2
HOOK_RUNS = 20_000
TARGET = Target(OTLP, "<=", 1.05, ratio=Ratio(OTLP, OFF), text="OTLP / off <= 1.05")
CPU_TARGET = Target(OTLP, "<=", 1.05, ratio=Ratio(OTLP, OFF), text="OTLP / off <= 1.05")


def _child(request: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, Any]:
    import os

    env = {**os.environ, **(environ or {})}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._telemetry_side"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    try:
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        answer = {"error": (done.stderr.strip().splitlines() or ["no answer"])[-1]}
    return answer


Samples = dict[str, list[float] | str]


def _measure(
    count: int, rounds: int, endpoint: str, task: str = "backfill"
) -> tuple[Samples, Samples]:
    found: Samples = {name: [] for name in SETTINGS}
    cpu: Samples = {name: [] for name in SETTINGS}
    names = list(SETTINGS)
    for round_number in range(rounds):
        # The order rotates from round to round: no setting always runs first.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            setting = SETTINGS[name]
            request: dict[str, Any] = {"setting": setting, "count": count, "chain": CHAIN}
            request |= {"storage": "sqlite", "task": task}
            request["endpoint"] = endpoint
            if name == SAMPLED:
                request["sampler"] = "parentbased_traceidratio"
                request["sampler_arg"] = "0.1"
            answer = _child(request)
            kept, kept_cpu = found[name], cpu[name]
            if "error" in answer:
                found[name] = cpu[name] = str(answer["error"])
            elif isinstance(kept, list) and isinstance(kept_cpu, list):
                kept.append(float(answer["seconds"]))
                kept_cpu.append(float(answer["cpu_seconds"]))
    return found, cpu


def _values(samples: Samples, steps: int) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for name, seconds in samples.items():
        if isinstance(seconds, str):
            values[name] = Value.missing(seconds)
        else:
            per_step = [s * 1e6 / steps for s in seconds]
            spread = f"{min(per_step):,.0f}-{max(per_step):,.0f}" if len(per_step) > 1 else ""
            values[name] = Value(statistics.median(per_step), note=spread)
    return values


def run(options: Options) -> FamilyResult:
    """Measure each setting on the same backfill; per-step time and ratios to "off"."""
    count = options.pick(1_000, 5_000)
    rounds = options.pick(1, 3)
    sink = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._otlp_sink"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sink.stdout is not None
        assert sink.stdin is not None
        endpoint = sink.stdout.readline().strip()
        found, cpu = _measure(count, rounds, endpoint)
        _, hooks = _measure(HOOK_RUNS, rounds, endpoint, task="hooks")
    finally:
        if sink.stdin is not None:
            sink.stdin.close()
        sink.wait(timeout=10)
    steps = count * CHAIN
    result = FamilyResult(
        name="telemetry",
        title=f"telemetry: a {steps:,}-step backfill under each telemetry setting",
        systems=list(SETTINGS),
        ratios=[Ratio(OFF, NONE), Ratio(NOOP, OFF), Ratio(OTLP, OFF), Ratio(SAMPLED, OFF)],
    )
    metric = f"backfill {count:,} × {CHAIN} assets (SQLite, fs): wall time per step"
    result.add(Row(metric, "µs", "lower", _values(found, steps), TARGET))
    metric = f"backfill {count:,} × {CHAIN} assets (SQLite, fs): CPU time per step"
    result.add(Row(metric, "µs", "lower", _values(cpu, steps), CPU_TARGET))
    metric = "the engine's hooks alone (a two-step run, no engine): CPU time per step"
    result.add(Row(metric, "µs", "lower", _values(hooks, HOOK_RUNS * CHAIN)))
    result.notes += [
        f"median of {rounds} round(s) (the range in parentheses); settings alternate within"
        " each round; each runs in its own child process",
        "CPU time is the benchmark process's, every thread (exporters included), user and"
        " system: it moves less than wall time when other work shares the machine",
        "steps do no work: the figures are the per-step cost of telemetry at its worst",
    ]
    return result
