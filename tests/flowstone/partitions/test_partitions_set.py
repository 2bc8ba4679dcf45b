"""Partition sets are index ranges: lazy, cheap to count and summarize, exact as sets."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowstone.errors import InvalidPartition
from flowstone.partitions import (
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    PartitionSet,
    StaticPartitions,
    StatusRun,
)

DAILY = DailyPartitions("2024-01-01", end="2024-12-31")
TEN_YEARS = HourlyPartitions("2015-01-01", end="2024-12-31")
indices = st.sets(st.integers(0, 365), max_size=60)


def day(i: int) -> date:
    return DAILY.shift(DAILY.start, i)


def days(positions: set[int]) -> PartitionSet:
    return PartitionSet.from_keys(DAILY, [day(i) for i in positions])


@settings(deadline=None)
@given(indices, indices)
def test_set_operations_match_python_sets(a: set[int], b: set[int]) -> None:
    left, right = days(a), days(b)
    assert list(left | right) == [day(i) for i in sorted(a | b)]
    assert list(left & right) == [day(i) for i in sorted(a & b)]
    assert list(left - right) == [day(i) for i in sorted(a - b)]
    assert len(left) == len(a)
    assert (left == right) == (a == b)


@settings(deadline=None)
@given(indices, st.integers(1, 20))
def test_chunks_partition_the_set_in_order(a: set[int], size: int) -> None:
    keys = days(a)
    chunks = list(keys.chunks(size))
    assert [k for chunk in chunks for k in chunk] == list(keys)
    assert all(0 < len(chunk) <= size for chunk in chunks)


@settings(deadline=None)
@given(indices, st.integers(-70, 70), st.integers(-70, 70))
def test_slices_and_indices_match_a_list(a: set[int], start: int, stop: int) -> None:
    keys = days(a)
    as_list = list(keys)
    assert list(keys[start:stop]) == as_list[start:stop]
    for position in range(-len(as_list), len(as_list)):
        assert keys[position] == as_list[position]


@settings(deadline=None)
@given(st.dictionaries(st.integers(0, 365), st.sampled_from(["succeeded", "failed"])))
def test_summaries_reconstruct_every_status(statuses: dict[int, str]) -> None:
    keys = DAILY.all()
    runs = keys.summarize({DAILY.encode(day(i)): s for i, s in statuses.items()}, missing="none")
    expanded = [status for run in runs for status in [run.status] * run.count]
    assert expanded == [statuses.get(i, "none") for i in range(366)]
    assert all(a.status != b.status for a, b in pairwise(runs))


def test_ten_years_of_hours_count_index_and_summarize_without_building_every_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = 0
    original = HourlyPartitions._unit_key

    def counting(self: HourlyPartitions, unit: int) -> Any:
        nonlocal built
        built += 1
        return original(self, unit)

    monkeypatch.setattr(HourlyPartitions, "_unit_key", counting)
    hours = TEN_YEARS.all()
    assert len(hours) == 87_672
    assert hours[-1] == datetime(2024, 12, 31, 23, tzinfo=hours[0].tzinfo)
    statuses = {"2020-06-01T00:00+00:00": "failed", "2020-06-01T01:00+00:00": "failed"}
    summary = hours.summarize(statuses)
    assert [(run.status, run.count) for run in summary] == [
        (None, 47_472),
        ("failed", 2),
        (None, 40_198),
    ]
    assert len(list(hours.chunks(10_000))) == 9
    assert built < 50


def test_summary_runs_name_their_first_and_last_keys() -> None:
    keys = DAILY.range("2024-01-01", "2024-01-05")
    summary = keys.summarize({"2024-01-02": "ok", "2024-01-03": "ok", "not a key": "x"})
    assert summary == [
        StatusRun(date(2024, 1, 1), date(2024, 1, 1), None, 1),
        StatusRun(date(2024, 1, 2), date(2024, 1, 3), "ok", 2),
        StatusRun(date(2024, 1, 4), date(2024, 1, 5), None, 2),
    ]
    first, last, status, count = summary[1]
    assert (first, last, status, count) == (date(2024, 1, 2), date(2024, 1, 3), "ok", 2)


def test_membership_accepts_every_key_form_and_rejects_other_definitions_keys() -> None:
    keys = DAILY.range("2024-03-01", "2024-03-31")
    assert "2024-03-15" in keys
    assert date(2024, 3, 15) in keys
    assert "2024-04-01" not in keys
    assert "garbage" not in keys
    assert keys.index_of("2024-03-03") == 2


def test_sets_of_different_definitions_do_not_combine() -> None:
    with pytest.raises(InvalidPartition, match=r"^cannot combine partition sets of different"):
        DAILY.all() | DailyPartitions("2024-01-01", end="2024-01-31").all()


def test_dynamic_sets_from_different_stored_keys_combine_by_key() -> None:
    customers = DynamicPartitions("customers")
    union = customers.all(dynamic_keys=["a", "b"]) | customers.all(dynamic_keys=["c", "a"])
    assert list(union) == ["a", "b", "c"]
    assert list(union - PartitionSet.from_keys(customers, ["b"])) == ["a", "c"]


def test_empty_sets_have_no_first_or_last() -> None:
    empty = PartitionSet.empty(DAILY)
    assert (len(empty), empty.first, empty.last, bool(empty)) == (0, None, None, False)
    assert repr(empty) == (
        "<PartitionSet of daily partitions from 2024-01-01 to 2024-12-31 (UTC): empty>"
    )


def test_set_reprs_show_size_span_and_ranges() -> None:
    assert repr(TEN_YEARS.all()) == (
        "<PartitionSet of hourly partitions from 2015-01-01T00:00+00:00 to"
        " 2024-12-31T23:00+00:00 (UTC): 87672 keys, 2015-01-01T00:00+00:00 .."
        " 2024-12-31T23:00+00:00>"
    )
    gappy = PartitionSet.from_keys(DAILY, ["2024-01-01", "2024-01-02", "2024-01-09"])
    assert repr(gappy) == (
        "<PartitionSet of daily partitions from 2024-01-01 to 2024-12-31 (UTC): 3 keys in"
        " 2 ranges, 2024-01-01 .. 2024-01-09>"
    )


def test_sets_pickle() -> None:
    regions = StaticPartitions(["eu", "us"]).all()
    hours = HourlyPartitions("2024-01-01").all(now=datetime(2024, 2, 1, tzinfo=UTC))
    for keys in (regions, hours, days({1, 2, 40})):
        assert pickle.loads(pickle.dumps(keys)) == keys


def test_a_chunk_size_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^chunk size must be a positive int; found 0$"):
        list(DAILY.all().chunks(0))
