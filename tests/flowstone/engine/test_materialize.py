"""materialize and materialize_all: plans, records, inputs and the errors users meet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import flowstone as fs

from .conftest import chain_pipeline


async def test_materialize_all_runs_the_upstream_closure_in_one_run(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    run = await rt.materialize_all("report", "2025-01-15")
    assert run.success
    assert [m.asset for m in run.materializations] == ["raw", "clean", "report"]
    assert {m.run_id for m in run.materializations} == {run.run_id}
    assert all(m.partition == dt.date(2025, 1, 15) for m in run.materializations)


async def test_a_materialization_records_the_inputs_it_consumed(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    run = await rt.materialize_all("report", "2025-01-15")
    report = run.value_of("report")
    assert report is not None
    assert report.inputs == [("clean", dt.date(2025, 1, 15))]
    assert report.triggered_by.count("@") == 1
    assert report.metadata["io_manager"] == "fs"


async def test_materialize_without_upstream_names_the_missing_partition_and_the_fix(
    make_runtime: Any,
) -> None:
    rt = make_runtime(chain_pipeline())
    with pytest.raises(fs.MissingUpstream) as info:
        await rt.materialize("report", "2025-01-15")
    assert str(info.value) == (
        "cannot materialize report[2025-01-15]: upstream clean[2025-01-15] has no successful "
        "materialization; materialize the upstream first with "
        "rt.materialize_all('report', partition='2025-01-15') or "
        "`flowstone materialize report --partition 2025-01-15 --with-upstream`"
    )
    assert info.value.missing == [("clean", dt.date(2025, 1, 15))]


async def test_materialize_reads_upstream_values_through_the_io_manager(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    await rt.materialize_all("clean", "2025-01-02")
    run = await rt.materialize("report", "2025-01-02")
    assert [m.asset for m in run.materializations] == ["report"]
    stored = await rt.load_value("report", "2025-01-02")
    assert stored == 20 + 30 + 40


def _node(rt: Any, asset: str, partition: Any) -> Any:
    from flowstone.engine._node import make_node

    return make_node(rt.pipeline.get(asset), partition)


async def test_an_unknown_asset_is_refused_with_a_suggestion(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    with pytest.raises(fs.AssetNotFound, match=r"did you mean 'report'\?"):
        await rt.materialize_all("reprot", "2025-01-15")


async def test_a_partitioned_asset_without_a_key_says_what_key_is_expected(
    make_runtime: Any,
) -> None:
    rt = make_runtime(chain_pipeline())
    with pytest.raises(
        fs.InvalidPartition,
        match=r"^asset 'report' is partitioned \(.*\) and needs a partition key, "
        r"e.g. partition='.*'$",
    ):
        await rt.materialize_all("report")


async def test_a_key_outside_the_partitions_is_refused_before_anything_runs(
    make_runtime: Any,
) -> None:
    rt = make_runtime(chain_pipeline())
    with pytest.raises(fs.InvalidPartition, match=r"^asset 'report': "):
        await rt.materialize_all("report", "2024-12-31")
    assert await rt.runs() == []


async def test_a_failing_asset_fails_the_run_and_is_recorded_with_its_error(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("failing")

    @p.asset()
    def source(context: Any) -> int:
        return 1

    @p.asset(depends_on=["source"])
    def broken(context: Any, source: int) -> int:
        raise ValueError(f"bad value {source}")

    @p.asset(depends_on=["broken"])
    def after(context: Any, broken: int) -> int:
        return broken

    rt = make_runtime(p)
    with pytest.raises(fs.RunFailed) as info:
        await rt.materialize_all("after")
    result = info.value.result
    assert result.status == "failed"
    assert [(m.asset, m.status) for m in result.materializations] == [
        ("source", "succeeded"),
        ("broken", "failed"),
    ]
    failed = result.materializations[1]
    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == ("ValueError", "bad value 1")
    assert "raise ValueError" in failed.error.traceback
    assert str(info.value).endswith("broken failed after 1 attempt(s): ValueError: bad value 1")
    recorded = await rt.materializations("broken")
    assert [m.status for m in recorded] == ["failed"]
    assert await rt.materializations("after") == []


async def test_retries_follow_the_retry_policy_and_every_attempt_is_recorded(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("flaky")
    calls: list[int] = []

    @p.asset(retry=fs.RetryPolicy(max_retries=2, delay=0, jitter=0))
    def flaky(context: Any) -> int:
        calls.append(context.attempt)
        if context.attempt < 3:
            raise ConnectionError("try again")
        return 42

    rt = make_runtime(p)
    run = await rt.materialize("flaky")
    assert calls == [1, 2, 3]
    assert [(m.attempt, m.status) for m in run.materializations] == [(3, "succeeded")]
    recorded = await rt.materializations("flaky")
    assert [(m.attempt, m.status) for m in recorded] == [
        (3, "succeeded"),
        (2, "failed"),
        (1, "failed"),
    ]


async def test_exceptions_outside_retry_on_fail_at_once(make_runtime: Any) -> None:
    p = fs.Pipeline("strict")
    calls: list[int] = []

    @p.asset(retry=fs.RetryPolicy(max_retries=5, delay=0, retry_on=(ConnectionError,)))
    def strict(context: Any) -> int:
        calls.append(context.attempt)
        raise KeyError("missing column")

    rt = make_runtime(p)
    with pytest.raises(fs.RunFailed):
        await rt.materialize("strict")
    assert calls == [1]


async def test_async_assets_run_on_the_loop_and_independent_assets_run_in_parallel(
    make_runtime: Any,
) -> None:
    import asyncio

    p = fs.Pipeline("parallel")
    left_started = asyncio.Event()
    right_started = asyncio.Event()

    @p.asset()
    async def left(context: Any) -> str:
        left_started.set()
        await right_started.wait()  # deadlocks unless both run at the same time
        return "l"

    @p.asset()
    async def right(context: Any) -> str:
        right_started.set()
        await left_started.wait()
        return "r"

    @p.asset(depends_on=["left", "right"])
    def both(context: Any, left: str, right: str) -> str:
        return left + right

    rt = make_runtime(p)
    run = await asyncio.wait_for(rt.materialize_all("both"), timeout=10)
    assert run.success
    assert run.materializations[-1].asset == "both"


async def test_materialize_all_re_runs_upstream_that_already_succeeded(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline())
    first = await rt.materialize_all("report", "2025-01-15")
    second = await rt.materialize_all("report", "2025-01-15")
    assert len(second.materializations) == 3
    assert first.run_id != second.run_id
    assert len(await rt.materializations("raw", "2025-01-15")) == 2


async def test_resources_are_injected_only_when_declared(make_runtime: Any) -> None:
    p = fs.Pipeline("resources")

    @p.asset(resources=["db"])
    def uses_db(context: Any) -> str:
        return context.resources["db"]

    @p.asset()
    def no_db(context: Any) -> str:
        return context.resources["db"]

    rt = make_runtime(p, resources={"db": "postgres://example"})
    run = await rt.materialize("uses_db")
    assert run.success
    with pytest.raises(fs.RunFailed, match="no_db"):
        await rt.materialize("no_db")


async def test_events_are_published_for_runs_and_materializations(make_runtime: Any) -> None:
    rt = make_runtime(chain_pipeline(partitioned=False))
    seen: list[tuple[str, str | None]] = []
    rt.events.subscribe(lambda e: seen.append((e.kind, e.asset)))
    await rt.materialize_all("report")
    assert seen == [
        ("run.started", None),
        ("materialization.started", "raw"),
        ("materialization.succeeded", "raw"),
        ("materialization.started", "clean"),
        ("materialization.succeeded", "clean"),
        ("materialization.started", "report"),
        ("materialization.succeeded", "report"),
        ("run.succeeded", None),
    ]


async def test_dynamic_partitions_must_be_added_before_they_are_materialized(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("dynamic")
    customers = fs.DynamicPartitions("customers")

    @p.asset(partitioned_by=customers)
    def profile(context: Any) -> str:
        return context.partition.upper()

    @p.asset(depends_on=[fs.Dep("profile", mapping=fs.AllPartitionsMapping())])
    def directory(context: Any, profile: dict[str, str]) -> list[str]:
        return sorted(profile.values())

    rt = make_runtime(p)
    with pytest.raises(fs.InvalidPartition) as info:
        await rt.materialize("profile", "acme")
    assert str(info.value) == (
        "asset 'profile': partition 'acme' is not a key of dynamic partitions 'customers' "
        "(0 keys stored); add it first with rt.add_dynamic_partitions('customers', ['acme'])"
    )
    assert await rt.add_dynamic_partitions("customers", ["acme", "globex"]) == ["acme", "globex"]
    run = await rt.materialize_all("directory")
    assert sorted((m.asset, str(m.partition)) for m in run.materializations) == [
        ("directory", "None"),
        ("profile", "acme"),
        ("profile", "globex"),
    ]
    assert run.materializations[-1].asset == "directory"
