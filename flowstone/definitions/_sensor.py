"""Sensors: ``@pipeline.sensor(interval=...)`` functions that look at the outside world and
return ``SensorResult(run_requests=[RunRequest(...)], cursor=...)``. The daemon
(flowstone/automation) evaluates them, persists the cursor and turns run requests into
queued runs, at most one per ``run_key`` per sensor."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, final

from flowstone.errors import DefinitionError


@final
@dataclass(frozen=True)
class RunRequest:
    """A request to run ``asset`` (with its upstream) for ``partition``.

    Args:
        asset: the asset name.
        partition: its partition key (a key or its string form), None when unpartitioned.
        run_key: an idempotency key: a sensor creates at most one run per key, ever.
        tags: free-form strings recorded in the run's metadata.
    """

    asset: str
    partition: Any = None
    run_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@final
@dataclass(frozen=True)
class SensorResult:
    """What one sensor evaluation returns: runs to request and the new cursor.

    ``cursor=None`` keeps the stored cursor; any string replaces it (atomically with the
    runs requested by the same evaluation).
    """

    run_requests: Sequence[RunRequest] = ()
    cursor: str | None = None


@final
@dataclass(frozen=True)
class SensorContext:
    """What a sensor function receives.

    Attributes:
        name: the sensor's name.
        cursor: the cursor stored by the last successful evaluation, or None.
        resources: the runtime's resources by name.
        tick_time: the (UTC) time of the evaluation slot.
        records: the record store (``flowstone.storage.Storage``), read by built-in sensors
            such as the asset sensor.
    """

    name: str
    cursor: str | None
    resources: Mapping[str, Any]
    tick_time: Any = None
    records: Any = field(default=None, repr=False)


SensorFunction = Callable[[SensorContext], "SensorResult | Sequence[RunRequest] | None"]


@final
@dataclass(frozen=True, eq=False)
class SensorDefinition:
    """A sensor; made by ``@pipeline.sensor(...)``, never directly.

    Attributes:
        name: the sensor's name (runs say ``triggered_by="sensor:<name>"``).
        fn: the function (sync or async) called with a ``SensorContext``.
        interval: seconds between evaluations.
        jitter: the fraction of ``interval`` by which evaluation slots of different sensors
            are spread (each sensor's offset is fixed, derived from its name).
        timeout: seconds an evaluation may take before it is recorded as failed.
        resources: names of the runtime resources the sensor reads.
    """

    name: str
    fn: Callable[..., Any]
    interval: float
    jitter: float = 0.1
    timeout: float = 60.0
    resources: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        """The key of the sensor's ticks, cursor and run keys in the record store."""
        return f"sensor:{self.name}"


def build_sensor(
    fn: Callable[..., Any],
    *,
    name: str | None,
    interval: float,
    jitter: float = 0.1,
    timeout: float = 60.0,
    resources: Sequence[str] = (),
) -> SensorDefinition:
    """Check the arguments of ``@pipeline.sensor`` and build the definition.

    Raises:
        DefinitionError: naming the sensor and what to write instead.
    """
    if not callable(fn):
        raise DefinitionError(
            f"@pipeline.sensor decorates a function, got {fn!r}; write "
            f"@pipeline.sensor(interval=30) above a def"
        )
    sensor_name = name if name is not None else getattr(fn, "__name__", "")
    who = f"sensor {sensor_name!r}"
    if not isinstance(sensor_name, str) or not sensor_name.replace("_", "a").isalnum():
        raise DefinitionError(f"{who}: a sensor name uses letters, digits and '_'")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise DefinitionError(
            f"{who}: interval must be a positive number of seconds, got {interval!r}; "
            f"e.g. @pipeline.sensor(interval=30)"
        )
    if not isinstance(jitter, int | float) or not 0 <= jitter < 1:
        raise DefinitionError(f"{who}: jitter must be a fraction in [0, 1), got {jitter!r}")
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise DefinitionError(f"{who}: timeout must be positive seconds, got {timeout!r}")
    return SensorDefinition(
        sensor_name, fn, float(interval), float(jitter), float(timeout), tuple(resources)
    )
