"""``rt.resume``: a recorded run executes again from where it stopped, and a gate's
waiting node pauses the run without holding anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import flowstone as fs
from flowstone.clock import utcnow
from flowstone.engine._gate import GateRequest, Proceed, Wait
from flowstone.storage import RunRecord, WriteBatch


def flaky_chain(calls: dict[str, int], fail_first: set[str]) -> fs.Pipeline:
    p = fs.Pipeline("flaky")

    def body(name: str) -> Any:
        def fn(context: Any, **inputs: Any) -> int:
            calls[name] = calls.get(name, 0) + 1
            if name in fail_first and calls[name] == 1:
                raise RuntimeError(f"{name} fails once")
            return sum(inputs.values()) + 1

        fn.__name__ = name
        return fn

    p.asset(name="a")(body("a"))
    p.asset(name="b", depends_on=["a"])(lambda context, a: body("b")(context, a=a))
    p.asset(name="c", depends_on=["b"])(lambda context, b: body("c")(context, b=b))
    return p


async def test_a_failed_run_resumes_without_redoing_what_succeeded(make_runtime: Any) -> None:
    """Resuming re-runs only the failed node, numbering its new attempt after the old one."""
    calls: dict[str, int] = {}
    rt = make_runtime(flaky_chain(calls, fail_first={"c"}))
    with pytest.raises(fs.RunFailed) as info:
        await rt.materialize_all("c")
    run_id = info.value.result.run_id
    result = await rt.resume(run_id)
    assert result.status == "succeeded"
    assert calls == {"a": 1, "b": 1, "c": 2}
    history = sorted((m.asset, m.attempt, m.status) for m in await rt.materializations("c"))
    assert history == [("c", 1, "failed"), ("c", 2, "succeeded")]
    assert {m.run_id for m in result.materializations} == {run_id}
    [run] = [r for r in await rt.runs() if r.run_id == run_id]
    assert run.status == "succeeded"


async def test_a_queued_run_is_executed_by_resume(make_runtime: Any) -> None:
    """A run recorded as queued (never started) runs in full under its own id."""
    calls: dict[str, int] = {}
    rt = make_runtime(flaky_chain(calls, fail_first=set()))
    await rt.start()
    queued = RunRecord(
        run_id="queued-1",
        pipeline="flaky",
        kind="materialize_all",
        targets=("c",),
        status="queued",
        started_at=utcnow(),
        finished_at=None,
        triggered_by="test",
    )
    await rt.storage.write(WriteBatch(runs=(queued,)))
    result = await rt.resume("queued-1")
    assert result.status == "succeeded"
    assert calls == {"a": 1, "b": 1, "c": 1}


async def test_resuming_an_unknown_run_says_so(make_runtime: Any) -> None:
    rt = make_runtime(flaky_chain({}, fail_first=set()))
    with pytest.raises(fs.FlowStoneError, match=r"^cannot resume run 'nope': no such run"):
        await rt.resume("nope")


@dataclass(frozen=True)
class CheckpointSpec:
    message: str


@dataclass
class Gatekeeper:
    """Waits until ``approved`` is set, then passes the input on."""

    approved: bool = False
    asked: int = 0

    async def reached(self, request: GateRequest) -> Proceed | Wait:
        self.asked += 1
        if not self.approved:
            return Wait(approval_id=f"ap-{request.run_id}")
        return Proceed(request.inputs["b"] * 10, {"decided": "yes"})


def gated(calls: dict[str, int]) -> fs.Pipeline:
    p = fs.Pipeline("gated")

    @p.asset()
    def b(context: Any) -> int:
        calls["b"] = calls.get("b", 0) + 1
        return 4

    @p.asset(depends_on=["b"])
    def gate(context: Any, b: int) -> int:
        raise AssertionError("a gate's function is not called by the engine")

    @p.asset(depends_on=["gate"])
    def after(context: Any, gate: int) -> int:
        calls["after"] = calls.get("after", 0) + 1
        return gate + 1

    object.__setattr__(p.get("gate"), "checkpoint", CheckpointSpec("ok?"))
    return p


async def test_a_gate_that_waits_pauses_the_run_and_resume_continues_from_it(
    make_runtime: Any,
) -> None:
    """Waiting: the run ends 'waiting', nothing downstream starts; after the decision the
    resumed run passes the gate and finishes, without redoing the upstream."""
    calls: dict[str, int] = {}
    keeper = Gatekeeper()
    rt = make_runtime(gated(calls), gatekeeper=keeper)
    first = await rt.materialize_all("after")
    assert first.status == "waiting"
    assert [(m.asset, m.status) for m in first.materializations] == [
        ("b", "succeeded"),
        ("gate", "waiting"),
    ]
    [waiting] = [m for m in first.materializations if m.asset == "gate"]
    assert waiting.metadata["approval_id"] == f"ap-{first.run_id}"
    assert waiting.finished_at is None
    keeper.approved = True
    resumed = await rt.resume(first.run_id)
    assert resumed.status == "succeeded"
    assert calls == {"b": 1, "after": 1}
    assert await rt.load_value("after") == 41
    gate_history = sorted((m.attempt, m.status) for m in await rt.materializations("gate"))
    assert gate_history == [(1, "waiting"), (2, "succeeded")]


async def test_reaching_a_gate_without_a_gatekeeper_fails_the_node_clearly(
    make_runtime: Any,
) -> None:
    rt = make_runtime(gated({}))
    with pytest.raises(fs.RunFailed, match="checkpoint 'gate' was reached but this runtime"):
        await rt.materialize_all("after")
