"""Versioned schema migrations for the SQL backends.

Internal, not part of the public API. Migrations are numbered from 1 and never edited once
released: a schema change is a new entry at the end of ``MIGRATIONS``. Each migration has a
SQLite and a PostgreSQL form so both backends always share a version number. A backend applies
every migration above the version recorded in ``schema_version``, each in its own
transaction together with its ``schema_version`` row, so a crash mid-way leaves a consistent
schema. Postgres statements name their tables ``{s}.table``; ``{s}`` is the quoted schema.

Design notes (docs/adr/0010-record-store-schema.md):

- ``pkey`` is the partition key in non-null form ("" unpartitioned, "~" + key otherwise), so
  unpartitioned keys can sit in primary keys and index equality lookups.
- ``event_at`` is ``finished_at``, or ``started_at`` for an attempt recorded without a finish;
  it is the order of "newest" everywhere and the instant ``as_of`` and ``prune`` compare.
- ``asset_partitions`` is the denormalised newest (any status) and newest succeeded
  materialization of each (asset, partition), refreshed in the same transaction as every
  write; status summaries, backfill skips and lineage start from it.
- ``inputs`` is kept twice: as JSON on the materialization (loading a record is one row) and
  as ``materialization_inputs`` rows (the lineage graph, indexed both ways).
- ``tenant`` (version 2) names the tenant a row belongs to, NULL for shared rows; PostgreSQL's
  row-level security keys on it (docs/adr/0015-tenant-isolation-with-rls.md). Inputs copy
  their materialization's tenant and ``asset_partitions`` that of the partition's newest
  record, so a policy can judge every row by itself, without a join.
- ``partition_ranges`` (version 6) run-length encodes ``asset_partitions.latest_status``
  over partition ordinals: ``[first, last]`` ranges of consecutive ordinals sharing a
  status, maintained in the same transaction as every write (``_ranges.py``), so the status
  of a million partitions is read as a few rows. ``partition_orders`` holds the fingerprint
  of the ordering each asset's ranges follow; no row means no (or stale) ranges.
- ``changes`` (version 6) logs every run and materialization written, numbered in commit
  order, so another process (the dashboard) can follow the store (``_changes.py``);
  ``runtimes`` (version 6) holds what each running runtime last published about itself
  (its supervision tree), a row per runtime, replaced at each heartbeat.
- ``write_batch`` (version 8, PostgreSQL only) writes a whole batch in one statement, so a
  write is one round trip (``_write_schema.py``); SQLite's version 8 changes nothing.
  Version 10 replaces it with one that computes the pointers of a batch of new records from
  the batch and the pointer rows, without reading ``materializations``.
- ``automation_ticks``, ``automation_state``, ``run_keys`` and ``automation_decisions``
  (version 9) start their primary keys with ``pipeline``, so pipelines sharing a store keep
  their schedules', sensors' and policies' state apart (``_automation_pipeline_schema.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flowstone.storage._approval_schema import POSTGRES_V4 as _POSTGRES_V4
from flowstone.storage._approval_schema import SQLITE_V4 as _SQLITE_V4
from flowstone.storage._automation_pipeline_schema import POSTGRES_V9, SQLITE_V9
from flowstone.storage._automation_schema import POSTGRES_V5 as _POSTGRES_V5
from flowstone.storage._automation_schema import SQLITE_V5 as _SQLITE_V5
from flowstone.storage._run_log import POSTGRES_V7, SQLITE_V7
from flowstone.storage._status_schema import POSTGRES_V6 as _POSTGRES_V6
from flowstone.storage._status_schema import SQLITE_V6 as _SQLITE_V6
from flowstone.storage._write_schema import POSTGRES_V8, POSTGRES_V10, SQLITE_V8, SQLITE_V10


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change, in both SQL dialects."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


_SQLITE_V1 = (
    """CREATE TABLE runs (
        run_id       TEXT PRIMARY KEY,
        pipeline     TEXT NOT NULL,
        kind         TEXT NOT NULL,
        targets      TEXT NOT NULL,
        status       TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        triggered_by TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        backfill_id  TEXT,
        partition    TEXT,
        metadata     TEXT NOT NULL,
        error        TEXT
    )""",
    "CREATE INDEX runs_by_start ON runs (started_at DESC, run_id DESC)",
    "CREATE INDEX runs_by_status ON runs (status, started_at DESC, run_id DESC)",
    "CREATE INDEX runs_by_backfill ON runs (backfill_id, started_at DESC, run_id DESC)",
    """CREATE TABLE materializations (
        id           TEXT PRIMARY KEY,
        run_id       TEXT NOT NULL,
        asset        TEXT NOT NULL,
        partition    TEXT,
        pkey         TEXT NOT NULL,
        attempt      INTEGER NOT NULL,
        status       TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        event_at     INTEGER NOT NULL,
        triggered_by TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        user_name    TEXT,
        host         TEXT,
        code_version TEXT,
        inputs       TEXT NOT NULL,
        metadata     TEXT NOT NULL,
        error        TEXT
    )""",
    "CREATE INDEX mat_by_key ON materializations (asset, pkey, event_at DESC, id DESC)",
    """CREATE INDEX mat_succeeded_by_key ON materializations (asset, pkey, event_at DESC, id DESC)
        WHERE status = 'succeeded'""",
    "CREATE INDEX mat_by_asset ON materializations (asset, event_at DESC, id DESC)",
    "CREATE INDEX mat_by_time ON materializations (event_at DESC, id DESC)",
    "CREATE INDEX mat_by_run ON materializations (run_id)",
    """CREATE TABLE materialization_inputs (
        materialization_id          TEXT NOT NULL
                                    REFERENCES materializations (id) ON DELETE CASCADE,
        position                    INTEGER NOT NULL,
        upstream_asset              TEXT NOT NULL,
        upstream_partition          TEXT,
        upstream_pkey               TEXT NOT NULL,
        upstream_materialization_id TEXT,
        PRIMARY KEY (materialization_id, position)
    ) WITHOUT ROWID""",
    """CREATE INDEX inputs_by_upstream
        ON materialization_inputs (upstream_asset, upstream_pkey, materialization_id)""",
    """CREATE TABLE asset_partitions (
        asset         TEXT NOT NULL,
        pkey          TEXT NOT NULL,
        partition     TEXT,
        latest_id     TEXT NOT NULL,
        latest_status TEXT NOT NULL,
        latest_at     INTEGER NOT NULL,
        succeeded_id  TEXT,
        succeeded_at  INTEGER,
        PRIMARY KEY (asset, pkey)
    ) WITHOUT ROWID""",
    "CREATE INDEX asset_partitions_by_succeeded ON asset_partitions (succeeded_id)",
    "CREATE INDEX asset_partitions_by_latest ON asset_partitions (latest_id)",
    """CREATE TABLE dynamic_partitions (
        seq      INTEGER PRIMARY KEY,
        name     TEXT NOT NULL,
        key      TEXT NOT NULL,
        UNIQUE (name, key)
    )""",
    "CREATE INDEX dynamic_partitions_by_name ON dynamic_partitions (name, seq)",
)

_POSTGRES_V1 = (
    """CREATE TABLE {s}.runs (
        run_id       text COLLATE "C" PRIMARY KEY,
        pipeline     text NOT NULL,
        kind         text NOT NULL,
        targets      jsonb NOT NULL,
        status       text NOT NULL,
        started_at   timestamptz NOT NULL,
        finished_at  timestamptz,
        triggered_by text NOT NULL,
        trigger      text NOT NULL,
        backfill_id  text,
        partition    text,
        metadata     jsonb NOT NULL,
        error        jsonb
    )""",
    "CREATE INDEX runs_by_start ON {s}.runs (started_at DESC, run_id DESC)",
    "CREATE INDEX runs_by_status ON {s}.runs (status, started_at DESC, run_id DESC)",
    """CREATE INDEX runs_by_backfill ON {s}.runs (backfill_id, started_at DESC, run_id DESC)
        WHERE backfill_id IS NOT NULL""",
    """CREATE TABLE {s}.materializations (
        id           text COLLATE "C" PRIMARY KEY,
        run_id       text COLLATE "C" NOT NULL,
        asset        text COLLATE "C" NOT NULL,
        partition    text,
        pkey         text COLLATE "C" NOT NULL,
        attempt      integer NOT NULL,
        status       text NOT NULL,
        started_at   timestamptz NOT NULL,
        finished_at  timestamptz,
        event_at     timestamptz NOT NULL,
        triggered_by text NOT NULL,
        trigger      text NOT NULL,
        user_name    text,
        host         text,
        code_version text,
        inputs       jsonb NOT NULL,
        metadata     jsonb NOT NULL,
        error        jsonb
    )""",
    """CREATE INDEX mat_by_key ON {s}.materializations
        (asset, pkey, event_at DESC, id DESC)""",
    """CREATE INDEX mat_succeeded_by_key ON {s}.materializations
        (asset, pkey, event_at DESC, id DESC) WHERE status = 'succeeded'""",
    "CREATE INDEX mat_by_asset ON {s}.materializations (asset, event_at DESC, id DESC)",
    "CREATE INDEX mat_by_time ON {s}.materializations (event_at DESC, id DESC)",
    "CREATE INDEX mat_by_run ON {s}.materializations (run_id)",
    """CREATE TABLE {s}.materialization_inputs (
        materialization_id          text COLLATE "C" NOT NULL
                                    REFERENCES {s}.materializations (id) ON DELETE CASCADE,
        position                    integer NOT NULL,
        upstream_asset              text COLLATE "C" NOT NULL,
        upstream_partition          text,
        upstream_pkey               text COLLATE "C" NOT NULL,
        upstream_materialization_id text COLLATE "C",
        PRIMARY KEY (materialization_id, position) INCLUDE (upstream_asset, upstream_pkey)
    )""",
    """CREATE INDEX inputs_by_upstream
        ON {s}.materialization_inputs (upstream_asset, upstream_pkey, materialization_id)""",
    """CREATE TABLE {s}.asset_partitions (
        asset         text COLLATE "C" NOT NULL,
        pkey          text COLLATE "C" NOT NULL,
        partition     text,
        latest_id     text COLLATE "C" NOT NULL,
        latest_status text NOT NULL,
        latest_at     timestamptz NOT NULL,
        succeeded_id  text COLLATE "C",
        succeeded_at  timestamptz,
        PRIMARY KEY (asset, pkey)
    )""",
    "CREATE INDEX asset_partitions_by_succeeded ON {s}.asset_partitions (succeeded_id)",
    "CREATE INDEX asset_partitions_by_latest ON {s}.asset_partitions (latest_id)",
    """CREATE TABLE {s}.dynamic_partitions (
        seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name     text COLLATE "C" NOT NULL,
        key      text COLLATE "C" NOT NULL,
        UNIQUE (name, key)
    )""",
    "CREATE INDEX dynamic_partitions_by_name ON {s}.dynamic_partitions (name, seq)",
)

_TENANT_TABLES = ("runs", "materializations", "materialization_inputs", "asset_partitions")

# SQLite has no row-level security and FlowStone never filters by tenant there: no index.
_SQLITE_V2 = tuple(f"ALTER TABLE {table} ADD COLUMN tenant TEXT" for table in _TENANT_TABLES)

# IF NOT EXISTS: a store whose columns were added by hand with
# ``flowstone.tenancy.record_store_tenant_columns_sql`` (before this migration) migrates too.
# The two indexes serve a tenant's listings under the policy (runs and materializations
# newest first); lookups by key already have their indexes, the policy only filters them.
_POSTGRES_V2 = (
    *(
        f'ALTER TABLE {{s}}.{table} ADD COLUMN IF NOT EXISTS tenant text COLLATE "C"'
        for table in _TENANT_TABLES
    ),
    """CREATE INDEX IF NOT EXISTS runs_by_tenant_start
        ON {s}.runs (tenant, started_at DESC, run_id DESC)""",
    """CREATE INDEX IF NOT EXISTS mat_by_tenant_time
        ON {s}.materializations (tenant, event_at DESC, id DESC)""",
)

# Version 3: materializations and partition pointers belong to a pipeline, so that several
# pipelines can share one store (issue 12). Existing materializations take the pipeline of
# their run ("" when the run is unknown); the pointers are recomputed per (pipeline, asset,
# partition), since one old row may have stood for records of two pipelines. Every index that
# starts from an asset, or lists materializations by time, now starts from the pipeline.
_RECOMPUTE_PARTITIONS = """
INSERT INTO {t}asset_partitions (pipeline, asset, pkey, partition, latest_id, latest_status,
    latest_at, succeeded_id, succeeded_at, tenant)
SELECT l.pipeline, l.asset, l.pkey, l.partition, l.id, l.status, l.event_at, s.id, s.event_at,
    l.tenant
FROM (SELECT m.pipeline, m.asset, m.pkey, m.partition, m.id, m.status, m.event_at, m.tenant,
        row_number() OVER (PARTITION BY m.pipeline, m.asset, m.pkey
                           ORDER BY m.event_at DESC, m.id DESC) AS n
      FROM {t}materializations m) l
LEFT JOIN (SELECT m.pipeline, m.asset, m.pkey, m.id, m.event_at,
        row_number() OVER (PARTITION BY m.pipeline, m.asset, m.pkey
                           ORDER BY m.event_at DESC, m.id DESC) AS n
      FROM {t}materializations m WHERE m.status = 'succeeded') s
  ON s.pipeline = l.pipeline AND s.asset = l.asset AND s.pkey = l.pkey AND s.n = 1
WHERE l.n = 1"""

_SQLITE_V3 = (
    "ALTER TABLE materializations ADD COLUMN pipeline TEXT NOT NULL DEFAULT ''",
    """UPDATE materializations SET pipeline = coalesce(
        (SELECT r.pipeline FROM runs r WHERE r.run_id = materializations.run_id), '')""",
    "DROP INDEX mat_by_key",
    "DROP INDEX mat_succeeded_by_key",
    "DROP INDEX mat_by_asset",
    "DROP INDEX mat_by_time",
    """CREATE INDEX mat_by_key
        ON materializations (pipeline, asset, pkey, event_at DESC, id DESC)""",
    """CREATE INDEX mat_succeeded_by_key
        ON materializations (pipeline, asset, pkey, event_at DESC, id DESC)
        WHERE status = 'succeeded'""",
    "CREATE INDEX mat_by_asset ON materializations (pipeline, asset, event_at DESC, id DESC)",
    "CREATE INDEX mat_by_time ON materializations (pipeline, event_at DESC, id DESC)",
    "CREATE INDEX runs_by_pipeline ON runs (pipeline, started_at DESC, run_id DESC)",
    # SQLite cannot change a primary key: rebuild the pointer table.
    "DROP TABLE asset_partitions",
    """CREATE TABLE asset_partitions (
        pipeline      TEXT NOT NULL,
        asset         TEXT NOT NULL,
        pkey          TEXT NOT NULL,
        partition     TEXT,
        latest_id     TEXT NOT NULL,
        latest_status TEXT NOT NULL,
        latest_at     INTEGER NOT NULL,
        succeeded_id  TEXT,
        succeeded_at  INTEGER,
        tenant        TEXT,
        PRIMARY KEY (pipeline, asset, pkey)
    ) WITHOUT ROWID""",
    "CREATE INDEX asset_partitions_by_succeeded ON asset_partitions (succeeded_id)",
    "CREATE INDEX asset_partitions_by_latest ON asset_partitions (latest_id)",
    _RECOMPUTE_PARTITIONS.replace("{t}", ""),
)

# IF [NOT] EXISTS: harmless on a store that already has some of it (as for version 2).
_POSTGRES_V3 = (
    """ALTER TABLE {s}.materializations
        ADD COLUMN IF NOT EXISTS pipeline text COLLATE "C" NOT NULL DEFAULT ''""",
    """UPDATE {s}.materializations m SET pipeline = r.pipeline
        FROM {s}.runs r WHERE r.run_id = m.run_id""",
    "DROP INDEX IF EXISTS {s}.mat_by_key",
    "DROP INDEX IF EXISTS {s}.mat_succeeded_by_key",
    "DROP INDEX IF EXISTS {s}.mat_by_asset",
    "DROP INDEX IF EXISTS {s}.mat_by_time",
    """CREATE INDEX mat_by_key
        ON {s}.materializations (pipeline, asset, pkey, event_at DESC, id DESC)""",
    """CREATE INDEX mat_succeeded_by_key
        ON {s}.materializations (pipeline, asset, pkey, event_at DESC, id DESC)
        WHERE status = 'succeeded'""",
    """CREATE INDEX mat_by_asset
        ON {s}.materializations (pipeline, asset, event_at DESC, id DESC)""",
    "CREATE INDEX mat_by_time ON {s}.materializations (pipeline, event_at DESC, id DESC)",
    """CREATE INDEX IF NOT EXISTS runs_by_pipeline
        ON {s}.runs (pipeline, started_at DESC, run_id DESC)""",
    """ALTER TABLE {s}.asset_partitions
        ADD COLUMN IF NOT EXISTS pipeline text COLLATE "C" NOT NULL DEFAULT ''""",
    "DELETE FROM {s}.asset_partitions",
    "ALTER TABLE {s}.asset_partitions DROP CONSTRAINT IF EXISTS asset_partitions_pkey",
    "ALTER TABLE {s}.asset_partitions ADD PRIMARY KEY (pipeline, asset, pkey)",
    _RECOMPUTE_PARTITIONS.replace("{t}", "{s}."),
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, materializations, lineage inputs, partitions", _SQLITE_V1, _POSTGRES_V1),
    Migration(
        2, "a tenant column on runs, materializations, inputs, partitions", _SQLITE_V2, _POSTGRES_V2
    ),
    Migration(3, "materializations and partitions per pipeline", _SQLITE_V3, _POSTGRES_V3),
    Migration(4, "checkpoint approvals and their append-only audit", _SQLITE_V4, _POSTGRES_V4),
    Migration(5, "run queue, daemons, automation ticks, run keys", _SQLITE_V5, _POSTGRES_V5),
    Migration(
        6,
        "partition status ranges, their orderings, the change log, runtime snapshots",
        _SQLITE_V6,
        _POSTGRES_V6,
    ),
    Migration(7, "run logs", SQLITE_V7, POSTGRES_V7),
    Migration(8, "PostgreSQL: the batch write as one function call", SQLITE_V8, POSTGRES_V8),
    Migration(
        9, "automation ticks, state, run keys and decisions per pipeline", SQLITE_V9, POSTGRES_V9
    ),
    Migration(10, "PostgreSQL: pointers of new records from the batch", SQLITE_V10, POSTGRES_V10),
)

LATEST_VERSION = MIGRATIONS[-1].version


def pending(current: int) -> list[Migration]:
    """Return the migrations above ``current``, in order."""
    return [m for m in MIGRATIONS if m.version > current]


def too_new_message(found: int, where: str) -> str:
    """Explain a database migrated by a newer FlowStone than this one."""
    return (
        f"the record store at {where} has schema version {found}, but this FlowStone knows "
        f"versions up to {LATEST_VERSION}; upgrade flowstone (pip install -U flowstone) "
        f"or point storage= at another database"
    )
