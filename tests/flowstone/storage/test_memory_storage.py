"""The in-memory backend passes the storage contract."""

from __future__ import annotations

import pytest

from flowstone.storage import MemoryStorage
from tests.flowstone.storage.contract import StorageContract, StorageFactory


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def make_storage(self) -> StorageFactory:
        store = MemoryStorage()  # "reopening" memory means reusing the one instance
        return lambda: store
