"""Property tests: random crash sequences against a model of OTP's rules.

Each example runs in a fresh event loop with its own mock clock. After every step the
supervisor must match the model: which children exist, in start order, which run, whether
the supervisor is still alive (it gives up exactly when a restart would exceed
``max_restarts`` within ``max_seconds``), and that no actor runs that the supervisor does
not account for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actors
from actors.testing import MockClock, live_actors, runtime_tasks, use_clock, wait_all_idle
from supervisors import DynamicSupervisor, Supervisor, SupervisorRef
from tests.supervisors.lab import Lab

REASONS: list[Any] = ["normal", "shutdown", ("shutdown", 1), "killed", "crash"]
RESTARTS = ["permanent", "transient", "temporary"]

step = st.one_of(
    st.tuples(st.just("crash"), st.integers(0, 9), st.sampled_from(REASONS)),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 1.0, 2.5])),
)


@dataclass
class Model:
    """What OTP says the supervisor holds: ids in start order, restart types, running flags."""

    strategy: str
    max_restarts: int
    max_seconds: float
    ids: list[str]
    restart: dict[str, str]
    running: dict[str, bool] = field(default_factory=dict)
    restarts: list[float] = field(default_factory=list)
    alive: bool = True

    def crash(self, child: str, reason: Any, now: float) -> list[str]:
        """Apply a crash; return the ids started again, in the order they must start."""
        self.running[child] = False
        restart = self.restart[child]
        clean = reason in ("normal", "shutdown") or isinstance(reason, tuple)
        if restart == "temporary" or (restart == "transient" and clean):
            if restart == "temporary":
                self.ids.remove(child)
            return []
        self.restarts = [t for t in self.restarts if t >= now - self.max_seconds] + [now]
        if len(self.restarts) > self.max_restarts:
            self.alive = False
            return []
        group = self._group(child)
        for other in group:
            if other != child and self.restart[other] == "temporary":
                self.ids.remove(other)
        group = [i for i in group if i in self.ids]
        for member in group:
            self.running[member] = True
        return group

    def _group(self, child: str) -> list[str]:
        if self.strategy == "one_for_one":
            return [child]
        if self.strategy == "one_for_all":
            return list(self.ids)
        return self.ids[self.ids.index(child) :]


async def _scenario(
    strategy: str,
    restarts: list[str],
    max_restarts: int,
    max_seconds: float,
    steps: list[tuple[Any, ...]],
) -> None:
    lab = Lab()
    ids = [f"c{n}" for n in range(len(restarts))]
    model = Model(
        strategy, max_restarts, max_seconds, list(ids), dict(zip(ids, restarts, strict=True))
    )
    model.running = dict.fromkeys(ids, True)
    clock = MockClock()
    with use_clock(clock):
        sup = await Supervisor.start(
            [lab.spec(i, restart=r) for i, r in zip(ids, restarts, strict=True)],
            strategy=strategy,
            max_restarts=max_restarts,
            max_seconds=max_seconds,
        )
        for action in steps:
            if action[0] == "advance":
                await clock.advance(action[1])
                continue
            running = [i for i in model.ids if model.running[i]]
            if not running:
                continue
            child = running[action[1] % len(running)]
            before = {c.id: c.ref for c in await sup.which_children()}
            lab.journal.clear()
            expected_starts = model.crash(child, action[2], clock.now())
            reason = RuntimeError("crash") if action[2] == "crash" else action[2]
            await lab.crash(before[child], reason)
            if not model.alive:
                break
            assert lab.events("start") == [(i,) for i in expected_starts]
            await _check(sup, model, before, set(expected_starts))
        if model.alive:
            await sup.stop("shutdown")
        else:
            assert sup.exit_reason == "shutdown"
        await wait_all_idle()
        assert live_actors() == []
        assert runtime_tasks() == []


async def _check(
    sup: SupervisorRef,
    model: Model,
    before: dict[Any, actors.ActorRef | None],
    restarted: set[str],
) -> None:
    assert sup.alive
    children = await sup.which_children()
    assert [c.id for c in children] == model.ids  # start order, always
    assert {c.id: c.state == "running" for c in children} == {
        i: model.running[i] for i in model.ids
    }
    for c in children:
        if c.id not in restarted and c.state == "running":
            assert c.ref == before[c.id]  # untouched by this restart
    running = {c.ref for c in children if c.ref is not None}
    assert set(live_actors()) == running | {sup}  # no orphans, nobody missing
    assert sup.statistics().restarts <= model.max_restarts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    strategy=st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"]),
    restarts=st.lists(st.sampled_from(RESTARTS), min_size=1, max_size=5),
    max_restarts=st.integers(0, 3),
    max_seconds=st.sampled_from([1.0, 2.5, 5.0]),
    steps=st.lists(step, max_size=15),
)
def test_random_crashes_keep_the_supervisor_in_line_with_otp(
    strategy: str,
    restarts: list[str],
    max_restarts: int,
    max_seconds: float,
    steps: list[tuple[Any, ...]],
) -> None:
    """Children stay in start order, restarts never exceed the window, nothing is orphaned."""
    asyncio.run(_scenario(strategy, restarts, max_restarts, max_seconds, steps))


dynamic_step = st.one_of(
    st.tuples(st.just("start"), st.sampled_from(RESTARTS)),
    st.tuples(st.just("crash"), st.integers(0, 9), st.sampled_from(REASONS)),
    st.tuples(st.just("terminate"), st.integers(0, 9)),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 2.5])),
)


async def _dynamic_scenario(max_children: int, steps: list[tuple[Any, ...]]) -> None:
    from supervisors import MaxChildren

    lab = Lab()
    clock = MockClock()
    with use_clock(clock):
        dyn = await DynamicSupervisor.start(
            max_children=max_children, max_restarts=1000, max_seconds=1
        )
        expected: list[str] = []  # restart type of each child, in start order
        for n, action in enumerate(steps):
            children = await dyn.which_children()
            if action[0] == "start":
                if len(children) >= max_children:
                    try:
                        await dyn.start_child(lab.spec(n, restart=action[1]))
                    except MaxChildren:
                        continue
                    raise AssertionError("max_children was not enforced")
                await dyn.start_child(lab.spec(n, restart=action[1]))
                expected.append(action[1])
            elif action[0] == "advance":
                await clock.advance(action[1])
            elif children:
                index = action[1] % len(children)
                if action[0] == "terminate":
                    assert children[index].ref is not None
                    await dyn.terminate_child(children[index].ref)
                    del expected[index]
                else:
                    reason = RuntimeError("crash") if action[2] == "crash" else action[2]
                    await lab.crash(children[index].ref, reason)
                    restart = expected[index]
                    clean = reason in ("normal", "shutdown") or isinstance(reason, tuple)
                    if restart == "temporary" or (restart == "transient" and clean):
                        del expected[index]
            await wait_all_idle()
            counts = await dyn.count_children()
            assert counts == {
                "specs": len(expected),
                "active": len(expected),
                "supervisors": 0,
                "workers": len(expected),
            }
            assert len(live_actors()) == len(expected) + 1
        await dyn.stop("shutdown")
        await wait_all_idle()
        assert live_actors() == []
        assert runtime_tasks() == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(max_children=st.integers(0, 4), steps=st.lists(dynamic_step, max_size=20))
def test_random_dynamic_workloads_respect_max_children_and_leave_nothing_behind(
    max_children: int, steps: list[tuple[Any, ...]]
) -> None:
    asyncio.run(_dynamic_scenario(max_children, steps))
