"""Fixtures for telemetry tests: SDK providers with in-memory exporters, small pipelines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import flowstone as fs


@dataclass
class Observed:
    """A ``fs.Telemetry`` whose spans and metrics stay in memory for inspection."""

    telemetry: fs.Telemetry
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, in the order they ended (only those called ``name``)."""
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``."""
        [found] = self.spans(name)
        return found

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> [(attributes, value or count)] of every data point."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = [
                        (dict(p.attributes or {}), getattr(p, "value", getattr(p, "count", None)))
                        for p in metric.data.data_points
                    ]
        return found


@pytest.fixture
def observed() -> Iterator[Observed]:
    """Telemetry with an in-memory span exporter and metric reader."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Observed(fs.Telemetry(tracer_provider, meter_provider), exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
async def make_runtime(tmp_path: Path) -> AsyncIterator[Callable[..., fs.AsyncRuntime]]:
    """Factory of AsyncRuntimes on the memory store and memory I/O managers; closed after."""
    made: list[fs.AsyncRuntime] = []

    def make(pipeline: fs.Pipeline, **kwargs: Any) -> fs.AsyncRuntime:
        kwargs.setdefault("storage", "memory")
        kwargs.setdefault("base_dir", tmp_path / ".flowstone")
        kwargs.setdefault("io_managers", {"fs": fs.io.MemoryIOManager()})
        rt = fs.AsyncRuntime(pipeline, **kwargs)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


def two_steps(*, fail_clean: bool = False) -> fs.Pipeline:
    """raw -> clean, daily; ``clean`` logs and may fail."""
    p = fs.Pipeline("two_steps")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @p.asset(partitioned_by=days)
    def raw(context: Any) -> list[int]:
        context.log.info("raw for %s", context.partition_key)
        return [1, 2, 3]

    @p.asset(depends_on=["raw"], partitioned_by=days)
    def clean(context: Any, raw: list[int]) -> int:
        context.log.info("cleaning %d rows", len(raw))
        if fail_clean:
            raise ValueError("bad rows")
        return sum(raw)

    return p
