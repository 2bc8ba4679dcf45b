"""Time windows follow daylight-saving changes: hours are absolute, days are local."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowstone.partitions import (
    DailyPartitions,
    HourlyPartitions,
    TimeWindowMapping,
)

BERLIN = ZoneInfo("Europe/Berlin")


def hours_of(day: str, zone: str) -> list[str]:
    daily = DailyPartitions("2024-01-01", timezone=zone)
    hourly = HourlyPartitions("2024-01-01", timezone=zone)
    return list(TimeWindowMapping().upstream_keys(day, daily, hourly).encoded())


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        ("Europe/Berlin", "2024-03-31", 23),
        ("Europe/Berlin", "2024-10-27", 25),
        ("Europe/Berlin", "2024-06-15", 24),
        ("America/New_York", "2024-03-10", 23),
        ("America/New_York", "2024-11-03", 25),
        ("UTC", "2024-03-31", 24),
    ],
)
def test_a_local_day_has_as_many_hourly_windows_as_its_clock_has_hours(
    zone: str, day: str, count: int
) -> None:
    assert len(hours_of(day, zone)) == count


def test_the_spring_forward_day_skips_the_missing_hour() -> None:
    assert hours_of("2024-03-31", "Europe/Berlin")[:4] == [
        "2024-03-31T00:00+01:00",
        "2024-03-31T01:00+01:00",
        "2024-03-31T03:00+02:00",
        "2024-03-31T04:00+02:00",
    ]


def test_the_repeated_hour_has_two_partitions_told_apart_by_their_offset() -> None:
    hours = hours_of("2024-11-03", "America/New_York")
    assert hours[1:4] == [
        "2024-11-03T01:00-04:00",
        "2024-11-03T01:00-05:00",
        "2024-11-03T02:00-05:00",
    ]
    hourly = HourlyPartitions("2024-01-01", timezone="America/New_York")
    first, second = (hourly.decode(text) for text in hours[1:3])
    assert second.timestamp() - first.timestamp() == 3600
    assert (first.fold, second.fold) == (0, 1)


def test_key_for_time_in_the_repeated_hour_picks_the_right_one() -> None:
    hourly = HourlyPartitions("2024-01-01", timezone="Europe/Berlin")
    early = hourly.key_for_time(datetime(2024, 10, 27, 0, 30, tzinfo=UTC))
    late = hourly.key_for_time(datetime(2024, 10, 27, 1, 30, tzinfo=UTC))
    assert hourly.encode(early) == "2024-10-27T02:00+02:00"
    assert hourly.encode(late) == "2024-10-27T02:00+01:00"
    assert hourly.shift(early, 1).timestamp() == late.timestamp()


def test_hourly_keys_parse_in_every_accepted_form() -> None:
    hourly = HourlyPartitions("2024-01-01", timezone="Europe/Berlin")
    expected = datetime(2025, 1, 15, 3, tzinfo=BERLIN)
    for form in (
        "2025-01-15T03:00",
        "2025-01-15-03:00",
        "2025-01-15 03:00:00",
        "2025-01-15T03:00+01:00",
        "2025-01-15T02:00Z",
        datetime(2025, 1, 15, 3),
        datetime(2025, 1, 15, 2, tzinfo=UTC),
    ):
        key = hourly.validate(form)
        assert key == expected
        assert key.tzinfo == BERLIN


def test_daily_windows_last_23_or_25_hours_when_clocks_change() -> None:
    daily = DailyPartitions("2024-01-01", timezone="Europe/Berlin")

    def length(day: str) -> timedelta:
        return daily.window_end(day).astimezone(UTC) - daily.window_start(day).astimezone(UTC)

    assert length("2024-03-31") == timedelta(hours=23)
    assert length("2024-10-27") == timedelta(hours=25)
    assert daily.window_start("2024-10-27") == datetime(2024, 10, 27, tzinfo=BERLIN)


def test_a_day_whose_midnight_is_skipped_starts_at_its_first_instant() -> None:
    # Santiago moved clocks from 00:00 to 01:00 on 2024-09-08: that day has no midnight.
    daily = DailyPartitions("2024-09-01", timezone="America/Santiago")
    start = daily.window_start("2024-09-08")
    assert start.isoformat() == "2024-09-08T01:00:00-03:00"
    assert daily.window_end("2024-09-07").timestamp() == start.timestamp()
    assert daily.key_for_time(start) == date(2024, 9, 8)


def test_hours_align_to_the_local_clock_in_half_hour_zones() -> None:
    hourly = HourlyPartitions("2024-01-01", timezone="Asia/Kolkata")
    assert hourly.encode(hourly.start) == "2024-01-01T00:00+05:30"
    assert hourly.start.astimezone(UTC).minute == 30


def test_an_hourly_definition_starting_inside_an_hour_starts_at_the_next_one() -> None:
    hourly = HourlyPartitions("2024-01-01T10:15")
    assert hourly.encode(hourly.start) == "2024-01-01T11:00+00:00"


def test_an_hourly_end_date_includes_the_whole_day() -> None:
    hourly = HourlyPartitions("2024-10-27", end="2024-10-27", timezone="Europe/Berlin")
    assert len(hourly.all()) == 25
    assert hourly.encode(hourly.end) == "2024-10-27T23:00+01:00"


def test_daily_partitions_in_different_zones_map_by_overlap() -> None:
    utc_days = DailyPartitions("2024-01-01")
    tokyo_days = DailyPartitions("2024-01-01", timezone="Asia/Tokyo")
    needed = TimeWindowMapping().upstream_keys("2024-02-10", tokyo_days, utc_days)
    assert list(needed) == [date(2024, 2, 9), date(2024, 2, 10)]
