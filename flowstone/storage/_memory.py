"""The in-memory record store: for tests and throwaway runs; everything is lost at exit."""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flowstone.storage._approval_memory import ApprovalData, MemoryApprovalStore
from flowstone.storage._changes import Change, RuntimeSnapshot, change_rows
from flowstone.storage._codec import (
    check_as_of,
    check_dynamic_keys,
    encode_pkey,
    event_at,
    lineage_entries,
    normalise_materialization,
    normalise_run,
    partition_filter,
    prepare_batch,
    require_aware,
)
from flowstone.storage._memory_ranges import RangeTable
from flowstone.storage._migrations import LATEST_VERSION
from flowstone.storage._ranges import PartitionOrdinals, RangeSummary, run_length
from flowstone.storage._records import (
    LineageEntry,
    MaterializationRecord,
    RunRecord,
    WriteBatch,
)
from flowstone.storage._run_log import RunLogLine
from flowstone.storage._storage import Storage

_Key = tuple[str, str]  # (asset, pkey)

UNRANGED_LIMIT = 1024
"""Partitions of one asset whose status ranges wait for an update, at most (see
``MemoryStorage._note_range``)."""


def _order(record: MaterializationRecord) -> tuple[datetime, str]:
    return (event_at(record), record.id)


@dataclass
class _Partition:
    """Every materialization of one (asset, partition), by id."""

    records: dict[str, MaterializationRecord] = field(default_factory=dict)

    def newest(
        self, status: str | None = None, as_of: datetime | None = None
    ) -> MaterializationRecord | None:
        candidates = [
            r
            for r in self.records.values()
            if (status is None or r.status == status) and (as_of is None or event_at(r) <= as_of)
        ]
        return max(candidates, key=_order, default=None)


@dataclass
class _Pipeline:
    """The materializations of one pipeline."""

    records: dict[str, MaterializationRecord] = field(default_factory=dict)
    partitions: dict[_Key, _Partition] = field(default_factory=dict)
    by_asset: dict[str, set[str]] = field(default_factory=dict)
    ranges: dict[str, RangeTable] = field(default_factory=dict)
    unranged: dict[str, tuple[PartitionOrdinals, set[str | None]]] = field(default_factory=dict)
    """Per asset, partitions written since its ranges were last brought up to date, with
    the order they were written under."""


@dataclass
class _Database:
    """What every pipeline's view of one memory store shares."""

    runs: dict[str, RunRecord] = field(default_factory=dict)
    pipelines: dict[str, _Pipeline] = field(default_factory=dict)
    dynamic: dict[str, dict[str, None]] = field(default_factory=dict)  # insertion order
    owners: dict[str, str] = field(default_factory=dict)  # materialization id -> pipeline
    changes: list[tuple[str, Change]] = field(default_factory=list)  # (pipeline, change)
    runtimes: dict[str, RuntimeSnapshot] = field(default_factory=dict)
    approvals: ApprovalData = field(default_factory=ApprovalData)
    run_logs: dict[str, list[RunLogLine]] = field(default_factory=dict)  # by run id


class MemoryStorage(Storage):
    """A ``Storage`` held in dictionaries; follows the same contract as the SQL backends."""

    url = "memory"

    def __init__(self, *, pipeline: str = "", _database: _Database | None = None) -> None:
        self.pipeline = pipeline
        self._db = _database if _database is not None else _Database()
        mine = self._db.pipelines.setdefault(pipeline, _Pipeline())
        self._runs = self._db.runs
        self._records = mine.records
        self._partitions = mine.partitions
        self._by_asset = mine.by_asset
        self._dynamic = self._db.dynamic
        self._logs = self._db.run_logs
        self._ranges = mine.ranges
        self._unranged = mine.unranged
        self._open = False
        self.approvals = MemoryApprovalStore(pipeline, self._db.approvals)

    def for_pipeline(self, pipeline: str) -> MemoryStorage:
        """Return a view of the same dictionaries for ``pipeline``'s records."""
        return MemoryStorage(pipeline=pipeline, _database=self._db)

    async def open(self) -> None:
        """Mark the store open (there is nothing to connect to)."""
        self._open = True

    async def close(self) -> None:
        """Mark the store closed; the records stay for a later ``open``."""
        self._open = False

    async def schema_version(self) -> int:
        """Return the latest schema version (memory has no schema to migrate)."""
        return LATEST_VERSION

    # -- writes -------------------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """Store the batch; validation happens first so a bad batch changes nothing."""
        runs, mats = prepare_batch(batch, self.pipeline)
        normal_runs = [normalise_run(r) for r in runs]
        normal_mats = [normalise_materialization(m) for m in mats]
        for run in normal_runs:
            self._runs[run.run_id] = run
        for record in normal_mats:
            for asset, partition in self._put(record):
                self._note_range(asset, partition)
        now, log = datetime.now(UTC), self._db.changes
        for row in change_rows(normal_runs, normal_mats):
            log.append((self.pipeline, Change(len(log) + 1, now, *row)))

    async def changes(self, after: int = 0, *, limit: int = 1000) -> list[Change]:
        """Return the change-log rows of this pipeline numbered above ``after``, oldest first."""
        log = self._db.changes
        start = bisect.bisect_right([c.seq for _, c in log], after)
        mine = (c for p, c in log[start:] if p == self.pipeline)
        return list(itertools.islice(mine, limit))

    async def report_runtime(self, snapshot: RuntimeSnapshot) -> None:
        """Keep a runtime's report; forget runtimes not seen for a day."""
        require_aware(snapshot.seen_at, "seen_at")
        stale = snapshot.seen_at - timedelta(days=1)
        kept = {k: v for k, v in self._db.runtimes.items() if v.seen_at >= stale}
        kept[snapshot.id] = snapshot
        self._db.runtimes = kept

    async def runtimes(self, *, seen_after: datetime) -> list[RuntimeSnapshot]:
        """Return this pipeline's runtimes seen after ``seen_after``, newest first."""
        cutoff = require_aware(seen_after, "seen_after")
        found = [
            r
            for r in self._db.runtimes.values()
            if r.pipeline == self.pipeline and r.seen_at > cutoff
        ]
        return sorted(found, key=lambda r: r.seen_at, reverse=True)

    async def last_change(self) -> int:
        """Return the number of this pipeline's newest change-log row."""
        mine = (c.seq for p, c in reversed(self._db.changes) if p == self.pipeline)
        return next(mine, 0)

    def _put(self, record: MaterializationRecord) -> list[tuple[str, str | None]]:
        # Ids are unique in the whole store, as SQL's primary key makes them: a record written
        # again by another pipeline moves to that pipeline.
        touched: list[tuple[str, str | None]] = [(record.asset, record.partition)]
        owner = self._db.pipelines[self._db.owners.get(record.id, self.pipeline)]
        old = owner.records.pop(record.id, None)
        if old is not None:
            del owner.partitions[(old.asset, encode_pkey(old.partition))].records[old.id]
            if owner.records is self._records:
                touched.append((old.asset, old.partition))
        self._db.owners[record.id] = self.pipeline
        self._records[record.id] = record
        key = (record.asset, encode_pkey(record.partition))
        self._partitions.setdefault(key, _Partition()).records[record.id] = record
        self._by_asset.setdefault(record.asset, set()).add(key[1])
        return touched

    # -- partition status ranges --------------------------------------------------------------

    def _note_range(self, asset: str, partition: str | None) -> None:
        # Ranges are brought up to date when read (or every UNRANGED_LIMIT partitions), not
        # per write: a backfill's writes then cost one set insertion each, and their ranges
        # are rewritten together, once. Readers see the same ranges as if every write had
        # rewritten them (each read settles first; statuses are the newest at that time).
        order = self.partition_orders.get(asset)
        if order is None or asset not in self._ranges:
            return  # no ranges kept for the asset (a rebuild reads every record)
        pending = self._unranged.get(asset)
        if pending is not None and pending[0] is not order:
            self._settle_ranges(asset)  # written under another order: settle those first
            pending = None
        if pending is None:
            pending = self._unranged[asset] = (order, set())
        pending[1].add(partition)
        if len(pending[1]) >= UNRANGED_LIMIT:
            self._settle_ranges(asset)

    def _settle_ranges(self, asset: str | None = None) -> None:
        """Apply the noted writes of ``asset`` (of every asset when None) to its ranges."""
        assets = list(self._unranged) if asset is None else [asset]
        for name in assets:
            noted = self._unranged.pop(name, None)
            table = self._ranges.get(name)
            if noted is None or table is None:
                continue
            order, partitions = noted
            if table.ordering != order.fingerprint:
                del self._ranges[name]  # stale: rebuilt on demand
                continue
            points: dict[int, str | None] = {}
            for partition in partitions:
                ordinal = order.ordinal(partition)
                if ordinal is not None:
                    newest = self._partitions[(name, encode_pkey(partition))].newest()
                    points[ordinal] = newest.status if newest else None
            if points:
                table.apply(points)

    async def partition_ranges(
        self, asset: str, *, first: int | None = None, last: int | None = None
    ) -> RangeSummary:
        """Return the status ranges of ``asset`` (see ``Storage.partition_ranges``)."""
        self._settle_ranges(asset)
        table = self._ranges.get(asset)
        return RangeSummary(None) if table is None else table.summary(first, last)

    async def partition_orderings(self) -> dict[str, str]:
        """Return, per asset that has status ranges, the fingerprint they follow."""
        self._settle_ranges()
        return {asset: table.ordering for asset, table in self._ranges.items()}

    async def rebuild_partition_ranges(self, asset: str) -> RangeSummary:
        """Recompute the status ranges of ``asset`` from its newest records."""
        order = self._order_for(asset)
        self._unranged.pop(asset, None)  # the rebuild reads them
        points = []
        for partition, status in (await self.latest_statuses(asset)).items():
            ordinal = order.ordinal(partition)
            if ordinal is not None:
                points.append((ordinal, status))
        self._ranges[asset] = RangeTable(order.fingerprint, run_length(points))
        return self._ranges[asset].summary(None, None)

    # -- runs ---------------------------------------------------------------------------------

    def _mine(self, run: RunRecord) -> bool:
        return not self.pipeline or run.pipeline == self.pipeline

    async def get_run(self, run_id: str) -> RunRecord | None:
        """Return one run."""
        run = self._runs.get(run_id)
        return run if run is not None and self._mine(run) else None

    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, backfill_id: str | None = None
    ) -> list[RunRecord]:
        """Return runs, newest first (by started_at, then run_id)."""
        runs = [
            r
            for r in self._runs.values()
            if self._mine(r)
            and (status is None or r.status == status)
            and (backfill_id is None or r.backfill_id == backfill_id)
        ]
        runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return runs[:limit]

    # -- materializations ---------------------------------------------------------------------

    async def materializations(
        self,
        *,
        asset: str | None = None,
        partition: str | None = None,
        any_partition: bool = True,
        run_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        before: datetime | None = None,
    ) -> list[MaterializationRecord]:
        """Return materializations, newest first (by finished_at, then id)."""
        pkey = partition_filter(partition, any_partition)
        cutoff = None if before is None else require_aware(before, "before")
        checks: list[Callable[[MaterializationRecord], bool]] = []
        if asset is not None:
            checks.append(lambda r: r.asset == asset)
        if pkey is not None:
            checks.append(lambda r: encode_pkey(r.partition) == pkey)
        if run_id is not None:
            checks.append(lambda r: r.run_id == run_id)
        if status is not None:
            checks.append(lambda r: r.status == status)
        if cutoff is not None:
            checks.append(lambda r: event_at(r) < cutoff)
        found = [r for r in self._records.values() if all(c(r) for c in checks)]
        found.sort(key=_order, reverse=True)
        return found if limit is None else found[:limit]

    async def latest(
        self,
        asset: str,
        partitions: Sequence[str | None],
        *,
        status: str | None = "succeeded",
        as_of: datetime | None = None,
    ) -> dict[str | None, MaterializationRecord]:
        """Return, per partition given, its newest materialization."""
        as_of = check_as_of(as_of)
        found: dict[str | None, MaterializationRecord] = {}
        for partition in partitions:
            slot = self._partitions.get((asset, encode_pkey(partition)))
            newest = slot.newest(status, as_of) if slot is not None else None
            if newest is not None:
                found[partition] = newest
        return found

    async def latest_statuses(self, asset: str) -> dict[str | None, str]:
        """Return the status of the newest materialization of every recorded partition."""
        statuses: dict[str | None, str] = {}
        for pkey in self._by_asset.get(asset, ()):
            newest = self._partitions[(asset, pkey)].newest()
            if newest is not None:
                statuses[newest.partition] = newest.status
        return statuses

    async def status_counts(self, asset: str) -> dict[str, int]:
        """Count partitions of ``asset`` by the status of their newest materialization."""
        counts: dict[str, int] = {}
        for status in (await self.latest_statuses(asset)).values():
            counts[status] = counts.get(status, 0) + 1
        return counts

    # -- lineage ------------------------------------------------------------------------------

    def _newest_succeeded(self, key: _Key, as_of: datetime | None) -> MaterializationRecord | None:
        slot = self._partitions.get(key)
        return slot.newest("succeeded", as_of) if slot is not None else None

    async def upstream(
        self, asset: str, partition: str | None, *, as_of: datetime | None = None
    ) -> list[LineageEntry]:
        """Transitive upstream, breadth first (so each node is met at its smallest depth)."""
        as_of = check_as_of(as_of)
        start = (asset, encode_pkey(partition))
        root = self._newest_succeeded(start, as_of)
        if root is None:
            return []
        rows: list[tuple[str, str, int, str | None]] = []
        seen = {start}
        queue = deque([(root, 0)])
        while queue:
            record, depth = queue.popleft()
            for ref in record.inputs:
                key = (ref.asset, encode_pkey(ref.partition))
                if key in seen:
                    continue
                seen.add(key)
                newest = self._newest_succeeded(key, as_of)
                rows.append((key[0], key[1], depth + 1, newest.id if newest else None))
                if newest is not None:
                    queue.append((newest, depth + 1))
        return lineage_entries(rows)

    async def downstream(self, asset: str, partition: str | None) -> list[LineageEntry]:
        """Transitive downstream over the newest succeeded materializations."""
        consumers = self._current_consumers()
        rows: list[tuple[str, str, int, str | None]] = []
        start = (asset, encode_pkey(partition))
        seen = {start}
        queue = deque([(start, 0)])
        while queue:
            key, depth = queue.popleft()
            for record in consumers.get(key, ()):
                child = (record.asset, encode_pkey(record.partition))
                if child not in seen:
                    seen.add(child)
                    rows.append((child[0], child[1], depth + 1, record.id))
                    queue.append((child, depth + 1))
        return lineage_entries(rows)

    def _current_consumers(self) -> dict[_Key, list[MaterializationRecord]]:
        consumers: dict[_Key, list[MaterializationRecord]] = {}
        for slot in self._partitions.values():
            newest = slot.newest("succeeded")
            if newest is None:
                continue
            for ref in newest.inputs:
                consumers.setdefault((ref.asset, encode_pkey(ref.partition)), []).append(newest)
        return consumers

    # -- dynamic partitions -------------------------------------------------------------------

    async def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> list[str]:
        """Add keys to a dynamic partitions set; return the keys that were new."""
        wanted = check_dynamic_keys(name, keys)
        known = self._dynamic.setdefault(name, {})
        new = [k for k in dict.fromkeys(wanted) if k not in known]
        known.update(dict.fromkeys(new))
        return new

    async def dynamic_partitions(self, name: str) -> list[str]:
        """Return the keys of a dynamic partitions set, in insertion order."""
        return list(self._dynamic.get(name, {}))

    async def delete_dynamic_partition(self, name: str, key: str) -> bool:
        """Remove one key; return whether it existed."""
        known = self._dynamic.get(name, {})
        if key not in known:
            return False
        del known[key]
        return True

    # -- maintenance --------------------------------------------------------------------------

    async def prune(self, older_than: datetime) -> int:
        """Delete old materializations that nothing kept needs (see ``Storage.prune``)."""
        cutoff = require_aware(older_than, "older_than")
        keep = {r.id for r in self._records.values() if event_at(r) >= cutoff}
        for slot in self._partitions.values():
            for newest in (slot.newest(), slot.newest("succeeded")):
                if newest is not None:
                    keep.add(newest.id)
        pending = list(keep)
        while pending:
            record = self._records.get(pending.pop())
            for ref in record.inputs if record is not None else ():
                if ref.materialization_id is not None and ref.materialization_id not in keep:
                    keep.add(ref.materialization_id)
                    pending.append(ref.materialization_id)
        self._db.changes[:] = [
            (p, c) for p, c in self._db.changes if p != self.pipeline or c.at >= cutoff
        ]
        doomed = [rid for rid in self._records if rid not in keep]
        for rid in doomed:
            record = self._records.pop(rid)
            del self._db.owners[rid]
            del self._partitions[(record.asset, encode_pkey(record.partition))].records[rid]
        return len(doomed)

    # -- run logs -----------------------------------------------------------------------------

    async def append_run_logs(
        self, lines: Sequence[RunLogLine], *, drop: Sequence[RunLogLine] = ()
    ) -> None:
        """Store captured log lines (after deleting ``drop``)."""
        for line in lines:
            require_aware(line.at, "run log line at")
        for gone in drop:
            kept = self._logs.get(gone.run_id, [])
            kept[:] = [line for line in kept if _key(line) != _key(gone)]
        for line in lines:
            self._logs.setdefault(line.run_id, []).append(line)

    async def run_logs(self, run_id: str, *, limit: int | None = None) -> list[RunLogLine]:
        """Return the log lines of ``run_id``, oldest first."""
        lines = sorted(self._logs.get(run_id, ()), key=lambda line: (line.at, line.seq))
        return lines if limit is None else lines[-limit:] if limit > 0 else []


def _key(line: RunLogLine) -> tuple[str, int, datetime, str]:
    """What identifies a stored log line when it is deleted (see ``append_run_logs``)."""
    return (line.run_id, line.seq, line.at, line.logger)
