"""Migration 9: automation ticks, state, run keys and decisions belong to a pipeline.

Internal, not part of the public API; `_migrations.py` lists it in ``MIGRATIONS``.

Before version 9 these four tables were keyed by the schedule or sensor (``origin``) or the
asset alone, so two pipelines sharing one store with a same-named schedule, sensor or
asset took each other's tick claims, cursors, on/off switches, run keys and decisions.
Version 9 puts ``pipeline`` first in each primary key. Existing rows are adopted into the
pipeline that owns them, in this order of evidence:

- a tick of origin ``automation:NAME`` belongs to pipeline ``NAME``;
- a tick, run key or decision that created a run belongs to that run's pipeline
  (``runs.pipeline``); a tick that created none takes the pipeline of the other ticks of
  its origin when they all agree; the state of an origin takes that of its ticks likewise;
- a decision that created no run takes the pipeline of its asset's partitions
  (``asset_partitions``) when exactly one pipeline has that asset;
- otherwise, when every run of the store belongs to one pipeline, that pipeline.

A row none of these settles keeps the pipeline ``""``, which no pipeline can be named
(``Pipeline`` refuses it): no daemon reads it again, so that schedule or sensor starts as
a new one (on, without a cursor, ``since`` the first look) and that decision is shown
again after the next evaluation. docs/automation.md says so.

SQLite cannot change a primary key: each table is rebuilt (its rows copied with their
pipeline). Both forms can run again on a migrated store (the upgrade tests rewind
``schema_version``): PostgreSQL keeps the pipeline a row already has, SQLite infers it again.
"""

from __future__ import annotations

# The single pipeline of the store's runs, or NULL when there are none or several.
_ONLY = "(SELECT min(pipeline) FROM {t}runs HAVING count(DISTINCT pipeline) = 1)"

# -- SQLite: rebuild each table ---------------------------------------------------------------

_SQLITE_ONLY = _ONLY.replace("{t}", "")

_SQLITE_TICK_RUN = (
    "(SELECT r.pipeline FROM json_each(o.run_ids) j JOIN runs r ON r.run_id = j.value "
    "ORDER BY r.pipeline LIMIT 1)"
)
_SQLITE_ORIGIN_RUNS = (
    "(SELECT t.origin, min(r.pipeline) AS pipeline FROM automation_ticks t, "
    "json_each(t.run_ids) j JOIN runs r ON r.run_id = j.value "
    "GROUP BY t.origin HAVING count(DISTINCT r.pipeline) = 1)"
)
SQLITE_V9 = (
    # Ticks.
    """CREATE TABLE automation_ticks_v9 (
        pipeline    TEXT NOT NULL,
        origin      TEXT NOT NULL,
        tick_at     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        owner       TEXT,
        lease_until INTEGER,
        updated_at  INTEGER NOT NULL,
        run_ids     TEXT NOT NULL,
        cursor      TEXT,
        error       TEXT,
        info        TEXT NOT NULL,
        PRIMARY KEY (pipeline, origin, tick_at)
    )""",
    f"""INSERT OR IGNORE INTO automation_ticks_v9 (pipeline, origin, tick_at, status, owner,
        lease_until, updated_at, run_ids, cursor, error, info)
    SELECT coalesce(
            CASE WHEN o.origin LIKE 'automation:%' THEN substr(o.origin, 12) END,
            {_SQLITE_TICK_RUN}, a.pipeline, {_SQLITE_ONLY}, ''),
        o.origin, o.tick_at, o.status, o.owner, o.lease_until, o.updated_at, o.run_ids,
        o.cursor, o.error, o.info
    FROM automation_ticks o LEFT JOIN {_SQLITE_ORIGIN_RUNS} a ON a.origin = o.origin""",
    "DROP TABLE automation_ticks",
    "ALTER TABLE automation_ticks_v9 RENAME TO automation_ticks",
    """CREATE INDEX automation_ticks_by_status
        ON automation_ticks (pipeline, origin, status, tick_at)""",
    # State (after the ticks, whose pipelines it follows).
    """CREATE TABLE automation_state_v9 (
        pipeline   TEXT NOT NULL,
        origin     TEXT NOT NULL,
        enabled    INTEGER NOT NULL,
        cursor     TEXT,
        since      INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (pipeline, origin)
    )""",
    f"""INSERT OR IGNORE INTO automation_state_v9 (pipeline, origin, enabled, cursor, since,
        updated_at)
    SELECT coalesce(
            CASE WHEN o.origin LIKE 'automation:%' THEN substr(o.origin, 12) END,
            a.pipeline, {_SQLITE_ONLY}, ''),
        o.origin, o.enabled, o.cursor, o.since, o.updated_at
    FROM automation_state o LEFT JOIN (
        SELECT origin, min(pipeline) AS pipeline FROM automation_ticks WHERE pipeline <> ''
        GROUP BY origin HAVING count(DISTINCT pipeline) = 1) a ON a.origin = o.origin""",
    "DROP TABLE automation_state",
    "ALTER TABLE automation_state_v9 RENAME TO automation_state",
    # Run keys.
    """CREATE TABLE run_keys_v9 (
        pipeline   TEXT NOT NULL,
        origin     TEXT NOT NULL,
        run_key    TEXT NOT NULL,
        run_id     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (pipeline, origin, run_key)
    )""",
    f"""INSERT OR IGNORE INTO run_keys_v9 (pipeline, origin, run_key, run_id, created_at)
    SELECT coalesce(r.pipeline, {_SQLITE_ONLY}, ''), o.origin, o.run_key,
        o.run_id, o.created_at
    FROM run_keys o LEFT JOIN runs r ON r.run_id = o.run_id""",
    "DROP TABLE run_keys",
    "ALTER TABLE run_keys_v9 RENAME TO run_keys",
    # Decisions.
    """CREATE TABLE automation_decisions_v9 (
        pipeline     TEXT NOT NULL,
        asset        TEXT NOT NULL,
        pkey         TEXT NOT NULL,
        partition    TEXT,
        evaluated_at INTEGER NOT NULL,
        policy       TEXT NOT NULL,
        requested    INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        run_id       TEXT,
        PRIMARY KEY (pipeline, asset, pkey)
    )""",
    f"""INSERT OR IGNORE INTO automation_decisions_v9 (pipeline, asset, pkey, partition,
        evaluated_at, policy, requested, reason, run_id)
    SELECT coalesce(r.pipeline, a.pipeline, {_SQLITE_ONLY}, ''), o.asset, o.pkey,
        o.partition, o.evaluated_at, o.policy, o.requested, o.reason, o.run_id
    FROM automation_decisions o LEFT JOIN runs r ON r.run_id = o.run_id
    LEFT JOIN (SELECT asset, min(pipeline) AS pipeline FROM asset_partitions GROUP BY asset
        HAVING count(DISTINCT pipeline) = 1) a ON a.asset = o.asset""",
    "DROP TABLE automation_decisions",
    "ALTER TABLE automation_decisions_v9 RENAME TO automation_decisions",
)

# -- PostgreSQL: add the column, adopt, change the keys ---------------------------------------
# (``{s}`` is formatted by the migration runner: no other braces here.)

_PG_ONLY = _ONLY.replace("{t}", "{s}.")

POSTGRES_V9 = (
    # Ticks.
    """ALTER TABLE {s}.automation_ticks
        ADD COLUMN IF NOT EXISTS pipeline text NOT NULL DEFAULT ''""",
    """UPDATE {s}.automation_ticks SET pipeline = substr(origin, 12)
        WHERE pipeline = '' AND origin LIKE 'automation:%'""",
    """UPDATE {s}.automation_ticks o SET pipeline = r.pipeline
        FROM (SELECT t.origin, t.tick_at, min(r.pipeline) AS pipeline
              FROM {s}.automation_ticks t
              CROSS JOIN LATERAL jsonb_array_elements_text(t.run_ids::jsonb) j(run_id)
              JOIN {s}.runs r ON r.run_id = j.run_id
              WHERE t.pipeline = '' GROUP BY t.origin, t.tick_at) r
        WHERE o.pipeline = '' AND o.origin = r.origin AND o.tick_at = r.tick_at""",
    """UPDATE {s}.automation_ticks o SET pipeline = a.pipeline
        FROM (SELECT origin, min(pipeline) AS pipeline FROM {s}.automation_ticks
              WHERE pipeline <> '' GROUP BY origin HAVING count(DISTINCT pipeline) = 1) a
        WHERE o.pipeline = '' AND o.origin = a.origin""",
    f"""UPDATE {{s}}.automation_ticks SET pipeline = {_PG_ONLY}
        WHERE pipeline = '' AND {_PG_ONLY} IS NOT NULL""",
    "ALTER TABLE {s}.automation_ticks DROP CONSTRAINT IF EXISTS automation_ticks_pkey",
    "ALTER TABLE {s}.automation_ticks ADD PRIMARY KEY (pipeline, origin, tick_at)",
    "DROP INDEX IF EXISTS {s}.automation_ticks_by_status",
    """CREATE INDEX automation_ticks_by_status
        ON {s}.automation_ticks (pipeline, origin, status, tick_at)""",
    # State.
    """ALTER TABLE {s}.automation_state
        ADD COLUMN IF NOT EXISTS pipeline text NOT NULL DEFAULT ''""",
    """UPDATE {s}.automation_state SET pipeline = substr(origin, 12)
        WHERE pipeline = '' AND origin LIKE 'automation:%'""",
    """UPDATE {s}.automation_state o SET pipeline = a.pipeline
        FROM (SELECT origin, min(pipeline) AS pipeline FROM {s}.automation_ticks
              WHERE pipeline <> '' GROUP BY origin HAVING count(DISTINCT pipeline) = 1) a
        WHERE o.pipeline = '' AND o.origin = a.origin""",
    f"""UPDATE {{s}}.automation_state SET pipeline = {_PG_ONLY}
        WHERE pipeline = '' AND {_PG_ONLY} IS NOT NULL""",
    "ALTER TABLE {s}.automation_state DROP CONSTRAINT IF EXISTS automation_state_pkey",
    "ALTER TABLE {s}.automation_state ADD PRIMARY KEY (pipeline, origin)",
    # Run keys.
    "ALTER TABLE {s}.run_keys ADD COLUMN IF NOT EXISTS pipeline text NOT NULL DEFAULT ''",
    """UPDATE {s}.run_keys k SET pipeline = r.pipeline FROM {s}.runs r
        WHERE k.pipeline = '' AND r.run_id = k.run_id""",
    f"""UPDATE {{s}}.run_keys SET pipeline = {_PG_ONLY}
        WHERE pipeline = '' AND {_PG_ONLY} IS NOT NULL""",
    "ALTER TABLE {s}.run_keys DROP CONSTRAINT IF EXISTS run_keys_pkey",
    "ALTER TABLE {s}.run_keys ADD PRIMARY KEY (pipeline, origin, run_key)",
    # Decisions.
    """ALTER TABLE {s}.automation_decisions
        ADD COLUMN IF NOT EXISTS pipeline text NOT NULL DEFAULT ''""",
    """UPDATE {s}.automation_decisions d SET pipeline = r.pipeline FROM {s}.runs r
        WHERE d.pipeline = '' AND r.run_id = d.run_id""",
    """UPDATE {s}.automation_decisions d SET pipeline = a.pipeline
        FROM (SELECT asset, min(pipeline) AS pipeline FROM {s}.asset_partitions
              GROUP BY asset HAVING count(DISTINCT pipeline) = 1) a
        WHERE d.pipeline = '' AND a.asset = d.asset""",
    f"""UPDATE {{s}}.automation_decisions SET pipeline = {_PG_ONLY}
        WHERE pipeline = '' AND {_PG_ONLY} IS NOT NULL""",
    """ALTER TABLE {s}.automation_decisions
        DROP CONSTRAINT IF EXISTS automation_decisions_pkey""",
    "ALTER TABLE {s}.automation_decisions ADD PRIMARY KEY (pipeline, asset, pkey)",
)
