"""The engine's supervision tree: crashes in the engine are restarted, not lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
import flowstone as fs
import supervisors
from actors.testing import MockClock, use_clock, wait_all_idle
from flowstone.engine._node import make_node
from flowstone.engine._planning import RunSpec
from flowstone.engine._runner import new_run_id


async def _started_run(rt: fs.AsyncRuntime) -> asyncio.Future[str]:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_event(event: fs.Event) -> None:
        if event.kind == "materialization.started" and not future.done():
            future.set_result(event.run_id)

    rt.events.subscribe(on_event)
    return future


async def test_a_killed_materializer_is_restarted_and_the_attempt_is_counted(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("killable")
    release = asyncio.Event()
    attempts: list[int] = []

    @p.asset()
    async def slow(context: Any) -> str:
        attempts.append(context.attempt)
        await release.wait()
        return "done"

    rt = make_runtime(p)
    started = await _started_run(rt)
    task = asyncio.ensure_future(rt.materialize("slow"))
    run_id = await started
    run_sup = rt.engine.tree.run_supervisor(run_id)
    [child] = await run_sup.which_children()
    child.ref.kill()
    await wait_all_idle()
    release.set()
    run = await task
    assert run.success
    assert attempts == [1, 2]
    assert run.materializations[0].attempt == 2


async def test_a_materializer_is_registered_under_its_pipeline_asset_partition_and_run(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("named")
    days = fs.DailyPartitions(start="2025-01-01")
    release = asyncio.Event()

    @p.asset(partitioned_by=days)
    async def slow(context: Any) -> str:
        await release.wait()
        return "done"

    rt = make_runtime(p)
    started = await _started_run(rt)
    task = asyncio.ensure_future(rt.materialize("slow", "2025-01-02"))
    run_id = await started
    name = f"flowstone:named/slow/2025-01-02?run={run_id}"
    [child] = await rt.engine.tree.run_supervisor(run_id).which_children()
    assert actors.whereis(name) == child.ref
    # Killed and restarted by its supervisor: the replacement takes the name over.
    child.ref.kill()
    await wait_all_idle()
    [replacement] = await rt.engine.tree.run_supervisor(run_id).which_children()
    assert replacement.ref != child.ref
    assert actors.whereis(name) == replacement.ref
    release.set()
    assert (await task).success
    assert actors.whereis(name) is None


async def test_a_crashed_lineage_writer_is_restarted_and_no_record_is_lost(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("writer")

    @p.asset()
    def one(context: Any) -> int:
        return 1

    rt = make_runtime(p)
    await rt.start()
    writer = actors.whereis(rt.engine.tree.lineage_name)
    assert writer is not None
    writer.kill()
    await wait_all_idle()
    replacement = actors.whereis(rt.engine.tree.lineage_name)
    assert replacement is not None
    assert replacement != writer
    run = await rt.materialize("one")
    assert run.success
    assert [m.status for m in await rt.materializations("one")] == ["succeeded"]


async def test_cancelling_a_run_records_the_attempt_as_cancelled(make_runtime: Any) -> None:
    p = fs.Pipeline("cancel")
    never = asyncio.Event()

    @p.asset()
    async def forever(context: Any) -> None:
        await never.wait()

    rt = make_runtime(p)
    started = await _started_run(rt)
    task = asyncio.ensure_future(rt.materialize("forever"))
    run_id = await started
    assert await rt.cancel(run_id) is True
    with pytest.raises(fs.RunFailed) as info:
        await task
    assert info.value.result.status == "cancelled"
    [record] = await rt.materializations("forever")
    assert record.status == "cancelled"
    assert record.error is not None
    assert record.error.type == "Cancelled"
    [run] = await rt.runs()
    assert run.status == "cancelled"


async def test_an_asset_that_exceeds_its_timeout_fails_with_asset_timeout(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("timeouts")
    never = asyncio.Event()

    @p.asset(timeout=30.0)
    async def hangs(context: Any) -> None:
        await never.wait()

    clock = MockClock()
    with use_clock(clock):
        rt = make_runtime(p)
        started = await _started_run(rt)
        task = asyncio.ensure_future(rt.materialize("hangs"))
        await started
        await clock.advance(29.0)
        assert not task.done()
        await clock.advance(1.0)
        with pytest.raises(fs.RunFailed) as info:
            await task
    [record] = info.value.result.materializations
    assert record.error is not None
    assert (record.error.type, record.error.message) == (
        "AssetTimeout",
        "asset 'hangs' did not finish within its timeout of 30 s",
    )


async def test_closing_the_runtime_stops_every_actor_it_started(make_runtime: Any) -> None:
    p = fs.Pipeline("closing")

    @p.asset()
    def one(context: Any) -> int:
        return 1

    rt = make_runtime(p)
    before = set(map(id, actors.testing.live_actors()))
    await rt.materialize("one")
    await rt.close()
    after = {id(r) for r in actors.testing.live_actors()} - before
    assert after == set()


async def test_a_run_supervisor_serves_later_runs_once_its_run_ended(make_runtime: Any) -> None:
    p = fs.Pipeline("reused")
    serving: list[Any] = []

    @p.asset()
    async def one(context: Any) -> int:
        sup = rt.engine.tree.run_supervisor(context.run_id)
        serving.append(sup)
        assert sup is not None
        assert [c.id for c in await sup.which_children()] == ["one"]  # only this run's
        return 1

    rt = make_runtime(p)
    for _ in range(3):
        assert (await rt.materialize("one")).success
        await wait_all_idle()  # the run's materializer has exited
    assert serving[0] is not None
    assert serving[0] == serving[1] == serving[2]
    root = rt.engine.tree.root
    assert root is not None
    runs = (await root.which_child("runs")).ref
    assert isinstance(runs, supervisors.DynamicSupervisorRef)
    assert [c.ref for c in await runs.which_children()] == [serving[0]]


async def test_a_run_supervisor_that_restarted_a_child_is_stopped_with_its_run(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("restarted")
    release = asyncio.Event()

    @p.asset()
    async def slow(context: Any) -> str:
        await release.wait()
        return "done"

    rt = make_runtime(p)
    started = await _started_run(rt)
    task = asyncio.ensure_future(rt.materialize("slow"))
    run_sup = rt.engine.tree.run_supervisor(await started)
    assert run_sup is not None
    [child] = await run_sup.which_children()
    assert child.ref is not None
    child.ref.kill()
    await wait_all_idle()
    release.set()
    assert (await task).success
    assert not run_sup.alive  # its restart intensity window is not a new one's: not reused


async def test_a_run_interrupted_from_outside_stops_its_supervisor_and_what_runs_under_it(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("interrupted")
    never = asyncio.Event()

    @p.asset()
    async def forever(context: Any) -> None:
        await never.wait()

    rt = make_runtime(p)
    await rt.start()
    started = await _started_run(rt)
    spec = RunSpec(
        run_id=new_run_id(),
        kind="materialize",
        targets=("forever",),
        plan=await rt.engine.planner.single(make_node(p.get("forever"), None)),
        triggered_by="test",
    )
    task = asyncio.ensure_future(rt.engine.runner.execute(spec))
    run_sup = rt.engine.tree.run_supervisor(await started)
    assert run_sup is not None
    [child] = await run_sup.which_children()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not run_sup.alive
    assert child.ref is not None
    assert not child.ref.alive
