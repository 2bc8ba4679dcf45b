"""Static, dynamic and multi partitions: keys, encodings and sets."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowstone.errors import InvalidPartition
from flowstone.partitions import (
    DailyPartitions,
    DynamicPartitions,
    MultiPartitions,
    StaticPartitions,
)

from .partition_strategies import static_definitions, static_key_text

DAILY = DailyPartitions("2024-01-01")
NOW = datetime(2024, 1, 4, tzinfo=UTC)


def test_static_keys_keep_their_order() -> None:
    regions = StaticPartitions(["us", "eu", "apac"])
    assert list(regions.all()) == ["us", "eu", "apac"]
    assert list(regions.range("eu", "apac")) == ["eu", "apac"]
    assert regions.contains("eu")
    assert not regions.contains("EU")
    assert repr(regions) == "StaticPartitions(['us', 'eu', 'apac'])"


@settings(deadline=None)
@given(static_definitions, st.data())
def test_static_keys_round_trip_through_their_encoding(
    definition: StaticPartitions, data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(definition.keys))
    assert definition.decode(definition.encode(key)) == key


def test_dynamic_partitions_accept_any_printable_key() -> None:
    customers = DynamicPartitions("customers")
    assert customers.validate("acme corp | ünïcode = ok") == "acme corp | ünïcode = ok"
    assert customers == DynamicPartitions("customers")
    assert customers != DynamicPartitions("tenants")


def test_dynamic_sets_are_built_from_the_stored_keys_in_order() -> None:
    customers = DynamicPartitions("customers")
    stored = ["zeta", "alpha", "mid", "alpha"]
    everything = customers.all(dynamic_keys=stored)
    assert list(everything) == ["zeta", "alpha", "mid"]
    assert list(customers.range("alpha", "mid", dynamic_keys=stored)) == ["alpha", "mid"]
    assert list(customers.range("mid", "mid")) == ["mid"]
    assert "alpha" in everything
    assert "omega" not in everything


@settings(deadline=None)
@given(st.text(min_size=1).filter(lambda t: t.isprintable()))
def test_dynamic_keys_round_trip_through_their_encoding(key: str) -> None:
    customers = DynamicPartitions("customers")
    assert customers.decode(customers.encode(key)) == key


MULTI = MultiPartitions({"tenant": StaticPartitions(["acme", "beta", "a|b=c\\d"]), "date": DAILY})


def test_multi_keys_are_dicts_in_dimension_order() -> None:
    key = MULTI.validate({"date": "2024-01-02", "tenant": "acme"})
    assert key == {"tenant": "acme", "date": date(2024, 1, 2)}
    assert list(key) == ["tenant", "date"]
    assert MULTI.encode(key) == "tenant=acme|date=2024-01-02"
    assert MULTI.validate("date=2024-01-02|tenant=acme") == key


def test_multi_encoding_escapes_separators_inside_values() -> None:
    key = {"tenant": "a|b=c\\d", "date": date(2024, 1, 2)}
    text = MULTI.encode(key)
    assert text == "tenant=a\\|b\\=c\\\\d|date=2024-01-02"
    assert MULTI.decode(text) == key


@settings(deadline=None)
@given(static_definitions, st.data())
def test_multi_keys_with_any_static_values_round_trip(
    tenants: StaticPartitions, data: st.DataObject
) -> None:
    multi = MultiPartitions({"tenant": tenants, "region": StaticPartitions(["=", "|", "\\"])})
    key = {
        "tenant": data.draw(st.sampled_from(tenants.keys)),
        "region": data.draw(st.sampled_from(["=", "|", "\\"])),
    }
    assert multi.decode(multi.encode(key)) == key


@settings(deadline=None)
@given(st.lists(st.tuples(static_key_text, static_key_text), min_size=2, max_size=6, unique=True))
def test_multi_encodings_are_unambiguous(pairs: list[tuple[str, str]]) -> None:
    left = StaticPartitions(sorted({a for a, _ in pairs}))
    right = StaticPartitions(sorted({b for _, b in pairs}))
    multi = MultiPartitions({"left": left, "right": right})
    encodings = {multi.encode({"left": a, "right": b}) for a, b in pairs}
    assert len(encodings) == len(pairs)


def test_multi_all_is_the_product_of_the_dimensions() -> None:
    everything = MULTI.all(now=NOW)
    assert len(everything) == 3 * 3
    assert everything[0] == {"tenant": "acme", "date": date(2024, 1, 1)}
    assert everything[4] == {"tenant": "beta", "date": date(2024, 1, 2)}
    assert {"tenant": "beta", "date": date(2024, 1, 3)} in everything
    assert {"tenant": "beta", "date": date(2024, 1, 4)} not in everything


def test_multi_range_is_a_box_over_each_dimension() -> None:
    box = MULTI.range("tenant=acme|date=2024-01-02", "tenant=beta|date=2024-01-03")
    assert list(box.encoded()) == [
        "tenant=acme|date=2024-01-02",
        "tenant=acme|date=2024-01-03",
        "tenant=beta|date=2024-01-02",
        "tenant=beta|date=2024-01-03",
    ]


def test_with_dimension_fixes_one_dimension() -> None:
    one_day = MULTI.with_dimension("date", "2024-01-02")
    assert [k["tenant"] for k in one_day] == ["acme", "beta", "a|b=c\\d"]
    with pytest.raises(InvalidPartition, match=r"have no dimension 'day'; expected one of"):
        MULTI.with_dimension("day", "2024-01-02")


def test_multi_with_a_dynamic_dimension_needs_its_stored_keys() -> None:
    multi = MultiPartitions({"customer": DynamicPartitions("customers"), "date": DAILY})
    assert multi.validate("customer=new|date=2024-01-02")["customer"] == "new"
    keys = multi.all(now=NOW, dynamic_keys=["x", "y"])
    assert len(keys) == 6
    by_name = multi.all(now=NOW, dynamic_keys={"customers": ["x"]})
    assert list(by_name.encoded()) == [
        "customer=x|date=2024-01-01",
        "customer=x|date=2024-01-02",
        "customer=x|date=2024-01-03",
    ]


def test_multi_definitions_are_values() -> None:
    again = MultiPartitions(
        {
            "tenant": StaticPartitions(["acme", "beta", "a|b=c\\d"]),
            "date": DailyPartitions("2024-01-01"),
        }
    )
    assert again == MULTI
    assert hash(again) == hash(MULTI)
    assert pickle.loads(pickle.dumps(MULTI)) == MULTI
    assert MULTI.time_dimension == "date"
    assert MULTI.describe() == (
        "multi partitions (tenant: static partitions ['acme', 'beta', 'a|b=c\\\\d'] ×"
        " date: daily partitions from 2024-01-01 (UTC))"
    )
    assert MULTI.example() == "tenant=acme|date=2024-01-15"
