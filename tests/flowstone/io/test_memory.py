"""MemoryIOManager: values kept as they are, per asset partition."""

from __future__ import annotations

import pytest

import flowstone as fs
from flowstone.io import IOContext, MemoryIOManager


def context(asset: str = "events", key: str | None = None) -> IOContext:
    return IOContext(asset=asset, partition=key, partition_key=key, run_id="run-1")


def test_a_stored_value_is_loaded_back_as_the_same_object() -> None:
    manager = MemoryIOManager()
    value = {"rows": [1, 2]}
    assert manager.store(context(), value) is None
    assert manager.load(context()) is value


def test_values_are_kept_per_asset_and_partition() -> None:
    manager = MemoryIOManager()
    manager.store(context("a", "2024-01-01"), 1)
    manager.store(context("a", "2024-01-02"), 2)
    manager.store(context("b", "2024-01-01"), 3)
    manager.store(context("a"), 4)
    assert [
        manager.load(context("a", "2024-01-01")),
        manager.load(context("a", "2024-01-02")),
        manager.load(context("b", "2024-01-01")),
        manager.load(context("a")),
    ] == [1, 2, 3, 4]
    assert len(manager) == 4


def test_storing_again_replaces_the_value() -> None:
    manager = MemoryIOManager()
    manager.store(context(), 1)
    manager.store(context(), 2)
    assert manager.load(context()) == 2


def test_exists_delete_and_clear() -> None:
    manager = MemoryIOManager()
    manager.store(context("a"), 1)
    manager.store(context("b"), 2)
    assert manager.exists(context("a")) is True
    manager.delete(context("a"))
    manager.delete(context("a"))  # deleting nothing is fine
    assert manager.exists(context("a")) is False
    manager.clear()
    assert len(manager) == 0
    assert repr(manager) == "<MemoryIOManager 0 values>"


def test_loading_a_missing_value_says_which_asset_partition_is_missing() -> None:
    manager = MemoryIOManager()
    with pytest.raises(fs.IOManagerError) as caught:
        manager.load(context("events", "2024-01-01"))
    assert str(caught.value) == (
        "no value in memory for asset 'events' partition '2024-01-01'; materialize it first "
        "(values in memory do not survive the process)"
    )
    assert (caught.value.asset, caught.value.partition) == ("events", "2024-01-01")
    with pytest.raises(fs.IOManagerError, match=r"^no value in memory for asset 'events';"):
        manager.load(context("events"))


def test_it_is_called_inline_by_the_engine() -> None:
    assert MemoryIOManager.inline is True


def test_one_manager_keeps_each_pipelines_values_apart() -> None:
    from dataclasses import replace

    manager = MemoryIOManager()
    alpha, beta = (replace(context("a"), pipeline=name) for name in ("alpha", "beta"))
    manager.store(alpha, "A")
    assert not manager.exists(beta)
    manager.store(beta, "B")
    assert (manager.load(alpha), manager.load(beta)) == ("A", "B")
