"""The records FlowStone keeps: runs and materializations (every attempt of every asset
partition), with the upstream materializations each one consumed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class MaterializationStatus(StrEnum):
    """The status of one recorded attempt; stored as its string value."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WAITING = "waiting"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """The status of a run; stored as its string value."""

    QUEUED = "queued"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WAITING = "waiting"
    CANCELLED = "cancelled"


MATERIALIZATION_STATUSES = tuple(s.value for s in MaterializationStatus)
RUN_STATUSES = tuple(s.value for s in RunStatus)
TRIGGERS = ("manual", "backfill", "schedule", "sensor")


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception as recorded: type, message and formatted traceback."""

    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class InputRef:
    """One upstream materialization consumed by a materialization."""

    asset: str
    partition: str | None  # encoded partition key; None when unpartitioned
    materialization_id: str | None = None


@dataclass(frozen=True, slots=True)
class MaterializationRecord:
    """One terminal attempt of one asset partition.

    ``id`` is deterministic (``run_id/asset/partition/attempt``), so writing the same record
    twice (a replay after a reconnect) is idempotent. Only terminal attempts are recorded:
    a record exists only for an attempt that really finished.
    """

    id: str
    run_id: str
    asset: str
    partition: str | None
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    triggered_by: str
    trigger: str = "manual"
    user: str | None = None
    host: str | None = None
    code_version: str | None = None
    inputs: tuple[InputRef, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    tenant: str | None = None
    """The tenant the record belongs to (row-level security); None = shared."""

    @property
    def duration(self) -> float | None:
        """Seconds between start and finish, or None while unknown."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @staticmethod
    def make_id(run_id: str, asset: str, partition: str | None, attempt: int) -> str:
        """Return the deterministic id of an attempt."""
        return f"{run_id}/{asset}/{partition if partition is not None else ''}/{attempt}"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run: a materialize, materialize_all or one backfill batch.

    ``status`` moves pending -> running -> succeeded | failed | cancelled (or waiting when
    an asset paused); the record is upserted on each transition.
    """

    run_id: str
    pipeline: str
    kind: str  # "materialize" | "materialize_all" | "backfill"
    targets: tuple[str, ...]
    status: str
    started_at: datetime
    finished_at: datetime | None
    triggered_by: str
    trigger: str = "manual"
    backfill_id: str | None = None
    partition: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    tenant: str | None = None
    """The tenant the record belongs to (row-level security); None = shared."""


@dataclass(frozen=True, slots=True)
class LineageEntry:
    """One node reached by a lineage query, with its distance from the start."""

    asset: str
    partition: str | None
    depth: int
    materialization_id: str | None = None


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """What the lineage actor commits in one transaction (group commit)."""

    runs: tuple[RunRecord, ...] = ()
    materializations: tuple[MaterializationRecord, ...] = ()
