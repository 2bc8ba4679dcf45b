"""What runs return: ``Materialization`` records, ``RunResult`` and ``BackfillResult``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowstone.partitions import PartitionKey
from flowstone.storage import ErrorInfo, MaterializationRecord


@dataclass(frozen=True, slots=True)
class Materialization:
    """One recorded attempt of one asset partition, with decoded partition keys.

    Derived from the stored ``MaterializationRecord`` (``from_record``): the record keeps
    keys as strings, this keeps both forms (``partition`` decoded, ``partition_key`` encoded).

    ``inputs`` lists the upstream (asset, partition) pairs this attempt actually consumed.
    """

    asset: str
    partition: Any
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    inputs: list[tuple[str, Any]]
    triggered_by: str
    metadata: Mapping[str, Any]
    attempt: int = 1
    id: str = ""
    code_version: str | None = None
    error: ErrorInfo | None = None
    partition_key: str | None = None

    @classmethod
    def from_record(
        cls,
        record: MaterializationRecord,
        partition: PartitionKey,
        inputs: list[tuple[str, Any]],
    ) -> Materialization:
        """The public form of a stored ``record``: the same fields, with the partition key
        and the inputs' keys decoded (``partition``, ``inputs``) next to the encoded key
        (``partition_key``)."""
        return cls(
            asset=record.asset,
            partition=partition.value,
            run_id=record.run_id,
            started_at=record.started_at,
            finished_at=record.finished_at,
            status=record.status,
            inputs=inputs,
            triggered_by=record.triggered_by,
            metadata=record.metadata,
            attempt=record.attempt,
            id=record.id,
            code_version=record.code_version,
            error=record.error,
            partition_key=record.partition,
        )

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def succeeded(self) -> bool:
        """True when this attempt succeeded."""
        return self.status == "succeeded"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of ``materialize`` / ``materialize_all``."""

    run_id: str
    status: str
    materializations: list[Materialization] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def success(self) -> bool:
        """True when every materialization of the run succeeded."""
        return self.status == "succeeded"

    def value_of(self, asset: str, partition: Any = None) -> Materialization | None:
        """Return this run's final materialization of ``asset`` (and ``partition``)."""
        found = None
        for m in self.materializations:
            if m.asset == asset and (partition is None or m.partition == partition):
                found = m
        return found


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """The outcome of ``backfill``: partitions run by this call, and those skipped."""

    backfill_id: str
    succeeded: list[Any] = field(default_factory=list)
    failed: list[Any] = field(default_factory=list)
    skipped: list[Any] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    cancelled: list[Any] = field(default_factory=list)
    """Partitions whose run was cancelled (``rt.cancel(backfill_id)``, Ctrl-C)."""
    not_started: int | None = 0
    """Partitions a cancelled backfill never started (None when the set's size is unknown);
    running the backfill again resumes with them."""

    @property
    def success(self) -> bool:
        """True when no partition failed or was cancelled."""
        return not self.failed and not self.cancelled and not self.not_started
