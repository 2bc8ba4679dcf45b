"""Partition mappings: which upstream partitions a downstream partition needs, and back."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, date, datetime

import pytest

from flowstone.errors import DefinitionError, InvalidPartition
from flowstone.partitions import (
    AllPartitionsMapping,
    DailyPartitions,
    DimensionMapping,
    DynamicPartitions,
    HourlyPartitions,
    IdentityMapping,
    MonthlyPartitions,
    MultiPartitions,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowMapping,
    WeeklyPartitions,
    default_mapping,
)

DAILY = DailyPartitions("2024-01-01")
HOURLY = HourlyPartitions("2024-01-01")
REGIONS = StaticPartitions(["eu", "us"])
MULTI = MultiPartitions({"region": REGIONS, "date": DAILY})
NOW = datetime(2024, 1, 4, tzinfo=UTC)


def test_identity_maps_a_key_to_itself() -> None:
    needed = IdentityMapping().upstream_keys("2024-01-05", DAILY, DAILY)
    assert list(needed) == [date(2024, 1, 5)]
    assert IdentityMapping().upstream_keys(None, None, None) == [None]


def test_identity_drops_keys_the_upstream_does_not_have() -> None:
    later = DailyPartitions("2024-02-01")
    mapping = IdentityMapping()
    assert mapping.problems(DAILY, later) != []
    assert mapping.problems(StaticPartitions(["eu"]), REGIONS) == []
    assert list(mapping.downstream_keys("us", REGIONS, StaticPartitions(["eu"]))) == []


def test_identity_between_different_definitions_explains_the_problem() -> None:
    assert IdentityMapping().problems(DAILY, HOURLY) == [
        "IdentityMapping needs equal partitions on both sides; the downstream has daily"
        " partitions from 2024-01-01 (UTC) and the upstream has hourly partitions from"
        " 2024-01-01T00:00+00:00 (UTC); use TimeWindowMapping() to map time windows by overlap"
    ]
    with pytest.raises(DefinitionError, match=r"^IdentityMapping needs equal partitions"):
        IdentityMapping().upstream_keys("2024-01-05", DAILY, HOURLY)


def test_previous_window_mapping_makes_today_depend_on_yesterday() -> None:
    yesterday = TimeWindowMapping(start_offset=-1, end_offset=-1)
    assert list(yesterday.upstream_keys("2024-01-05", DAILY, DAILY)) == [date(2024, 1, 4)]
    assert list(yesterday.upstream_keys("2024-01-01", DAILY, DAILY)) == []
    assert list(yesterday.downstream_keys("2024-01-04", DAILY, DAILY)) == [date(2024, 1, 5)]


def test_a_day_needs_its_hours_and_an_hour_affects_its_day() -> None:
    mapping = TimeWindowMapping()
    hours = mapping.upstream_keys("2024-01-05", DAILY, HOURLY)
    assert len(hours) == 24
    assert hours.first == datetime(2024, 1, 5, tzinfo=hours.first.tzinfo)
    assert list(mapping.downstream_keys("2024-01-05T13:00+00:00", HOURLY, DAILY)) == [
        date(2024, 1, 5)
    ]
    assert list(mapping.upstream_keys("2024-01-05T13:00", HOURLY, DAILY)) == [date(2024, 1, 5)]


def test_offsets_count_downstream_windows_across_granularities() -> None:
    two_days = TimeWindowMapping(start_offset=-1, end_offset=0)
    assert len(two_days.upstream_keys("2024-01-05", DAILY, HOURLY)) == 48


def test_weeks_and_months_overlap_partially() -> None:
    weekly = WeeklyPartitions("2024-01-01")
    monthly = MonthlyPartitions("2024-01-01")
    mapping = TimeWindowMapping()
    assert list(mapping.upstream_keys("2024-02-01", monthly, weekly)) == [
        date(2024, 1, 29),
        date(2024, 2, 5),
        date(2024, 2, 12),
        date(2024, 2, 19),
        date(2024, 2, 26),
    ]
    assert list(mapping.downstream_keys("2024-01-29", weekly, monthly)) == [
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]


def test_downstream_keys_can_be_limited_to_complete_windows() -> None:
    mapping = TimeWindowMapping(start_offset=-3, end_offset=0)
    affected = mapping.downstream_keys("2024-01-02", DAILY, DAILY, now=NOW)
    assert list(affected) == [date(2024, 1, 2), date(2024, 1, 3)]


def test_time_window_mapping_needs_time_windows_on_both_sides() -> None:
    assert TimeWindowMapping().problems(DAILY, REGIONS) == [
        "TimeWindowMapping needs time-window partitions on both sides; the upstream has"
        " static partitions ['eu', 'us']"
    ]


def test_all_partitions_mapping_reads_every_upstream_key() -> None:
    everything = AllPartitionsMapping().upstream_keys(None, None, DAILY, now=NOW)
    assert list(everything) == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    assert AllPartitionsMapping().upstream_keys("eu", REGIONS, None) == [None]
    assert AllPartitionsMapping().downstream_keys("2024-01-01", DAILY, None) == [None]
    customers = DynamicPartitions("customers")
    stored = AllPartitionsMapping().upstream_keys(None, None, customers, dynamic_keys=["a"])
    assert list(stored) == ["a"]


def test_an_unpartitioned_side_only_has_the_key_none() -> None:
    with pytest.raises(
        InvalidPartition,
        match="^"
        + re.escape(
            "partition '2024-01-01' was given for the unpartitioned downstream asset; expected"
            " None, as an unpartitioned asset has a single partition"
        )
        + "$",
    ):
        AllPartitionsMapping().upstream_keys("2024-01-01", None, DAILY)


def test_dimension_mapping_reads_every_value_of_the_other_dimensions() -> None:
    by_date = DimensionMapping("date")
    assert by_date.problems(DAILY, MULTI) == []
    needed = by_date.upstream_keys("2024-01-02", DAILY, MULTI)
    assert list(needed.encoded()) == ["region=eu|date=2024-01-02", "region=us|date=2024-01-02"]
    assert list(by_date.downstream_keys("region=us|date=2024-01-02", MULTI, DAILY)) == [
        date(2024, 1, 2)
    ]


def test_dimension_mapping_works_from_multi_downstream_to_single_upstream() -> None:
    by_region = DimensionMapping("region")
    assert list(by_region.upstream_keys("region=us|date=2024-01-02", MULTI, REGIONS)) == ["us"]
    affected = by_region.downstream_keys("eu", REGIONS, MULTI, now=NOW)
    assert list(affected.encoded()) == [
        "region=eu|date=2024-01-01",
        "region=eu|date=2024-01-02",
        "region=eu|date=2024-01-03",
    ]


def test_dimension_mapping_problems_name_the_mismatch() -> None:
    assert DimensionMapping("tenant").problems(REGIONS, MULTI) == [
        "DimensionMapping('tenant'): the multi partitions have no dimension 'tenant';"
        " expected one of 'region', 'date'"
    ]
    assert DimensionMapping("region").problems(StaticPartitions(["eu"]), MULTI) == [
        "DimensionMapping('region'): the other side has static partitions ['eu'], but"
        " dimension 'region' has static partitions ['eu', 'us']; expected them equal"
    ]
    assert DimensionMapping("region").problems(REGIONS, REGIONS) == [
        "DimensionMapping('region') needs multi partitions on exactly one side; the"
        " downstream has static partitions ['eu', 'us'] and the upstream has static"
        " partitions ['eu', 'us']"
    ]


@pytest.mark.parametrize(
    ("downstream", "upstream", "expected"),
    [
        (DAILY, DailyPartitions(start="2024-01-01"), IdentityMapping()),
        (None, None, IdentityMapping()),
        (DAILY, None, AllPartitionsMapping()),
        (None, DAILY, None),
        (DAILY, HOURLY, TimeWindowMapping()),
        (HOURLY, DAILY, TimeWindowMapping()),
        (DAILY, DailyPartitions("2023-01-01"), TimeWindowMapping()),
        (DAILY, DailyPartitions("2024-01-01", timezone="Europe/Berlin"), None),
        (DAILY, REGIONS, None),
        (DAILY, MULTI, None),
        (REGIONS, StaticPartitions(["eu"]), None),
    ],
)
def test_default_mapping_is_inferred_only_when_unambiguous(
    downstream: PartitionsDefinition | None,
    upstream: PartitionsDefinition | None,
    expected: PartitionMapping | None,
) -> None:
    assert default_mapping(downstream, upstream) == expected


def test_mappings_are_values() -> None:
    for mapping in (
        IdentityMapping(),
        AllPartitionsMapping(),
        TimeWindowMapping(start_offset=-1, end_offset=-1),
        DimensionMapping("date"),
    ):
        assert pickle.loads(pickle.dumps(mapping)) == mapping
        assert hash(mapping) == hash(pickle.loads(pickle.dumps(mapping)))
    assert repr(TimeWindowMapping(-1, -1)) == "TimeWindowMapping(start_offset=-1, end_offset=-1)"


def test_problems_with_an_unpartitioned_side_say_it_has_no_partitions() -> None:
    assert TimeWindowMapping().problems(None, DAILY) == [
        "TimeWindowMapping needs time-window partitions on both sides; the downstream has"
        " no partitions"
    ]
    assert IdentityMapping().problems(None, DAILY) == [
        "IdentityMapping needs equal partitions on both sides; the downstream has no"
        " partitions and the upstream has daily partitions from 2024-01-01 (UTC)"
    ]
