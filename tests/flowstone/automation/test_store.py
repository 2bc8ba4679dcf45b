"""The automation store on SQLite and PostgreSQL: queue claims and leases, limits, cancel
requests, ticks claimed once, fenced completion, run keys and cursors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flowstone.automation._records import Limits, QueuedRun, TickOutcome
from flowstone.automation._store import AutomationStore, LostLease
from flowstone.storage import RunRecord, Storage

T0 = datetime.fromisoformat("2025-01-15T02:00:00+00:00")


def run(run_id: str, pools: tuple[str, ...] = (), priority: int = 0) -> QueuedRun:
    record = RunRecord(
        run_id=run_id, pipeline="p", kind="materialize_all", targets=("a",), status="queued",
        started_at=T0, finished_at=None, triggered_by="test",
    )  # fmt: skip
    return QueuedRun(record, pools, priority)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def claim(store: AutomationStore, owner: str, now: float, **limits: object) -> list[str]:
    found = await store.claim(owner, at(now), at(now + 10), Limits(**{"free": 10, **limits}))  # type: ignore[arg-type]
    return [c.run_id for c in found]


async def test_a_submitted_run_is_recorded_queued_and_enqueueing_it_again_changes_nothing(
    store: AutomationStore, storage: Storage
) -> None:
    assert await store.enqueue([run("r1")], T0) == ["r1"]
    assert await store.enqueue([run("r1")], T0) == []
    record = await storage.get_run("r1")
    assert record is not None
    assert record.status == "queued"
    assert [r.run_id for r in await storage.list_runs(status="queued")] == ["r1"]


async def test_a_run_is_claimed_by_one_daemon_only_in_priority_then_age_order(
    store: AutomationStore,
) -> None:
    await store.enqueue([run("old"), run("urgent", priority=5)], T0)
    await store.enqueue([run("new")], at(1))
    assert await claim(store, "d1", 2, free=2) == ["urgent", "old"]
    assert await claim(store, "d2", 2) == ["new"]
    assert await claim(store, "d3", 2) == []


async def test_an_expired_lease_lets_another_daemon_take_the_run_over(
    store: AutomationStore,
) -> None:
    await store.enqueue([run("r1")], T0)
    assert await claim(store, "d1", 0) == ["r1"]
    assert await claim(store, "d2", 9.9) == []
    found = await store.claim("d2", at(10.5), at(20), Limits(free=1))
    assert [(c.run_id, c.claims, c.takeover) for c in found] == [("r1", 2, True)]
    renewal = await store.renew("d1", ["r1"], at(11), at(21))
    assert renewal.lost == {"r1"}
    assert not await store.finish("d1", "r1")
    assert await store.finish("d2", "r1")


async def test_renewing_keeps_the_lease_and_reports_cancel_requests(store: AutomationStore) -> None:
    await store.enqueue([run("r1"), run("r2")], T0)
    assert await claim(store, "d1", 0, free=1) == ["r1"]
    assert await store.request_cancel("r2", at(1)) == "cancelled"
    assert await store.request_cancel("r1", at(1)) == "requested"
    renewal = await store.renew("d1", ["r1"], at(8), at(18))
    assert renewal.lost == set()
    assert renewal.cancel == {"r1"}
    assert await claim(store, "d2", 12) == []  # renewed until 18
    assert await store.request_cancel("nope", at(1)) == "unknown"


async def test_a_cancelled_queued_run_is_never_claimed(
    store: AutomationStore, storage: Storage
) -> None:
    await store.enqueue([run("r1")], T0)
    assert await store.request_cancel("r1", at(1)) == "cancelled"
    assert await claim(store, "d1", 2) == []
    record = await storage.get_run("r1")
    assert record is not None
    assert record.status == "cancelled"


async def test_pool_and_cluster_limits_count_the_claims_of_every_daemon(
    store: AutomationStore,
) -> None:
    await store.enqueue([run(f"p{i}", ("db",)) for i in range(4)], T0)
    await store.enqueue([run("free")], at(0.5))
    assert await claim(store, "d1", 0, free=1, pools={"db": 2}) == ["p0"]
    assert await claim(store, "d2", 0, pools={"db": 2}) == ["p1", "free"]
    assert await claim(store, "d3", 0, pools={"db": 2}) == []
    assert await store.finish("d1", "p0")
    assert await claim(store, "d3", 1, pools={"db": 2}, cluster=2) == []
    assert await claim(store, "d3", 1, pools={"db": 2}, cluster=3) == ["p2"]


async def test_a_released_run_goes_back_to_the_queue(store: AutomationStore) -> None:
    await store.enqueue([run("r1")], T0)
    assert await claim(store, "d1", 0) == ["r1"]
    assert await store.release("d1", "r1")
    assert await claim(store, "d2", 0) == ["r1"]


async def test_abandoning_a_run_fails_its_record_with_the_reason(
    store: AutomationStore, storage: Storage
) -> None:
    await store.enqueue([run("r1")], T0)
    await claim(store, "d1", 0)
    assert await store.abandon("d1", "r1", at(1), "claimed 6 times")
    record = await storage.get_run("r1")
    assert record is not None
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.message == "claimed 6 times"


async def test_a_tick_is_claimed_once_and_its_expired_claim_is_taken_over(
    store: AutomationStore,
) -> None:
    assert await store.claim_tick("p", "schedule:s", T0, "d1", at(0), at(10))
    assert not await store.claim_tick("p", "schedule:s", T0, "d2", at(5), at(15))
    assert await store.claim_tick("p", "schedule:s", T0, "d2", at(11), at(21))
    with pytest.raises(LostLease, match="no longer owned by d1"):
        await store.complete_tick(
            "p", "schedule:s", T0, "d1", at(12), TickOutcome("requested", ((run("x"), None),))
        )
    created = await store.complete_tick(
        "p", "schedule:s", T0, "d2", at(12), TickOutcome("requested", ((run("y"), None),))
    )
    assert created == ["y"]
    assert [e.run_id for e in await store.entries()] == ["y"]  # "x" was rolled back
    assert not await store.claim_tick("p", "schedule:s", T0, "d3", at(100), at(110))
    newest, unfinished = await store.tick_anchor("p", "schedule:s")
    assert newest == T0
    assert unfinished == []


async def test_a_run_key_creates_one_run_per_origin_ever_and_the_cursor_commits_with_it(
    store: AutomationStore,
) -> None:
    async def tick(second: float, *keys: str) -> list[str]:
        assert await store.claim_tick(
            "p", "sensor:s", at(second), "d1", at(second), at(second + 10)
        )
        runs = tuple((run(f"run-{k}-{second}"), k) for k in keys)
        outcome = TickOutcome("requested", runs, cursor=f"c{second}")
        return await store.complete_tick("p", "sensor:s", at(second), "d1", at(second), outcome)

    assert await tick(0, "a", "b") == ["run-a-0", "run-b-0"]
    assert await tick(30, "b", "c") == ["run-c-30"]
    (state,) = await store.states("p", ["sensor:s"], at(31))
    assert state.cursor == "c30"
    ticks = await store.ticks("p", "sensor:s")
    assert [t.run_ids for t in ticks] == [("run-c-30",), ("run-a-0", "run-b-0")]
    assert ticks[0].info == {"known_run_keys": ["b"]}


async def test_enabling_again_restarts_since_so_ticks_missed_while_off_are_not_caught_up(
    store: AutomationStore,
) -> None:
    (state,) = await store.states("p", ["schedule:s"], at(0))
    assert state.enabled
    assert state.since == at(0)
    await store.set_enabled("p", "schedule:s", False, at(10))
    await store.set_enabled("p", "schedule:s", False, at(20))
    (state,) = await store.states("p", ["schedule:s"], at(30))
    assert not state.enabled
    assert state.since == at(0)
    await store.set_enabled("p", "schedule:s", True, at(40))
    (state,) = await store.states("p", ["schedule:s"], at(50))
    assert state.enabled
    assert state.since == at(40)


async def test_a_daemon_claims_only_the_runs_of_its_own_pipeline(store: AutomationStore) -> None:
    await store.enqueue([run("r1")], T0)
    assert await claim(store, "d1", 0, pipeline="another") == []
    assert await claim(store, "d2", 0, pipeline="p") == ["r1"]
