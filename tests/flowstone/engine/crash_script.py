"""A backfill run as a subprocess by test_crash_recovery (killed with SIGKILL at random)."""

from __future__ import annotations

import sys
import time
from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("crashy")
days = fs.DailyPartitions(start="2025-01-01", end="2025-06-29")


@pipeline.asset(partitioned_by=days)
def source(context: Any) -> dict[str, Any]:
    time.sleep(0.003)
    return {"day": str(context.partition), "value": context.partition.toordinal()}


@pipeline.asset(depends_on=["source"], partitioned_by=days)
def derived(context: Any, source: dict[str, Any]) -> dict[str, Any]:
    time.sleep(0.003)
    return {"day": source["day"], "double": source["value"] * 2}


def expected(asset: str, day: Any) -> dict[str, Any]:
    """The value each asset must have stored for ``day``."""
    if asset == "source":
        return {"day": str(day), "value": day.toordinal()}
    return {"day": str(day), "double": day.toordinal() * 2}


if __name__ == "__main__":
    with fs.Runtime(pipeline, base_dir=sys.argv[1]) as rt:
        # One line per recorded success, so the test can aim its kill into the backfill.
        rt.events.subscribe(
            lambda e: print("M", flush=True) if e.kind == "materialization.succeeded" else None
        )
        print("STARTED", flush=True)
        result = rt.backfill("derived", "2025-01-01..2025-06-29", max_parallel=4)
        print(
            f"DONE {len(result.succeeded)} {len(result.failed)} {len(result.skipped)}", flush=True
        )
