"""The storage contract, continued: partition status ranges.

Mixed into ``StorageContract`` (``contract.py``). Keys here are ``"p<n>"`` numbered by an
order that reads ``n``; every check compares the ranges the store keeps incrementally with
the run-length encoding of ``latest_statuses`` (what a full read would give).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

import pytest

from flowstone.errors import StorageError
from flowstone.storage import Storage
from flowstone.storage._changes import RuntimeSnapshot
from flowstone.storage._ranges import RangeSummary, StatusRange, run_length
from tests.flowstone.storage.records import at, batch, mat, run


class NumberedKeys:
    """Orders keys ``"p<n>"`` by ``n``; other keys have no ordinal."""

    def __init__(self, fingerprint: str = "numbered") -> None:
        self.fingerprint = fingerprint

    def ordinal(self, encoded: str | None) -> int | None:
        if encoded is None or not encoded.startswith("p"):
            return None
        return int(encoded[1:])


def key(n: int) -> str:
    return f"p{n}"


async def expected(storage: Storage, asset: str) -> list[StatusRange]:
    order = NumberedKeys()
    statuses = await storage.latest_statuses(asset)
    return run_length((o, s) for p, s in statuses.items() if (o := order.ordinal(p)) is not None)


async def started(storage: Storage, asset: str = "a") -> Storage:
    storage.order_partitions(asset, NumberedKeys())
    await storage.rebuild_partition_ranges(asset)
    return storage


class RangesContract:
    """Status ranges kept by the store as records are written."""

    async def test_writes_keep_maximal_ranges_of_the_newest_status(self, storage: Storage) -> None:
        await started(storage)
        await storage.write(batch(*(mat("a", key(n), run="r1") for n in range(10))))
        await storage.write(batch(mat("a", key(4), run="r2", status="failed", finished=2.0)))
        summary = await storage.partition_ranges("a")
        assert summary == RangeSummary(
            "numbered",
            (
                StatusRange(0, 3, "succeeded"),
                StatusRange(4, 4, "failed"),
                StatusRange(5, 9, "succeeded"),
            ),
        )
        await storage.write(batch(mat("a", key(4), run="r3", finished=3.0)))
        assert (await storage.partition_ranges("a")).ranges == (StatusRange(0, 9, "succeeded"),)

    async def test_an_older_attempt_written_late_does_not_change_the_status(
        self, storage: Storage
    ) -> None:
        await started(storage)
        await storage.write(batch(mat("a", key(1), run="r2", finished=5.0)))
        await storage.write(batch(mat("a", key(1), run="r1", status="failed", finished=1.0)))
        assert (await storage.partition_ranges("a")).ranges == (StatusRange(1, 1, "succeeded"),)

    async def test_random_writes_match_a_full_recount(self, storage: Storage) -> None:
        await started(storage)
        rng = random.Random(7)
        for step in range(30):
            records = [
                mat(
                    "a",
                    key(rng.randrange(60)),
                    run=f"r{step}",
                    attempt=i + 1,
                    status=rng.choice(["succeeded", "succeeded", "failed", "waiting"]),
                    finished=float(step + 1),
                )
                for i in range(rng.randrange(1, 8))
            ]
            await storage.write(batch(*records))
            assert list((await storage.partition_ranges("a")).ranges) == await expected(
                storage, "a"
            )

    async def test_a_record_moved_to_another_key_updates_the_ranges_of_both(
        self, storage: Storage
    ) -> None:
        await started(storage)
        records = [mat("a", key(n)) for n in range(1, 6)]
        await storage.write(batch(*records))
        ok = "succeeded"
        # Within the asset: p3 loses its only record, p9 gains it.
        await storage.write(batch(replace(mat("a", key(9), finished=2.0), id=records[2].id)))
        assert (await storage.partition_ranges("a")).ranges == (
            StatusRange(1, 2, ok),
            StatusRange(4, 5, ok),
            StatusRange(9, 9, ok),
        )
        # To another asset: the batch names only "b", yet p2 of "a" loses its record.
        await storage.write(batch(replace(mat("b", key(2), finished=3.0), id=records[1].id)))
        ranges = (await storage.partition_ranges("a")).ranges
        assert ranges == (StatusRange(1, 1, ok), StatusRange(4, 5, ok), StatusRange(9, 9, ok))
        assert list(ranges) == await expected(storage, "a")
        assert await storage.latest_statuses("b") == {key(2): ok}

    async def test_ranges_can_be_read_in_a_window_of_ordinals(self, storage: Storage) -> None:
        await started(storage)
        await storage.write(
            batch(
                *(mat("a", key(n)) for n in range(100)),
                mat("a", key(50), run="r2", status="failed", finished=2.0),
            )
        )
        window = await storage.partition_ranges("a", first=40, last=60)
        assert window.ranges == (
            StatusRange(40, 49, "succeeded"),
            StatusRange(50, 50, "failed"),
            StatusRange(51, 60, "succeeded"),
        )
        assert (await storage.partition_ranges("a", first=200)).ranges == ()

    async def test_rebuilding_reads_what_was_written_before_the_order_was_known(
        self, storage: Storage
    ) -> None:
        await storage.write(batch(mat("a", key(1)), mat("a", key(2)), mat("a", "other")))
        assert await storage.partition_ranges("a") == RangeSummary(None)
        await started(storage)
        assert (await storage.partition_ranges("a")).ranges == (StatusRange(1, 2, "succeeded"),)
        assert await storage.partition_orderings() == {"a": "numbered"}

    async def test_a_changed_order_makes_the_ranges_stale_until_rebuilt(
        self, storage: Storage
    ) -> None:
        await started(storage)
        await storage.write(batch(mat("a", key(1))))
        storage.order_partitions("a", NumberedKeys("renumbered"))
        await storage.write(batch(mat("a", key(2))))
        assert await storage.partition_ranges("a") == RangeSummary(None)
        rebuilt = await storage.rebuild_partition_ranges("a")
        assert rebuilt == RangeSummary("renumbered", (StatusRange(1, 2, "succeeded"),))

    async def test_assets_without_an_order_keep_no_ranges(self, storage: Storage) -> None:
        await storage.write(batch(mat("b", key(1))))
        assert await storage.partition_ranges("b") == RangeSummary(None)
        with pytest.raises(StorageError, match="no partition order is registered for asset 'b'"):
            await storage.rebuild_partition_ranges("b")


class ChangeLogContract:
    """The change log other processes follow."""

    async def test_every_record_written_is_logged_in_commit_order(self, storage: Storage) -> None:
        assert await storage.last_change() == 0
        await storage.write(batch(run("r1", status="running"), mat("a", key(1))))
        await storage.write(batch(mat("a", key(2), status="failed")))
        changes = await storage.changes()
        assert [(c.kind, c.asset, c.partition, c.status) for c in changes] == [
            ("run", "report", None, "running"),
            ("materialization", "a", "p1", "succeeded"),
            ("materialization", "a", "p2", "failed"),
        ]
        assert [c.seq for c in changes] == sorted(c.seq for c in changes)
        assert await storage.last_change() == changes[-1].seq
        assert await storage.changes(changes[0].seq, limit=1) == [changes[1]]

    async def test_waiting_for_changes_returns_when_a_write_commits(self, storage: Storage) -> None:
        last = await storage.last_change()
        assert await storage.wait_for_changes(last, timeout=0.05) is False
        waiter = asyncio.create_task(storage.wait_for_changes(last, timeout=10))
        await asyncio.sleep(0.01)
        await storage.write(batch(mat("a", key(3))))
        assert await asyncio.wait_for(waiter, 5) is True


class PipelineRangesContract:
    """Pipelines sharing one store keep their own ranges and change logs."""

    async def test_each_pipeline_has_its_own_ranges_and_changes(self, storage: Storage) -> None:
        async with storage.for_pipeline("alpha") as alpha, storage.for_pipeline("beta") as beta:
            for view in (alpha, beta):
                await started(view)
            await alpha.write(batch(mat("a", key(1)), mat("a", key(2))))
            await beta.write(batch(mat("a", key(2), run="r2", status="failed")))
            assert (await alpha.partition_ranges("a")).ranges == (StatusRange(1, 2, "succeeded"),)
            assert (await beta.partition_ranges("a")).ranges == (StatusRange(2, 2, "failed"),)
            assert [c.status for c in await alpha.changes()] == ["succeeded", "succeeded"]
            assert [c.status for c in await beta.changes()] == ["failed"]
            assert await alpha.partition_orderings() == {"a": "numbered"}

    async def test_another_pipelines_writes_do_not_wake_a_follower(self, storage: Storage) -> None:
        async with storage.for_pipeline("alpha") as alpha, storage.for_pipeline("beta") as beta:
            last = await alpha.last_change()
            await beta.write(batch(mat("a", key(1))))
            assert await alpha.last_change() == last
            assert await alpha.wait_for_changes(last, timeout=0.05) is False


class RuntimeReportsContract:
    """Runtimes publish their supervision trees for dashboards in other processes."""

    async def test_a_report_replaces_the_last_one_and_old_ones_age_out(
        self, storage: Storage
    ) -> None:
        def report(rid: str, seen: float, tree: dict[str, object]) -> RuntimeSnapshot:
            return RuntimeSnapshot(rid, storage.pipeline, "host", 7, at(0), at(seen), tree)

        await storage.report_runtime(report("a", 10, {"id": "root", "v": 1}))
        await storage.report_runtime(report("a", 20, {"id": "root", "v": 2}))
        await storage.report_runtime(report("b", 15, {"id": "root"}))
        found = await storage.runtimes(seen_after=at(12))
        assert [(r.id, r.seen_at, r.tree) for r in found] == [
            ("a", at(20), {"id": "root", "v": 2}),
            ("b", at(15), {"id": "root"}),
        ]
        assert [r.id for r in await storage.runtimes(seen_after=at(16))] == ["a"]
        await storage.report_runtime(report("c", 2 * 86_400, {}))  # a day later: a, b go
        assert [r.id for r in await storage.runtimes(seen_after=at(0))] == ["c"]
        async with storage.for_pipeline("other") as other:
            assert await other.runtimes(seen_after=at(0)) == []
