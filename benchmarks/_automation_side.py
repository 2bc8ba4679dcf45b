"""A daemon process for the automation benchmarks.

``python -m benchmarks._automation_side PIPELINE STORAGE BASE_DIR [name=value ...]``:
PIPELINE is ``queue`` (one daily asset, for queue throughput), ``sensors:N:INTERVAL`` (N
sensors each requesting one run per evaluation) or ``idle:N`` (N assets, N/10 schedules and
sensors that never fire); name=value pairs are DaemonConfig fields. Prints READY (then its
RSS on "rss" lines every second) until SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import flowstone as fs


def queue_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("bench_queue")

    @p.asset(partitioned_by=fs.DailyPartitions(start="2000-01-01"))
    def tiny(context: Any) -> int:
        return 1

    return p


def sensors_pipeline(count: int, interval: float) -> fs.Pipeline:
    p = fs.Pipeline("bench_sensors")

    @p.asset(partitioned_by=fs.StaticPartitions([f"s{i}" for i in range(count)]))
    def fired(context: Any) -> int:
        return 1

    for i in range(count):

        def evaluate(context: fs.SensorContext, key: str = f"s{i}") -> fs.SensorResult:
            slot = context.tick_time.isoformat()
            request = fs.RunRequest("fired", partition=key, run_key=slot)
            return fs.SensorResult(run_requests=[request])

        p.sensor(interval=interval, name=f"sensor_{i}", jitter=0.9)(evaluate)
    return p


def idle_pipeline(count: int) -> fs.Pipeline:
    p = fs.Pipeline("bench_idle")
    for i in range(count):
        deps = [f"asset_{i - 1}"] if i else []
        p.asset(name=f"asset_{i}", depends_on=deps)(lambda context, **inputs: 1)
    for i in range(max(1, count // 10)):
        p.schedule(f"yearly_{i}", asset=f"asset_{i}", cron="0 0 1 1 *")

        def never(context: fs.SensorContext) -> None:
            return None

        p.sensor(interval=30, name=f"quiet_{i}")(never)
    return p


def _pipeline(spec: str) -> fs.Pipeline:
    kind, *args = spec.split(":")
    if kind == "queue":
        return queue_pipeline()
    if kind == "sensors":
        return sensors_pipeline(int(args[0]), float(args[1]))
    return idle_pipeline(int(args[0]))


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    spec, storage, base_dir, *pairs = sys.argv[1:]
    options = {k: _value(v) for k, _, v in (p.partition("=") for p in pairs)}
    daemon = fs.Daemon(_pipeline(spec), storage, base_dir=base_dir, **options)

    async def serve() -> None:
        task = asyncio.create_task(daemon.serve(handle_signals=True))
        while daemon.ctx is None and not task.done():  # noqa: ASYNC110 - set by serve()
            await asyncio.sleep(0.01)
        print("READY", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
