"""The run queue's and daemons' transactions, written once for both SQL engines (``_tx``).

Internal. Every function is one transaction's body: the backend opens the transaction,
runs the program over a ``Tx`` and commits (or rolls back when it raises). State changes are
conditional updates (``... WHERE owner = :owner AND state = 'claimed'``), so a daemon that
lost its lease can never overwrite the work of the daemon that took over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flowstone.automation._handoff_sql import requeue_if_decided
from flowstone.automation._records import (
    Claim,
    DaemonRecord,
    Limits,
    QueuedRun,
    QueueEntry,
    Renewal,
)
from flowstone.automation._tx import Tx, in_list
from flowstone.storage import ErrorInfo
from flowstone.storage._codec import dump_error, run_values
from flowstone.storage._sql import RUN_COLUMNS

# -- queue ------------------------------------------------------------------------------------


async def enqueue(tx: Tx, run: QueuedRun, now: datetime) -> bool:
    """Insert the run record (status queued) and its queue row; False if it existed."""
    values = run_values(run.record, tx.time)
    names = [f"c{i}" for i in range(len(values))]
    placeholders = [f":{n}" for n in names]
    if tx.engine == "postgres":
        for i in (3, 11, 12):  # targets, metadata, error are jsonb there
            placeholders[i] += "::jsonb"
    inserted = await tx.execute(
        f"INSERT INTO {{t}}runs ({RUN_COLUMNS}) VALUES ({', '.join(placeholders)}) "
        f"ON CONFLICT (run_id) DO NOTHING",
        **dict(zip(names, values, strict=True)),
    )
    if not inserted:
        return False
    await tx.execute(
        "INSERT INTO {t}run_queue (run_id, pipeline, state, priority, enqueued_at, owner, "
        "lease_until, claims, cancel_requested, code_version) VALUES (:run_id, :pipeline, "
        "'queued', :priority, :now, NULL, NULL, 0, 0, :code_version)",
        run_id=run.record.run_id,
        pipeline=run.record.pipeline,
        priority=run.priority,
        now=tx.time(now),
        code_version=run.code_version,
    )
    for pool in sorted(set(run.pools)):
        await tx.execute(
            "INSERT INTO {t}run_pools (pool, run_id) VALUES (:pool, :run_id)",
            pool=pool,
            run_id=run.record.run_id,
        )
    return True


async def enqueue_all(tx: Tx, runs: Sequence[QueuedRun], now: datetime) -> list[str]:
    """Enqueue several runs in this transaction; return the ids that were new."""
    return [run.record.run_id for run in runs if await enqueue(tx, run, now)]


_READY = "(state = 'queued' OR (state = 'claimed' AND lease_until < :now))"


async def claim(
    tx: Tx,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limits: Limits,
    code_version: str | None = None,
) -> list[Claim]:
    """Claim up to ``limits.free`` runs: expired leases first (take-overs), then queued runs
    by priority and age, within the cluster and pool limits."""
    if limits.free <= 0:
        return []
    if limits.cluster is not None or limits.pools:
        # Limits are counts over every daemon's claims: two claims must not both count
        # the same free slot, so claims that check limits take turns (a few ms each).
        await tx.lock("claim")
    rows = await _candidates(tx, limits.pipeline, now, limits.free * 4 + 8)
    if not rows:
        return []
    budget = await _Budget.load(tx, limits, [r[0] for r in rows])
    claimed: list[Claim] = []
    for run_id, state in rows:
        takeover = state == "claimed"
        if not takeover and not budget.admits(run_id):
            continue
        updated = await tx.fetch(
            f"UPDATE {{t}}run_queue SET state = 'claimed', owner = :owner, "
            f"lease_until = :lease, claims = claims + 1, "
            f"code_version = COALESCE(:code_version, code_version) "
            f"WHERE run_id = :run_id AND {_READY} RETURNING claims",
            code_version=code_version,
            owner=owner,
            lease=tx.time(lease_until),
            run_id=run_id,
            now=tx.time(now),
        )
        if updated:
            claimed.append(Claim(run_id, int(updated[0][0]), takeover))
        if len(claimed) >= limits.free:
            break
    return claimed


async def _candidates(
    tx: Tx, pipeline: str | None, now: datetime, limit: int
) -> list[tuple[Any, ...]]:
    """Claimable rows of ``pipeline`` (every pipeline when None): expired leases first
    (take-overs), then queued runs by priority and age; each query walks its own index
    (``run_queue_leases``, ``run_queue_ready``)."""
    mine = "pipeline = :pipeline AND " if pipeline is not None else ""
    expired = await tx.fetch(
        f"SELECT run_id, state FROM {{t}}run_queue WHERE {mine}state = 'claimed' "
        f"AND lease_until < :now ORDER BY lease_until, run_id LIMIT :n{tx.skip_locked}",
        pipeline=pipeline,
        now=tx.time(now),
        n=limit,
    )
    if len(expired) >= limit:
        return expired
    queued = await tx.fetch(
        f"SELECT run_id, state FROM {{t}}run_queue WHERE {mine}state = 'queued' "
        f"ORDER BY priority DESC, enqueued_at, run_id LIMIT :n{tx.skip_locked}",
        pipeline=pipeline,
        n=limit - len(expired),
    )
    return expired + queued


class _Budget:
    """Free cluster and pool slots, counted once per claim transaction."""

    def __init__(
        self, limits: Limits, total: int, used: dict[str, int], pools: dict[str, set[str]]
    ):
        self.limits, self.total, self.used, self.pools = limits, total, used, pools

    @classmethod
    async def load(cls, tx: Tx, limits: Limits, run_ids: Sequence[str]) -> _Budget:
        total = 0
        if limits.cluster is not None:
            rows = await tx.fetch("SELECT COUNT(*) FROM {t}run_queue WHERE state = 'claimed'")
            total = int(rows[0][0])
        used: dict[str, int] = {}
        pools: dict[str, set[str]] = {}
        if limits.pools:
            rows = await tx.fetch(
                "SELECT p.pool, COUNT(*) FROM {t}run_pools p JOIN {t}run_queue q "
                "ON q.run_id = p.run_id WHERE q.state = 'claimed' GROUP BY p.pool"
            )
            used = {pool: int(n) for pool, n in rows}
            ids, params = in_list("r", run_ids)
            for run_id, pool in await tx.fetch(
                f"SELECT run_id, pool FROM {{t}}run_pools WHERE run_id IN {ids}", **params
            ):
                pools.setdefault(run_id, set()).add(pool)
        return cls(limits, total, used, pools)

    def admits(self, run_id: str) -> bool:
        """Whether ``run_id`` fits; if so, count it."""
        cluster = self.limits.cluster
        if cluster is not None and self.total >= cluster:
            return False
        limited = [p for p in self.pools.get(run_id, ()) if p in self.limits.pools]
        if any(self.used.get(p, 0) >= self.limits.pools[p] for p in limited):
            return False
        self.total += 1
        for p in limited:
            self.used[p] = self.used.get(p, 0) + 1
        return True


async def renew(
    tx: Tx, owner: str, run_ids: Sequence[str], now: datetime, lease_until: datetime
) -> Renewal:
    """Extend this daemon's leases and its heartbeat; report lost runs and cancel requests."""
    await tx.execute(
        "UPDATE {t}daemons SET heartbeat_at = :now WHERE daemon_id = :owner",
        now=tx.time(now),
        owner=owner,
    )
    if not run_ids:
        return Renewal()
    ids, params = in_list("r", run_ids)
    await tx.execute(
        f"UPDATE {{t}}run_queue SET lease_until = :lease WHERE owner = :owner "
        f"AND state = 'claimed' AND run_id IN {ids}",
        lease=tx.time(lease_until),
        owner=owner,
        **params,
    )
    rows = await tx.fetch(
        f"SELECT run_id, owner, state, cancel_requested FROM {{t}}run_queue WHERE run_id IN {ids}",
        **params,
    )
    mine = {r[0] for r in rows if r[1] == owner and r[2] == "claimed"}
    cancel = {r[0] for r in rows if r[0] in mine and r[3]}
    return Renewal(frozenset(set(run_ids) - mine), frozenset(cancel))


async def finish(tx: Tx, owner: str, run_id: str, now: datetime | None = None) -> bool:
    """Mark a claimed run done; False when this daemon no longer owned it.

    With ``now``, a run left waiting at a gate decided meanwhile is queued again in the
    same transaction (``_handoff_sql.requeue_if_decided``), so no decision is missed.
    """
    done = bool(
        await tx.execute(
            "UPDATE {t}run_queue SET state = 'done', lease_until = NULL "
            "WHERE run_id = :run_id AND owner = :owner AND state = 'claimed'",
            run_id=run_id,
            owner=owner,
        )
    )
    if done and now is not None:
        await requeue_if_decided(tx, run_id, now)
    return done


async def abandon(tx: Tx, owner: str, run_id: str, now: datetime, reason: str) -> bool:
    """Mark a claimed run done and its record failed with ``reason``; False if not owned."""
    if not await finish(tx, owner, run_id):
        return False
    cast = "::jsonb" if tx.engine == "postgres" else ""
    await tx.execute(
        f"UPDATE {{t}}runs SET status = 'failed', finished_at = :now, error = :error{cast} "
        f"WHERE run_id = :run_id AND status NOT IN ('succeeded', 'failed', 'cancelled')",
        now=tx.time(now),
        error=dump_error(ErrorInfo("RunAbandoned", reason)),
        run_id=run_id,
    )
    return True


async def release(tx: Tx, owner: str, run_id: str) -> bool:
    """Hand a claimed run back to the queue (a draining daemon); False if not owned."""
    return bool(
        await tx.execute(
            "UPDATE {t}run_queue SET state = 'queued', owner = NULL, lease_until = NULL "
            "WHERE run_id = :run_id AND owner = :owner AND state = 'claimed'",
            run_id=run_id,
            owner=owner,
        )
    )


async def request_cancel(tx: Tx, run_id: str, now: datetime) -> str:
    """Cancel a queued run at once, or ask the daemon running it to cancel it.

    Returns ``"cancelled"``, ``"requested"``, ``"finished"`` or ``"unknown"``.
    """
    rows = await tx.fetch("SELECT state FROM {t}run_queue WHERE run_id = :r", r=run_id)
    if not rows:
        return "unknown"
    state = rows[0][0]
    if state == "queued":
        await tx.execute(
            "UPDATE {t}run_queue SET state = 'done' WHERE run_id = :r AND state = 'queued'",
            r=run_id,
        )
        await tx.execute(
            "UPDATE {t}runs SET status = 'cancelled', finished_at = :now WHERE run_id = :r",
            now=tx.time(now),
            r=run_id,
        )
        return "cancelled"
    if state == "claimed":
        await tx.execute("UPDATE {t}run_queue SET cancel_requested = 1 WHERE run_id = :r", r=run_id)
        return "requested"
    return "finished"


async def entries(tx: Tx, states: Sequence[str], limit: int) -> list[QueueEntry]:
    """Return queue rows in the given states, oldest first."""
    names, params = in_list("s", states)
    rows = await tx.fetch(
        f"SELECT run_id, state, priority, enqueued_at, owner, lease_until, claims, "
        f"cancel_requested, code_version FROM {{t}}run_queue WHERE state IN {names} "
        f"ORDER BY enqueued_at, run_id LIMIT :limit",
        limit=limit,
        **params,
    )
    ids, id_params = in_list("r", [r[0] for r in rows])
    pools: dict[str, list[str]] = {}
    for run_id, pool in await tx.fetch(
        f"SELECT run_id, pool FROM {{t}}run_pools WHERE run_id IN {ids} ORDER BY pool",
        **id_params,
    ):
        pools.setdefault(run_id, []).append(pool)
    return [
        QueueEntry(
            r[0],
            r[1],
            int(r[2]),
            tx.from_time(r[3]),
            r[4],
            None if r[5] is None else tx.from_time(r[5]),
            int(r[6]),
            bool(r[7]),
            r[8],
            tuple(pools.get(r[0], ())),
        )
        for r in rows
    ]


# -- daemons ----------------------------------------------------------------------------------


async def register_daemon(tx: Tx, daemon: DaemonRecord) -> None:
    """Insert or refresh a daemon's row."""
    await tx.execute(
        "INSERT INTO {t}daemons (daemon_id, host, pid, started_at, heartbeat_at, status, info) "
        "VALUES (:id, :host, :pid, :started, :beat, :status, :info) "
        "ON CONFLICT (daemon_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
        "status = excluded.status, info = excluded.info",
        id=daemon.daemon_id,
        host=daemon.host,
        pid=daemon.pid,
        started=tx.time(daemon.started_at),
        beat=tx.time(daemon.heartbeat_at),
        status=daemon.status,
        info=json.dumps(dict(daemon.info), default=str),
    )


async def set_daemon_status(tx: Tx, daemon_id: str, status: str, now: datetime) -> None:
    """Record that a daemon is draining or stopped."""
    await tx.execute(
        "UPDATE {t}daemons SET status = :status, heartbeat_at = :now WHERE daemon_id = :id",
        status=status,
        now=tx.time(now),
        id=daemon_id,
    )


async def daemons(tx: Tx) -> list[DaemonRecord]:
    """Every daemon row, newest heartbeat first, with the runs each one holds."""
    rows = await tx.fetch(
        "SELECT daemon_id, host, pid, started_at, heartbeat_at, status, info FROM {t}daemons "
        "ORDER BY heartbeat_at DESC, daemon_id"
    )
    held: dict[str, list[str]] = {}
    for owner, run_id in await tx.fetch(
        "SELECT owner, run_id FROM {t}run_queue WHERE state = 'claimed' ORDER BY run_id"
    ):
        held.setdefault(owner, []).append(run_id)
    return [
        DaemonRecord(
            r[0],
            r[1],
            int(r[2]),
            tx.from_time(r[3]),
            tx.from_time(r[4]),
            r[5],
            json.loads(r[6]),
            tuple(held.get(r[0], ())),
        )
        for r in rows
    ]


async def depth(tx: Tx, pipeline: str) -> tuple[int, dict[str, int]]:
    """Return the queued (unclaimed) runs of ``pipeline``: in all, and per pool."""
    (total,) = await tx.fetch(
        "SELECT COUNT(*) FROM {t}run_queue WHERE state = 'queued' AND pipeline = :pipeline",
        pipeline=pipeline,
    )
    rows = await tx.fetch(
        "SELECT p.pool, COUNT(*) FROM {t}run_pools p JOIN {t}run_queue q ON q.run_id = p.run_id "
        "WHERE q.state = 'queued' AND q.pipeline = :pipeline GROUP BY p.pool",
        pipeline=pipeline,
    )
    return int(total[0]), {str(pool): int(n) for pool, n in rows}
