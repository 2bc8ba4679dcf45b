"""FlowStone's metrics: fixed names, bounded attributes.

Internal, not part of the public API (the names are public: docs/observability.md). Names
never carry ids (apache/airflow#42038 truncated names that did); attributes are bounded by
the pipeline: the asset name, a status, a child kind. Partition keys and run ids, which grow
without bound, are never metric attributes: they belong on spans. Every instrument is
fed from plain counts kept here: an attempt adds to a dict, and the SDK reads the counts
(``flowstone.materializations``, ``flowstone.runs``, the in-flight gauge) when it collects,
through callbacks that only copy a dict and cannot raise (a raising callback runs on the
SDK's thread, where apache/airflow#68282 crashed a process). Only the duration histogram
and the rare restart and commit measurements go through the SDK per event: the SDK's
per-measurement cost (hashing the attributes) is paid once per attempt, not four times.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.util.types import Attributes

MATERIALIZATIONS = "flowstone.materializations"
DURATION = "flowstone.materialization.duration"
IN_FLIGHT = "flowstone.materializations.in_flight"
COMMIT_SIZE = "flowstone.lineage.commit.size"
COMMIT_DURATION = "flowstone.lineage.commit.duration"
RESTARTS = "flowstone.supervisor.restarts"
RUNS = "flowstone.runs"

K = TypeVar("K")


class Metrics:
    """The instruments, and attribute sets made once per (asset, status)."""

    def __init__(self, provider: MeterProvider, version: str) -> None:
        meter = provider.get_meter("flowstone", version)
        self.finished: dict[tuple[str, str], int] = {}
        """Finished attempts per (asset, status), observed at each collection."""
        meter.create_observable_counter(
            MATERIALIZATIONS,
            callbacks=[self._observe_finished],
            unit="{attempt}",
            description="Finished attempts, by status",
        )
        self.duration = meter.create_histogram(
            DURATION, unit="s", description="Duration of one attempt, load to record"
        )
        self.in_flight: dict[str, int] = {}
        """Attempts in progress per asset, observed at each collection (a plain count: two
        counter updates per attempt would cost more than the rest of its metrics)."""
        meter.create_observable_up_down_counter(
            IN_FLIGHT,
            callbacks=[self._observe_in_flight],
            unit="{attempt}",
            description="Attempts in progress",
        )
        self.commit_size = meter.create_histogram(
            COMMIT_SIZE, unit="{record}", description="Records per lineage transaction"
        )
        self.commit_duration = meter.create_histogram(
            COMMIT_DURATION, unit="s", description="Duration of one lineage transaction"
        )
        self.restarts = meter.create_counter(
            RESTARTS, unit="{restart}", description="Children restarted by a supervisor"
        )
        self.run_counts: dict[str, int] = {}
        meter.create_observable_counter(
            RUNS, callbacks=[self._observe_runs], unit="{run}", description="Finished runs"
        )
        self._asset: dict[str, Attributes] = {}
        self._outcome: dict[tuple[str, str], Attributes] = {}

    def attempt_finished(self, asset: str, status: str, seconds: float) -> None:
        """Count and time one finished attempt."""
        key = (asset, status)
        self.finished[key] = self.finished.get(key, 0) + 1
        self.in_flight[asset] -= 1
        self.duration.record(seconds, self.outcome(asset, status))

    def run_finished(self, status: str) -> None:
        """Count one finished run."""
        self.run_counts[status] = self.run_counts.get(status, 0) + 1

    def _observe_finished(self, options: CallbackOptions) -> Iterator[Observation]:
        for (asset, status), count in _snapshot(self.finished):
            yield Observation(count, self.outcome(asset, status))

    def _observe_runs(self, options: CallbackOptions) -> Iterator[Observation]:
        for status, count in _snapshot(self.run_counts):
            yield Observation(count, {"status": status})

    def started(self, asset: str) -> None:
        """An attempt of ``asset`` started."""
        self.in_flight[asset] = self.in_flight.get(asset, 0) + 1

    def _observe_in_flight(self, options: CallbackOptions) -> Iterator[Observation]:
        for asset, count in _snapshot(self.in_flight):
            yield Observation(count, self.asset(asset))

    def asset(self, asset: str) -> Attributes:
        """``{"flowstone.asset": asset}``, made once."""
        found = self._asset.get(asset)
        if found is None:
            found = self._asset[asset] = {"flowstone.asset": asset}
        return found

    def outcome(self, asset: str, status: str) -> Attributes:
        """``{"flowstone.asset": asset, "status": status}``, made once."""
        key = (asset, status)
        found = self._outcome.get(key)
        if found is None:
            found = self._outcome[key] = {"flowstone.asset": asset, "status": status}
        return found


def _snapshot(counts: dict[K, int]) -> list[tuple[K, int]]:
    """The items of ``counts``, copied on the SDK's collection thread while the event loop
    may add keys: a copy that races a resize is retried, never raised."""
    for _ in range(10):
        try:
            return list(counts.items())
        except RuntimeError:  # dictionary changed size during iteration
            continue
    return []
