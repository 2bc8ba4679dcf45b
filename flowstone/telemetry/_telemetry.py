"""``fs.Telemetry``: where a runtime's traces and metrics go, and how its logs are kept."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, final

from opentelemetry.metrics import MeterProvider
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import TracerProvider

from flowstone.errors import ConfigurationError
from flowstone.telemetry import _environment
from flowstone.telemetry._run_logs import LINES_PER_RUN, flush_settings

if TYPE_CHECKING:
    from flowstone.storage import Storage
    from flowstone.telemetry._daemon_metrics import DaemonMetrics
    from flowstone.telemetry._instrumentation import TelemetryInstrumentation

SHUTDOWN_SECONDS = 5.0
"""How long ``shutdown`` waits for the exporters to send what is queued."""


@final
class Telemetry:
    """Where a runtime sends traces and metrics (OpenTelemetry), and its run-log capture.

    ``fs.Runtime(..., telemetry=None)`` reads the standard ``OTEL_*`` environment
    (``Telemetry.from_environment()``): off unless it configures an exporter. Pass providers
    you configured yourself to send FlowStone's spans and metrics where the rest of your
    application's go; FlowStone then never shuts them down.

    Args:
        tracer_provider: an OpenTelemetry ``TracerProvider`` (None: no spans).
        meter_provider: an OpenTelemetry ``MeterProvider`` (None: no metrics).
        propagators: the trace-context format handed to Ray workers and kept on run records,
            as ``OTEL_PROPAGATORS`` names it (default: that variable, else
            ``"tracecontext,baggage"``).
        capture_logs: keep each run's log lines (``flowstone logs RUN_ID``).
        log_lines_per_run: at most this many lines are kept per run, the oldest dropped
            first (a marker line says how many).
        log_level: the lowest level captured.
        log_flush_lines, log_flush_seconds: a running run's captured lines are stored in
            batches, once ``log_flush_lines`` lines wait or ``log_flush_seconds`` after the
            previous batch, whichever comes first (the rest when the run ends), so they can
            be read while it runs and outlive a killed process. Default:
            ``FLOWSTONE_LOG_FLUSH_LINES`` and ``FLOWSTONE_LOG_FLUSH_SECONDS``, else 1000
            lines and 1 second.
        io_span_min_ms: a load or store that takes less than this many milliseconds gets
            no span of its own, only its share of the attempt span's
            ``flowstone.io.load_ms`` / ``store_ms`` (a failed one always gets its span);
            0 gives every load and store its span. Default: ``FLOWSTONE_OTEL_IO_SPAN_MIN_MS``,
            else 1 ms (docs/observability.md says why).

    Raises:
        ConfigurationError: a propagator name no installed package provides, an
            ``io_span_min_ms`` (or its variable) that is not a number of milliseconds >= 0,
            or a log flush count or interval (or its variable) that is not positive.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        propagators: str | None = None,
        capture_logs: bool = True,
        log_lines_per_run: int = LINES_PER_RUN,
        log_level: int = logging.INFO,
        io_span_min_ms: float | None = None,
        log_flush_lines: int | None = None,
        log_flush_seconds: float | None = None,
    ) -> None:
        if log_lines_per_run < 1:
            raise ConfigurationError(
                f"log_lines_per_run must be at least 1, got {log_lines_per_run}; "
                f"use capture_logs=False to keep no lines"
            )
        if propagators is None:
            propagators = os.environ.get("OTEL_PROPAGATORS", _environment.DEFAULT_PROPAGATORS)
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.propagators = propagators
        self.propagator: TextMapPropagator = _environment.propagator_from(
            {"OTEL_PROPAGATORS": propagators}
        )
        self.capture_logs = capture_logs
        self.log_lines_per_run = log_lines_per_run
        self.log_level = log_level
        self.io_span_min_ms = _environment.io_span_min_ms(io_span_min_ms, os.environ)
        self.log_flush_lines, self.log_flush_seconds = flush_settings(
            log_flush_lines, log_flush_seconds, os.environ
        )
        self._owned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Telemetry:
        """Follow the ``OTEL_*`` variables of ``environ`` (default: the process's).

        See docs/observability.md for what each variable does; the providers built here
        belong to the returned object, and ``shutdown`` flushes and stops them.

        Raises:
            ConfigurationError: an unknown exporter, sampler, protocol or propagator.
        """
        env = os.environ if environ is None else environ
        providers = _environment.providers_from(env)
        telemetry = cls(
            providers.tracer_provider,
            providers.meter_provider,
            propagators=env.get("OTEL_PROPAGATORS", _environment.DEFAULT_PROPAGATORS),
            io_span_min_ms=_environment.io_span_min_ms(None, env),
        )
        telemetry.log_flush_lines, telemetry.log_flush_seconds = flush_settings(None, None, env)
        telemetry._owned = True
        return telemetry

    @property
    def tracing(self) -> bool:
        """True when spans are made."""
        return self.tracer_provider is not None

    @property
    def metrics(self) -> bool:
        """True when metrics are recorded."""
        return self.meter_provider is not None

    def instrument(self, storage: Storage) -> TelemetryInstrumentation:
        """Internal: the engine hook of one runtime (its logs go to ``storage``)."""
        from flowstone.telemetry._instrumentation import TelemetryInstrumentation

        return TelemetryInstrumentation(self, storage, _version())

    def daemon_metrics(self, pipeline: str) -> DaemonMetrics | None:
        """Internal: the metrics of a daemon of ``pipeline`` (None when metrics are off)."""
        if self.meter_provider is None:
            return None
        from flowstone.telemetry._daemon_metrics import DaemonMetrics

        return DaemonMetrics(self.meter_provider, pipeline, _version())

    def shutdown(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """Send what is queued and stop the providers ``from_environment`` built.

        Waits at most ``timeout`` seconds: a collector that is down or slow delays the
        caller by no more than that (what is not sent by then is dropped). Providers passed
        in are left alone: their owner shuts them down.
        """
        if not self._owned:
            return
        self._owned = False
        providers = [p for p in (self.tracer_provider, self.meter_provider) if p is not None]
        if providers:
            worker = threading.Thread(
                target=_shutdown, args=(providers, timeout), name="flowstone-otel-shutdown"
            )
            worker.daemon = True  # a stuck exporter must not keep the process alive
            worker.start()
            worker.join(timeout)

    def __repr__(self) -> str:
        parts = [
            f"tracing={'on' if self.tracing else 'off'}",
            f"metrics={'on' if self.metrics else 'off'}",
            f"logs={'on' if self.capture_logs else 'off'}",
        ]
        return f"<Telemetry {' '.join(parts)}>"


def _shutdown(providers: list[Any], timeout: float) -> None:
    millis = int(timeout * 1000)
    for provider in providers:
        try:
            provider.force_flush(millis)
            provider.shutdown()
        except Exception:  # the exporter's own failure: nothing more to send
            logging.getLogger("flowstone.telemetry").debug("shutdown failed", exc_info=True)


def _version() -> str:
    """FlowStone's version, as the tracer and meter name it ("" when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flowstone")
    except PackageNotFoundError:
        return ""
