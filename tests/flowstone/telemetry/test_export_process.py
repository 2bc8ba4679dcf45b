"""OTLP export from a child process (``FLOWSTONE_OTEL_EXPORT_PROCESS``): the same spans on
the wire as the in-process exporter, and never harmful (refused, dead, stuck, orphaned)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceState

import flowstone as fs
from flowstone.errors import ConfigurationError
from flowstone.telemetry._export_process import RESTART_SECONDS, ProcessSpanExporter
from tests.flowstone.telemetry.conftest import two_steps
from tests.flowstone.telemetry.otlp_receiver import Receiver, closed_port, receiver

DAYS = [f"2025-01-{day:02d}" for day in range(1, 11)]
EXIT_SECONDS = 20.0
"""How long a test waits for an export process to go (it goes within ~6 s)."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"):
        monkeypatch.delenv(name, raising=False)


def wire(collector: Receiver) -> dict[bytes, bytes]:
    """Every span received, serialized, by span id."""
    return {span.span_id: span.SerializeToString() for span in collector.spans()}


def resources_and_scopes(collector: Receiver) -> set[tuple[bytes, bytes]]:
    return {
        (resource.resource.SerializeToString(), scope.scope.SerializeToString())
        for request in collector.traces()
        for resource in request.resource_spans
        for scope in resource.scope_spans
    }


def flaky_pipeline() -> fs.Pipeline:
    """``raw`` -> ``clean`` whose first attempt fails (error status, exception event)."""
    p = two_steps()
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @p.asset(
        depends_on=["clean"],
        partitioned_by=days,
        retry=fs.RetryPolicy(max_retries=1, delay=0.0, jitter=0.0),
    )
    def report(context: Any, clean: int) -> int:
        if context.attempt == 1:
            raise ConnectionError("first try")
        return clean

    return p


async def test_the_export_process_sends_the_same_spans_as_the_in_process_exporter(
    make_runtime: Any,
) -> None:
    """One provider, two exporters, two receivers: byte for byte the same spans (ids,
    parents, attributes, events, links, status), resource and scope."""
    with receiver() as direct, receiver() as aside:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{direct.url}/v1/traces")))
        exporter = ProcessSpanExporter("http/protobuf", f"{aside.url}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        rt: fs.AsyncRuntime = make_runtime(flaky_pipeline(), telemetry=fs.Telemetry(provider))
        result = await rt.backfill("report", DAYS[:3])
        assert len(result.succeeded) == 3
        await rt.close()
        # A span with what the engine's spans lack: a kind, a trace state, link attributes.
        tracer = provider.get_tracer("other", "2.0", schema_url="https://example.com/s")
        state = TraceState([("vendor", "value")])
        with tracer.start_as_current_span("outer", kind=SpanKind.SERVER) as outer:
            context = outer.get_span_context()
            linked = type(context)(context.trace_id, context.span_id, False, 1, state)
            with tracer.start_as_current_span("inner", links=[Link(linked, {"why": "test"})]):
                trace_span = tracer.start_span("ended", attributes={"list": ("a", "b")})
                trace_span.add_event("happened", {"n": 3, "ratio": 0.5, "ok": True})
                trace_span.set_status(Status(StatusCode.ERROR, "broken"))
                trace_span.end()
        provider.shutdown()  # flushes both, stops the export process

        sent = wire(direct)
        # 3 runs, 4 attempts each (report's first fails), commits, and the 3 spans above
        assert len(sent) >= 3 + 3 * 4 + 1 + 3
        assert wire(aside) == sent
        assert resources_and_scopes(aside) == resources_and_scopes(direct)
        names = {span.name for span in aside.spans()}
        assert {"flowstone.run", "flowstone.materialize", "flowstone.lineage.commit"} <= names
        assert exporter.dropped == 0
        assert exporter.pid is None or not alive(exporter.pid)


async def test_the_environment_variable_turns_it_on_and_close_flushes(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``FLOWSTONE_OTEL_EXPORT_PROCESS=true``: a runtime's close sends every span, and the
    export process is gone afterwards."""
    with receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("FLOWSTONE_OTEL_EXPORT_PROCESS", "true")
        rt: fs.AsyncRuntime = make_runtime(two_steps())
        exporter = export_process_of(rt.telemetry)
        result = await rt.backfill("clean", DAYS)
        assert len(result.succeeded) == 10
        await rt.close()
        names = [span.name for span in collector.spans()]
        assert names.count("flowstone.run") == 10
        assert names.count("flowstone.materialize") == 20
        assert exporter.pid is not None
        assert not alive(exporter.pid)


def test_a_bad_value_of_the_variable_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="FLOWSTONE_OTEL_EXPORT_PROCESS='yes please'"):
        fs.Telemetry.from_environment(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                "FLOWSTONE_OTEL_EXPORT_PROCESS": "yes please",
            }
        )


async def test_a_collector_refusing_connections_leaves_every_run_succeeded(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.setenv("FLOWSTONE_OTEL_EXPORT_PROCESS", "true")
    rt: fs.AsyncRuntime = make_runtime(two_steps())
    exporter = export_process_of(rt.telemetry)
    result = await rt.backfill("clean", DAYS)
    assert (len(result.succeeded), len(result.failed)) == (10, 0)
    assert {r.status for r in await rt.runs(limit=100)} == {"succeeded"}
    await rt.close()  # bounded: the process is killed if it cannot finish in time
    assert exporter.pid is not None
    assert not alive(exporter.pid)


async def test_a_dead_export_process_is_survived_and_started_again(
    make_runtime: Any,
) -> None:
    """The export process is killed between runs: the next batch is dropped and counted,
    runs succeed, and once the restart interval has passed a new process takes over."""
    now = [0.0]
    with receiver() as collector:
        exporter = ProcessSpanExporter(
            "http/protobuf", f"{collector.url}/v1/traces", clock=lambda: now[0]
        )
        provider = TracerProvider()
        processor = BatchSpanProcessor(exporter)
        provider.add_span_processor(processor)
        rt: fs.AsyncRuntime = make_runtime(two_steps(), telemetry=fs.Telemetry(provider))
        first = exporter.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_gone(first)

        result = await rt.backfill("clean", DAYS[:3])
        assert len(result.succeeded) == 3
        processor.force_flush()
        assert exporter.dropped > 0  # sent while the process was dead, within the interval
        assert exporter.pid is None

        now[0] += RESTART_SECONDS
        result = await rt.backfill("clean", DAYS[3:6])
        assert len(result.succeeded) == 3
        await rt.close()
        provider.shutdown()
        second = exporter.pid
        assert second is not None
        assert second != first
        runs = [s for s in collector.spans() if s.name == "flowstone.run"]
        assert len(runs) == 3  # the second backfill's, through the new process


def test_a_stuck_export_process_costs_dropped_spans_not_a_blocked_exporter() -> None:
    """A stopped process reads nothing: once the pipe is full, a batch waits at most the
    write timeout and is dropped (a message partly written is finished first, never torn);
    no exception reaches the caller, and the process, continued, still exports."""
    with receiver() as collector:
        exporter = ProcessSpanExporter(
            "http/protobuf", f"{collector.url}/v1/traces", write_timeout=0.05
        )
        provider = TracerProvider()
        tracer = provider.get_tracer("test")
        spans = []
        for number in range(512):
            span = tracer.start_span("big", attributes={"payload": "x" * 200, "n": number})
            span.end()
            spans.append(span)
        pid = exporter.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            results = [exporter.export(spans) for _ in range(50)]  # ~10 MB: the pipe fills
        finally:
            os.kill(pid, signal.SIGCONT)
        assert results[0] is SpanExportResult.SUCCESS
        assert SpanExportResult.FAILURE in results
        sent = results.count(SpanExportResult.SUCCESS)
        assert exporter.dropped == 512 * (50 - sent)
        assert exporter.force_flush(30_000)
        assert exporter.pid == pid  # the same process: the stream was never torn
        exporter.shutdown()
        assert len(collector.spans()) == 512 * sent


def test_a_forked_process_exports_through_an_export_process_of_its_own() -> None:
    """After ``os.fork`` both processes export, each through its own export process
    (two writers on one pipe would interleave their messages)."""
    with receiver() as collector:
        script = textwrap.dedent(
            f"""
            import os
            from opentelemetry.sdk.trace import TracerProvider
            from flowstone.telemetry._export_process import ProcessSpanExporter
            exporter = ProcessSpanExporter("http/protobuf", "{collector.url}/v1/traces")
            tracer = TracerProvider().get_tracer("test")

            def send(name):
                span = tracer.start_span(name)
                span.end()
                assert exporter.export([span]).name == "SUCCESS"

            send("before the fork")
            first = exporter.pid
            forked = os.fork()
            if forked == 0:
                send("in the forked process")
                assert exporter.pid != first
                exporter.shutdown()
                os._exit(0)
            assert os.waitpid(forked, 0)[1] == 0
            send("in the parent, after")
            assert exporter.pid == first
            exporter.shutdown()
            """
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        names = sorted(span.name for span in collector.spans())
        assert names == ["before the fork", "in the forked process", "in the parent, after"]


@pytest.mark.parametrize("pipe_held", [False, True])
def test_the_export_process_goes_when_its_parent_is_killed(pipe_held: bool) -> None:
    """``kill -9`` of the process that started it: the export process exits (end of file
    on its pipe; or, when a forked child keeps the pipe open, its parent's id changes)."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from flowstone.telemetry._export_process import ProcessSpanExporter
        exporter = ProcessSpanExporter("http/protobuf", "http://127.0.0.1:{closed_port()}")
        held = 0
        if {pipe_held!r}:
            held = os.fork()
            if held == 0:  # keeps the pipe to the export process open
                time.sleep(60)
                os._exit(0)
        print(exporter.pid, held, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert parent.stdout is not None
    child, held = (int(word) for word in parent.stdout.readline().split())
    try:
        assert alive(child)
        parent.kill()
        parent.wait()
        wait_gone(child)
    finally:
        parent.stdout.close()
        for pid in (child, held):
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- helpers --------------------------------------------------------------------------------


def export_process_of(telemetry: fs.Telemetry) -> ProcessSpanExporter:
    """The export process exporter a telemetry built from the environment uses."""
    provider = telemetry.tracer_provider
    assert isinstance(provider, TracerProvider)
    found = [
        processor.span_exporter  # type: ignore[attr-defined]
        for processor in processors(provider)
        if isinstance(getattr(processor, "span_exporter", None), ProcessSpanExporter)
    ]
    assert len(found) == 1
    return found[0]  # type: ignore[no-any-return]


def processors(provider: TracerProvider) -> Iterator[Any]:
    yield from provider._active_span_processor._span_processors  # test-only introspection


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int) -> None:
    """Wait (at most ``EXIT_SECONDS``) for ``pid`` to exit; fail if it does not."""
    deadline = time.monotonic() + EXIT_SECONDS
    while alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} still runs {EXIT_SECONDS} s later")
        time.sleep(0.05)
