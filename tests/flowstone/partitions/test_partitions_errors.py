"""Exact text of InvalidPartition messages: what was found, what is wrong, what to pass."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from flowstone.errors import InvalidPartition
from flowstone.partitions import (
    CronPartitions,
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    StaticPartitions,
    WeeklyPartitions,
)


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


DAILY = DailyPartitions(start="2024-01-01")
EXPECT_DAILY = "expected a date from 2024-01-01, e.g. '2024-01-15'"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "2023-12-31",
            f"partition '2023-12-31' of daily partitions is before the start 2024-01-01;"
            f" {EXPECT_DAILY}",
        ),
        (
            date(2023, 12, 31),
            f"partition '2023-12-31' of daily partitions is before the start 2024-01-01;"
            f" {EXPECT_DAILY}",
        ),
        (
            None,
            "partition None of daily partitions is not a key (a partitioned asset needs one);"
            f" {EXPECT_DAILY}",
        ),
        (
            "2024-13-01",
            "partition '2024-13-01' of daily partitions is not a valid date"
            f" (month must be in 1..12); {EXPECT_DAILY}",
        ),
        (
            "15/01/2024",
            f"partition '15/01/2024' of daily partitions is not a 'YYYY-MM-DD' date;"
            f" {EXPECT_DAILY}",
        ),
        (
            20240115,
            "partition 20240115 of daily partitions is an int, not a date or a 'YYYY-MM-DD' string;"
            f" {EXPECT_DAILY}",
        ),
        (
            datetime(2024, 1, 15),
            "partition '2024-01-15T00:00' of daily partitions is a datetime, not a date;"
            f" {EXPECT_DAILY}",
        ),
    ],
)
def test_daily_key_errors_say_what_was_found_and_expected(key: object, message: str) -> None:
    with pytest.raises(InvalidPartition, match=exactly(message)):
        DAILY.validate(key)


def test_a_key_after_the_end_names_the_end_and_the_range() -> None:
    daily = DailyPartitions("2024-01-01", end="2024-01-10")
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-01-11' of daily partitions is after the end 2024-01-10;"
            " expected a date from 2024-01-01 to 2024-01-10, e.g. '2024-01-10'"
        ),
    ):
        daily.validate("2024-01-11")


def test_a_weekly_key_on_the_wrong_weekday_names_both_days() -> None:
    weekly = WeeklyPartitions("2024-01-01")
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-01-03' of weekly partitions is a Wednesday, not a Monday"
            " (weeks start on Monday); expected a Monday from 2024-01-01, e.g. '2024-01-15'"
        ),
    ):
        weekly.validate("2024-01-03")


def test_a_monthly_key_that_is_not_a_first_of_month_is_rejected() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-02-15' of monthly partitions is not the first day of a month;"
            " expected the first day of a month from 2024-01-01, e.g. '2024-03-01'"
        ),
    ):
        MonthlyPartitions("2024-01-01").validate("2024-02-15")


BERLIN_HOURS = HourlyPartitions("2024-01-01", timezone="Europe/Berlin")


def test_an_hour_in_the_repeated_hour_without_offset_asks_for_one() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-10-27T02:00' of hourly partitions is ambiguous in Europe/Berlin"
            " (clocks go back and 02:00 happens twice); add the UTC offset, e.g."
            " '2024-10-27T02:00+02:00' or '2024-10-27T02:00+01:00'"
        ),
    ):
        BERLIN_HOURS.validate("2024-10-27T02:00")


def test_an_hour_skipped_by_the_clocks_is_rejected() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-03-31T02:00' of hourly partitions does not exist in Europe/Berlin"
            " (clocks skip 02:00 when they go forward); expected the start of an hour from"
            " 2024-01-01T00:00+01:00, e.g. '2024-01-01T14:00+01:00'"
        ),
    ):
        BERLIN_HOURS.validate(datetime(2024, 3, 31, 2, 0))


def test_an_hourly_key_inside_an_hour_is_rejected() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-01-15T03:30+01:00' of hourly partitions is not the start of an hour;"
            " expected the start of an hour from 2024-01-01T00:00+01:00,"
            " e.g. '2024-01-01T14:00+01:00'"
        ),
    ):
        BERLIN_HOURS.validate(datetime(2024, 1, 15, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")))


def test_an_hourly_key_given_as_a_date_is_rejected() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-01-15' of hourly partitions is a date, not a date and time;"
            " expected the start of an hour from 2024-01-01T00:00+01:00,"
            " e.g. '2024-01-01T14:00+01:00'"
        ),
    ):
        BERLIN_HOURS.validate(date(2024, 1, 15))


def test_a_cron_key_that_is_not_a_fire_time_is_rejected() -> None:
    cron = CronPartitions("0 6 * * 1-5", start="2024-01-01")
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-01-06T06:00+00:00' of cron partitions '0 6 * * 1-5' is not a fire"
            " time of '0 6 * * 1-5' in UTC; expected a fire time from 2024-01-01T06:00+00:00,"
            " e.g. '2024-01-02T06:00+00:00'"
        ),
    ):
        cron.validate("2024-01-06T06:00+00:00")  # a Saturday


def test_an_unknown_static_key_suggests_the_closest_one() -> None:
    regions = StaticPartitions(["europe", "america", "asia"])
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition 'eurpoe' of static partitions is unknown (did you mean 'europe'?);"
            " expected one of 'europe', 'america', 'asia', e.g. 'europe'"
        ),
    ):
        regions.validate("eurpoe")


def test_a_long_static_key_list_is_elided_in_messages() -> None:
    many = StaticPartitions([f"k{i}" for i in range(20)])
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition 'zz' of static partitions is unknown; expected one of 'k0', 'k1', 'k2',"
            " 'k3', 'k4', 'k5', 'k6', 'k7', … (20 keys), e.g. 'k0'"
        ),
    ):
        many.validate("zz")


def test_a_dynamic_key_with_a_newline_is_rejected() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition 'a\\nb' of dynamic partitions 'customers' contains control characters;"
            " expected a non-empty string without control characters, e.g. 'customer-42'"
        ),
    ):
        DynamicPartitions("customers").validate("a\nb")


MULTI = MultiPartitions({"tenant": StaticPartitions(["acme", "beta"]), "date": DAILY})
EXPECT_MULTI = (
    "expected a dict with keys 'tenant', 'date' or a string 'tenant=…|date=…',"
    " e.g. 'tenant=acme|date=2024-01-15'"
)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            {"tenant": "acme"},
            f"partition {{'tenant': 'acme'}} of multi partitions is missing dimension 'date';"
            f" {EXPECT_MULTI}",
        ),
        (
            "tenant=acme",
            f"partition 'tenant=acme' of multi partitions is missing dimension 'date';"
            f" {EXPECT_MULTI}",
        ),
        (
            "tenant=acme|date=2024-01-02|region=eu",
            "partition 'tenant=acme|date=2024-01-02|region=eu' of multi partitions has unknown"
            f" dimension 'region'; {EXPECT_MULTI}",
        ),
        (
            "tenant=acme|tenant=beta|date=2024-01-02",
            "partition 'tenant=acme|tenant=beta|date=2024-01-02' of multi partitions names"
            f" dimension 'tenant' twice; {EXPECT_MULTI}",
        ),
        (
            "acme/2024-01-02",
            "partition 'acme/2024-01-02' of multi partitions is not of the form"
            f" 'name=value|name=value'; {EXPECT_MULTI}",
        ),
        (
            ("acme", "2024-01-02"),
            "partition ('acme', '2024-01-02') of multi partitions is a tuple, not a dict or a"
            f" string; {EXPECT_MULTI}",
        ),
        (
            "tenant=acme|date=2023-12-31",
            "partition 'tenant=acme|date=2023-12-31' of multi partitions has an invalid 'date':"
            " partition '2023-12-31' of daily partitions is before the start 2024-01-01;"
            f" {EXPECT_DAILY}",
        ),
    ],
)
def test_multi_key_errors_name_the_dimension(key: object, message: str) -> None:
    with pytest.raises(InvalidPartition, match=exactly(message)):
        MULTI.validate(key)


def test_key_for_time_before_the_start_names_the_first_window() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "time '2023-12-31T22:59+00:00' is before the start of daily partitions from"
            " 2024-01-01 (Europe/Berlin); expected a time from 2024-01-01T00:00+01:00"
        ),
    ):
        DailyPartitions("2024-01-01", timezone="Europe/Berlin").key_for_time(
            datetime.fromisoformat("2023-12-31T22:59+00:00")
        )


def test_shifting_past_the_start_says_by_how_much() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "partition '2024-01-02' of daily partitions shifted by -2 is before the start"
            f" 2024-01-01; {EXPECT_DAILY}"
        ),
    ):
        DAILY.shift("2024-01-02", -2)


def test_a_reversed_range_says_to_swap_the_ends() -> None:
    with pytest.raises(
        InvalidPartition,
        match=exactly(
            "range of daily partitions from '2024-02-01' to '2024-01-01' is empty: the last key"
            " comes before the first; swap them"
        ),
    ):
        DAILY.range("2024-02-01", "2024-01-01")


def test_dynamic_all_without_stored_keys_says_where_to_get_them() -> None:
    with pytest.raises(
        TypeError,
        match=exactly(
            "all() of dynamic partitions 'customers' needs the stored keys: pass"
            " dynamic_keys=[...] as read from the record store (dynamic_partitions('customers'))"
        ),
    ):
        DynamicPartitions("customers").all()
