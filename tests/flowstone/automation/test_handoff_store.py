"""The decision hand-off's transactions on SQLite and PostgreSQL: a decided run is queued
for the same run id, claimed exactly once, and queued again by the finish of a resumption
that a decision raced."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flowstone.automation._records import QueuedRun
from flowstone.automation._store import AutomationStore, PostgresAutomationStore
from flowstone.automation._tx import Tx
from flowstone.storage import RunRecord

T0 = datetime.fromisoformat("2025-01-15T02:00:00+00:00")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def _sql(tx: Tx, text: str, times: dict[str, datetime], params: dict[str, Any]) -> int:
    return await tx.execute(text, **params, **{k: tx.time(v) for k, v in times.items()})


async def waiting_run(store: AutomationStore, run_id: str) -> None:
    """A run left waiting at a gate (no queue row: it ran in some process)."""
    record = RunRecord(
        run_id=run_id, pipeline="p", kind="materialize_all", targets=("a",), status="queued",
        started_at=T0, finished_at=None, triggered_by="test",
    )  # fmt: skip
    await store.enqueue([QueuedRun(record)], T0)
    await store._run(_sql, "DELETE FROM {t}run_queue WHERE run_id = :r", {}, {"r": run_id})
    await set_status(store, run_id, "waiting")


async def set_status(store: AutomationStore, run_id: str, status: str) -> None:
    text = "UPDATE {t}runs SET status = :s WHERE run_id = :r"
    await store._run(_sql, text, {}, {"s": status, "r": run_id})


async def gate(
    store: AutomationStore, run_id: str, name: str, status: str, decided: float | None
) -> None:
    """An approval row of ``run_id``'s gate ``name``."""
    jsonb = "::jsonb" if isinstance(store, PostgresAutomationStore) else ""
    times = {"req": T0} | ({} if decided is None else {"dec": at(decided)})
    text = (
        "INSERT INTO {t}approvals (id, run_id, checkpoint, partition, pkey, pipeline, status, "
        f"requested_at, decided_at, policy) VALUES (:id, :r, :c, NULL, '', 'p', :s, :req, "
        f"{':dec' if decided is not None else 'NULL'}, :policy{jsonb})"
    )
    params = {"id": f"{run_id}-{name}", "r": run_id, "c": name, "s": status, "policy": "{}"}
    await store._run(_sql, text, times, params)


async def row(store: AutomationStore, run_id: str) -> tuple[str, str | None, int]:
    [entry] = [e for e in await store.entries(("queued", "claimed", "done")) if e.run_id == run_id]
    return entry.state, entry.owner, entry.claims


async def test_a_decided_run_is_queued_once_and_claimed_by_one_process(
    store: AutomationStore,
) -> None:
    r1 = uuid.uuid4().hex  # the PostgreSQL database is shared by the module's tests
    assert await store.hand_off("nope", T0) == "unknown"
    await waiting_run(store, r1)
    assert await store.hand_off(r1, at(1)) == "queued"
    assert await store.hand_off(r1, at(1)) == "queued"  # a second decider: same row
    assert await row(store, r1) == ("queued", None, 0)
    first = await store.claim_run(r1, "decider-1", at(2), at(12))
    assert first is not None
    assert await store.claim_run(r1, "decider-2", at(2), at(12)) is None
    assert await store.hand_off(r1, at(3)) == "claimed"  # in flight: its finish looks
    await set_status(store, r1, "succeeded")
    assert await store.finish("decider-1", r1)
    assert await row(store, r1) == ("done", "decider-1", 1)
    assert await store.hand_off(r1, at(4)) == "finished"


async def test_a_finished_resumption_queues_the_run_again_when_no_gate_is_open(
    store: AutomationStore,
) -> None:
    r1 = uuid.uuid4().hex  # the PostgreSQL database is shared by the module's tests
    await waiting_run(store, r1)
    await gate(store, r1, "a", "approved", decided=1)
    await gate(store, r1, "b", "approved", decided=1)  # decided while r1 was resumed
    assert await store.hand_off(r1, at(2)) == "queued"
    assert await store.claim_run(r1, "d1", at(3), at(13)) is not None
    assert await store.finish("d1", r1)  # the run is still waiting: b was missed
    assert await row(store, r1) == ("queued", None, 0)
    claim = await store.claim_run(r1, "d2", at(4), at(14))
    assert claim is not None
    assert claim.claims == 1  # a hand-off is not a take-over: claims count again


async def test_a_gate_decided_after_the_run_was_queued_queues_it_again(
    store: AutomationStore,
) -> None:
    r1 = uuid.uuid4().hex  # the PostgreSQL database is shared by the module's tests
    await waiting_run(store, r1)
    await gate(store, r1, "a", "approved", decided=1)
    await gate(store, r1, "c", "pending", decided=None)
    assert await store.hand_off(r1, at(2)) == "queued"
    assert await store.claim_run(r1, "d1", at(3), at(13)) is not None
    await gate(store, r1, "b", "approved", decided=4)  # while d1 resumed the run
    assert await store.finish("d1", r1)
    assert (await row(store, r1))[0] == "queued"


async def test_a_run_waiting_only_at_open_gates_is_done_after_its_resumption(
    store: AutomationStore,
) -> None:
    r1 = uuid.uuid4().hex  # the PostgreSQL database is shared by the module's tests
    await waiting_run(store, r1)
    await gate(store, r1, "a", "approved", decided=1)
    await gate(store, r1, "c", "pending", decided=None)
    assert await store.hand_off(r1, at(2)) == "queued"
    assert await store.claim_run(r1, "d1", at(3), at(13)) is not None
    assert await store.finish("d1", r1)
    assert (await row(store, r1))[0] == "done"
    # A gate "decided" in the future of the finishing clock (a test clock set ahead) is
    # not taken as missed, so a run can never be queued again and again.
    await gate(store, r1, "d", "approved", decided=10**9)  # 2056
    assert await store.hand_off(r1, at(5)) == "queued"
    assert await store.claim_run(r1, "d1", at(6), at(16)) is not None
    assert await store.finish("d1", r1)
    assert (await row(store, r1))[0] == "done"
