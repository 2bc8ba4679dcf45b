"""SQL shared by the SQLite and PostgreSQL backends.

Internal, not part of the public API. Queries are written once, with ``:name`` parameters and
``{t}`` before each table name; a ``Dialect`` fills in the table prefix, converts times to the
column type and, for asyncpg, rewrites ``:name`` into ``$n``. Only what truly differs between
the two engines (batch upserts, set parameters) lives in the backend modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowstone.storage._codec import encode_pkey, partition_filter, require_aware

_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")

MAT_COLUMNS = (
    "id, run_id, asset, partition, attempt, status, started_at, finished_at, triggered_by, "
    "trigger, user_name, host, code_version, inputs, metadata, error, tenant"
)
RUN_COLUMNS = (
    "run_id, pipeline, kind, targets, status, started_at, finished_at, triggered_by, trigger, "
    "backfill_id, partition, metadata, error, tenant"
)
NEWEST_FIRST = "ORDER BY event_at DESC, id DESC"


def mat_columns(alias: str) -> str:
    """Return MAT_COLUMNS qualified with a table alias."""
    return ", ".join(f"{alias}.{column.strip()}" for column in MAT_COLUMNS.split(","))


@dataclass(frozen=True)
class Query:
    """SQL text with named parameters."""

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def positional(self) -> tuple[str, list[Any]]:
        """Return the text with ``$1, $2, ...`` (asyncpg) and the matching argument list."""
        order: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"${order.setdefault(name, len(order) + 1)}"

        text = _PARAM.sub(number, self.text)
        return text, [self.params[name] for name in order]


@dataclass(frozen=True)
class Dialect:
    """What differs between engines in the shared queries."""

    prefix: str  # "" for SQLite, '"schema".' for PostgreSQL
    to_time: Callable[[datetime], Any]
    # How to type a parameter that starts a recursive walk: PostgreSQL insists that both terms
    # of a recursive CTE agree on type and collation, and key columns use the "C" collation.
    key_cast: str = "CAST({} AS TEXT)"
    # Whether recursive steps join through LATERAL subqueries. PostgreSQL's planner, short of
    # statistics (a fresh or bulk-loaded table), may hash-join a recursive step against a
    # sequential scan of the whole inputs table; a LATERAL subquery fenced with OFFSET 0 (so
    # it is not flattened back into a join) is evaluated per row, which makes the index probe
    # the natural plan. SQLite has no LATERAL (nor hash joins).
    lateral: bool = False
    # The pipeline whose records the store reads and writes (docs/storage.md, "Pipelines");
    # "" is the store opened without one. Queries bind it as ``:pipeline``.
    pipeline: str = ""

    def sql(self, text: str) -> str:
        """Put the table prefix in ``text``."""
        return text.replace("{t}", self.prefix)

    def key(self, expr: str) -> str:
        """Return ``expr`` typed as a key column."""
        return self.key_cast.format(expr)

    def time(self, value: datetime, what: str) -> Any:
        """Validate and convert a datetime parameter."""
        return self.to_time(require_aware(value, what))


# -- runs -------------------------------------------------------------------------------------


def _run_pipeline(d: Dialect) -> str | None:
    """The pipeline runs are filtered on: the store's, or none for a store opened without
    one (tools that look at every pipeline's runs)."""
    return d.pipeline or None


def get_run(d: Dialect, run_id: str) -> Query:
    """Select one run."""
    where, params = _where({"run_id": run_id, "pipeline": _run_pipeline(d)})
    return Query(d.sql(f"SELECT {RUN_COLUMNS} FROM {{t}}runs {where}"), params)


def list_runs(d: Dialect, limit: int, status: str | None, backfill_id: str | None) -> Query:
    """Select runs newest first, optionally by status and backfill."""
    filters = {"pipeline": _run_pipeline(d), "status": status, "backfill_id": backfill_id}
    where, params = _where(filters)
    params["limit"] = limit
    text = (
        f"SELECT {RUN_COLUMNS} FROM {{t}}runs {where} "
        f"ORDER BY started_at DESC, run_id DESC LIMIT :limit"
    )
    return Query(d.sql(text), params)


# -- materializations -------------------------------------------------------------------------


def list_materializations(
    d: Dialect,
    *,
    asset: str | None,
    partition: str | None,
    any_partition: bool,
    run_id: str | None,
    status: str | None,
    limit: int | None,
    before: datetime | None,
) -> Query:
    """Select materializations newest first with the filters of ``Storage.materializations``."""
    pkey = partition_filter(partition, any_partition)
    filters = {"pipeline": d.pipeline, "asset": asset, "pkey": pkey, "run_id": run_id}
    where, params = _where({**filters, "status": status})
    if before is not None:
        params["before"] = d.time(before, "before")
        where += (" AND " if where else "WHERE ") + "event_at < :before"
    text = f"SELECT {MAT_COLUMNS} FROM {{t}}materializations {where} {NEWEST_FIRST}"
    if limit is not None:
        params["limit"] = limit
        text += " LIMIT :limit"
    return Query(d.sql(text), params)


def _where(filters: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    params = {name: value for name, value in filters.items() if value is not None}
    if not params:
        return "", params
    return "WHERE " + " AND ".join(f"{name} = :{name}" for name in params), params


def newest_id(status: str | None, as_of: bool, asset: str, pkey: str) -> str:
    """Return a scalar subquery: the id of the newest materialization of (asset, pkey) of
    ``:pipeline``, with ``status`` and finished at or before ``:as_of`` when asked.

    The status is written as a literal when it is 'succeeded' so that both planners can use
    the partial index on succeeded materializations; other statuses are bound as ``:status``.
    """
    conditions = ["x.pipeline = :pipeline", f"x.asset = {asset}", f"x.pkey = {pkey}"]
    if status == "succeeded":
        conditions.append("x.status = 'succeeded'")
    elif status is not None:
        conditions.append("x.status = :status")
    if as_of:
        conditions.append("x.event_at <= :as_of")
    return (
        f"(SELECT x.id FROM {{t}}materializations x WHERE {' AND '.join(conditions)} "
        f"ORDER BY x.event_at DESC, x.id DESC LIMIT 1)"
    )


def latest_statuses(d: Dialect, asset: str) -> Query:
    """Select (partition, status of the newest materialization) for every partition."""
    text = (
        "SELECT partition, latest_status FROM {t}asset_partitions "
        "WHERE pipeline = :pipeline AND asset = :asset"
    )
    return Query(d.sql(text), {"pipeline": d.pipeline, "asset": asset})


def status_counts(d: Dialect, asset: str) -> Query:
    """Count partitions by the status of their newest materialization."""
    text = (
        "SELECT latest_status, count(*) FROM {t}asset_partitions "
        "WHERE pipeline = :pipeline AND asset = :asset GROUP BY latest_status"
    )
    return Query(d.sql(text), {"pipeline": d.pipeline, "asset": asset})


# -- lineage ----------------------------------------------------------------------------------
# Both walks are breadth-first recursive CTEs over (asset, pkey, depth) rows. UNION drops
# repeated rows, but a node reached at two depths is two rows, so a cycle in the recorded
# inputs (possible when definitions changed between materializations) would walk forever.
# ``reach`` therefore first computes the plain closure (each node once, cycle-safe); no
# shortest path can be longer than its size, which bounds ``walk``. The caller keeps each node
# at its smallest depth and orders the result.


def _succeeded_now(asset: str, pkey: str) -> str:
    return (
        f"(SELECT ap.succeeded_id FROM {{t}}asset_partitions ap "
        f"WHERE ap.pipeline = :pipeline AND ap.asset = {asset} AND ap.pkey = {pkey})"
    )


def _inputs_of(d: Dialect, outer: str) -> str:
    """Join the recorded inputs (``i.upstream_asset``, ``i.upstream_pkey``) of ``outer.mid``."""
    if d.lateral:
        return f"""CROSS JOIN LATERAL (SELECT x.upstream_asset, x.upstream_pkey
            FROM {{t}}materialization_inputs x WHERE x.materialization_id = {outer}.mid
            OFFSET 0) i"""
    return f"JOIN {{t}}materialization_inputs i ON i.materialization_id = {outer}.mid"


def _consumers_of(d: Dialect, outer: str) -> str:
    """Join the (asset, pkey, succeeded_id) as ``ap`` of every node whose newest succeeded
    materialization lists ``outer`` as an input."""
    if d.lateral:
        # Two nested per-row probes: the inputs naming ``outer``, then the partition pointer
        # of each consumer (a LIMIT 1 subquery is never flattened into a hash join).
        return f"""CROSS JOIN LATERAL (SELECT x.materialization_id
            FROM {{t}}materialization_inputs x
            WHERE x.upstream_asset = {outer}.asset AND x.upstream_pkey = {outer}.pkey
            OFFSET 0) i
        CROSS JOIN LATERAL (SELECT y.asset, y.pkey, y.succeeded_id FROM {{t}}asset_partitions y
            WHERE y.succeeded_id = i.materialization_id AND y.pipeline = :pipeline
            LIMIT 1) ap"""
    return f"""JOIN {{t}}materialization_inputs i
            ON i.upstream_asset = {outer}.asset AND i.upstream_pkey = {outer}.pkey
        JOIN {{t}}asset_partitions ap
            ON ap.succeeded_id = i.materialization_id AND ap.pipeline = :pipeline"""


def upstream(d: Dialect, asset: str, partition: str | None, as_of: datetime | None) -> Query:
    """Select ``(asset, pkey, depth, materialization_id)`` rows upstream of a node."""
    params: dict[str, Any] = {
        "pipeline": d.pipeline,
        "asset": asset,
        "pkey": encode_pkey(partition),
    }
    if as_of is None:
        root = _succeeded_now(":asset", ":pkey")
        step = _succeeded_now("i.upstream_asset", "i.upstream_pkey")
    else:
        params["as_of"] = d.time(as_of, "as_of")
        root = newest_id("succeeded", True, ":asset", ":pkey")
        step = newest_id("succeeded", True, "i.upstream_asset", "i.upstream_pkey")
    text = f"""
    WITH RECURSIVE
    reach(asset, pkey, mid) AS (
        SELECT {d.key(":asset")}, {d.key(":pkey")}, {root}
        UNION
        SELECT i.upstream_asset, i.upstream_pkey, {step}
        FROM reach r {_inputs_of(d, "r")}
    ),
    bound(n) AS (SELECT count(*) FROM reach),
    walk(asset, pkey, depth, mid) AS (
        SELECT asset, pkey, 0, mid FROM reach WHERE asset = :asset AND pkey = :pkey
        UNION
        SELECT i.upstream_asset, i.upstream_pkey, w.depth + 1, {step}
        FROM walk w {_inputs_of(d, "w")}
        WHERE w.depth < (SELECT n FROM bound)
    )
    SELECT asset, pkey, min(depth), mid FROM walk
    WHERE depth > 0 AND NOT (asset = :asset AND pkey = :pkey)
    GROUP BY asset, pkey, mid"""
    return Query(d.sql(text), params)


def downstream(d: Dialect, asset: str, partition: str | None) -> Query:
    """Select ``(asset, pkey, depth, materialization_id)`` rows downstream of a node."""
    # A consumer counts only through its newest succeeded materialization: the inputs row
    # must belong to the materialization that asset_partitions points at.
    text = f"""
    WITH RECURSIVE
    reach(asset, pkey) AS (
        SELECT {d.key(":asset")}, {d.key(":pkey")}
        UNION
        SELECT ap.asset, ap.pkey FROM reach r {_consumers_of(d, "r")}
    ),
    bound(n) AS (SELECT count(*) FROM reach),
    walk(asset, pkey, depth, mid) AS (
        SELECT {d.key(":asset")}, {d.key(":pkey")}, 0, {d.key("NULL")}
        UNION
        SELECT ap.asset, ap.pkey, w.depth + 1, ap.succeeded_id
        FROM walk w {_consumers_of(d, "w")}
        WHERE w.depth < (SELECT n FROM bound)
    )
    SELECT asset, pkey, min(depth), mid FROM walk
    WHERE depth > 0 AND NOT (asset = :asset AND pkey = :pkey)
    GROUP BY asset, pkey, mid"""
    params = {"pipeline": d.pipeline, "asset": asset, "pkey": encode_pkey(partition)}
    return Query(d.sql(text), params)


# -- maintenance ------------------------------------------------------------------------------


def prune(d: Dialect, older_than: datetime) -> Query:
    """Delete old materializations that nothing kept needs.

    Kept: everything at or after the cutoff, the newest and the newest succeeded of every
    (asset, partition), and, transitively, every materialization a kept one lists as input.
    Only the store's pipeline is pruned.
    """
    text = """
    WITH RECURSIVE keep(id) AS (
        SELECT i.upstream_materialization_id
        FROM {t}materializations m
        JOIN {t}materialization_inputs i ON i.materialization_id = m.id
        WHERE m.pipeline = :pipeline AND m.event_at >= :cutoff
          AND i.upstream_materialization_id IS NOT NULL
        UNION
        SELECT i.upstream_materialization_id
        FROM {t}asset_partitions ap
        JOIN {t}materialization_inputs i
          ON i.materialization_id = ap.latest_id OR i.materialization_id = ap.succeeded_id
        WHERE ap.pipeline = :pipeline AND i.upstream_materialization_id IS NOT NULL
        UNION
        SELECT i.upstream_materialization_id
        FROM keep k JOIN {t}materialization_inputs i ON i.materialization_id = k.id
        WHERE i.upstream_materialization_id IS NOT NULL
    )
    DELETE FROM {t}materializations AS d
    WHERE d.pipeline = :pipeline AND d.event_at < :cutoff
      AND NOT EXISTS (SELECT 1 FROM {t}asset_partitions ap WHERE ap.latest_id = d.id)
      AND NOT EXISTS (SELECT 1 FROM {t}asset_partitions ap WHERE ap.succeeded_id = d.id)
      AND d.id NOT IN (SELECT k.id FROM keep k)"""
    params = {"pipeline": d.pipeline, "cutoff": d.time(older_than, "older_than")}
    return Query(d.sql(text), params)
