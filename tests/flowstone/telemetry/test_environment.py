"""The standard OTEL_* environment is honoured (read from the mapping given, or os.environ)."""

from __future__ import annotations

from typing import Any

import pytest

import flowstone as fs
from flowstone.telemetry._environment import propagator_from, sampler_from
from tests.flowstone.telemetry.conftest import two_steps
from tests.flowstone.telemetry.otlp_receiver import attributes, receiver

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "FLOWSTONE_OTEL_IO_SPAN_MIN_MS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* variable of the machine leaks into a test."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


async def run_pipeline(make_runtime: Any, **kwargs: Any) -> fs.AsyncRuntime:
    """Materialize two steps with telemetry=None (the environment), then close."""
    rt: fs.AsyncRuntime = make_runtime(two_steps(), **kwargs)
    await rt.materialize_all("clean", "2025-01-02")
    await rt.close()  # flushes what the environment's exporters queued
    return rt


def test_without_any_variable_telemetry_is_off_and_logs_are_captured() -> None:
    """The default exports nothing (no collector is assumed) but keeps run logs."""
    telemetry = fs.Telemetry.from_environment({})
    assert (telemetry.tracing, telemetry.metrics, telemetry.capture_logs) == (False, False, True)
    assert repr(telemetry) == "<Telemetry tracing=off metrics=off logs=on>"


async def test_an_otlp_endpoint_turns_on_traces_and_metrics_over_http(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT alone: both signals go there, with OTEL_SERVICE_NAME
    (and FLOWSTONE_OTEL_IO_SPAN_MIN_MS=0: every load and store has its span)."""
    with receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("FLOWSTONE_OTEL_IO_SPAN_MIN_MS", "0")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "nightly-etl")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        await run_pipeline(make_runtime)

        assert set(collector.paths()) == {"/v1/traces", "/v1/metrics"}
        [request, *_] = collector.traces()
        resource = attributes(request.resource_spans[0].resource)
        assert resource["service.name"] == "nightly-etl"
        assert resource["deployment.environment"] == "test"
        names = sorted(span.name for span in collector.spans())
        assert names == [
            "flowstone.io.load",
            "flowstone.io.store",
            "flowstone.io.store",
            "flowstone.lineage.commit",
            "flowstone.lineage.commit",
            "flowstone.materialize",
            "flowstone.materialize",
            "flowstone.run",
        ]
        assert "flowstone.materializations" in collector.metric_names()


async def test_a_signal_endpoint_is_used_as_it_is(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL (nothing appended); metrics off."""
    with receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector.url}/custom/path")
        await run_pipeline(make_runtime)
        assert set(collector.paths()) == {"/custom/path"}


async def test_exporter_none_turns_a_signal_off(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_TRACES_EXPORTER=none with an endpoint: metrics only."""
    with receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        rt = await run_pipeline(make_runtime)
        assert set(collector.paths()) == {"/v1/metrics"}
        assert rt.telemetry.tracing is False


async def test_sdk_disabled_wins_over_everything(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_SDK_DISABLED=true: nothing is sent, and no trace context is stored."""
    with receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_SDK_DISABLED", "TRUE")
        rt = await run_pipeline(make_runtime)
        assert collector.paths() == []
        assert (rt.telemetry.tracing, rt.telemetry.metrics) == (False, False)


async def test_the_console_exporter_prints_spans(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """OTEL_TRACES_EXPORTER=console writes each span as JSON on stdout."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    await run_pipeline(make_runtime)
    out = capfd.readouterr().out
    assert '"name": "flowstone.run"' in out
    assert '"flowstone.asset": "clean"' in out


async def test_a_sampler_that_samples_nothing_sends_no_spans(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_TRACES_SAMPLER=traceidratio with ratio 0: metrics still go, spans do not."""
    with receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
        await run_pipeline(make_runtime)
        assert collector.spans() == []
        assert "flowstone.materializations" in collector.metric_names()


def test_every_standard_sampler_is_known() -> None:
    """The six samplers of the specification, with their argument."""
    descriptions = {
        name: sampler_from(
            {"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": "0.25"}
        ).get_description()
        for name in (
            "always_on",
            "always_off",
            "traceidratio",
            "parentbased_always_on",
            "parentbased_always_off",
            "parentbased_traceidratio",
        )
    }
    assert descriptions["always_on"] == "AlwaysOnSampler"
    assert descriptions["traceidratio"] == "TraceIdRatioBased{0.25}"
    assert descriptions["parentbased_traceidratio"].startswith(
        "ParentBased{root:TraceIdRatioBased{0.25}"
    )


async def test_propagators_none_keeps_no_trace_context_on_the_run(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_PROPAGATORS=none: spans are made, but nothing writes a context to carry."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_PROPAGATORS", "none")
    rt: fs.AsyncRuntime = make_runtime(two_steps())
    result = await rt.materialize_all("clean", "2025-01-02")
    record = await rt.storage.get_run(result.run_id)
    assert record is not None
    assert record.metadata == {}


def test_propagators_are_composed_in_the_order_given() -> None:
    """OTEL_PROPAGATORS=baggage,tracecontext writes both headers."""
    propagator = propagator_from({"OTEL_PROPAGATORS": "baggage,tracecontext"})
    assert propagator.fields == {"baggage", "traceparent", "tracestate"}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"OTEL_TRACES_EXPORTER": "jaeger"},
            r"^OTEL_TRACES_EXPORTER='jaeger' names unknown exporter\(s\) 'jaeger'; FlowStone "
            r"supports otlp, console, none \(comma-separated\)$",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"},
            r"^OTEL_TRACES_SAMPLER='sometimes' is not a sampler FlowStone knows; use one of "
            r"always_on, always_off, traceidratio, parentbased_always_on",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER_ARG": "2"},
            r"^OTEL_TRACES_SAMPLER_ARG='2' must be a ratio between 0 and 1 \(e.g. 0.25\)$",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            r"^OTLP protocol 'http/json' is not supported; set OTEL_EXPORTER_OTLP_PROTOCOL to "
            r"http/protobuf or grpc$",
        ),
        (
            {"FLOWSTONE_OTEL_IO_SPAN_MIN_MS": "fast"},
            r"^FLOWSTONE_OTEL_IO_SPAN_MIN_MS='fast' must be a number of milliseconds >= 0 "
            r"\(e.g. 1; 0 gives every I/O load and store its span\)$",
        ),
        (
            {"FLOWSTONE_OTEL_IO_SPAN_MIN_MS": "-1"},
            r"^FLOWSTONE_OTEL_IO_SPAN_MIN_MS=-1.0 must be a number of milliseconds >= 0",
        ),
        (
            {"OTEL_PROPAGATORS": "b3"},
            r"^OTEL_PROPAGATORS names 'b3', which no installed package provides; available: "
            r"baggage, tracecontext, or none$",
        ),
    ],
)
def test_a_bad_variable_is_a_configuration_error_that_says_what_to_use(
    variables: dict[str, str], message: str
) -> None:
    """Misconfiguration fails when the runtime is built, never during a run."""
    with pytest.raises(fs.ConfigurationError, match=message):
        fs.Telemetry.from_environment(variables)


def test_the_io_span_threshold_comes_from_the_argument_else_the_variable_else_1_ms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fs.Telemetry(io_span_min_ms=...) wins; FLOWSTONE_OTEL_IO_SPAN_MIN_MS is read from
    the mapping from_environment is given, or os.environ; a bad argument is refused."""
    assert fs.Telemetry().io_span_min_ms == 1.0
    assert fs.Telemetry.from_environment({}).io_span_min_ms == 1.0
    assert fs.Telemetry.from_environment({"FLOWSTONE_OTEL_IO_SPAN_MIN_MS": "0"}).io_span_min_ms == 0
    monkeypatch.setenv("FLOWSTONE_OTEL_IO_SPAN_MIN_MS", "25")
    assert fs.Telemetry().io_span_min_ms == 25.0
    assert fs.Telemetry(io_span_min_ms=0).io_span_min_ms == 0.0
    with pytest.raises(fs.ConfigurationError, match=r"^io_span_min_ms=-0.5 must be a number"):
        fs.Telemetry(io_span_min_ms=-0.5)


def test_grpc_without_its_exporter_says_what_to_install() -> None:
    """OTLP over gRPC needs a package FlowStone does not depend on."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the gRPC exporter is installed here")
    variables = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(
        fs.ConfigurationError, match="pip install opentelemetry-exporter-otlp-proto-grpc"
    ):
        fs.Telemetry.from_environment(variables)


def test_runtime_construction_refuses_a_bad_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fs.Runtime(telemetry=None) reads os.environ when it is built."""
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    with pytest.raises(fs.ConfigurationError, match="OTEL_METRICS_EXPORTER='prometheus'"):
        fs.AsyncRuntime(two_steps(), storage="memory")
