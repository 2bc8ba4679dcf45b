"""Key text forms: escaping of multi-key values, and the accepted date/time spellings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from flowstone.partitions import CronPartitions
from flowstone.partitions._encoding import (
    escape,
    parse_date,
    parse_instant,
    split_multi,
)

from .partition_strategies import static_key_text

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@settings(deadline=None)
@given(st.lists(st.tuples(names, st.text(max_size=10)), min_size=1, max_size=5))
def test_escaped_pairs_split_back_into_the_same_pairs(pairs: list[tuple[str, str]]) -> None:
    text = "|".join(f"{name}={escape(value)}" for name, value in pairs)
    assert split_multi(text) == pairs


@settings(deadline=None)
@given(static_key_text)
def test_escaped_values_hold_no_bare_separators(value: str) -> None:
    escaped = escape(value)
    assert split_multi(f"a={escaped}") == [("a", value)]
    assert split_multi(f"a={escaped}|b=x") == [("a", value), ("b", "x")]


def test_malformed_multi_text_is_not_split() -> None:
    assert split_multi("no-equals") is None
    assert split_multi("a=1|no-equals") is None
    assert split_multi("a=dangling\\") is None


def test_dates_parse_strictly() -> None:
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    assert parse_date("2023-02-29") == "is not a valid date (day is out of range for month)"
    assert parse_date("2024-2-29") == "is not a 'YYYY-MM-DD' date"
    assert parse_date("20240229") == "is not a 'YYYY-MM-DD' date"


def test_instants_parse_with_or_without_offsets() -> None:
    assert parse_instant("2025-01-15T03:00") == datetime(2025, 1, 15, 3)
    assert parse_instant("2025-01-15-03:00") == datetime(2025, 1, 15, 3)
    assert parse_instant("2025-01-15T03:00Z") == datetime(2025, 1, 15, 3, tzinfo=UTC)
    assert parse_instant("2025-01-15 03:00:00-05:00") == datetime(
        2025, 1, 15, 3, tzinfo=timezone(timedelta(hours=-5))
    )
    assert parse_instant("2025-01-15") == (
        "is not a date and time like '2025-01-15T03:00' or '2025-01-15T03:00+01:00'"
    )


CRONS = st.sampled_from(
    ["0 6 * * 1-5", "*/15 * * * *", "0 0 1 * *", "30 2 * * *", "0 0 1 * 1", "0 */5 * * sun"]
)
CRON_ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])


@settings(max_examples=40, deadline=None)
@given(CRONS, CRON_ZONES, st.dates(date(2000, 1, 1), date(2030, 1, 1)), st.integers(0, 400))
def test_cron_windows_are_contiguous_and_round_trip(
    cron: str, zone: str, start: date, index: int
) -> None:
    definition = CronPartitions(cron, start=start, timezone=zone)
    key = definition.shift(definition.start, index)
    text = definition.encode(key)
    assert definition.encode(definition.decode(text)) == text
    following = definition.shift(key, 1)
    assert definition.window_end(key).timestamp() == following.timestamp()
    assert following.timestamp() > key.timestamp()
    assert definition.encode(definition.key_for_time(key)) == text
    assert definition.encode(definition.shift(following, -1)) == text
