"""The record store interface. One contract test suite (tests/flowstone/storage/contract.py)
runs against every backend: memory, SQLite and PostgreSQL.

Partition keys arrive here already encoded as strings (``None`` for unpartitioned assets);
the store never needs to know how a key is shaped.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from flowstone.errors import StorageError
from flowstone.storage._approval_store import ApprovalStore
from flowstone.storage._changes import Change, RuntimeSnapshot
from flowstone.storage._ranges import PartitionOrdinals, RangeSummary
from flowstone.storage._records import (
    LineageEntry,
    MaterializationRecord,
    RunRecord,
    WriteBatch,
)
from flowstone.storage._run_log import RunLogLine


class Storage(ABC):
    """Where runs and materializations are recorded. All methods are coroutines.

    Writes come only from the lineage actor (one writer); reads may come from anywhere.

    Conventions every backend follows (the contract suite checks them):

    - Times are timezone-aware; they come back in UTC. A naive datetime is refused with
      ``StorageError``, in records and in query arguments alike.
    - A materialization's instant is ``finished_at``, or ``started_at`` for an attempt
      recorded without a finish (a waiting one). "Newest" orders by that instant, then by
      id; ``as_of`` and ``before`` compare it; ``prune`` ages by it.
    - Metadata is stored as JSON: it comes back as plain dicts and lists; a value JSON
      cannot hold is stored as its ``str()``.
    - ``url`` never shows a password.
    - A store serves one pipeline, ``pipeline`` (``""`` when opened without one): it writes
      materializations as that pipeline's and reads only that pipeline's materializations,
      partition statuses and lineage, and only its runs (a store opened without a pipeline
      lists every pipeline's runs). Several pipelines can so share one database. Dynamic
      partition sets are shared by name. ``for_pipeline`` opens another pipeline's view.

    Use as ``async with storage: ...`` to open and close it.
    """

    url: str = ""
    pipeline: str = ""
    #: The checkpoint approvals and their audit trail, in the same database.
    approvals: ApprovalStore

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    def for_pipeline(self, pipeline: str) -> Storage:
        """Return a store on the same database for ``pipeline``'s records, not yet opened."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations (idempotent, safe to run concurrently)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""

    @abstractmethod
    async def schema_version(self) -> int:
        """Return the applied schema version."""

    # -- writes -----------------------------------------------------------------------------

    @abstractmethod
    async def write(self, batch: WriteBatch) -> None:
        """Commit runs and materializations in ONE transaction; durable when this returns.

        Idempotent: a record whose id (run_id; materialization id) is already stored is
        replaced by the newer version, never duplicated; within one batch the last version
        of an id wins. So a caller that does not know whether a failed ``write`` committed
        (a lost connection) may simply call it again with the same batch.

        Raises:
            StorageError: the batch is invalid (a naive datetime, an unknown materialization
                status) and nothing was written, or the store stayed unreachable.
        """

    # -- runs -------------------------------------------------------------------------------

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRecord | None:
        """Return one run."""

    @abstractmethod
    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, backfill_id: str | None = None
    ) -> list[RunRecord]:
        """Return runs, newest first (by started_at, then run_id)."""

    # -- materializations -------------------------------------------------------------------

    @abstractmethod
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
        """Return materializations, newest first (by finished_at, then id).

        ``partition`` filters on one key when given, or on the unpartitioned key ``None``
        when ``any_partition`` is False. ``before`` keeps those finished strictly before it
        (for paging: pass the last record's ``finished_at``).
        """

    @abstractmethod
    async def latest(
        self,
        asset: str,
        partitions: Sequence[str | None],
        *,
        status: str | None = "succeeded",
        as_of: datetime | None = None,
    ) -> dict[str | None, MaterializationRecord]:
        """Return, per partition given, its newest materialization (with ``status`` if set,
        finished at or before ``as_of`` if set). Partitions with none are absent."""

    @abstractmethod
    async def latest_statuses(self, asset: str) -> dict[str | None, str]:
        """Return the status of the newest materialization of every recorded partition."""

    @abstractmethod
    async def status_counts(self, asset: str) -> dict[str, int]:
        """Count partitions of ``asset`` by the status of their newest materialization."""

    # -- partition status ranges -----------------------------------------------------------

    def order_partitions(self, asset: str, order: PartitionOrdinals | None) -> None:
        """Register how ``asset``'s keys are numbered, so the store keeps status ranges for
        it as records are written (None forgets it). Synchronous: nothing is read or written
        until ``rebuild_partition_ranges`` or a write."""
        orders = self.partition_orders
        if order is None:
            orders.pop(asset, None)
        else:
            orders[asset] = order

    @property
    def partition_orders(self) -> dict[str, PartitionOrdinals]:
        """The registered orderings by asset (see ``order_partitions``)."""
        found: dict[str, PartitionOrdinals] | None = self.__dict__.get("_partition_orders")
        if found is None:
            found = self.__dict__["_partition_orders"] = {}
        return found

    @abstractmethod
    async def partition_ranges(
        self, asset: str, *, first: int | None = None, last: int | None = None
    ) -> RangeSummary:
        """Return the status ranges of ``asset`` (clipped to ordinals ``first..last`` when
        given) and the fingerprint they were built with; O(ranges returned).

        The ranges are current only when that fingerprint equals the registered order's;
        otherwise call ``rebuild_partition_ranges``."""

    @abstractmethod
    async def partition_orderings(self) -> dict[str, str]:
        """Return, per asset that has status ranges, the fingerprint they follow."""

    @abstractmethod
    async def rebuild_partition_ranges(self, asset: str) -> RangeSummary:
        """Recompute the status ranges of ``asset`` from the newest status of every recorded
        partition, with the registered order, atomically with respect to writers; O(recorded
        partitions), for a new or changed order.

        Raises:
            StorageError: no order is registered for ``asset``.
        """

    def _order_for(self, asset: str) -> PartitionOrdinals:
        order = self.partition_orders.get(asset)
        if order is None:
            raise StorageError(
                f"no partition order is registered for asset {asset!r}; call "
                f"storage.order_partitions({asset!r}, order) first (the runtime does this "
                f"for every asset of its pipeline)"
            )
        return order

    # -- change log -------------------------------------------------------------------------

    @abstractmethod
    async def changes(self, after: int = 0, *, limit: int = 1000) -> list[Change]:
        """Return this pipeline's change-log rows numbered above ``after``, oldest first (at
        most ``limit``): every run and materialization written, in commit order."""

    @abstractmethod
    async def last_change(self) -> int:
        """Return the number of this pipeline's newest change-log row (0 when none)."""

    @abstractmethod
    async def report_runtime(self, snapshot: RuntimeSnapshot) -> None:
        """Store what a running runtime publishes about itself (replacing its last report),
        and forget runtimes not seen for a day."""

    @abstractmethod
    async def runtimes(self, *, seen_after: datetime) -> list[RuntimeSnapshot]:
        """Return this pipeline's runtimes seen after ``seen_after``, newest report first."""

    async def wait_for_changes(self, after: int, timeout: float) -> bool:
        """Wait until the change log holds rows above ``after`` (True) or ``timeout``
        seconds pass (False), written by this process or any other.

        This default re-reads the newest number every 50 ms (one index lookup); PostgreSQL
        waits for a notification instead.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if await self.last_change() > after:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.sleep(min(0.05, left))

    # -- lineage ----------------------------------------------------------------------------

    @abstractmethod
    async def upstream(
        self, asset: str, partition: str | None, *, as_of: datetime | None = None
    ) -> list[LineageEntry]:
        """Transitive upstream of the newest succeeded materialization of (asset, partition),
        read from recorded inputs; deduplicated (smallest depth), ordered by depth, asset,
        partition (the unpartitioned ``None`` first). With ``as_of``, uses the
        materializations that were newest then.

        At every step the walk follows the newest succeeded materialization of the node
        reached (as of ``as_of``); an entry's ``materialization_id`` is that one, or None
        when the node has none (a source never materialized here), which ends that branch.
        An asset partition with no succeeded materialization has no upstream: ``[]``.
        """

    @abstractmethod
    async def downstream(self, asset: str, partition: str | None) -> list[LineageEntry]:
        """Transitive downstream: the newest succeeded materializations of every asset
        partition whose recorded inputs include (asset, partition), recursively; same order.

        A consumer counts only while its newest succeeded materialization still lists the
        node: re-materialized with other inputs, it drops out."""

    # -- dynamic partitions -----------------------------------------------------------------

    @abstractmethod
    async def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> list[str]:
        """Add keys to a dynamic partitions set; return the keys that were new."""

    @abstractmethod
    async def dynamic_partitions(self, name: str) -> list[str]:
        """Return the keys of a dynamic partitions set, in insertion order."""

    @abstractmethod
    async def delete_dynamic_partition(self, name: str, key: str) -> bool:
        """Remove one key; return whether it existed."""

    # -- maintenance ------------------------------------------------------------------------

    @abstractmethod
    async def prune(self, older_than: datetime) -> int:
        """Delete materializations finished before ``older_than``, except the newest of each
        (asset, partition) and any that a kept record lists as an input. Return the count.

        Also kept: the newest *succeeded* materialization of each (asset, partition), since
        lineage and backfill skips start from it. Inputs are followed transitively by their
        recorded materialization id for as long as a kept record lists them. Runs and
        dynamic partitions are not pruned. ``as_of`` queries older than the cutoff see only
        what was kept."""

    # -- run logs ---------------------------------------------------------------------------

    @abstractmethod
    async def append_run_logs(
        self, lines: Sequence[RunLogLine], *, drop: Sequence[RunLogLine] = ()
    ) -> None:
        """Store captured log lines (of one run or several) in one transaction, after
        deleting the stored lines ``drop`` names (each by its run, ``seq``, time and
        logger): a run's capture stores its lines while the run goes on, and deletes those
        pushed out of its bound by newer ones."""

    @abstractmethod
    async def run_logs(self, run_id: str, *, limit: int | None = None) -> list[RunLogLine]:
        """Return the log lines of ``run_id`` in the order they were written (oldest
        first); with ``limit``, only the newest ``limit`` of them."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
