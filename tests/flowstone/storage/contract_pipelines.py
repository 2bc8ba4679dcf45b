"""The storage contract for several pipelines sharing one store: each sees only its own
records, statuses and lineage (issue 12, item 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flowstone.errors import StorageError
from flowstone.storage import LineageEntry, Storage
from tests.flowstone.storage.records import at, batch, ids, mat, run


class PipelinesContract:
    """``for_pipeline`` views of one store are isolated from each other."""

    @pytest.fixture
    async def alpha(self, storage: Storage) -> AsyncIterator[Storage]:
        async with storage.for_pipeline("alpha") as view:
            yield view

    @pytest.fixture
    async def beta(self, storage: Storage) -> AsyncIterator[Storage]:
        async with storage.for_pipeline("beta") as view:
            yield view

    async def test_each_pipeline_reads_only_its_own_records(
        self, storage: Storage, alpha: Storage, beta: Storage
    ) -> None:
        assert (alpha.pipeline, beta.pipeline, storage.pipeline) == ("alpha", "beta", "")
        await alpha.write(
            batch(
                run("r1", pipeline="alpha"),
                mat("raw", "a", finished=1),
                mat("clean", "a", finished=2, inputs=[("raw", "a")]),
            )
        )
        await beta.write(
            batch(run("r2", pipeline="beta", started=1), mat("raw", "a", run="r2", status="failed"))
        )
        assert ids(await alpha.materializations()) == ["r1/clean/a/1", "r1/raw/a/1"]
        assert ids(await beta.materializations()) == ["r2/raw/a/1"]
        assert ids(await storage.materializations()) == []  # "" is a pipeline of its own
        assert (await alpha.latest("raw", ["a"]))["a"].id == "r1/raw/a/1"
        assert await beta.latest("raw", ["a"]) == {}
        assert (await beta.latest("raw", ["a"], status=None))["a"].id == "r2/raw/a/1"
        assert await beta.latest("raw", ["a"], as_of=at(5), status=None) != {}
        assert await beta.latest("clean", ["a"], as_of=at(5)) == {}
        assert await alpha.latest_statuses("raw") == {"a": "succeeded"}
        assert await beta.latest_statuses("raw") == {"a": "failed"}
        assert await beta.status_counts("clean") == {}
        assert await alpha.upstream("clean", "a") == [LineageEntry("raw", "a", 1, "r1/raw/a/1")]
        assert await alpha.upstream("clean", "a", as_of=at(5)) == await alpha.upstream("clean", "a")
        assert await beta.upstream("clean", "a") == []
        assert await beta.upstream("clean", "a", as_of=at(5)) == []
        assert [e.asset for e in await alpha.downstream("raw", "a")] == ["clean"]
        assert await beta.downstream("raw", "a") == []

    async def test_runs_are_listed_per_pipeline_and_all_without_one(
        self, storage: Storage, alpha: Storage, beta: Storage
    ) -> None:
        await alpha.write(batch(run("r1", pipeline="alpha")))
        await beta.write(batch(run("r2", pipeline="beta", started=1)))
        assert [r.run_id for r in await alpha.list_runs()] == ["r1"]
        assert [r.run_id for r in await beta.list_runs()] == ["r2"]
        assert await alpha.get_run("r2") is None
        assert [r.run_id for r in await storage.list_runs()] == ["r2", "r1"]

    async def test_a_run_of_another_pipeline_is_refused(self, alpha: Storage) -> None:
        with pytest.raises(StorageError, match=r"run 'r1' belongs to pipeline 'beta', but"):
            await alpha.write(batch(run("r1", pipeline="beta"), mat("raw")))
        assert await alpha.materializations() == []

    async def test_prune_removes_only_the_pipelines_own_records(
        self, alpha: Storage, beta: Storage
    ) -> None:
        await alpha.write(batch(mat("raw", "x", finished=1), mat("raw", "x", run="r2", finished=2)))
        await beta.write(batch(mat("raw", "x", run="r3", finished=1), mat("raw", "x", run="r4")))
        assert await alpha.prune(at(10)) == 1
        assert ids(await alpha.materializations()) == ["r2/raw/x/1"]
        assert ids(await beta.materializations()) == ["r4/raw/x/1", "r3/raw/x/1"]

    async def test_a_record_id_written_again_by_another_pipeline_moves_there(
        self, alpha: Storage, beta: Storage
    ) -> None:
        # Materialization ids (run/asset/partition/attempt) are unique in the whole store.
        await alpha.write(batch(mat("raw", "x")))
        await beta.write(batch(mat("raw", "x")))
        assert await alpha.materializations() == []
        assert await alpha.latest_statuses("raw") == {}
        assert ids(await beta.materializations()) == ["r1/raw/x/1"]
        assert await beta.latest_statuses("raw") == {"x": "succeeded"}
