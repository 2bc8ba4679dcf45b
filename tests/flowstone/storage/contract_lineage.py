"""The storage contract, continued: lineage, dynamic partitions and prune.

Mixed into ``StorageContract`` (``contract.py``); the ``storage`` fixture comes from there.
"""

from __future__ import annotations

from flowstone.storage import LineageEntry, Storage
from tests.flowstone.storage.records import at, batch, ids, mat


def nodes(entries: list[LineageEntry]) -> list[tuple[str, str | None, int]]:
    """Return (asset, partition, depth) of each entry, in order."""
    return [(e.asset, e.partition, e.depth) for e in entries]


async def write_diamond(storage: Storage) -> None:
    """raw@d1, raw@d2 -> clean@d1, clean@d2 -> report, which also reads raw@d1 directly
    and a source ``cfg`` that was never materialized."""
    await storage.write(
        batch(
            mat("raw", "d1", finished=1),
            mat("raw", "d2", finished=1),
            mat("clean", "d1", finished=2, inputs=[("raw", "d1")]),
            mat("clean", "d2", finished=2, inputs=[("raw", "d2")]),
            mat(
                "report",
                finished=3,
                inputs=[("raw", "d1"), ("clean", "d2"), ("clean", "d1"), ("cfg", None)],
            ),
        )
    )


class LineageContract:
    """Upstream and downstream walks over recorded inputs."""

    async def test_upstream_is_transitive_nearest_first_and_deduplicated(
        self, storage: Storage
    ) -> None:
        await write_diamond(storage)
        assert nodes(await storage.upstream("report", None)) == [
            ("cfg", None, 1),
            ("clean", "d1", 1),
            ("clean", "d2", 1),
            ("raw", "d1", 1),  # also reached at depth 2 through clean@d1
            ("raw", "d2", 2),
        ]

    async def test_upstream_entries_carry_the_materialization_they_stand_for(
        self, storage: Storage
    ) -> None:
        await write_diamond(storage)
        found = {
            (e.asset, e.partition): e.materialization_id
            for e in await storage.upstream("report", None)
        }
        assert found[("clean", "d1")] == "r1/clean/d1/1"
        assert found[("cfg", None)] is None  # a source never materialized: listed, not walked

    async def test_lineage_orders_ties_by_asset_then_partition_unpartitioned_first(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(mat("sink", inputs=[("src", "b"), ("src", None), ("Zed", "a"), ("src", "a")]))
        )
        assert nodes(await storage.upstream("sink", None)) == [
            ("Zed", "a", 1),  # code-point order: capitals before lower case
            ("src", None, 1),
            ("src", "a", 1),
            ("src", "b", 1),
        ]

    async def test_a_partition_without_a_success_has_no_upstream(self, storage: Storage) -> None:
        await storage.write(batch(mat("clean", "d1", status="failed", inputs=[("raw", "d1")])))
        assert await storage.upstream("clean", "d1") == []
        assert await storage.upstream("never", "d1") == []

    async def test_upstream_follows_the_newest_success_of_every_node(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("clean", "d1", finished=1, inputs=[("old", "d1")]),
                mat("clean", "d1", run="r2", finished=2, inputs=[("raw", "d1")]),
                mat("clean", "d1", run="r3", status="failed", finished=3, inputs=[("bad", "d1")]),
                mat("report", finished=4, inputs=[("clean", "d1")]),
            )
        )
        found = await storage.upstream("report", None)
        assert nodes(found) == [("clean", "d1", 1), ("raw", "d1", 2)]
        assert found[0].materialization_id == "r2/clean/d1/1"

    async def test_upstream_as_of_uses_the_materializations_that_were_newest_then(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("raw", "d1", finished=1),
                mat("clean", "d1", finished=2, inputs=[("raw", "d1")]),
                mat("extra", "d1", run="r2", finished=9),
                mat("raw", "d1", run="r2", finished=10),
                mat("clean", "d1", run="r2", finished=11, inputs=[("raw", "d1"), ("extra", "d1")]),
            )
        )
        now = await storage.upstream("clean", "d1")
        assert [(e.asset, e.materialization_id) for e in now] == [
            ("extra", "r2/extra/d1/1"),
            ("raw", "r2/raw/d1/1"),
        ]
        then = await storage.upstream("clean", "d1", as_of=at(5))
        assert [(e.asset, e.materialization_id) for e in then] == [("raw", "r1/raw/d1/1")]
        assert await storage.upstream("clean", "d1", as_of=at(1.5)) == []

    async def test_downstream_is_transitive_nearest_first_and_deduplicated(
        self, storage: Storage
    ) -> None:
        await write_diamond(storage)
        assert nodes(await storage.downstream("raw", "d1")) == [
            ("clean", "d1", 1),
            ("report", None, 1),  # also reached at depth 2 through clean@d1
        ]
        found = await storage.downstream("raw", "d2")
        assert nodes(found) == [("clean", "d2", 1), ("report", None, 2)]
        assert found[1].materialization_id == "r1/report//1"
        assert nodes(await storage.downstream("cfg", None)) == [("report", None, 1)]

    async def test_downstream_drops_a_consumer_whose_newest_success_reads_other_inputs(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("raw", "d1", finished=1),
                mat("clean", "d1", finished=2, inputs=[("raw", "d1")]),
                mat("agg", finished=3, inputs=[("raw", "d1")]),
                mat("agg", run="r2", status="failed", finished=4, inputs=[("other", None)]),
            )
        )
        assert nodes(await storage.downstream("raw", "d1")) == [
            ("agg", None, 1),
            ("clean", "d1", 1),
        ]
        await storage.write(batch(mat("clean", "d1", run="r3", finished=5, inputs=[("x", "d1")])))
        assert nodes(await storage.downstream("raw", "d1")) == [("agg", None, 1)]

    async def test_lineage_ends_on_a_cycle_in_recorded_inputs(self, storage: Storage) -> None:
        # Possible when definitions change between runs: a read b, later b read a.
        await storage.write(
            batch(
                mat("a", "p", finished=1, inputs=[("b", "p")]),
                mat("b", "p", finished=2, inputs=[("a", "p"), ("c", "p")]),
                mat("c", "p", finished=0.5),
            )
        )
        assert nodes(await storage.upstream("a", "p")) == [("b", "p", 1), ("c", "p", 2)]
        assert nodes(await storage.downstream("a", "p")) == [("b", "p", 1)]
        assert nodes(await storage.downstream("c", "p")) == [("b", "p", 1), ("a", "p", 2)]

    async def test_lineage_walks_a_long_self_dependent_chain(self, storage: Storage) -> None:
        days = [f"d{i:03}" for i in range(200)]
        records = [mat("cum", days[0], finished=1)]
        records += [
            mat("cum", day, finished=1 + i, inputs=[("cum", days[i - 1])])
            for i, day in enumerate(days[1:], start=1)
        ]
        await storage.write(batch(*records))
        found = await storage.upstream("cum", days[-1])
        assert nodes(found) == [("cum", days[198 - d], d + 1) for d in range(199)]
        assert len(await storage.downstream("cum", days[0])) == 199


class DynamicPartitionsContract:
    """Keys of dynamic partition sets, persisted in insertion order."""

    async def test_adding_keys_reports_only_the_new_ones_and_keeps_insertion_order(
        self, storage: Storage
    ) -> None:
        assert await storage.add_dynamic_partitions("tenants", ["b", "a", "b"]) == ["b", "a"]
        assert await storage.add_dynamic_partitions("tenants", ["a", "c"]) == ["c"]
        assert await storage.dynamic_partitions("tenants") == ["b", "a", "c"]
        assert await storage.dynamic_partitions("regions") == []

    async def test_deleting_a_key_reports_whether_it_existed(self, storage: Storage) -> None:
        await storage.add_dynamic_partitions("tenants", ["a", "b"])
        await storage.add_dynamic_partitions("regions", ["a"])
        assert await storage.delete_dynamic_partition("tenants", "a") is True
        assert await storage.delete_dynamic_partition("tenants", "a") is False
        assert await storage.dynamic_partitions("tenants") == ["b"]
        assert await storage.dynamic_partitions("regions") == ["a"]
        assert await storage.add_dynamic_partitions("tenants", ["a"]) == ["a"]
        assert await storage.dynamic_partitions("tenants") == ["b", "a"]


class PruneContract:
    """Retention that never breaks status summaries or lineage."""

    async def test_prune_deletes_old_records_but_keeps_the_newest_of_each_partition(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("a", "x", finished=1),
                mat("a", "x", run="r2", finished=2),
                mat("a", "y", finished=1),
                mat("a", "x", run="r3", finished=50),
            )
        )
        assert await storage.prune(at(10)) == 2
        assert ids(await storage.materializations()) == ["r3/a/x/1", "r1/a/y/1"]
        assert await storage.prune(at(10)) == 0

    async def test_prune_keeps_the_newest_success_even_behind_a_newer_failure(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("a", "x", finished=1),
                mat("a", "x", run="r2", finished=2),
                mat("a", "x", run="r3", status="failed", finished=3),
            )
        )
        assert await storage.prune(at(10)) == 1
        assert ids(await storage.materializations()) == ["r3/a/x/1", "r2/a/x/1"]

    async def test_prune_keeps_what_kept_records_list_as_inputs_transitively(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("src", "x", finished=1),
                mat("raw", "x", finished=2, inputs=[("src", "x", "r1/src/x/1")]),
                mat("clean", "x", finished=3, inputs=[("raw", "x", "r1/raw/x/1")]),
                mat("src", "x", run="r2", finished=4),
                mat("raw", "x", run="r2", finished=5, inputs=[("src", "x", "r2/src/x/1")]),
            )
        )
        before = await storage.upstream("clean", "x")
        assert await storage.prune(at(10)) == 0  # clean -> raw r1 -> src r1 are still read
        assert await storage.upstream("clean", "x") == before
        # clean re-materialized from the new raw: the old chain is free to go.
        await storage.write(
            batch(mat("clean", "x", run="r2", finished=6, inputs=[("raw", "x", "r2/raw/x/1")]))
        )
        assert await storage.prune(at(10)) == 3
        assert sorted(ids(await storage.materializations())) == [
            "r2/clean/x/1",
            "r2/raw/x/1",
            "r2/src/x/1",
        ]

    async def test_prune_keeps_everything_at_or_after_the_cutoff(self, storage: Storage) -> None:
        await storage.write(batch(mat("a", "x", finished=10), mat("a", "x", run="r2", finished=11)))
        assert await storage.prune(at(10)) == 0
        assert await storage.prune(at(10.5)) == 1
