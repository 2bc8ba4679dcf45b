"""A small pipeline whose heavy steps run on Ray: the one the cluster examples backfill.

``events`` (local: cheap, generated) -> ``features`` (Ray) -> ``scores`` (Ray, a "model"
fitted per day). Every function is deterministic in its partition, so re-running a day
reproduces it. The Ray assets store their values with the runtime's ``"fs"`` I/O manager,
which must be a directory every node sees (or pass ``--s3-bucket`` to the entrypoint).
"""

from __future__ import annotations

import math
import os
import random
from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("cluster_example")
days = fs.DailyPartitions(start="2025-01-01", end="2027-12-31")
HEAVY = fs.RayOptions(num_cpus=1)


def _pinned(resource: str) -> fs.RayOptions:
    # With FLOWSTONE_EXAMPLE_PIN=1 (set by the two-node integration test), steps are pinned
    # to the custom resources cluster/start-local-two-node.sh gives each node, so the run
    # provably uses both; without it Ray places them freely (any cluster works).
    if os.environ.get("FLOWSTONE_EXAMPLE_PIN") == "1":
        return fs.RayOptions(num_cpus=1, resources={resource: 0.01})
    return HEAVY


@pipeline.asset(partitioned_by=days, executor="ray", ray_options=_pinned("flowstone_head"))
def events(context: Any) -> list[float]:
    """Pretend to fetch the day's measurements."""
    rng = random.Random(context.partition.toordinal())
    return [rng.gauss(10.0, 3.0) for _ in range(2_000)]


@pipeline.asset(
    depends_on=["events"],
    partitioned_by=days,
    executor="ray",
    ray_options=HEAVY,
    retry=fs.RetryPolicy(max_retries=2, delay=0.5),
)
def features(context: Any, events: list[float]) -> dict[str, float]:
    """Summary statistics of the day."""
    mean = sum(events) / len(events)
    var = sum((x - mean) ** 2 for x in events) / len(events)
    context.add_metadata(rows=len(events))
    return {"mean": mean, "std": math.sqrt(var), "max": max(events)}


@pipeline.asset(
    depends_on=["features"],
    partitioned_by=days,
    executor="ray",
    ray_options=_pinned("flowstone_worker"),
    retry=fs.RetryPolicy(max_retries=2, delay=0.5),
)
def scores(context: Any, features: dict[str, float]) -> dict[str, float]:
    """A per-day anomaly score (a stand-in for model training and scoring)."""
    score = (features["max"] - features["mean"]) / max(features["std"], 1e-9)
    return {"score": round(score, 6), **features}
