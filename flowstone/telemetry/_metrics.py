"""FlowStone's metrics: fixed names, bounded attributes.

Internal, not part of the public API (the names are public: docs/observability.md). Names
never carry ids (apache/airflow#42038 truncated names that did); attributes are bounded by
the pipeline: the asset name, a status, a child kind. Partition keys and run ids, which grow
without bound, are never metric attributes: they belong on spans. Every instrument is
synchronous but one: the in-flight count is observed by a callback that only copies a dict
(a callback that can raise runs on the SDK's thread, where apache/airflow#68282 crashed a
process).
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.util.types import Attributes

MATERIALIZATIONS = "flowstone.materializations"
DURATION = "flowstone.materialization.duration"
IN_FLIGHT = "flowstone.materializations.in_flight"
COMMIT_SIZE = "flowstone.lineage.commit.size"
COMMIT_DURATION = "flowstone.lineage.commit.duration"
RESTARTS = "flowstone.supervisor.restarts"
RUNS = "flowstone.runs"


class Metrics:
    """The instruments, and attribute sets made once per (asset, status)."""

    def __init__(self, provider: MeterProvider, version: str) -> None:
        meter = provider.get_meter("flowstone", version)
        self.materializations = meter.create_counter(
            MATERIALIZATIONS, unit="{attempt}", description="Finished attempts, by status"
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
        self.runs = meter.create_counter(RUNS, unit="{run}", description="Finished runs")
        self._asset: dict[str, Attributes] = {}
        self._outcome: dict[tuple[str, str], Attributes] = {}

    def started(self, asset: str) -> None:
        """An attempt of ``asset`` started."""
        self.in_flight[asset] = self.in_flight.get(asset, 0) + 1

    def ended(self, asset: str) -> None:
        """An attempt of ``asset`` ended."""
        self.in_flight[asset] -= 1

    def _observe_in_flight(self, options: CallbackOptions) -> Iterator[Observation]:
        # Runs on the SDK's collection thread; reads a snapshot, cannot raise.
        try:
            counts = list(self.in_flight.items())
        except RuntimeError:  # resized by the loop while copied: report next time
            return
        for asset, count in counts:
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
