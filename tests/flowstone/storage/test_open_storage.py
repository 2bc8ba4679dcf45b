"""open_storage turns a storage URL into the matching backend, or explains what exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowstone.errors import StorageError
from flowstone.storage import (
    MemoryStorage,
    PostgresStorage,
    SQLiteStorage,
    Storage,
    open_storage,
)
from flowstone.storage._url import redact


def sqlite_path(storage: Storage) -> Path:
    assert isinstance(storage, SQLiteStorage)
    return storage.path


def test_no_url_means_the_sqlite_file_under_the_base_dir(tmp_path: Path) -> None:
    assert sqlite_path(open_storage(None, base_dir=tmp_path)) == tmp_path / "flowstone.db"
    assert sqlite_path(open_storage("sqlite://", base_dir=tmp_path)) == tmp_path / "flowstone.db"
    assert sqlite_path(open_storage(None)) == Path(".flowstone/flowstone.db")


def test_three_slashes_give_a_relative_path_and_four_an_absolute_one() -> None:
    assert sqlite_path(open_storage("sqlite:///data/fs.db")) == Path("data/fs.db")
    assert sqlite_path(open_storage("sqlite:////srv/data/fs.db")) == Path("/srv/data/fs.db")
    assert open_storage("sqlite:///data/fs.db").url == "sqlite:///data/fs.db"


def test_memory_and_postgres_urls_pick_their_backends() -> None:
    assert isinstance(open_storage("memory"), MemoryStorage)
    for url in ("postgresql://u@h/db", "postgres://u@h:5433/db", "POSTGRESQL://u@h/db"):
        assert isinstance(open_storage(url), PostgresStorage)


def test_a_postgres_url_is_shown_without_its_password() -> None:
    storage = open_storage("postgresql://alice:s3cret@db.example:5432/flowstone")
    assert storage.url == "postgresql://alice:***@db.example:5432/flowstone"
    assert "s3cret" not in repr(storage)
    assert redact("postgresql://db/x?user=a&password=s3cret") == (
        "postgresql://db/x?user=a&password=***"
    )


def test_an_unknown_scheme_lists_the_schemes_that_exist() -> None:
    with pytest.raises(StorageError) as failure:
        open_storage("mysql://bob:hunter2@db/flowstone")
    message = str(failure.value)
    assert message.startswith(
        "cannot use storage URL 'mysql://bob:***@db/flowstone': unknown scheme 'mysql'. "
        "FlowStone can store records in:\n  - 'sqlite:///PATH'"
    )
    assert "'memory'" in message
    assert "'postgresql://" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("flowstone.db", "it has no scheme"),
        ("sqlite://host/fs.db", "a SQLite URL has no host"),
        ("sqlite:///", "no file path"),
        ("sqlite:///:memory:", "an in-memory SQLite is not shared; use 'memory'"),
    ],
)
def test_unusable_urls_say_why(url: str, reason: str) -> None:
    expected = f"^cannot use storage URL '{re.escape(url)}': {re.escape(reason)}"
    with pytest.raises(StorageError, match=expected):
        open_storage(url)
