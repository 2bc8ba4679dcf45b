"""The in-memory backend passes the storage contract."""

from __future__ import annotations

import random

import pytest

from flowstone.storage import MemoryStorage
from flowstone.storage._memory import UNRANGED_LIMIT
from flowstone.storage._ranges import RangeSummary, StatusRange
from tests.flowstone.storage.contract import StorageContract, StorageFactory
from tests.flowstone.storage.contract_ranges import NumberedKeys, expected, key, started
from tests.flowstone.storage.records import batch, mat


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def make_storage(self) -> StorageFactory:
        store = MemoryStorage()  # "reopening" memory means reusing the one instance
        return lambda: store


class TestRangesSettledOnRead:
    """The memory store notes written partitions and rewrites their ranges when read."""

    async def test_many_writes_without_a_read_match_a_full_recount(self) -> None:
        storage = await started(MemoryStorage())
        rng = random.Random(11)
        for step in range(3 * UNRANGED_LIMIT // 50):
            records = [
                mat(
                    "a",
                    key(rng.randrange(2 * UNRANGED_LIMIT)),
                    run=f"r{step}",
                    attempt=i + 1,
                    status=rng.choice(["succeeded", "failed", "waiting"]),
                    finished=float(step + 1),
                )
                for i in range(50)
            ]
            await storage.write(batch(*records))
        ranges = (await storage.partition_ranges("a")).ranges
        assert list(ranges) == await expected(storage, "a")
        assert len(ranges) > 100  # the random statuses left many ranges to check

    async def test_another_view_of_the_pipeline_reads_the_settled_ranges(self) -> None:
        writer = await started(MemoryStorage(pipeline="p"))
        reader = writer.for_pipeline("p")
        await writer.write(batch(*(mat("a", key(n)) for n in range(5))))
        assert (await reader.partition_ranges("a")).ranges == (StatusRange(0, 4, "succeeded"),)
        assert await reader.partition_orderings() == {"a": "numbered"}

    async def test_writes_under_an_order_that_changed_before_the_read_make_them_stale(
        self,
    ) -> None:
        storage = await started(MemoryStorage())
        await storage.write(batch(mat("a", key(1))))
        storage.order_partitions("a", NumberedKeys("renumbered"))
        await storage.write(batch(mat("a", key(2))))
        assert await storage.partition_orderings() == {}
        assert await storage.partition_ranges("a") == RangeSummary(None)
        rebuilt = await storage.rebuild_partition_ranges("a")
        assert rebuilt == RangeSummary("renumbered", (StatusRange(1, 2, "succeeded"),))
        await storage.write(batch(mat("a", key(3))))
        assert (await storage.partition_ranges("a")).ranges == (StatusRange(1, 3, "succeeded"),)
