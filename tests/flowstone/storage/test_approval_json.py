"""The listing's JSON reader returns what ``json.loads`` returns, errors included."""

from __future__ import annotations

import json

import pytest

from flowstone.storage._approval_sql import load_json


@pytest.mark.parametrize(
    "text",
    ['{"rows": 3, "names": ["a", "b"]}', "[1, 2.5, null]", '"x"', "7", " {} ", "{}\n", "true"],
)
def test_load_json_matches_json_loads(text: str) -> None:
    assert load_json(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", "{} x", "  ", "[1,]"])
def test_load_json_raises_what_json_loads_raises(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        load_json(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)
