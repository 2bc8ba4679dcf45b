"""Telemetry never fails or blocks a run: collectors down, refusing or slow; OpenTelemetry
itself raising; run logs that cannot be stored."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

import flowstone as fs
from flowstone.storage import RunLogLine
from tests.flowstone.telemetry.conftest import two_steps
from tests.flowstone.telemetry.otlp_receiver import closed_port, receiver

DAYS = [f"2025-01-{day:02d}" for day in range(1, 21)]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"):
        monkeypatch.delenv(name, raising=False)


async def backfill_succeeds(make_runtime: Any) -> None:
    rt: fs.AsyncRuntime = make_runtime(two_steps())
    assert rt.telemetry.tracing
    assert rt.telemetry.metrics
    result = await rt.backfill("clean", DAYS)
    assert (len(result.succeeded), len(result.failed)) == (20, 0)
    runs = await rt.runs(limit=100)
    assert {r.status for r in runs} == {"succeeded"}
    await rt.close()


async def test_a_collector_refusing_connections_leaves_every_run_succeeded(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens at the endpoint: exports fail on the SDK's thread, runs do not."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    await backfill_succeeds(make_runtime)


async def test_a_collector_answering_errors_leaves_every_run_succeeded(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector that answers 503 (overloaded) to everything."""
    with receiver(status=503) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
        await backfill_succeeds(make_runtime)
        assert collector.paths()  # it was asked, and refused


async def test_a_slow_collector_leaves_every_run_succeeded(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector taking half a second per request."""
    with receiver(delay=0.5) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        await backfill_succeeds(make_runtime)


class Exploding(SpanProcessor):
    """A span processor that raises at every step."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        raise RuntimeError("processor exploded on start")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor exploded on end")


class ExplodingInstrument:
    def add(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("instrument exploded")

    record = add


class ExplodingMeter:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: ExplodingInstrument()


class ExplodingMeterProvider:
    def get_meter(self, *args: Any, **kwargs: Any) -> ExplodingMeter:
        return ExplodingMeter()


async def test_opentelemetry_raising_never_reaches_asset_code_or_the_run(
    make_runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Span processors and instruments that raise: the run succeeds, a warning is logged."""
    provider = TracerProvider()
    provider.add_span_processor(Exploding())
    telemetry = fs.Telemetry(provider, ExplodingMeterProvider())  # type: ignore[arg-type]
    rt: fs.AsyncRuntime = make_runtime(two_steps(), telemetry=telemetry)
    with caplog.at_level(logging.WARNING, logger="flowstone.telemetry"):
        result = await rt.backfill("clean", DAYS[:3])
    assert (len(result.succeeded), len(result.failed)) == (3, 0)
    assert any("runs are not affected" in r.getMessage() for r in caplog.records)


async def test_run_logs_that_cannot_be_stored_do_not_fail_the_run(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store refusing the log lines costs the lines, not the run."""
    rt: fs.AsyncRuntime = make_runtime(two_steps(), telemetry=fs.Telemetry())

    async def refuse(lines: Any) -> None:
        raise fs.StorageError("run_logs is read-only here")

    monkeypatch.setattr(rt.storage, "append_run_logs", refuse)
    result = await rt.materialize_all("clean", "2025-01-02")
    assert result.success
    lines: list[RunLogLine] = await rt.logs(result.run_id)
    assert lines == []
