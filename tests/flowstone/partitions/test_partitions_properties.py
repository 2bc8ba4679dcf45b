"""Partition arithmetic holds for every time-window kind, in zones with clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowstone.errors import InvalidPartition
from flowstone.partitions import TimeWindowPartitions

from .partition_strategies import instants, key_at, keys_of, last_index, time_windows

MICROSECOND = timedelta(microseconds=1)


def just_before(moment: datetime) -> datetime:
    """One microsecond earlier, in absolute time (arithmetic on a ZoneInfo datetime is
    wall-clock arithmetic and lands in the wrong place around clock changes)."""
    return moment.astimezone(UTC) - MICROSECOND


def same(definition: TimeWindowPartitions, a: Any, b: Any) -> bool:
    """Keys are the same partition (by encoding: aware datetimes in the repeated hour
    compare equal with ==, see HourlyPartitions)."""
    return definition.encode(a) == definition.encode(b)


@settings(deadline=None)
@given(st.data())
def test_key_for_time_of_a_window_start_is_that_key(data: st.DataObject) -> None:
    definition = data.draw(time_windows())
    key = data.draw(keys_of(definition))
    assert same(definition, definition.key_for_time(definition.window_start(key)), key)


@settings(deadline=None)
@given(st.data())
def test_the_last_instant_of_a_window_belongs_to_it(data: st.DataObject) -> None:
    definition = data.draw(time_windows())
    key = data.draw(keys_of(definition))
    assert same(definition, definition.key_for_time(just_before(definition.window_end(key))), key)


@settings(deadline=None)
@given(st.data())
def test_windows_are_contiguous_and_non_empty(data: st.DataObject) -> None:
    definition = data.draw(time_windows(bounded=False))
    key = data.draw(keys_of(definition))
    following = definition.shift(key, 1)
    assert definition.window_end(key) == definition.window_start(following)
    assert definition.window_start(key) < definition.window_end(key)


@settings(deadline=None)
@given(st.data(), st.integers(-400, 400))
def test_shifting_there_and_back_returns_the_key(data: st.DataObject, n: int) -> None:
    definition = data.draw(time_windows(bounded=False))
    key = data.draw(keys_of(definition))
    try:
        shifted = definition.shift(key, n)
    except InvalidPartition:
        assert n < 0  # only shifting before the start can fail for an unbounded definition
        return
    assert same(definition, definition.shift(shifted, -n), key)


@settings(deadline=None)
@given(st.data())
def test_range_length_is_the_index_difference_plus_one(data: st.DataObject) -> None:
    definition = data.draw(time_windows())
    top = last_index(definition)
    i = data.draw(st.integers(0, top))
    j = data.draw(st.integers(i, top))
    first, last = key_at(definition, i), key_at(definition, j)
    window = definition.range(first, last)
    assert len(window) == j - i + 1
    assert same(definition, window.first, first)
    assert same(definition, window.last, last)
    k = data.draw(st.integers(0, j - i))
    assert same(definition, window[k], definition.shift(first, k))
    assert window.index_of(window[k]) == k


@settings(deadline=None)
@given(st.data())
def test_decode_reverses_encode(data: st.DataObject) -> None:
    definition = data.draw(time_windows())
    key = data.draw(keys_of(definition))
    text = definition.encode(key)
    decoded = definition.decode(text)
    assert definition.encode(decoded) == text
    assert decoded == key
    if isinstance(key, datetime):  # also the same instant and zone, not just the wall clock
        assert decoded.timestamp() == key.timestamp()
        assert decoded.tzinfo == key.tzinfo


@settings(deadline=None)
@given(st.data())
def test_encodings_of_different_keys_differ(data: st.DataObject) -> None:
    definition = data.draw(time_windows())
    i = data.draw(st.integers(0, last_index(definition)))
    j = data.draw(st.integers(0, last_index(definition)).filter(lambda x: x != i))
    assert definition.encode(key_at(definition, i)) != definition.encode(key_at(definition, j))


@settings(deadline=None)
@given(st.data(), instants)
def test_key_for_time_finds_the_window_holding_the_time(
    data: st.DataObject, moment: datetime
) -> None:
    definition = data.draw(time_windows(bounded=False))
    try:
        key = definition.key_for_time(moment)
    except InvalidPartition:
        assert moment < definition.window_start(definition.start)
        return
    assert definition.window_start(key) <= moment < definition.window_end(key)


@settings(deadline=None)
@given(st.data(), instants)
def test_all_ends_with_the_last_window_complete_at_now(data: st.DataObject, now: datetime) -> None:
    definition = data.draw(time_windows(bounded=False))
    everything = definition.all(now=now)
    if not everything:
        assert definition.window_end(definition.start) > now
        return
    assert same(definition, everything.first, definition.start)
    assert definition.window_end(everything.last) <= now
    assert definition.window_end(definition.shift(everything.last, 1)) > now


@settings(deadline=None)
@given(st.data())
def test_a_bounded_definition_contains_exactly_start_to_end(data: st.DataObject) -> None:
    definition = data.draw(time_windows(bounded=True))
    everything = definition.all()
    assert same(definition, everything.last, definition.end)
    assert definition.contains(definition.end)
    for outside in (
        definition.window_end(definition.end),
        just_before(definition.window_start(definition.start)),
    ):
        try:
            definition.key_for_time(outside)
        except InvalidPartition:
            continue
        raise AssertionError(f"{outside} should be outside {definition}")
