"""FlowStone's record store: runs and materializations, with the lineage between them.

Module map:
    _records.py          the records (RunRecord, MaterializationRecord, InputRef, ...)
    _storage.py          Storage: the interface every backend implements
    _url.py              open_storage(): storage URL -> backend
    _memory.py           MemoryStorage
    _sqlite.py           SQLiteStorage (the default; _sqlite_queries.py holds its statements)
    _postgres.py         PostgresStorage (asyncpg; _postgres_queries.py holds its statements)
    _postgres_session.py retryable failures, refusal messages, session settings, release
    _sql.py              queries both SQL backends share (lineage, prune, listings)
    _run_log.py          RunLogLine and the run_logs statements (captured log lines)
    _migrations.py       versioned schema migrations for both SQL dialects (the list; the
                         wings' versions in _approval_schema, _automation_schema,
                         _status_schema, _run_log)
    _postgres_changes.py PostgreSQL statements of the change log and runtime snapshots
    _approval_records.py ApprovalRecord, AuditEntry, statuses (checkpoint gates)
    _approval_store.py   ApprovalStore: storage.approvals on every backend
    _approval_memory.py, _approval_sqlite.py, _approval_postgres.py, _approval_sql.py
                         its three backends and their shared SQL
    _codec.py            record <-> row conversions shared by every backend
"""

from typing import TYPE_CHECKING

from flowstone.storage._approval_records import OPEN_STATUSES as OPEN_STATUSES
from flowstone.storage._approval_records import TERMINAL_STATUSES as TERMINAL_STATUSES
from flowstone.storage._approval_records import ApprovalPolicy as ApprovalPolicy
from flowstone.storage._approval_records import ApprovalRecord as ApprovalRecord
from flowstone.storage._approval_records import ApprovalStatus as ApprovalStatus
from flowstone.storage._approval_records import AuditEntry as AuditEntry
from flowstone.storage._approval_store import ApprovalStore as ApprovalStore
from flowstone.storage._memory import MemoryStorage as MemoryStorage
from flowstone.storage._records import MATERIALIZATION_STATUSES as MATERIALIZATION_STATUSES
from flowstone.storage._records import RUN_STATUSES as RUN_STATUSES
from flowstone.storage._records import TRIGGERS as TRIGGERS
from flowstone.storage._records import ErrorInfo as ErrorInfo
from flowstone.storage._records import InputRef as InputRef
from flowstone.storage._records import LineageEntry as LineageEntry
from flowstone.storage._records import MaterializationRecord as MaterializationRecord
from flowstone.storage._records import MaterializationStatus as MaterializationStatus
from flowstone.storage._records import RunRecord as RunRecord
from flowstone.storage._records import RunStatus as RunStatus
from flowstone.storage._records import WriteBatch as WriteBatch
from flowstone.storage._run_log import RunLogLine as RunLogLine
from flowstone.storage._sqlite import SQLiteStorage as SQLiteStorage
from flowstone.storage._storage import Storage as Storage
from flowstone.storage._url import open_storage as open_storage

if TYPE_CHECKING:
    from flowstone.storage._postgres import PostgresStorage as PostgresStorage

__all__ = (
    "MATERIALIZATION_STATUSES",
    "OPEN_STATUSES",
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "TRIGGERS",
    "ApprovalPolicy",
    "ApprovalRecord",
    "ApprovalStatus",
    "ApprovalStore",
    "AuditEntry",
    "ErrorInfo",
    "InputRef",
    "LineageEntry",
    "MaterializationRecord",
    "MaterializationStatus",
    "MemoryStorage",
    "PostgresStorage",
    "RunLogLine",
    "RunRecord",
    "RunStatus",
    "SQLiteStorage",
    "Storage",
    "WriteBatch",
    "open_storage",
)

for _name in __all__:
    if _name not in globals():
        continue  # loaded lazily (see __getattr__)
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("flowstone.storage._"):
        try:
            _obj.__module__ = "flowstone.storage"
        except (AttributeError, TypeError):
            pass


def __getattr__(name: str) -> object:
    # PostgreSQL support imports asyncpg; load it only when asked for, so `import flowstone`
    # stays fast for the embedded default.
    if name == "PostgresStorage":
        from flowstone.storage._postgres import PostgresStorage

        PostgresStorage.__module__ = __name__
        globals()[name] = PostgresStorage
        return PostgresStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
