"""AssetInfo: the catalogue facts of an asset, copied and read-only."""

from __future__ import annotations

import pytest

import flowstone as fs


def test_info_is_copied_so_later_changes_do_not_leak_in() -> None:
    tags = {"tier": "gold"}
    owners = ["a@example.com"]
    info = fs.AssetInfo(tags=tags, owners=owners)
    tags["tier"] = "bronze"
    owners.append("b@example.com")
    assert dict(info.tags) == {"tier": "gold"}
    assert info.owners == ("a@example.com",)


def test_info_mappings_are_read_only() -> None:
    info = fs.AssetInfo(metadata={"rows": 3})
    with pytest.raises(TypeError):
        info.metadata["rows"] = 4  # type: ignore[index]


def test_defaults() -> None:
    info = fs.AssetInfo()
    assert (dict(info.metadata), dict(info.tags), info.owners, info.group, info.code_version) == (
        {},
        {},
        (),
        "default",
        None,
    )
