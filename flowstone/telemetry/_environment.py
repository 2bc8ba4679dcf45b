"""The standard ``OTEL_*`` environment, read into OpenTelemetry SDK providers.

Internal, not part of the public API. Every variable is read from the mapping given (the
process environment by default), never behind the caller's back, so what a test sets is
what is honoured. The rules (docs/observability.md):

- ``OTEL_SDK_DISABLED=true``: nothing is exported, whatever else is set.
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: comma-separated ``otlp``,
  ``console``, ``none``. Unset, a signal is exported over OTLP only when an OTLP endpoint is
  configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or the signal's own endpoint): FlowStone stays
  silent, rather than sending to a collector nobody started (the spec's "otlp" default).
- ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL``: ``http/protobuf`` (the default) or
  ``grpc`` (needs ``opentelemetry-exporter-otlp-proto-grpc``).
- ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT``: the collector; headers, timeout and
  certificates are read by the exporter itself.
- ``OTEL_SERVICE_NAME`` (default ``flowstone``), ``OTEL_RESOURCE_ATTRIBUTES``.
- ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``: the six standard samplers.
- ``OTEL_PROPAGATORS``: propagators by entry-point name (``tracecontext,baggage`` default).
- ``FLOWSTONE_OTEL_IO_SPAN_MIN_MS``: FlowStone's own: loads and stores shorter than this get
  no span of their own (default 1; 0: every one gets its span).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace import sampling as samplers
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from flowstone.errors import ConfigurationError
from flowstone.telemetry._spans import IO_SPAN_MIN_MS

EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_PROPAGATORS = "tracecontext,baggage"
_PATHS = {"TRACES": "v1/traces", "METRICS": "v1/metrics"}
IO_SPAN_VARIABLE = "FLOWSTONE_OTEL_IO_SPAN_MIN_MS"


@dataclass(frozen=True)
class Providers:
    """What the environment asks for: providers it built (None: that signal is off)."""

    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None


def disabled(environ: Mapping[str, str]) -> bool:
    """True when ``OTEL_SDK_DISABLED`` says so (``true``, any case)."""
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def providers_from(environ: Mapping[str, str]) -> Providers:
    """Build the providers ``environ`` configures (none when telemetry is off)."""
    if disabled(environ):
        return Providers(None, None)
    traces = exporter_names(environ, "TRACES")
    metrics = exporter_names(environ, "METRICS")
    if not traces and not metrics:
        return Providers(None, None)
    resource = resource_from(environ)
    tracer_provider = None
    if traces:
        tracer_provider = TracerProvider(
            sampler=sampler_from(environ), resource=resource, shutdown_on_exit=False
        )
        for name in traces:
            exporter = _span_exporter(name, environ)
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    meter_provider = None
    if metrics:
        readers = [
            PeriodicExportingMetricReader(_metric_exporter(name, environ)) for name in metrics
        ]
        meter_provider = MeterProvider(
            metric_readers=readers, resource=resource, shutdown_on_exit=False
        )
    return Providers(tracer_provider, meter_provider)


def exporter_names(environ: Mapping[str, str], signal: str) -> list[str]:
    """The exporters ``OTEL_<signal>_EXPORTER`` names (see the module doc for unset)."""
    variable = f"OTEL_{signal}_EXPORTER"
    value = environ.get(variable)
    if value is None or not value.strip():
        return ["otlp"] if _endpoint_configured(environ, signal) else []
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise ConfigurationError(
            f"{variable}={value!r} names unknown exporter(s) {', '.join(map(repr, unknown))}; "
            f"FlowStone supports {', '.join(EXPORTERS)} (comma-separated)"
        )
    return [name for name in dict.fromkeys(names) if name != "none"]


def _endpoint_configured(environ: Mapping[str, str], signal: str) -> bool:
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def resource_from(environ: Mapping[str, str]) -> Resource:
    """The resource: ``OTEL_RESOURCE_ATTRIBUTES``, then ``OTEL_SERVICE_NAME`` (default
    ``flowstone``)."""
    attributes: dict[str, Any] = {}
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = value.strip()
    service = environ.get("OTEL_SERVICE_NAME", "").strip()
    if service:
        attributes["service.name"] = service
    attributes.setdefault("service.name", "flowstone")
    return Resource.create(attributes)


def sampler_from(environ: Mapping[str, str]) -> samplers.Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` (and its ``_ARG``) name; parent-based always-on
    by default, as the SDK's."""
    name = environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    ratio = _ratio(environ.get("OTEL_TRACES_SAMPLER_ARG"))
    choices: dict[str, samplers.Sampler] = {
        "always_on": samplers.ALWAYS_ON,
        "always_off": samplers.ALWAYS_OFF,
        "traceidratio": samplers.TraceIdRatioBased(ratio),
        "parentbased_always_on": samplers.ParentBased(samplers.ALWAYS_ON),
        "parentbased_always_off": samplers.ParentBased(samplers.ALWAYS_OFF),
        "parentbased_traceidratio": samplers.ParentBased(samplers.TraceIdRatioBased(ratio)),
    }
    if name not in choices:
        raise ConfigurationError(
            f"OTEL_TRACES_SAMPLER={name!r} is not a sampler FlowStone knows; use one of "
            f"{', '.join(choices)}"
        )
    return choices[name]


def _ratio(text: str | None) -> float:
    if text is None or not text.strip():
        return 1.0
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigurationError(
            f"OTEL_TRACES_SAMPLER_ARG={text!r} must be a ratio between 0 and 1 (e.g. 0.25)"
        )
    return ratio


def io_span_min_ms(given: float | None, environ: Mapping[str, str]) -> float:
    """The I/O span threshold: ``given``, else ``FLOWSTONE_OTEL_IO_SPAN_MIN_MS``, else the
    default; a number of milliseconds >= 0."""
    where = "io_span_min_ms"
    value: object = given
    if given is None:
        text = environ.get(IO_SPAN_VARIABLE, "").strip()
        if not text:
            return IO_SPAN_MIN_MS
        where = IO_SPAN_VARIABLE
        try:
            value = float(text)
        except ValueError:
            value = text
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigurationError(
            f"{where}={value!r} must be a number of milliseconds >= 0 (e.g. 1; 0 gives every "
            f"I/O load and store its span)"
        )
    return float(value)


def propagator_from(environ: Mapping[str, str]) -> TextMapPropagator:
    """The propagators ``OTEL_PROPAGATORS`` names, composed (``none``: none at all)."""
    value = environ.get("OTEL_PROPAGATORS", DEFAULT_PROPAGATORS)
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    found: list[TextMapPropagator] = []
    for name in dict.fromkeys(names):
        if name == "none":
            continue
        candidates = list(entry_points(group="opentelemetry_propagator", name=name))
        if not candidates:
            available = sorted(e.name for e in entry_points(group="opentelemetry_propagator"))
            raise ConfigurationError(
                f"OTEL_PROPAGATORS names {name!r}, which no installed package provides; "
                f"available: {', '.join(available)}, or none"
            )
        found.append(candidates[0].load()())
    return CompositePropagator(found)


def _protocol(environ: Mapping[str, str], signal: str) -> str:
    value = (
        environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if value not in PROTOCOLS:
        raise ConfigurationError(
            f"OTLP protocol {value!r} is not supported; set OTEL_EXPORTER_OTLP_PROTOCOL to "
            f"{' or '.join(PROTOCOLS)}"
        )
    return value


def _endpoint(environ: Mapping[str, str], signal: str) -> str | None:
    """The signal's endpoint, as the OTLP/HTTP exporter would read it from ``environ``."""
    own = environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    if own:
        return own
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return f"{base.rstrip('/')}/{_PATHS[signal]}"
    return None


def _span_exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stdout)  # today's stdout, not import time's
    if _protocol(environ, "TRACES") == "grpc":
        module = _grpc_module("trace_exporter")
        grpc_exporter: SpanExporter = module.OTLPSpanExporter(
            endpoint=environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        )
        return grpc_exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=_endpoint(environ, "TRACES"))


def _metric_exporter(name: str, environ: Mapping[str, str]) -> MetricExporter:
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=sys.stdout)
    if _protocol(environ, "METRICS") == "grpc":
        module = _grpc_module("metric_exporter")
        grpc_exporter: MetricExporter = module.OTLPMetricExporter(
            endpoint=environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        )
        return grpc_exporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=_endpoint(environ, "METRICS"))


def _grpc_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"opentelemetry.exporter.otlp.proto.grpc.{name}")
    except ImportError as exc:
        raise ConfigurationError(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: "
            "pip install opentelemetry-exporter-otlp-proto-grpc (or use http/protobuf)"
        ) from exc
