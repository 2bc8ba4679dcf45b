"""Hypothesis strategies for partition tests: definitions, keys and instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from flowstone.partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    StaticPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)

# Zones chosen for their clock changes: DST both ways, half-hour offsets, a 30-minute DST
# shift (Lord Howe) and midnight transitions (Santiago, Havana).
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
)

starts = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
zones = st.sampled_from(ZONES)
offsets = st.integers(min_value=-500, max_value=500)


@st.composite
def time_windows(draw: st.DrawFn, *, bounded: bool | None = None) -> TimeWindowPartitions:
    """A daily, hourly, weekly or monthly definition with a random start, end and zone."""
    kind = draw(st.sampled_from(("daily", "hourly", "weekly", "monthly")))
    start = draw(starts)
    zone = draw(zones)
    has_end = draw(st.booleans()) if bounded is None else bounded
    end = start + timedelta(days=draw(st.integers(40, 4000))) if has_end else None
    if kind == "daily":
        return DailyPartitions(start, end, zone)
    if kind == "hourly":
        return HourlyPartitions(start, end, zone)
    if kind == "weekly":
        return WeeklyPartitions(start, end, zone, week_start=draw(st.integers(0, 6)))
    return MonthlyPartitions(start, end, zone)


def key_at(definition: TimeWindowPartitions, index: int) -> Any:
    """The key ``index`` windows after the start."""
    return definition.shift(definition.start, index)


def last_index(definition: TimeWindowPartitions) -> int:
    """Index of the end key (bounded definitions) or a generous horizon (unbounded)."""
    if definition.end is None:
        return 300
    return len(definition.all()) - 1


@st.composite
def keys_of(draw: st.DrawFn, definition: TimeWindowPartitions) -> Any:
    """A key of a time-window definition."""
    return key_at(definition, draw(st.integers(0, last_index(definition))))


instants = st.datetimes(
    min_value=datetime(1995, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)

# Static keys: any printable text, including the multi separators and the escape character.
static_key_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("|=\\"),
    min_size=1,
    max_size=12,
)
static_definitions = st.lists(static_key_text, min_size=1, max_size=8, unique=True).map(
    StaticPartitions
)
