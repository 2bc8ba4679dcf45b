"""pipeline.schedule: cron, zone and catch_up checked at definition time; DST-correct fire
times from APScheduler; the window that closed at a tick; which missed ticks run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

import flowstone as fs
from flowstone.automation._schedule_actor import closed_window, due_ticks, tick_partition


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("s")

    @p.asset(partitioned_by=fs.DailyPartitions(start="2025-01-01"))
    def daily(context: object) -> int:
        return 1

    return p


def test_an_invalid_cron_expression_is_a_definition_error_naming_the_schedule() -> None:
    with pytest.raises(
        fs.DefinitionError, match=r"^schedule 'n': invalid cron expression '61 \* \* \* \*'"
    ):
        make_pipeline().schedule("n", asset="daily", cron="61 * * * *")
    with pytest.raises(fs.DefinitionError, match="expected 5 fields"):
        make_pipeline().schedule("n", asset="daily", cron="* * *")


def test_an_unknown_time_zone_and_a_bad_catch_up_are_definition_errors() -> None:
    with pytest.raises(fs.DefinitionError, match=r"^schedule 'n': unknown time zone 'Mars/Base'"):
        make_pipeline().schedule("n", asset="daily", cron="0 2 * * *", timezone="Mars/Base")
    with pytest.raises(
        fs.DefinitionError, match=r"catch_up must be one of 'skip', 'latest', 'all', got 'some'"
    ):
        make_pipeline().schedule("n", asset="daily", cron="0 2 * * *", catch_up="some")


def test_an_unknown_asset_is_reported_when_the_pipeline_is_validated() -> None:
    p = make_pipeline()
    p.schedule("n", asset="dialy", cron="0 2 * * *")
    with pytest.raises(
        fs.DefinitionError,
        match=r"schedule 'n' requests unknown asset 'dialy' \(did you mean 'daily'\?\)",
    ):
        p.validate()


def test_a_duplicate_schedule_name_is_refused() -> None:
    p = make_pipeline()
    p.schedule("n", asset="daily", cron="0 2 * * *")
    with pytest.raises(fs.DefinitionError, match="schedule 'n' is defined twice"):
        p.schedule("n", asset="daily", cron="0 3 * * *")


def test_fire_times_follow_the_zone_across_daylight_saving_changes() -> None:
    s = make_pipeline().schedule("n", asset="daily", cron="30 3 * * *", timezone="Europe/Paris")
    times = s.fire_times(utc("2025-03-29T00:00:00"), utc("2025-04-01T00:00:00"))
    # 03:30 Paris is 02:30 UTC in winter (CET) and 01:30 UTC from March 30 (CEST).
    assert times == [
        utc("2025-03-29T02:30:00"),
        utc("2025-03-30T01:30:00"),
        utc("2025-03-31T01:30:00"),
    ]


def test_six_fields_give_a_schedule_with_seconds() -> None:
    s = make_pipeline().schedule("n", asset="daily", cron="*/20 * * * * *")
    assert s.fire_times(utc("2025-01-01T00:00:00"), utc("2025-01-01T00:01:00")) == [
        utc("2025-01-01T00:00:20"), utc("2025-01-01T00:00:40"), utc("2025-01-01T00:01:00"),
    ]  # fmt: skip


def test_the_default_partition_of_a_tick_is_the_window_that_closed_at_it() -> None:
    p = make_pipeline()
    s = p.schedule("n", asset="daily", cron="0 2 * * *")
    assert tick_partition(s, p, utc("2025-01-15T02:00:00")) == date(2025, 1, 14)
    assert closed_window(
        fs.DailyPartitions(start="2025-01-01"), utc("2025-01-15T00:00:00")
    ) == date(2025, 1, 14)
    custom = p.schedule("c", asset="daily", cron="0 2 * * *", partition=lambda t: t.date())
    assert tick_partition(custom, p, utc("2025-01-15T02:00:00")) == date(2025, 1, 15)


def test_missed_ticks_follow_catch_up() -> None:
    p = make_pipeline()
    anchor, now = utc("2025-01-15T00:00:00"), utc("2025-01-15T05:30:00")
    hourly = {
        c: p.schedule(c, asset="daily", cron="0 * * * *", catch_up=c)
        for c in ("all", "latest", "skip")
    }
    assert len(due_ticks(hourly["all"], anchor, now, 60)[0]) == 5
    assert due_ticks(hourly["latest"], anchor, now, 60) == ([utc("2025-01-15T05:00:00")], None)
    assert due_ticks(hourly["skip"], anchor, now, 60) == ([], utc("2025-01-15T05:00:00"))
    fresh = now - timedelta(minutes=30) + timedelta(seconds=30)
    assert due_ticks(hourly["skip"], anchor, fresh, 60) == ([utc("2025-01-15T05:00:00")], None)
