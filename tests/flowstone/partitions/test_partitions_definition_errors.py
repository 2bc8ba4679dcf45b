"""Invalid partition definitions raise DefinitionError naming the field, value and fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest

from flowstone.errors import DefinitionError
from flowstone.partitions import (
    CronPartitions,
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    MultiPartitions,
    StaticPartitions,
    TimeWindowMapping,
    WeeklyPartitions,
)

DATE_EXPECTED = "expected a date or a 'YYYY-MM-DD' string, e.g. '2024-01-01'"
CRON_EXPECTED = (
    "expected five fields 'minute hour day-of-month month day-of-week', e.g. '0 6 * * 1-5'"
)

CASES: list[tuple[Callable[[], object], str]] = [
    (
        lambda: DailyPartitions("2024-01-01", end="2023-01-01"),
        "DailyPartitions end '2023-01-01' is before the start '2024-01-01';"
        " expected an end on or after the start",
    ),
    (
        lambda: WeeklyPartitions("2024-01-02", end="2024-01-05"),
        "WeeklyPartitions end '2024-01-05' leaves no window: the first one starts at"
        " 2024-01-08; expected an end on or after 2024-01-08",
    ),
    (
        lambda: DailyPartitions("2024-13-01"),
        f"DailyPartitions start '2024-13-01' is not a valid date (month must be in 1..12);"
        f" {DATE_EXPECTED}",
    ),
    (
        lambda: DailyPartitions("01/02/2024"),
        f"DailyPartitions start '01/02/2024' is not a 'YYYY-MM-DD' date; {DATE_EXPECTED}",
    ),
    (
        lambda: DailyPartitions(20240101),  # type: ignore[arg-type]
        f"DailyPartitions start 20240101 is an int; {DATE_EXPECTED}",
    ),
    (
        lambda: DailyPartitions(datetime(2024, 1, 1)),
        f"DailyPartitions start '2024-01-01T00:00' is a datetime; {DATE_EXPECTED}",
    ),
    (
        lambda: DailyPartitions("2024-01-01", timezone="Mars/Olympus"),
        "DailyPartitions timezone 'Mars/Olympus' is not a known time zone;"
        " expected an IANA time zone name such as 'UTC' or 'Europe/Berlin'",
    ),
    (
        lambda: HourlyPartitions("2024-03-31T02:30", timezone="Europe/Berlin"),
        "HourlyPartitions start '2024-03-31T02:30' does not exist in Europe/Berlin (clocks skip"
        " 02:30 when they go forward); expected a time that exists in Europe/Berlin",
    ),
    (
        lambda: HourlyPartitions("2024-10-27T02:30", timezone="Europe/Berlin"),
        "HourlyPartitions start '2024-10-27T02:30' is ambiguous in Europe/Berlin (clocks go"
        " back and 02:30 happens twice); expected a time with its UTC offset, e.g."
        " '2024-10-27T02:30+02:00' or '2024-10-27T02:30+01:00'",
    ),
    (
        lambda: CronPartitions("61 * * * *", start="2024-01-01"),
        "CronPartitions cron '61 * * * *' is not a valid crontab expression (Error validating"
        " expression '61': the last value (61) is higher than the maximum value (59));"
        f" {CRON_EXPECTED}",
    ),
    (
        lambda: CronPartitions("0 6 * *", start="2024-01-01"),
        "CronPartitions cron '0 6 * *' is not a valid crontab expression (it has 4 fields,"
        f" not 5); {CRON_EXPECTED}",
    ),
    (
        lambda: CronPartitions("0 6 * * 8", start="2024-01-01"),
        "CronPartitions cron '0 6 * * 8' is not a valid crontab expression (day of week '8'"
        f" is not 0-7 or a name like 'mon'); {CRON_EXPECTED}",
    ),
    (
        lambda: CronPartitions("0 0 30 2 *", start="2024-01-01"),
        "CronPartitions cron '0 0 30 2 *' never fires on or after the start"
        " 2024-01-01T00:00+00:00; expected an expression naming a date that exists,"
        " e.g. '0 0 29 2 *', not '0 0 30 2 *'",
    ),
    (
        lambda: StaticPartitions([]),
        "StaticPartitions keys [] is empty; expected at least one key, e.g. ['eu', 'us']",
    ),
    (
        lambda: StaticPartitions("eu"),  # a string is not a list of keys
        "StaticPartitions keys 'eu' is a str; expected a list of strings, e.g. ['eu', 'us']",
    ),
    (
        lambda: StaticPartitions(["eu", "us", "eu"]),
        "StaticPartitions key 'eu' appears twice; expected each key once",
    ),
    (
        lambda: StaticPartitions(["eu", ""]),
        "StaticPartitions key '' is empty; expected non-empty keys",
    ),
    (
        lambda: StaticPartitions(["eu\tnorth"]),
        "StaticPartitions key 'eu\\tnorth' contains control characters; expected printable keys"
        " (no newlines, tabs or other control characters)",
    ),
    (
        lambda: StaticPartitions(["eu", 3]),  # type: ignore[list-item]
        "StaticPartitions key 3 is an int; expected string keys",
    ),
    (
        lambda: WeeklyPartitions("2024-01-01", week_start=7),
        "WeeklyPartitions week_start 7 is not a weekday number; expected an int from 0"
        " (Monday) to 6 (Sunday)",
    ),
    (
        lambda: DynamicPartitions(""),
        "DynamicPartitions name '' is not a usable name; expected a non-empty string without"
        " control characters, e.g. 'customers'",
    ),
    (
        lambda: MultiPartitions(
            {"day": DailyPartitions("2024-01-01"), "hour": HourlyPartitions("2024-01-01")}
        ),
        "MultiPartitions dimensions 'day' and 'hour' are both time windows; expected at most"
        " one time dimension: a key with two time windows has no single window in time, so"
        " time-window mappings and 'the last complete window' would be ambiguous. Keep one"
        " time dimension and make the others static or dynamic",
    ),
    (
        lambda: MultiPartitions({"tenant": StaticPartitions(["a"])}),
        "MultiPartitions dimensions {'tenant': StaticPartitions(['a'])} has fewer than two"
        " dimensions; expected two or more; with one dimension, use its definition directly",
    ),
    (
        lambda: MultiPartitions(
            {"a|b": StaticPartitions(["a"]), "date": DailyPartitions("2024-01-01")}
        ),
        "MultiPartitions dimension name 'a|b' is not usable; expected a non-empty string"
        " without control characters, '|', '=' or '\\', e.g. 'tenant'",
    ),
    (
        lambda: MultiPartitions({"tenant": ["a", "b"], "region": StaticPartitions(["eu"])}),  # type: ignore[dict-item]
        "MultiPartitions dimension 'tenant' ['a', 'b'] is a list; expected a partitions"
        " definition such as StaticPartitions([...]) or DailyPartitions(...)",
    ),
    (
        lambda: TimeWindowMapping(start_offset=0, end_offset=-1),
        "TimeWindowMapping start_offset 0 is after end_offset -1; expected start_offset <="
        " end_offset, e.g. TimeWindowMapping(start_offset=-1, end_offset=-1) for the"
        " previous window",
    ),
]


@pytest.mark.parametrize(("build", "message"), CASES)
def test_invalid_definitions_raise_definition_error_with_the_fix(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(DefinitionError, match="^" + re.escape(message) + "$"):
        build()


def test_nested_multi_partitions_are_rejected() -> None:
    inner = MultiPartitions({"a": StaticPartitions(["x"]), "b": StaticPartitions(["y"])})
    with pytest.raises(
        DefinitionError, match=r"^MultiPartitions dimension 'inner' MultiPartitions\("
    ):
        MultiPartitions({"inner": inner, "c": StaticPartitions(["z"])})
