"""Partition orders: every key numbered by consecutive integers, new keys appended."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

import flowstone as fs
from flowstone.partitions._order import PartitionOrder

HOURLY = fs.HourlyPartitions(start="2024-01-01", timezone="Europe/Berlin")
MULTI = fs.MultiPartitions(
    {
        "tenant": fs.StaticPartitions(["acme", "beta", "core"]),
        "day": fs.DailyPartitions("2024-01-01"),
    }
)


@given(st.integers(min_value=0, max_value=200_000))
def test_hourly_ordinals_round_trip_through_daylight_saving_changes(ordinal: int) -> None:
    order = PartitionOrder(HOURLY)
    assert order.ordinal(order.encoded_at(ordinal)) == ordinal


@given(st.integers(min_value=0, max_value=30_000))
def test_multi_ordinals_run_by_day_then_tenant(ordinal: int) -> None:
    order = PartitionOrder(MULTI)
    key = order.key_at(ordinal)
    assert order.ordinal(MULTI.encode(key)) == ordinal
    day, tenant = divmod(ordinal, 3)
    assert key == {
        "tenant": ["acme", "beta", "core"][tenant],
        "day": dt.date(2024, 1, 1) + dt.timedelta(days=day),
    }


def test_a_new_dynamic_key_is_appended_without_renumbering() -> None:
    keys = ["b", "a"]
    order = PartitionOrder(fs.DynamicPartitions("customers"), lambda name: keys)
    before = order.fingerprint
    assert (order.ordinal("b"), order.ordinal("a"), order.ordinal("c")) == (0, 1, None)
    keys.append("c")
    assert (order.ordinal("c"), order.size()) == (2, 3)
    assert order.fingerprint == before


def test_the_fingerprint_changes_when_existing_keys_would_be_renumbered() -> None:
    assert (
        PartitionOrder(fs.StaticPartitions(["eu", "us"])).fingerprint
        != PartitionOrder(fs.StaticPartitions(["us", "eu"])).fingerprint
    )
    tenants = ["acme"]
    multi = fs.MultiPartitions(
        {"day": fs.DailyPartitions("2024-01-01"), "tenant": fs.DynamicPartitions("t")}
    )
    order = PartitionOrder(multi, lambda name: tenants)
    before = order.fingerprint
    tenants.append("beta")  # a non-leading dimension grew: every later key moves
    assert order.fingerprint != before


def test_keys_outside_the_definition_have_no_ordinal() -> None:
    order = PartitionOrder(fs.DailyPartitions("2024-01-01", end="2024-01-31"))
    assert [order.ordinal(k) for k in ("2024-01-01", "2024-02-01", "junk", None)] == [
        0,
        None,
        None,
        None,
    ]
    assert (
        order.size(),
        order.fingerprint
        == PartitionOrder(fs.DailyPartitions("2024-01-01", end="2024-01-31")).fingerprint,
    ) == (31, True)


def test_an_unpartitioned_asset_has_the_one_ordinal_zero() -> None:
    order = PartitionOrder(None)
    assert (order.ordinal(None), order.ordinal("x"), order.size(), order.key_at(0)) == (
        0,
        None,
        1,
        None,
    )
