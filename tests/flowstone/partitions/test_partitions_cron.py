"""Cron partitions: windows between crontab fire times, with crontab's own meaning."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from flowstone.partitions import CronPartitions, DailyPartitions, TimeWindowMapping


def encoded_range(cron: CronPartitions, first: str, last: str) -> list[str]:
    return list(cron.range(first, last).encoded())


def test_weekdays_count_from_sunday_as_in_crontab() -> None:
    weekdays = CronPartitions("0 6 * * 1-5", start="2024-01-01")  # a Monday
    assert [
        key.strftime("%a") for key in weekdays.all(now=datetime(2024, 1, 9, 7, tzinfo=UTC))
    ] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Mon",
    ]


def test_sunday_is_both_0_and_7() -> None:
    zero = CronPartitions("0 0 * * 0", start="2024-01-01")
    seven = CronPartitions("0 0 * * 7", start="2024-01-01")
    assert zero.start == seven.start == datetime(2024, 1, 7, tzinfo=zero.start.tzinfo)


def test_day_of_month_or_day_of_week_fires_when_either_matches() -> None:
    cron = CronPartitions("0 0 1 * 1", start="2024-01-01")  # the 1st and every Monday
    keys = [k.date().isoformat() for k in cron.all(now=datetime(2024, 2, 6, tzinfo=UTC))]
    assert keys == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
        "2024-01-29",
        "2024-02-01",
    ]


def test_windows_run_from_one_fire_time_to_the_next() -> None:
    cron = CronPartitions("0 6 * * 1-5", start="2024-01-01")
    friday = cron.validate("2024-01-05T06:00+00:00")
    assert cron.window_end(friday) == datetime(2024, 1, 8, 6, tzinfo=UTC)
    assert cron.key_for_time(datetime(2024, 1, 7, 12, tzinfo=UTC)) == friday
    assert cron.shift(friday, 1) == datetime(2024, 1, 8, 6, tzinfo=UTC)
    assert cron.shift(friday, -4) == cron.start


def test_a_fixed_hour_fires_once_when_the_clock_repeats_that_hour() -> None:
    cron = CronPartitions("30 2 * * *", start="2024-10-25", timezone="Europe/Berlin")
    assert encoded_range(cron, "2024-10-26T02:30+02:00", "2024-10-28T02:30+01:00") == [
        "2024-10-26T02:30+02:00",
        "2024-10-27T02:30+02:00",
        "2024-10-28T02:30+01:00",
    ]


def test_every_hour_fires_in_both_repeated_hours() -> None:
    cron = CronPartitions("30 * * * *", start="2024-10-27", timezone="Europe/Berlin")
    assert encoded_range(cron, "2024-10-27T01:30+02:00", "2024-10-27T03:30+01:00") == [
        "2024-10-27T01:30+02:00",
        "2024-10-27T02:30+02:00",
        "2024-10-27T02:30+01:00",
        "2024-10-27T03:30+01:00",
    ]


def test_a_time_skipped_by_the_clock_fires_at_the_next_instant() -> None:
    cron = CronPartitions("30 2 * * *", start="2024-03-30", timezone="Europe/Berlin")
    assert encoded_range(cron, "2024-03-30T02:30+01:00", "2024-04-01T02:30+02:00") == [
        "2024-03-30T02:30+01:00",
        "2024-03-31T03:30+02:00",
        "2024-04-01T02:30+02:00",
    ]


def test_a_bounded_cron_definition_counts_its_windows() -> None:
    cron = CronPartitions("0 */6 * * *", start="2024-01-01", end="2024-01-31")
    assert len(cron.all()) == 31 * 4
    assert cron.end == datetime(2024, 1, 31, 18, tzinfo=UTC)


def test_cron_definitions_compare_pickle_and_repr_as_values() -> None:
    cron = CronPartitions("0  6 * * 1-5", start="2024-01-01", timezone="Europe/Berlin")
    same = CronPartitions("0 6 * * 1-5", start="2024-01-01T06:00+01:00", timezone="Europe/Berlin")
    assert cron == same
    assert hash(cron) == hash(same)
    restored = pickle.loads(pickle.dumps(cron))
    assert restored == cron
    assert restored.shift(restored.start, 5) == cron.shift(cron.start, 5)
    assert repr(cron) == (
        "CronPartitions('0 6 * * 1-5', start='2024-01-01T06:00+01:00', end=None,"
        " timezone='Europe/Berlin')"
    )
    assert cron.describe() == (
        "cron partitions '0 6 * * 1-5' from 2024-01-01T06:00+01:00 (Europe/Berlin)"
    )


def test_daily_partitions_map_onto_cron_windows_by_overlap() -> None:
    cron = CronPartitions("0 6 * * 1-5", start="2024-01-01")
    daily = DailyPartitions("2024-01-01")
    # Saturday lies inside Friday's window, which runs until Monday 06:00
    needed = TimeWindowMapping().upstream_keys("2024-01-06", daily, cron)
    assert [cron.encode(k) for k in needed] == ["2024-01-05T06:00+00:00"]
    affected = TimeWindowMapping().downstream_keys("2024-01-05T06:00+00:00", cron, daily)
    assert [d.isoformat() for d in affected] == [
        "2024-01-05",
        "2024-01-06",
        "2024-01-07",
        "2024-01-08",
    ]


def test_a_mapping_can_look_before_the_first_cron_window() -> None:
    cron = CronPartitions("0 0 * * *", start="2024-01-10")
    hourly_before = DailyPartitions("2024-01-01")
    needed = TimeWindowMapping(start_offset=-2, end_offset=0).upstream_keys(
        "2024-01-10T00:00+00:00", cron, hourly_before
    )
    assert [d.isoformat() for d in needed] == ["2024-01-08", "2024-01-09", "2024-01-10"]
