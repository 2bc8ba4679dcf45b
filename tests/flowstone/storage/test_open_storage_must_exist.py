"""`open_storage(url, must_exist=True)`: for callers that only read, a store that does not
exist is refused and nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowstone.errors import StorageError
from flowstone.storage import open_storage


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "flowstone.db"
    with pytest.raises(StorageError, match=r"no record store at .*typo/flowstone\.db"):
        open_storage(f"sqlite:///{path}", must_exist=True)
    assert not (tmp_path / "typo").exists()


def test_the_default_file_under_base_dir_is_checked(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no record store at"):
        open_storage(None, base_dir=tmp_path / ".flowstone", must_exist=True)
    assert not (tmp_path / ".flowstone").exists()


def test_an_existing_sqlite_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.db"
    path.touch()
    assert open_storage(f"sqlite:///{path}", must_exist=True).url.startswith("sqlite:///")


def test_the_memory_store_has_nothing_to_read() -> None:
    with pytest.raises(StorageError, match="starts empty in every process"):
        open_storage("memory", must_exist=True)


def test_without_must_exist_nothing_is_checked(tmp_path: Path) -> None:
    open_storage(f"sqlite:///{tmp_path / 'new.db'}")
    open_storage("memory")
    assert not (tmp_path / "new.db").exists()
