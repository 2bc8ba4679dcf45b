"""A daemon's metrics: the run queue's depth, claims, ticks and heartbeats.

Internal, not part of the public API (the names are public: docs/observability.md). Implements
the automation wing's ``DaemonObserver`` (structurally: this wing does not import that one).
Attributes are bounded by the pipeline: its name, a pool, a schedule's or sensor's origin, a
status. Run ids, partition keys and daemon ids (one per process start) never are. Every
report is guarded: a failure inside OpenTelemetry is logged once and never reaches the daemon.
The queue's depth is counted by the executor after each poll and only read by the gauge's
callback (on the SDK's thread), which copies a dict and cannot fail.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.util.types import Attributes

from flowstone.telemetry._spans import failed

QUEUE_DEPTH = "flowstone.queue.depth"
RUNS_CLAIMED = "flowstone.daemon.runs.claimed"
RUNS_STARTED = "flowstone.daemon.runs.started"
RUNS_HANDED_BACK = "flowstone.daemon.runs.handed_back"
TICKS = "flowstone.daemon.ticks"
TICK_LAG = "flowstone.daemon.tick.lag"
HEARTBEATS = "flowstone.daemon.heartbeats"

LAG_BUCKETS = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
"""Seconds: a tick is normally late by a poll's fraction of a second; catch-up by hours."""


class DaemonMetrics:
    """The daemon metrics of one pipeline (a ``DaemonObserver``)."""

    counts_queue = True

    def __init__(self, provider: MeterProvider, pipeline: str, version: str = "") -> None:
        meter = provider.get_meter("flowstone", version)
        self.pipeline: Attributes = {"flowstone.pipeline": pipeline}
        self.depth: dict[str | None, int] = {}
        """Queued runs by pool (None: all of the pipeline's), as last counted."""
        meter.create_observable_gauge(
            QUEUE_DEPTH,
            callbacks=[self._observe_depth],
            unit="{run}",
            description="Queued runs not yet claimed (all, and per pool)",
        )
        self.claimed = meter.create_counter(
            RUNS_CLAIMED, unit="{run}", description="Runs claimed from the queue by daemons"
        )
        self.started = meter.create_counter(
            RUNS_STARTED, unit="{run}", description="Claimed runs whose execution started"
        )
        self.handed_back = meter.create_counter(
            RUNS_HANDED_BACK, unit="{run}", description="Unfinished runs handed back to the queue"
        )
        self.ticks = meter.create_counter(
            TICKS, unit="{tick}", description="Schedule and sensor ticks, by outcome"
        )
        self.lag = meter.create_histogram(
            TICK_LAG,
            unit="s",
            description="From a tick's slot or fire time to its evaluation",
            explicit_bucket_boundaries_advisory=LAG_BUCKETS,
        )
        self.heartbeats = meter.create_counter(
            HEARTBEATS, unit="{heartbeat}", description="Heartbeat rows written by daemons"
        )
        self._cache: dict[tuple[str, ...], Attributes] = {}

    def _attributes(self, *pairs: str) -> Attributes:
        """The pipeline's attributes plus ``pairs`` (key, value, ...), made once."""
        found = self._cache.get(pairs)
        if found is None:
            extra = dict(zip(pairs[::2], pairs[1::2], strict=True))
            found = self._cache[pairs] = {**(self.pipeline or {}), **extra}
        return found

    def run_claimed(self, takeover: bool) -> None:
        try:
            self.claimed.add(1, self._attributes("flowstone.takeover", str(takeover).lower()))
        except Exception:
            failed("count a claimed run")

    def run_started(self) -> None:
        try:
            self.started.add(1, self.pipeline)
        except Exception:
            failed("count a started run")

    def run_handed_back(self) -> None:
        try:
            self.handed_back.add(1, self.pipeline)
        except Exception:
            failed("count a handed-back run")

    def tick(self, origin: str, status: str, lag: float) -> None:
        try:
            kind = origin.partition(":")[0]
            self.ticks.add(
                1,
                self._attributes(
                    "flowstone.tick.kind", kind, "flowstone.origin", origin, "status", str(status)
                ),
            )
            self.lag.record(
                max(lag, 0.0),
                self._attributes("flowstone.tick.kind", kind, "flowstone.origin", origin),
            )
        except Exception:
            failed("count a tick")

    def heartbeat(self, status: str) -> None:
        try:
            self.heartbeats.add(1, self._attributes("status", status))
        except Exception:
            failed("count a heartbeat")

    def queue_depth(self, pipeline: str, total: int, pools: Mapping[str, int]) -> None:
        # Replaced whole: a pool whose runs were all claimed reads 0, not its last count.
        depth: dict[str | None, int] = dict.fromkeys(self.depth, 0)
        depth.update(pools)
        depth[None] = total
        self.depth = depth

    def _observe_depth(self, options: CallbackOptions) -> Iterator[Observation]:
        for pool, count in list(self.depth.items()):
            if pool is None:
                yield Observation(count, self.pipeline)
            else:
                yield Observation(count, self._attributes("flowstone.pool", pool))
