"""Answers of child processes (FlowStone side, Dagster side) turned into table values."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._dagster import DagsterUnavailable, run_dagster
from benchmarks._report import Value
from benchmarks._stats import percentile


class Answers:
    """Turns one child's answer (FlowStone or Dagster side) into table values by job key."""

    def __init__(self, keys: list[str], answer: dict[str, Any] | None, error: str = "") -> None:
        self._by_key: dict[str, dict[str, Any]] = {}
        self.error = error or (answer or {}).get("error", "")
        self.peak_rss = (answer or {}).get("peak_rss_mib")
        self.version: str | None = None
        for key, result in zip(keys, (answer or {}).get("results", []), strict=False):
            self._by_key[key] = result

    def per_unit(self, key: str, units: int, missing: str = "not run", scale: float = 1e6) -> Value:
        """Median seconds of job ``key`` divided by ``units``, times ``scale`` (µs)."""
        if self.error:
            return Value.missing(self.error)
        result = self._by_key.get(key)
        if result is None:
            return Value.missing(missing)
        if "error" in result:
            return Value.missing(result["error"])
        figure = statistics.median(result["seconds"]) / units * scale
        return Value(figure, note=result.get("note", ""))

    def lineage(self, key: str) -> Value:
        result = self._by_key.get(key, {})
        samples = result.get("lineage_us")
        if self.error or not samples:
            return Value.missing(self.error or result.get("error", "not measured"))
        return Value(statistics.median(samples), p99=percentile(samples, 99))

    def field(self, key: str, name: str) -> Value:
        """A single figure ``name`` that job ``key`` reported."""
        result = self._by_key.get(key, {})
        if self.error or name not in result:
            return Value.missing(self.error or result.get("error", "not measured"))
        return Value(float(result[name]))

    def memory(self) -> Value:
        if self.error or self.peak_rss is None:
            return Value.missing(self.error or "not measured")
        return Value(float(self.peak_rss))


def dagster_answers(
    instance: dict[str, Any], keys: list[str], jobs: list[dict[str, Any]]
) -> Answers:
    """Run ``jobs`` on a Dagster instance; an unavailable Dagster becomes an error answer."""
    try:
        answer = run_dagster(instance, jobs)
    except DagsterUnavailable as exc:
        return Answers(keys, None, error=f"Dagster: {exc}")
    answers = Answers(keys, {"peak_rss_mib": answer.peak_rss_mib, "results": answer.results})
    answers.version = answer.version
    return answers
