"""The transactions of the decision hand-off (``_handoff``), for both SQL engines (``_tx``).

Internal. A decision that lets a waiting run continue puts the run (back) on the run queue
as an ordinary queue row for the same run id; whoever claims that row resumes the run. The
claim is the queue's conditional update, so a run is resumed by at most one process at a
time, however many people decide its gates at once.

A decision that lands while the run's row is claimed (a resumption is in flight) changes
nothing here: the process finishing that resumption looks again (``requeue_if_decided``,
in the same transaction that marks the row done) and puts the row back when a decision came
in that the resumption may have missed.
"""

from __future__ import annotations

from datetime import datetime

from flowstone.automation._records import Claim
from flowstone.automation._tx import Tx

_FINAL = ("succeeded", "failed", "cancelled")


async def hand_off(tx: Tx, run_id: str, now: datetime) -> str:
    """Put ``run_id`` on the queue to be resumed.

    Returns ``"queued"`` (queued now or already), ``"claimed"`` (a resumption is in flight:
    its finish looks again), ``"finished"`` (nothing to continue) or ``"unknown"``.
    """
    rows = await tx.fetch(
        "SELECT pipeline, status FROM {t}runs WHERE run_id = :run_id", run_id=run_id
    )
    if not rows:
        return "unknown"
    pipeline, status = rows[0]
    if status in _FINAL:
        return "finished"
    inserted = await tx.execute(
        "INSERT INTO {t}run_queue (run_id, pipeline, state, priority, enqueued_at, owner, "
        "lease_until, claims, cancel_requested, code_version) VALUES (:run_id, :pipeline, "
        "'queued', 0, :now, NULL, NULL, 0, 0, NULL) ON CONFLICT (run_id) DO NOTHING",
        run_id=run_id,
        pipeline=pipeline,
        now=tx.time(now),
    )
    if inserted or await _requeue(tx, run_id, now):
        return "queued"
    state = await tx.fetch("SELECT state FROM {t}run_queue WHERE run_id = :id", id=run_id)
    return str(state[0][0]) if state else "unknown"


async def _requeue(tx: Tx, run_id: str, now: datetime) -> bool:
    # claims starts again: it counts the take-overs of one execution (a run whose daemons
    # keep dying is given up), not how many gates the run passed.
    return bool(
        await tx.execute(
            "UPDATE {t}run_queue SET state = 'queued', owner = NULL, lease_until = NULL, "
            "claims = 0, cancel_requested = 0, enqueued_at = :now "
            "WHERE run_id = :run_id AND state = 'done'",
            run_id=run_id,
            now=tx.time(now),
        )
    )


async def claim_run(
    tx: Tx, run_id: str, owner: str, now: datetime, lease_until: datetime
) -> Claim | None:
    """Claim the queue row of ``run_id`` for ``owner`` (queued, or its lease expired)."""
    rows = await tx.fetch(
        "UPDATE {t}run_queue SET state = 'claimed', owner = :owner, lease_until = :lease, "
        "claims = claims + 1 WHERE run_id = :run_id AND (state = 'queued' OR "
        "(state = 'claimed' AND lease_until < :now)) RETURNING claims",
        owner=owner,
        lease=tx.time(lease_until),
        run_id=run_id,
        now=tx.time(now),
    )
    return Claim(run_id, int(rows[0][0]), False) if rows else None


async def requeue_if_decided(tx: Tx, run_id: str, now: datetime) -> bool:
    """After a resumption of ``run_id`` ended (its row just marked done in this
    transaction): queue it again when it is still waiting although a decision may have
    come in after the resumption looked at that gate. True when queued again.

    That is the case when no gate of the run is open any more, or when a gate was decided
    after the row was last queued (and not in the future of this clock, so that a clock
    set ahead in tests cannot queue it forever: each requeue moves ``enqueued_at`` to now).
    """
    rows = await tx.fetch(
        "SELECT r.status, q.enqueued_at FROM {t}runs r JOIN {t}run_queue q "
        "ON q.run_id = r.run_id WHERE r.run_id = :run_id",
        run_id=run_id,
    )
    if not rows or rows[0][0] != "waiting":
        return False
    since, until = rows[0][1], tx.time(now)
    gates = await tx.fetch(
        "SELECT status IN ('pending', 'escalated'), decided_at FROM {t}approvals "
        "WHERE run_id = :run_id",
        run_id=run_id,
    )
    if not gates:
        return False  # no gate visible (row security): nothing to tell, nothing to loop on
    still_open = any(bool(is_open) for is_open, _ in gates)
    late = any(at is not None and since < at <= until for _, at in gates)
    if still_open and not late:
        return False
    return await _requeue(tx, run_id, now)
