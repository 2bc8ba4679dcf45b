"""Telemetry: OpenTelemetry traces and metrics from the engine into Ray workers, and run logs.

The engine reports through its ``Instrumentation`` hook (``flowstone.engine``); this wing
implements it. Nothing here is needed for a run to succeed: every hook is guarded, exports
run on the SDK's threads behind bounded queues. See docs/observability.md.

Module map:
    _telemetry.py        Telemetry: the providers, propagators and log capture of a runtime
    _environment.py      the standard OTEL_* variables, read into SDK providers
    _instrumentation.py  TelemetryInstrumentation: the engine hook (run, attempt, I/O, commit)
    _spans.py            span names, the guarded span scope, spans as plain data
    _metrics.py          the instruments (fixed names, bounded attributes)
    _run_logs.py         log-record attribution and the bounded per-run capture
    _worker.py           the Ray side: a step's span and log lines, made in the worker
    _ray_link.py         ray_task_url: a materialization's task page in the Ray dashboard
"""

from flowstone.telemetry._ray_link import ray_task_url as ray_task_url
from flowstone.telemetry._telemetry import Telemetry as Telemetry

__all__ = ("Telemetry", "ray_task_url")

Telemetry.__module__ = "flowstone.telemetry"
ray_task_url.__module__ = "flowstone.telemetry"
