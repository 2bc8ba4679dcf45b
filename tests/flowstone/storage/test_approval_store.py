"""Every backend's ``storage.approvals`` passes the approval store contract; on the SQL
backends the audit trail is append-only by the database's own triggers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flowstone.storage import MemoryStorage, SQLiteStorage, Storage
from tests.flowstone.storage.approval_contract import ApprovalStoreContract
from tests.pg import clear_schema, database_fixture

pg_module_url = database_fixture(scope="module")


class TestMemoryApprovalStore(ApprovalStoreContract):
    @pytest.fixture
    def make_storage(self) -> Callable[[], Storage]:
        shared = MemoryStorage()
        return lambda: shared.for_pipeline("")  # another view of the same dictionaries


class TestSQLiteApprovalStore(ApprovalStoreContract):
    @pytest.fixture
    def make_storage(self, tmp_path: Path) -> Callable[[], Storage]:
        return lambda: SQLiteStorage(tmp_path / "flowstone.db")


@pytest.mark.postgres
class TestPostgresApprovalStore(ApprovalStoreContract):
    @pytest.fixture
    def make_storage(self, pg_module_url: str) -> Callable[[], Storage]:
        from flowstone.storage import PostgresStorage

        clear_schema(pg_module_url, "approvals", keep=("schema_version",))
        return lambda: PostgresStorage(pg_module_url, schema="approvals")
