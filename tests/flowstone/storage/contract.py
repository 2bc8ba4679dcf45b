"""The storage contract: what every ``Storage`` backend must do, as one test class.

A backend's test module subclasses ``StorageContract`` and overrides ``make_storage`` (a
fixture returning a factory of *unopened* storages that all reach the same store, so reopening
can be tested). Everything else here is shared, so memory, SQLite and PostgreSQL are held to
exactly the same behaviour. Lineage, prune and dynamic partitions are in
``contract_lineage.py``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from flowstone.errors import StorageError
from flowstone.storage import ErrorInfo, InputRef, MaterializationRecord, Storage, WriteBatch
from flowstone.storage._migrations import LATEST_VERSION
from tests.flowstone.storage.contract_lineage import (
    DynamicPartitionsContract,
    LineageContract,
    PruneContract,
)
from tests.flowstone.storage.contract_pipelines import PipelinesContract
from tests.flowstone.storage.contract_ranges import (
    ChangeLogContract,
    PipelineRangesContract,
    RangesContract,
    RuntimeReportsContract,
)
from tests.flowstone.storage.contract_run_log import RunLogContract
from tests.flowstone.storage.contract_values import ValuesContract
from tests.flowstone.storage.records import T0, at, batch, ids, mat, run

StorageFactory = Callable[[], Storage]


class StorageContract(
    LineageContract,
    PruneContract,
    DynamicPartitionsContract,
    ValuesContract,
    PipelinesContract,
    RunLogContract,
    RangesContract,
    ChangeLogContract,
    PipelineRangesContract,
    RuntimeReportsContract,
):
    """The behaviour every backend shares."""

    @pytest.fixture
    def make_storage(self) -> StorageFactory:
        raise NotImplementedError("a backend's test class provides make_storage")

    @pytest.fixture
    async def storage(self, make_storage: StorageFactory) -> AsyncIterator[Storage]:
        storage = make_storage()
        await storage.open()
        yield storage
        await storage.close()

    # -- schema -------------------------------------------------------------------------------

    async def test_opening_applies_every_migration(self, storage: Storage) -> None:
        assert await storage.schema_version() == LATEST_VERSION

    async def test_opening_again_applies_nothing_and_keeps_the_records(
        self, storage: Storage, make_storage: StorageFactory
    ) -> None:
        await storage.write(batch(run("r1"), mat("raw")))
        await storage.open()  # a second open of the same instance is a no-op
        async with make_storage() as again:
            assert await again.schema_version() == LATEST_VERSION
            assert ids(await again.materializations()) == ["r1/raw//1"]
            assert await again.get_run("r1") == run("r1")

    async def test_the_url_never_shows_a_password(self, storage: Storage) -> None:
        assert "secret" not in storage.url
        assert repr(storage) == f"<{type(storage).__name__} {storage.url}>"

    # -- writes -------------------------------------------------------------------------------

    async def test_records_come_back_equal_to_what_was_written(self, storage: Storage) -> None:
        paris = timezone(timedelta(hours=1))
        record = MaterializationRecord(
            id="r1/clean/2024-01-01/2",
            run_id="r1",
            asset="clean",
            partition="2024-01-01",
            attempt=2,
            status="failed",
            started_at=datetime(2024, 1, 1, 1, 0, 0, 123456, tzinfo=paris),
            finished_at=datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC),
            triggered_by="backfill:b1",
            trigger="backfill",
            user="alice",
            host="worker-1",
            code_version="v7",
            inputs=(InputRef("raw", "2024-01-01", "r0/raw/2024-01-01/1"), InputRef("cfg", None)),
            metadata={"rows": 3, "path": "/tmp/x", "nested": {"ok": [1, 2.5, None, True]}},
            error=ErrorInfo("ValueError", "bad row 7", "Traceback ...\nValueError: bad row 7"),
            tenant="acme",
        )
        await storage.write(WriteBatch(materializations=(record,)))
        (stored,) = await storage.materializations()
        assert stored == record
        assert stored.started_at.utcoffset() == timedelta(0)
        assert stored.duration == pytest.approx(4.876544)

    async def test_metadata_that_json_cannot_hold_is_stored_as_text(self, storage: Storage) -> None:
        await storage.write(batch(mat("raw", metadata={"when": T0, "shape": (2, 3)})))
        (stored,) = await storage.materializations()
        assert stored.metadata == {"when": str(T0), "shape": [2, 3]}

    async def test_writing_the_same_batch_twice_stores_each_record_once(
        self, storage: Storage
    ) -> None:
        replay = batch(run("r1"), mat("raw", "a"), mat("clean", "a", inputs=[("raw", "a")]))
        await storage.write(replay)
        await storage.write(replay)
        assert ids(await storage.materializations()) == ["r1/raw/a/1", "r1/clean/a/1"]
        assert len(await storage.list_runs()) == 1
        assert await storage.upstream("clean", "a") == await storage.upstream("clean", "a")
        assert len(await storage.upstream("clean", "a")) == 1

    async def test_a_rewritten_record_replaces_the_stored_version(self, storage: Storage) -> None:
        await storage.write(batch(mat("clean", "a", status="waiting", finished=None, started=1)))
        assert await storage.latest_statuses("clean") == {"a": "waiting"}
        resumed = mat("clean", "a", finished=9, started=1, inputs=[("raw", "a")])
        await storage.write(batch(resumed))
        assert await storage.materializations() == [resumed]
        assert await storage.latest_statuses("clean") == {"a": "succeeded"}
        assert [e.asset for e in await storage.upstream("clean", "a")] == ["raw"]

    async def test_a_record_rewritten_under_another_key_leaves_its_old_key(
        self, storage: Storage
    ) -> None:
        first = mat("clean", "a", inputs=[("raw", "a")])
        await storage.write(batch(first, mat("clean", "c", inputs=[("raw", "c")])))
        moved = replace(mat("clean", "b", finished=2, inputs=[("raw", "b")]), id=first.id)
        await storage.write(batch(moved))
        assert await storage.latest_statuses("clean") == {"b": "succeeded", "c": "succeeded"}
        assert [(e.asset, e.partition) for e in await storage.upstream("clean", "b")] == [
            ("raw", "b")
        ]
        assert await storage.upstream("clean", "a") == []
        assert [(e.asset, e.partition) for e in await storage.upstream("clean", "c")] == [
            ("raw", "c")
        ]

    async def test_the_last_version_of_an_id_in_one_batch_wins(self, storage: Storage) -> None:
        await storage.write(batch(run("r1", status="pending"), run("r1", status="running")))
        stored = await storage.get_run("r1")
        assert stored is not None
        assert stored.status == "running"

    async def test_an_empty_batch_is_accepted(self, storage: Storage) -> None:
        await storage.write(WriteBatch())
        assert await storage.materializations() == []

    async def test_a_naive_datetime_is_refused_and_nothing_is_written(
        self, storage: Storage
    ) -> None:
        bad = replace(mat("raw", "b"), started_at=datetime(2024, 1, 1))
        with pytest.raises(StorageError, match=r"started_at must be a timezone-aware datetime"):
            await storage.write(batch(mat("raw", "a"), bad))
        assert await storage.materializations() == []
        with pytest.raises(StorageError, match=r"as_of must be a timezone-aware datetime"):
            await storage.latest("raw", ["a"], as_of=datetime(2024, 1, 1))

    async def test_an_unknown_status_is_refused(self, storage: Storage) -> None:
        with pytest.raises(StorageError, match=r"status 'done'; expected one of succeeded"):
            await storage.write(batch(mat("raw", status="done")))

    # -- runs ---------------------------------------------------------------------------------

    async def test_runs_are_listed_newest_first(self, storage: Storage) -> None:
        await storage.write(batch(run("b", started=2), run("a", started=1), run("c", started=2)))
        assert [r.run_id for r in await storage.list_runs()] == ["c", "b", "a"]
        assert [r.run_id for r in await storage.list_runs(limit=2)] == ["c", "b"]

    async def test_runs_filter_by_status_and_backfill(self, storage: Storage) -> None:
        await storage.write(
            batch(
                run("r1", status="failed", started=1),
                run("r2", backfill_id="bf", started=2, kind="backfill"),
                run("r3", backfill_id="bf", status="failed", started=3, kind="backfill"),
            )
        )
        assert [r.run_id for r in await storage.list_runs(status="failed")] == ["r3", "r1"]
        assert [r.run_id for r in await storage.list_runs(backfill_id="bf")] == ["r3", "r2"]
        found = await storage.list_runs(status="failed", backfill_id="bf")
        assert [r.run_id for r in found] == ["r3"]

    async def test_an_unknown_run_is_none(self, storage: Storage) -> None:
        assert await storage.get_run("nope") is None

    # -- materializations ---------------------------------------------------------------------

    async def test_materializations_are_newest_first_with_ties_broken_by_id(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(mat("a", run="r1", finished=5), mat("a", run="r2", finished=5), mat("b"))
        )
        assert ids(await storage.materializations()) == ["r2/a//1", "r1/a//1", "r1/b//1"]

    async def test_a_waiting_attempt_is_ordered_by_its_start(self, storage: Storage) -> None:
        waiting = mat("a", run="r2", status="waiting", finished=None, started=3)
        await storage.write(batch(mat("a", finished=2), waiting, mat("a", run="r3", finished=4)))
        assert ids(await storage.materializations()) == ["r3/a//1", "r2/a//1", "r1/a//1"]

    async def test_materializations_filter_by_asset_partition_run_and_status(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("a", None, finished=1),
                mat("a", "x", finished=2),
                mat("a", "x", run="r2", status="failed", finished=3),
                mat("b", "x", finished=4),
            )
        )
        by = storage.materializations
        assert ids(await by(asset="a")) == ["r2/a/x/1", "r1/a/x/1", "r1/a//1"]
        assert ids(await by(asset="a", partition="x")) == ["r2/a/x/1", "r1/a/x/1"]
        assert ids(await by(asset="a", any_partition=False)) == ["r1/a//1"]
        assert ids(await by(run_id="r2")) == ["r2/a/x/1"]
        assert ids(await by(status="succeeded", partition="x")) == ["r1/b/x/1", "r1/a/x/1"]
        assert ids(await by(limit=2)) == ["r1/b/x/1", "r2/a/x/1"]

    async def test_before_pages_through_materializations(self, storage: Storage) -> None:
        await storage.write(batch(*(mat("a", f"p{i}", finished=i) for i in range(1, 6))))
        first = await storage.materializations(limit=2)
        assert [r.partition for r in first] == ["p5", "p4"]
        last = first[-1].finished_at
        assert last is not None
        second = await storage.materializations(limit=2, before=last)
        assert [r.partition for r in second] == ["p3", "p2"]

    # -- latest -------------------------------------------------------------------------------

    async def test_latest_returns_the_newest_success_per_partition_and_omits_the_rest(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("a", "x", finished=1),
                mat("a", "x", run="r2", finished=2),
                mat("a", "x", run="r3", status="failed", finished=3),
                mat("a", "y", status="failed", finished=1),
                mat("a", None, finished=1),
            )
        )
        found = await storage.latest("a", ["x", "y", "z", None])
        assert {p: r.id for p, r in found.items()} == {"x": "r2/a/x/1", None: "r1/a//1"}

    async def test_latest_with_another_status_or_none(self, storage: Storage) -> None:
        await storage.write(
            batch(
                mat("a", "x", finished=1),
                mat("a", "x", run="r2", status="failed", finished=2),
                mat("a", "x", run="r3", finished=3),
            )
        )
        any_status = await storage.latest("a", ["x"], status=None)
        assert any_status["x"].id == "r3/a/x/1"
        failed = await storage.latest("a", ["x"], status="failed")
        assert failed["x"].id == "r2/a/x/1"

    async def test_latest_as_of_ignores_what_finished_later(self, storage: Storage) -> None:
        await storage.write(
            batch(
                mat("a", "x", finished=1),
                mat("a", "x", run="r2", status="failed", finished=2),
                mat("a", "x", run="r3", finished=3),
            )
        )
        assert (await storage.latest("a", ["x"], as_of=at(2.5)))["x"].id == "r1/a/x/1"
        assert (await storage.latest("a", ["x"], as_of=at(2), status=None))["x"].status == "failed"
        assert (await storage.latest("a", ["x"], as_of=at(3)))["x"].id == "r3/a/x/1"
        assert await storage.latest("a", ["x"], as_of=at(0.5)) == {}

    async def test_latest_answers_thousands_of_partitions_in_one_call(
        self, storage: Storage
    ) -> None:
        keys = [f"k{i:05}" for i in range(5000)]
        await storage.write(batch(*(mat("a", k, finished=1) for k in keys[::2])))
        found = await storage.latest("a", keys)
        assert set(found) == set(keys[::2])
        assert len(await storage.latest("a", keys, as_of=at(5))) == 2500

    async def test_latest_statuses_give_the_newest_status_of_every_partition(
        self, storage: Storage
    ) -> None:
        await storage.write(
            batch(
                mat("a", "x", finished=1),
                mat("a", "x", run="r2", status="failed", finished=2),
                mat("a", "y", finished=1),
                mat("a", None, status="waiting", finished=None, started=1),
                mat("b", "x", status="failed"),
            )
        )
        expected = {"x": "failed", "y": "succeeded", None: "waiting"}
        assert await storage.latest_statuses("a") == expected
        assert await storage.status_counts("a") == {"failed": 1, "succeeded": 1, "waiting": 1}
        assert await storage.latest_statuses("unknown") == {}
        assert await storage.status_counts("unknown") == {}

    async def test_newest_pointers_follow_batches_written_in_any_order(
        self, storage: Storage
    ) -> None:
        # Records of a few keys, written a few per batch in shuffled order: older ones after
        # newer ones, equal finish times (the id decides), several of one key in one batch,
        # waiting attempts (no finish: ordered by their start).
        rng = random.Random(17)
        records = []
        for n in range(60):
            status = rng.choice(["succeeded", "succeeded", "failed", "waiting"])
            finished = None if status == "waiting" else float(rng.randint(1, 12))
            started = float(rng.randint(1, 12)) if finished is None else None
            key = rng.choice(["x", "y", None])
            records.append(
                mat("a", key, run=f"r{n:02}", status=status, finished=finished, started=started)
            )
        rng.shuffle(records)
        written: list[MaterializationRecord] = []
        while records:
            size = rng.randint(1, 4)
            chunk, records = records[:size], records[size:]
            await storage.write(batch(*chunk))
            written += chunk

            def newest(
                key: str | None, status: str | None, written: list[MaterializationRecord] = written
            ) -> str | None:
                mine = [r for r in written if r.partition == key]
                mine = [r for r in mine if status is None or r.status == status]
                if not mine:
                    return None
                return max(mine, key=lambda r: (r.finished_at or r.started_at, r.id)).id

            keys = [None, "x", "y"]
            found = await storage.latest("a", keys, status=None)
            assert {k: r.id for k, r in found.items()} == {
                k: newest(k, None) for k in keys if newest(k, None) is not None
            }
            found = await storage.latest("a", keys)
            assert {k: r.id for k, r in found.items()} == {
                k: newest(k, "succeeded") for k in keys if newest(k, "succeeded") is not None
            }
            by_id = {r.id: r for r in written}
            assert await storage.latest_statuses("a") == {
                k: by_id[i].status for k in keys if (i := newest(k, None)) is not None
            }

    # -- tenants ------------------------------------------------------------------------------

    async def test_runs_keep_their_tenant_and_shared_runs_have_none(self, storage: Storage) -> None:
        await storage.write(batch(run("r1", tenant="acme"), run("r2", started=1)))
        assert await storage.get_run("r1") == run("r1", tenant="acme")
        listed = await storage.list_runs()
        assert [(r.run_id, r.tenant) for r in listed] == [("r2", None), ("r1", "acme")]

    async def test_materializations_keep_their_tenant_in_every_read(self, storage: Storage) -> None:
        key = "tenant=acme|date=2024-01-01"
        shared = mat("rates", finished=1)
        orders = mat("orders", key, finished=2, inputs=[("rates", None)], tenant="acme")
        failed = mat("orders", key, run="r2", status="failed", finished=3, tenant="acme")
        await storage.write(batch(shared, orders, failed))

        assert await storage.materializations() == [failed, orders, shared]
        assert (await storage.latest("orders", [key]))[key] == orders
        assert (await storage.latest("orders", [key], status=None))[key] == failed
        assert (await storage.latest("orders", [key], as_of=at(2.5)))[key] == orders
        assert (await storage.latest("rates", [None]))[None].tenant is None

    async def test_rewriting_a_record_replaces_its_tenant(self, storage: Storage) -> None:
        await storage.write(batch(run("r1"), mat("raw", "a")))
        await storage.write(batch(run("r1", tenant="acme"), mat("raw", "a", tenant="acme")))
        assert await storage.get_run("r1") == run("r1", tenant="acme")
        assert await storage.materializations() == [mat("raw", "a", tenant="acme")]
        assert (await storage.latest("raw", ["a"]))["a"].tenant == "acme"
