"""Daily, weekly and monthly partitions: keys, bounds, sets and value semantics."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime

import pytest

from flowstone.partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    PartitionsDefinition,
    WeeklyPartitions,
)

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_daily_keys_are_dates_and_parse_from_strings() -> None:
    daily = DailyPartitions(start="2024-01-01")
    assert daily.validate("2025-01-15") == date(2025, 1, 15)
    assert daily.encode(date(2025, 1, 15)) == "2025-01-15"
    assert daily.decode("2025-01-15") == date(2025, 1, 15)
    assert daily.kind == "daily"


def test_all_stops_at_the_last_complete_day_before_now() -> None:
    keys = DailyPartitions("2024-01-01").all(now=NOW)
    assert (keys.first, keys.last, len(keys)) == (date(2024, 1, 1), date(2024, 2, 29), 60)


def test_all_of_a_bounded_definition_ignores_now() -> None:
    daily = DailyPartitions("2024-01-01", end="2024-12-31")
    assert len(daily.all(now=NOW)) == 366
    assert daily.all(now=NOW).last == date(2024, 12, 31)


def test_all_is_empty_before_the_first_window_completes() -> None:
    assert len(DailyPartitions("2024-03-01").all(now=NOW)) == 0


def test_weekly_partitions_start_on_the_first_week_start_on_or_after_start() -> None:
    weekly = WeeklyPartitions("2024-01-03")
    assert weekly.start == date(2024, 1, 8)
    sundays = WeeklyPartitions("2024-01-03", week_start=6)
    assert sundays.start == date(2024, 1, 7)
    assert sundays.describe() == "weekly partitions (weeks starting Sunday) from 2024-01-07 (UTC)"


def test_weekly_end_includes_the_week_containing_it() -> None:
    weekly = WeeklyPartitions("2024-01-01", end="2024-01-17")
    assert list(weekly.all()) == [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]


def test_monthly_keys_are_first_days_and_parse_from_year_month() -> None:
    monthly = MonthlyPartitions("2024-01-15", end="2024-12-31")
    assert monthly.start == date(2024, 2, 1)
    assert monthly.validate("2024-05") == date(2024, 5, 1)
    assert len(monthly.all()) == 11
    assert monthly.shift("2024-02-01", 10) == date(2024, 12, 1)


def test_window_bounds_are_aware_datetimes_in_the_definition_zone() -> None:
    monthly = MonthlyPartitions("2024-01-01", timezone="Europe/Berlin")
    start, end = monthly.window_start("2024-02-01"), monthly.window_end("2024-02-01")
    assert (start.isoformat(), end.isoformat()) == (
        "2024-02-01T00:00:00+01:00",
        "2024-03-01T00:00:00+01:00",
    )


def test_key_for_time_accepts_dates_strings_and_naive_wall_times() -> None:
    daily = DailyPartitions("2024-01-01", timezone="America/New_York")
    assert daily.key_for_time(datetime(2024, 5, 2, 3, tzinfo=UTC)) == date(2024, 5, 1)
    assert daily.key_for_time(datetime(2024, 5, 2, 3)) == date(2024, 5, 2)
    assert daily.key_for_time("2024-05-02T03:00") == date(2024, 5, 2)
    assert daily.key_for_time(date(2024, 5, 2)) == date(2024, 5, 2)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (DailyPartitions("2024-01-01"), DailyPartitions(start=date(2024, 1, 1), timezone="UTC")),
        (WeeklyPartitions("2024-01-03"), WeeklyPartitions("2024-01-08")),
        (
            MonthlyPartitions("2024-01-02", "2024-06-30"),
            MonthlyPartitions("2024-02-01", "2024-06-01"),
        ),
        (HourlyPartitions("2024-01-01"), HourlyPartitions("2024-01-01T00:00+00:00")),
    ],
)
def test_definitions_that_partition_alike_are_equal(
    a: PartitionsDefinition, b: PartitionsDefinition
) -> None:
    assert a == b
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (DailyPartitions("2024-01-01"), DailyPartitions("2024-01-02")),
        (DailyPartitions("2024-01-01"), DailyPartitions("2024-01-01", end="2024-12-31")),
        (DailyPartitions("2024-01-01"), DailyPartitions("2024-01-01", timezone="Europe/Berlin")),
        (DailyPartitions("2024-01-01"), MonthlyPartitions("2024-01-01")),
        (WeeklyPartitions("2024-01-01"), WeeklyPartitions("2024-01-01", week_start=1)),
    ],
)
def test_definitions_that_partition_differently_are_not_equal(
    a: PartitionsDefinition, b: PartitionsDefinition
) -> None:
    assert a != b


@pytest.mark.parametrize(
    "definition",
    [
        DailyPartitions("2024-01-01", end="2024-12-31", timezone="Europe/Berlin"),
        WeeklyPartitions("2024-01-01", week_start=3),
        MonthlyPartitions("2024-01-01"),
        HourlyPartitions("2024-01-01", timezone="America/New_York"),
    ],
)
def test_definitions_pickle_and_repr_round_trip(definition: PartitionsDefinition) -> None:
    assert pickle.loads(pickle.dumps(definition)) == definition
    namespace = {
        "DailyPartitions": DailyPartitions,
        "WeeklyPartitions": WeeklyPartitions,
        "MonthlyPartitions": MonthlyPartitions,
        "HourlyPartitions": HourlyPartitions,
    }
    assert eval(repr(definition), namespace) == definition


def test_reprs_and_descriptions_read_well() -> None:
    daily = DailyPartitions("2024-01-01", end="2024-12-31", timezone="Europe/Berlin")
    assert repr(daily) == (
        "DailyPartitions(start='2024-01-01', end='2024-12-31', timezone='Europe/Berlin')"
    )
    assert daily.describe() == "daily partitions from 2024-01-01 to 2024-12-31 (Europe/Berlin)"
    assert daily.example() == "2024-01-15"
    assert type(daily).__module__ == "flowstone.partitions"
