"""The transactions of ticks, cursors, run keys and automation decisions (see ``_tx``).

Internal. A tick is claimed by inserting its row (primary key: pipeline, origin and tick
time) or by taking over a claim whose lease expired; it is completed, with the runs it
creates, in one transaction fenced by the claim (``LostLease`` rolls everything back).
Every row belongs to a pipeline (migration 9): pipelines sharing a store may name their
schedules, sensors and assets alike, and every statement here is keyed by ``pipeline``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flowstone.automation._queue_sql import enqueue
from flowstone.automation._records import (
    AutomationState,
    Decision,
    QueuedRun,
    TickOutcome,
    TickRecord,
)
from flowstone.automation._tx import Tx, in_list
from flowstone.storage._codec import encode_pkey


class LostLease(Exception):
    """Internal: a conditional update found the row owned by someone else (rolls back)."""


# -- ticks ------------------------------------------------------------------------------------


async def claim_tick(
    tx: Tx,
    pipeline: str,
    origin: str,
    tick_at: datetime,
    owner: str,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Claim one tick: a new row, or a claimed one whose lease expired. False otherwise."""
    inserted = await tx.execute(
        "INSERT INTO {t}automation_ticks (pipeline, origin, tick_at, status, owner, "
        "lease_until, updated_at, run_ids, cursor, error, info) VALUES (:pipeline, :origin, "
        ":tick, 'claimed', :owner, :lease, :now, '[]', NULL, NULL, '{}') "
        "ON CONFLICT (pipeline, origin, tick_at) DO NOTHING",
        pipeline=pipeline,
        origin=origin,
        tick=tx.time(tick_at),
        owner=owner,
        lease=tx.time(lease_until),
        now=tx.time(now),
    )
    if inserted:
        return True
    return bool(
        await tx.execute(
            "UPDATE {t}automation_ticks SET owner = :owner, lease_until = :lease, "
            "updated_at = :now WHERE pipeline = :pipeline AND origin = :origin "
            "AND tick_at = :tick AND status = 'claimed' AND lease_until < :now",
            owner=owner,
            lease=tx.time(lease_until),
            now=tx.time(now),
            pipeline=pipeline,
            origin=origin,
            tick=tx.time(tick_at),
        )
    )


async def complete_tick(
    tx: Tx,
    pipeline: str,
    origin: str,
    tick_at: datetime,
    owner: str,
    now: datetime,
    outcome: TickOutcome,
) -> list[str]:
    """Finish a claimed tick and create its runs, in this one transaction.

    A run with a run key is created only if the key is new for ``origin`` of ``pipeline``.
    Returns the ids of the runs created. Raises ``LostLease`` (rolling everything back) when
    the tick is no longer this daemon's.
    """
    updated = await tx.execute(
        "UPDATE {t}automation_ticks SET status = :status, lease_until = NULL, "
        "updated_at = :now, cursor = :cursor, error = :error "
        "WHERE pipeline = :pipeline AND origin = :origin AND tick_at = :tick "
        "AND owner = :owner AND status = 'claimed'",
        status=outcome.status,
        now=tx.time(now),
        cursor=outcome.cursor,
        error=outcome.error,
        pipeline=pipeline,
        origin=origin,
        tick=tx.time(tick_at),
        owner=owner,
    )
    if not updated:
        raise LostLease(
            f"tick {origin} of {pipeline} at {tick_at.isoformat()} is no longer owned by {owner}"
        )
    created: list[str] = []
    known: list[str] = []
    for run, key in outcome.runs:
        if key is not None and not await _new_run_key(tx, pipeline, origin, key, run, now):
            known.append(key)
            continue
        if await enqueue(tx, run, now):
            created.append(run.record.run_id)
    info = dict(outcome.info)
    if known:
        info["known_run_keys"] = known
    await tx.execute(
        "UPDATE {t}automation_ticks SET run_ids = :runs, info = :info "
        "WHERE pipeline = :pipeline AND origin = :origin AND tick_at = :tick",
        runs=json.dumps(created),
        info=json.dumps(info, default=str),
        pipeline=pipeline,
        origin=origin,
        tick=tx.time(tick_at),
    )
    if outcome.cursor is not None:
        await ensure_state(tx, pipeline, origin, now)
        await tx.execute(
            "UPDATE {t}automation_state SET cursor = :cursor, updated_at = :now "
            "WHERE pipeline = :pipeline AND origin = :origin",
            cursor=outcome.cursor,
            now=tx.time(now),
            pipeline=pipeline,
            origin=origin,
        )
    return created


async def _new_run_key(
    tx: Tx, pipeline: str, origin: str, key: str, run: QueuedRun, now: datetime
) -> bool:
    return bool(
        await tx.execute(
            "INSERT INTO {t}run_keys (pipeline, origin, run_key, run_id, created_at) "
            "VALUES (:pipeline, :origin, :key, :run_id, :now) "
            "ON CONFLICT (pipeline, origin, run_key) DO NOTHING",
            pipeline=pipeline,
            origin=origin,
            key=key,
            run_id=run.record.run_id,
            now=tx.time(now),
        )
    )


async def run_keys(tx: Tx, pipeline: str, origin: str) -> dict[str, str]:
    """Return every run key of ``origin`` of ``pipeline`` with the run it created."""
    rows = await tx.fetch(
        "SELECT run_key, run_id FROM {t}run_keys WHERE pipeline = :pipeline AND origin = :origin",
        pipeline=pipeline,
        origin=origin,
    )
    return {r[0]: r[1] for r in rows}


_TICK_COLUMNS = "origin, tick_at, status, owner, updated_at, run_ids, cursor, error, info"


def _tick(tx: Tx, r: Sequence[Any]) -> TickRecord:
    return TickRecord(
        r[0], tx.from_time(r[1]), r[2], r[3], tx.from_time(r[4]), tuple(json.loads(r[5])),
        r[6], r[7], json.loads(r[8]),
    )  # fmt: skip


async def ticks(tx: Tx, pipeline: str | None, origin: str | None, limit: int) -> list[TickRecord]:
    """Return ticks (of one pipeline or all, of one origin or all), newest first."""
    where = [
        *(["pipeline = :pipeline"] if pipeline is not None else []),
        *(["origin = :origin"] if origin is not None else []),
    ]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = await tx.fetch(
        f"SELECT {_TICK_COLUMNS} FROM {{t}}automation_ticks {clause} "
        f"ORDER BY tick_at DESC, origin, pipeline LIMIT :limit",
        pipeline=pipeline,
        origin=origin,
        limit=limit,
    )
    return [_tick(tx, r) for r in rows]


async def tick_anchor(tx: Tx, pipeline: str, origin: str) -> tuple[datetime | None, list[datetime]]:
    """Return the newest tick time of ``origin`` and the times of its unfinished ticks."""
    newest = await tx.fetch(
        "SELECT MAX(tick_at) FROM {t}automation_ticks "
        "WHERE pipeline = :pipeline AND origin = :origin",
        pipeline=pipeline,
        origin=origin,
    )
    open_rows = await tx.fetch(
        "SELECT tick_at FROM {t}automation_ticks WHERE pipeline = :pipeline "
        "AND origin = :origin AND status = 'claimed' ORDER BY tick_at LIMIT 100",
        pipeline=pipeline,
        origin=origin,
    )
    value = newest[0][0]
    return (None if value is None else tx.from_time(value)), [tx.from_time(r[0]) for r in open_rows]


# -- state ------------------------------------------------------------------------------------


async def ensure_state(
    tx: Tx, pipeline: str, origin: str, now: datetime, enabled: bool = True
) -> None:
    """Create the state row of ``origin`` if missing (enabled, since ``now``)."""
    await tx.execute(
        "INSERT INTO {t}automation_state (pipeline, origin, enabled, cursor, since, "
        "updated_at) VALUES (:pipeline, :origin, :enabled, NULL, :now, :now) "
        "ON CONFLICT (pipeline, origin) DO NOTHING",
        pipeline=pipeline,
        origin=origin,
        enabled=int(enabled),
        now=tx.time(now),
    )


async def states(
    tx: Tx, pipeline: str, origins: Sequence[str], now: datetime
) -> list[AutomationState]:
    """Return (creating where missing) the state of each origin of ``pipeline``."""
    for origin in origins:
        await ensure_state(tx, pipeline, origin, now)
    names, params = in_list("o", origins)
    rows = await tx.fetch(
        f"SELECT origin, enabled, cursor, since FROM {{t}}automation_state "
        f"WHERE pipeline = :pipeline AND origin IN {names} ORDER BY origin",
        pipeline=pipeline,
        **params,
    )
    return [AutomationState(r[0], bool(r[1]), r[2], tx.from_time(r[3])) for r in rows]


async def set_enabled(tx: Tx, pipeline: str, origin: str, enabled: bool, now: datetime) -> None:
    """Turn a schedule or sensor on or off; turning on restarts ``since`` (no catch-up of
    the ticks missed while off)."""
    await ensure_state(tx, pipeline, origin, now, enabled)
    await tx.execute(
        "UPDATE {t}automation_state SET enabled = :enabled, updated_at = :now, "
        "since = CASE WHEN enabled = 0 AND :enabled = 1 THEN :now ELSE since END "
        "WHERE pipeline = :pipeline AND origin = :origin",
        enabled=int(enabled),
        now=tx.time(now),
        pipeline=pipeline,
        origin=origin,
    )


# -- decisions --------------------------------------------------------------------------------


async def record_decisions(tx: Tx, pipeline: str, decisions: Sequence[Decision]) -> None:
    """Keep the latest decision of each asset partition of ``pipeline``."""
    for d in decisions:
        await tx.execute(
            "INSERT INTO {t}automation_decisions (pipeline, asset, pkey, partition, "
            "evaluated_at, policy, requested, reason, run_id) VALUES (:pipeline, :asset, "
            ":pkey, :partition, :at, :policy, :requested, :reason, :run_id) "
            "ON CONFLICT (pipeline, asset, pkey) DO UPDATE SET "
            "partition = excluded.partition, evaluated_at = excluded.evaluated_at, "
            "policy = excluded.policy, requested = excluded.requested, "
            "reason = excluded.reason, run_id = excluded.run_id",
            pipeline=pipeline,
            asset=d.asset,
            pkey=encode_pkey(d.partition),
            partition=d.partition,
            at=tx.time(d.evaluated_at),
            policy=d.policy,
            requested=int(d.requested),
            reason=d.reason,
            run_id=d.run_id,
        )


async def decisions(
    tx: Tx, pipeline: str, asset: str, partition: str | None, every: bool
) -> list[Decision]:
    """Return the latest decision of one asset partition (or of all its partitions)."""
    where = "" if every else "AND pkey = :pkey"
    rows = await tx.fetch(
        f"SELECT asset, partition, evaluated_at, policy, requested, reason, run_id "
        f"FROM {{t}}automation_decisions WHERE pipeline = :pipeline AND asset = :asset "
        f"{where} ORDER BY pkey",
        pipeline=pipeline,
        asset=asset,
        pkey=encode_pkey(partition),
    )
    return [Decision(r[0], r[1], tx.from_time(r[2]), r[3], bool(r[4]), r[5], r[6]) for r in rows]
