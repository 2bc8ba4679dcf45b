"""raw_events -> cleaned_events -> daily_report, daily partitions, synthetic data.

Every function is deterministic in its partition, so re-running a day reproduces it.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("analytics")
days = fs.DailyPartitions(start="2025-01-01", end="2025-12-31")

EVENT_TYPES = ("page_view", "click", "signup", "purchase")


@pipeline.asset(
    partitioned_by=days,
    description="Raw events from source systems",
    info=fs.AssetInfo(group="ingest", owners=["data-eng@example.com"]),
)
def raw_events(context: Any) -> list[dict[str, Any]]:
    """Pretend to fetch the day's events: about 2,000 per day, a few of them malformed."""
    day: date = context.partition
    rng = random.Random(day.toordinal())
    events = []
    for i in range(rng.randint(1_800, 2_200)):
        events.append(
            {
                "id": f"{day:%Y%m%d}-{i}",
                "user": f"u{rng.randint(1, 400)}",
                "type": rng.choice(EVENT_TYPES) if rng.random() > 0.02 else None,
                "amount": round(rng.uniform(5, 120), 2) if rng.random() < 0.1 else 0.0,
            }
        )
    context.add_metadata(rows=len(events))
    return events


@pipeline.asset(
    depends_on=["raw_events"],
    partitioned_by=days,
    description="Validated and cleaned events",
    info=fs.AssetInfo(group="transform", code_version="2"),
    retry=fs.RetryPolicy(max_retries=2, delay=0.01),
)
def cleaned_events(context: Any, raw_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop events without a type and normalise amounts to cents."""
    cleaned = [{**e, "amount_cents": round(e["amount"] * 100)} for e in raw_events if e["type"]]
    context.add_metadata(rows=len(cleaned), dropped=len(raw_events) - len(cleaned))
    return cleaned


@pipeline.asset(
    depends_on=["cleaned_events"],
    partitioned_by=days,
    description="Aggregated daily metrics",
    info=fs.AssetInfo(group="report"),
    io_options={"format": "json", "path": lambda day: f"reports/{day}.json"},
)
def daily_report(context: Any, cleaned_events: list[dict[str, Any]]) -> dict[str, Any]:
    """Count events by type, active users and revenue for the day."""
    by_type = Counter(e["type"] for e in cleaned_events)
    return {
        "date": str(context.partition),
        "events": len(cleaned_events),
        "by_type": dict(sorted(by_type.items())),
        "active_users": len({e["user"] for e in cleaned_events}),
        "revenue": sum(e["amount_cents"] for e in cleaned_events) / 100,
    }
