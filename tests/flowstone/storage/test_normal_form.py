"""The memory store's shortcut to the normal form gives what the JSON round trip gives."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from flowstone.storage import InputRef
from flowstone.storage._codec import (
    _normal_inputs,
    _normal_metadata,
    dump_inputs,
    dump_json,
    load_inputs,
    load_metadata,
)


class Colour(enum.IntEnum):
    RED = 1


class Name(enum.StrEnum):
    A = "a"


METADATA: list[dict[Any, Any]] = [
    {},
    {"io_manager": "memory"},
    {"z": 1, "a": True, "m": None, "b": "text"},
    {"nested": {"b": 1, "a": [1, 2]}},
    {"nul": "a\x00b"},
    {"n\x00ul": 1},
    {"surrogate": "\ud800"},
    {"float": 1.5, "nan": float("nan")},
    {"enum": Colour.RED, "str_enum": Name.A},
    {1: "int key", None: "none key"},
    {"tuple": (1, 2)},
    {"unicode": "été"},
]


@pytest.mark.parametrize("metadata", METADATA, ids=repr)
def test_metadata_matches_the_json_round_trip(metadata: dict[Any, Any]) -> None:
    expected = load_metadata(dump_json(dict(metadata)))
    got = _normal_metadata(metadata)
    assert dump_json(got) == dump_json(expected)
    assert list(got) == list(expected)
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


INPUTS: list[Any] = [
    (),
    (InputRef("a", None, "id1"), InputRef("b", "2025-01-01", "id2")),
    [InputRef("a", None, "id1")],
    (InputRef(Name.A, None, "id1"),),
]


@pytest.mark.parametrize("inputs", INPUTS, ids=repr)
def test_inputs_match_the_json_round_trip(inputs: Any) -> None:
    expected = load_inputs(dump_inputs(inputs))
    got = _normal_inputs(inputs)
    assert got == expected
    assert type(got) is tuple
    assert [type(i.asset) for i in got] == [type(i.asset) for i in expected]
