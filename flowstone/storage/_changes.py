"""The change log: one row per run or materialization written, numbered in commit order.

Internal, not part of the public API. Every ``Storage.write`` appends to it in the same
transaction as the records, so a process that did not write them (the dashboard's server)
can follow what others record: it waits for a signal (``Storage.wait_for_changes``:
``PRAGMA data_version`` on SQLite, ``LISTEN/NOTIFY`` on PostgreSQL, an event in memory), then
reads the rows after the last sequence number it saw. Sequence numbers follow commit order
(SQLite has one writer; PostgreSQL writers take a transaction lock to append), so a reader
that reads ``seq > cursor`` never skips a row committed later with a smaller number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowstone.storage._records import MaterializationRecord, RunRecord


@dataclass(frozen=True, slots=True)
class Change:
    """One write as the change log keeps it: a run's new status, or a materialization."""

    seq: int
    at: datetime
    kind: str  # "run" | "materialization"
    run_id: str
    asset: str | None
    partition: str | None
    status: str


def change_rows(
    runs: Sequence[RunRecord], mats: Sequence[MaterializationRecord]
) -> list[tuple[str, str, str | None, str | None, str]]:
    """Return ``(kind, run_id, asset, partition, status)`` for every record of a batch."""
    rows: list[tuple[str, str, str | None, str | None, str]] = [
        ("run", r.run_id, ",".join(r.targets), r.partition, r.status) for r in runs
    ]
    rows += [("materialization", m.run_id, m.asset, m.partition, m.status) for m in mats]
    return rows


@dataclass(frozen=True, slots=True)
class RuntimeSnapshot:
    """What a running runtime last published about itself: who it is and its supervision
    tree (``flowstone.status.describe_tree``), so that another process (the dashboard) can
    show it."""

    id: str
    pipeline: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    tree: Mapping[str, Any] = field(default_factory=dict)
