"""Telemetry measurements in a child process: one backfill under one telemetry setting.

``python -m benchmarks._telemetry_side`` reads one JSON request on stdin and prints one JSON
answer on stdout::

    {"setting": "none" | "off" | "noop" | "otlp", "endpoint": "http://...",
     "count": 5000, "chain": 2, "max_parallel": 10, "storage": "sqlite" | "memory"}
    -> {"seconds": 12.3, "cpu_seconds": 10.1, "spans": 20000} or {"error": "..."}

Settings: "none" is the engine without any hook (its no-op default); "off" is a runtime's
default when no OTEL_* variable is set (run logs captured, no spans, no metrics); "noop"
records every span and metric with the SDK and exports them to an exporter that drops them;
"otlp" exports over OTLP/HTTP to ``endpoint`` (the ``_otlp_sink`` process).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._assets import daily_chain_pipeline, days


class _CountingDrop:
    """A span exporter that drops what it is given (and counts it)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _noop_telemetry(fs: Any) -> tuple[Any, _CountingDrop]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        InMemoryMetricReader,
    )
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    drop = _CountingDrop()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(drop))  # type: ignore[arg-type]
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return fs.Telemetry(tracer_provider, meter_provider), drop


def _telemetry(fs: Any, request: dict[str, Any]) -> tuple[Any, Any]:
    setting = request["setting"]
    if setting == "noop":
        return _noop_telemetry(fs)
    if setting == "otlp":
        environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": request["endpoint"]}
        if "sampler" in request:
            environ["OTEL_TRACES_SAMPLER"] = request["sampler"]
            environ["OTEL_TRACES_SAMPLER_ARG"] = request["sampler_arg"]
        return fs.Telemetry.from_environment(environ), None
    if setting == "none":
        from flowstone.engine._instrumentation import NoInstrumentation

        class NoHook(NoInstrumentation):
            def close(self) -> None:
                pass

        telemetry = fs.Telemetry(capture_logs=False)
        telemetry.instrument = lambda storage: NoHook()  # type: ignore[method-assign]
        return telemetry, None
    return fs.Telemetry.from_environment({}), None


def measure(request: dict[str, Any]) -> dict[str, Any]:
    import flowstone as fs

    telemetry, drop = _telemetry(fs, request)
    chain = request.get("chain", 2)
    pipeline, last = daily_chain_pipeline(
        fs, chain, "memory" if request["storage"] == "memory" else "fs"
    )
    with tempfile.TemporaryDirectory() as workdir:
        storage = (
            "memory" if request["storage"] == "memory" else f"sqlite:///{Path(workdir) / 'fs.db'}"
        )
        runtime = fs.Runtime(pipeline, storage=storage, base_dir=workdir, telemetry=telemetry)
        try:
            parallel = request.get("max_parallel", 10)
            runtime.backfill(last, days(2023, 20), max_parallel=parallel)  # warm-up
            started, cpu = time.perf_counter(), _cpu_seconds()
            result = runtime.backfill(last, days(2024, request["count"]), max_parallel=parallel)
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        finally:
            runtime.close()
            telemetry.shutdown()
    answer: dict[str, Any] = {"seconds": seconds, "cpu_seconds": cpu}
    if result.failed:
        answer["error"] = f"{len(result.failed)} partitions failed"
    if drop is not None:
        answer["spans"] = drop.spans  # exported by the time the backfill ended
    return answer


def measure_hooks(request: dict[str, Any]) -> dict[str, Any]:
    """The engine's hooks alone, called as a two-step run calls them, ``count`` runs: the
    CPU cost of a setting without the engine's own work around it."""
    import asyncio

    import flowstone as fs
    from flowstone.engine._node import Node
    from flowstone.engine._planning import Plan, RunSpec
    from flowstone.partitions import PartitionKey
    from flowstone.storage import MemoryStorage

    telemetry, _drop = _telemetry(fs, request)
    hooks = telemetry.instrument(MemoryStorage())
    key = PartitionKey("2024-01-01", "2024-01-01")

    class Step:  # what the attempt hook reads of a job
        def __init__(self, run_id: str, asset: str) -> None:
            self.run_id, self.node, self.tenant = run_id, Node(asset, key), None
            self.asset = pipeline.get(asset)

    pipeline, _last = daily_chain_pipeline(fs, 2, "memory")

    async def runs(count: int) -> None:
        for i in range(count):
            spec = RunSpec(f"r{i}", "backfill", ("p1",), Plan(), "bench", partition="2024-01-01")
            async with hooks.run(spec) as run:
                for asset in ("p0", "p1"):
                    with hooks.attempt(Step(spec.run_id, asset), 1) as attempt:
                        if asset == "p1":
                            with hooks.io("load", "p0", key.encoded, spec.run_id):
                                pass
                        with hooks.io("store", asset, key.encoded, spec.run_id):
                            pass
                        attempt.finish("succeeded")
                run.finish("succeeded")

    asyncio.run(runs(200))  # warm-up
    started = _cpu_seconds()
    asyncio.run(runs(request["count"]))
    cpu = _cpu_seconds() - started
    hooks.close()
    telemetry.shutdown()
    return {"seconds": cpu, "cpu_seconds": cpu}


def _cpu_seconds() -> float:
    """CPU time of this process, every thread (the exporters' too), user and system."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        answer = measure_hooks(request) if request.get("task") == "hooks" else measure(request)
    except Exception as exc:  # reported to the parent, which shows it in the table
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
