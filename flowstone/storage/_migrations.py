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
"""

from __future__ import annotations

from dataclasses import dataclass

from flowstone.storage._run_log import POSTGRES_V7, SQLITE_V7


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

_OPEN = "status IN ('pending', 'escalated')"
_STATUSES = "('pending', 'escalated', 'approved', 'modified', 'rejected', 'expired')"
_APPEND_ONLY = "approval_audit is append-only: UPDATE and DELETE are refused"
_FINAL = "a decided approval is final: it cannot be changed"

# Checkpoint approvals and their audit trail (docs/approvals.md). The audit table is
# append-only by the database's own rules, not by convention: triggers refuse UPDATE and
# DELETE (and TRUNCATE on PostgreSQL) whoever connects, and a decided approval cannot be
# changed either. The partial indexes keep the open gates (the queue, the deadlines) a
# small index however many decided ones accumulate. Every statement is idempotent (IF NOT
# EXISTS, OR REPLACE), as version 2's are, so a store re-migrated from an older recorded
# version keeps its approvals.
_SQLITE_V4 = (
    f"""CREATE TABLE IF NOT EXISTS approvals (
        id               TEXT PRIMARY KEY,
        run_id           TEXT NOT NULL,
        checkpoint       TEXT NOT NULL,
        partition        TEXT,
        pkey             TEXT NOT NULL,
        pipeline         TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN {_STATUSES}),
        message          TEXT,
        view             TEXT,
        requested_at     INTEGER NOT NULL,
        timeout_at       INTEGER,
        decided_by       TEXT,
        decided_at       INTEGER,
        reason           TEXT,
        modified_value   TEXT,
        escalated_to     TEXT,
        escalation_count INTEGER NOT NULL DEFAULT 0,
        policy           TEXT NOT NULL,
        tenant           TEXT,
        UNIQUE (run_id, checkpoint, pkey)
    )""",
    f"""CREATE INDEX IF NOT EXISTS approvals_open
        ON approvals (pipeline, requested_at, id) WHERE {_OPEN}""",
    f"""CREATE INDEX IF NOT EXISTS approvals_open_by_checkpoint
        ON approvals (pipeline, checkpoint, requested_at, id)
        WHERE {_OPEN}""",
    f"CREATE INDEX IF NOT EXISTS approvals_due ON approvals (timeout_at, id) WHERE {_OPEN}",
    "CREATE INDEX IF NOT EXISTS approvals_by_gate ON approvals (checkpoint, pkey, requested_at)",
    f"""CREATE TRIGGER IF NOT EXISTS approvals_final BEFORE UPDATE ON approvals
        WHEN OLD.status NOT IN ('pending', 'escalated')
        BEGIN SELECT RAISE(ABORT, '{_FINAL}'); END""",
    """CREATE TABLE IF NOT EXISTS approval_audit (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT NOT NULL UNIQUE,
        approval_id   TEXT,
        event         TEXT NOT NULL,
        actor         TEXT NOT NULL,
        reason        TEXT,
        before_digest TEXT,
        after_digest  TEXT,
        at            INTEGER NOT NULL,
        run_id        TEXT,
        asset         TEXT NOT NULL,
        partition     TEXT,
        pkey          TEXT NOT NULL,
        detail        TEXT NOT NULL,
        tenant        TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS audit_by_approval ON approval_audit (approval_id, seq)",
    "CREATE INDEX IF NOT EXISTS audit_by_key ON approval_audit (asset, pkey, seq)",
    "CREATE INDEX IF NOT EXISTS audit_by_run ON approval_audit (run_id, seq)",
    f"""CREATE TRIGGER IF NOT EXISTS approval_audit_no_update BEFORE UPDATE ON approval_audit
        BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS approval_audit_no_delete BEFORE DELETE ON approval_audit
        BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
)

_POSTGRES_V4 = (
    f"""CREATE TABLE IF NOT EXISTS {{s}}.approvals (
        id               text COLLATE "C" PRIMARY KEY,
        run_id           text COLLATE "C" NOT NULL,
        checkpoint       text COLLATE "C" NOT NULL,
        partition        text,
        pkey             text COLLATE "C" NOT NULL,
        pipeline         text NOT NULL,
        status           text NOT NULL CHECK (status IN {_STATUSES}),
        message          text,
        view             jsonb,
        requested_at     timestamptz NOT NULL,
        timeout_at       timestamptz,
        decided_by       text,
        decided_at       timestamptz,
        reason           text,
        modified_value   jsonb,
        escalated_to     text,
        escalation_count integer NOT NULL DEFAULT 0,
        policy           jsonb NOT NULL,
        tenant           text COLLATE "C",
        UNIQUE (run_id, checkpoint, pkey)
    )""",
    f"""CREATE INDEX IF NOT EXISTS approvals_open
        ON {{s}}.approvals (pipeline, requested_at, id) WHERE {_OPEN}""",
    f"""CREATE INDEX IF NOT EXISTS approvals_open_by_checkpoint
        ON {{s}}.approvals (pipeline, checkpoint, requested_at, id) WHERE {_OPEN}""",
    f"CREATE INDEX IF NOT EXISTS approvals_due ON {{s}}.approvals (timeout_at, id) WHERE {_OPEN}",
    """CREATE INDEX IF NOT EXISTS approvals_by_gate
        ON {s}.approvals (checkpoint, pkey, requested_at)""",
    f"""CREATE OR REPLACE FUNCTION {{s}}.approvals_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status NOT IN ('pending', 'escalated') THEN
                RAISE EXCEPTION '{_FINAL}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$""",
    """CREATE OR REPLACE TRIGGER approvals_final BEFORE UPDATE ON {s}.approvals
        FOR EACH ROW EXECUTE FUNCTION {s}.approvals_final()""",
    """CREATE TABLE IF NOT EXISTS {s}.approval_audit (
        seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id            text COLLATE "C" NOT NULL UNIQUE,
        approval_id   text COLLATE "C",
        event         text NOT NULL,
        actor         text NOT NULL,
        reason        text,
        before_digest text,
        after_digest  text,
        at            timestamptz NOT NULL,
        run_id        text COLLATE "C",
        asset         text COLLATE "C" NOT NULL,
        partition     text,
        pkey          text COLLATE "C" NOT NULL,
        detail        jsonb NOT NULL,
        tenant        text COLLATE "C"
    )""",
    "CREATE INDEX IF NOT EXISTS audit_by_approval ON {s}.approval_audit (approval_id, seq)",
    "CREATE INDEX IF NOT EXISTS audit_by_key ON {s}.approval_audit (asset, pkey, seq)",
    "CREATE INDEX IF NOT EXISTS audit_by_run ON {s}.approval_audit (run_id, seq)",
    f"""CREATE OR REPLACE FUNCTION {{s}}.approval_audit_append_only()
        RETURNS trigger LANGUAGE plpgsql
        AS $$
        BEGIN
            RAISE EXCEPTION '{_APPEND_ONLY} (% refused)', TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
    """CREATE OR REPLACE TRIGGER approval_audit_append_only
        BEFORE UPDATE OR DELETE ON {s}.approval_audit
        FOR EACH ROW EXECUTE FUNCTION {s}.approval_audit_append_only()""",
    """CREATE OR REPLACE TRIGGER approval_audit_no_truncate BEFORE TRUNCATE ON {s}.approval_audit
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.approval_audit_append_only()""",
)

# Version 5: the automation wing (docs/automation.md). ``run_queue`` holds the queued and
# claimed runs next to their ``runs`` row (the run record stays the source of truth for
# status); ``run_pools`` lists the named pools a queued run occupies, so a pool's limit is one
# indexed count; ``automation_ticks`` has one row per (schedule or sensor, tick time): its
# primary key is what makes a tick run at most once whatever the number of daemons;
# ``run_keys`` does the same for sensor run keys. Times are microseconds (SQLite) and
# timestamptz (PostgreSQL), flags integers in both, JSON as text in both. IF NOT EXISTS: a
# store whose schema_version was rewound by hand (as the upgrade tests do) migrates again.
_AUTOMATION_TABLES = (
    """CREATE TABLE IF NOT EXISTS {s}run_queue (
        run_id           TEXT PRIMARY KEY,
        pipeline         TEXT NOT NULL,
        state            TEXT NOT NULL,
        priority         INTEGER NOT NULL,
        enqueued_at      {time} NOT NULL,
        owner            TEXT,
        lease_until      {time},
        claims           INTEGER NOT NULL,
        cancel_requested INTEGER NOT NULL,
        code_version     TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS run_queue_ready
        ON {s}run_queue (pipeline, state, priority DESC, enqueued_at, run_id)""",
    """CREATE INDEX IF NOT EXISTS run_queue_leases
        ON {s}run_queue (pipeline, state, lease_until)""",
    "CREATE INDEX IF NOT EXISTS run_queue_by_owner ON {s}run_queue (owner, state)",
    """CREATE TABLE IF NOT EXISTS {s}run_pools (
        pool   TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (pool, run_id)
    )""",
    "CREATE INDEX IF NOT EXISTS run_pools_by_run ON {s}run_pools (run_id)",
    """CREATE TABLE IF NOT EXISTS {s}daemons (
        daemon_id    TEXT PRIMARY KEY,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        started_at   {time} NOT NULL,
        heartbeat_at {time} NOT NULL,
        status       TEXT NOT NULL,
        info         TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {s}automation_ticks (
        origin      TEXT NOT NULL,
        tick_at     {time} NOT NULL,
        status      TEXT NOT NULL,
        owner       TEXT,
        lease_until {time},
        updated_at  {time} NOT NULL,
        run_ids     TEXT NOT NULL,
        cursor      TEXT,
        error       TEXT,
        info        TEXT NOT NULL,
        PRIMARY KEY (origin, tick_at)
    )""",
    """CREATE INDEX IF NOT EXISTS automation_ticks_by_status
        ON {s}automation_ticks (origin, status, tick_at)""",
    """CREATE TABLE IF NOT EXISTS {s}automation_state (
        origin     TEXT PRIMARY KEY,
        enabled    INTEGER NOT NULL,
        cursor     TEXT,
        since      {time} NOT NULL,
        updated_at {time} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {s}run_keys (
        origin     TEXT NOT NULL,
        run_key    TEXT NOT NULL,
        run_id     TEXT NOT NULL,
        created_at {time} NOT NULL,
        PRIMARY KEY (origin, run_key)
    )""",
    """CREATE TABLE IF NOT EXISTS {s}automation_decisions (
        asset        TEXT NOT NULL,
        pkey         TEXT NOT NULL,
        partition    TEXT,
        evaluated_at {time} NOT NULL,
        policy       TEXT NOT NULL,
        requested    INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        run_id       TEXT,
        PRIMARY KEY (asset, pkey)
    )""",
)
_SQLITE_V5 = tuple(t.replace("{s}", "").replace("{time}", "INTEGER") for t in _AUTOMATION_TABLES)
_POSTGRES_V5 = tuple(
    t.replace("{s}", "{s}.").replace("{time}", "timestamptz") for t in _AUTOMATION_TABLES
)

# Version 6: status ranges per (pipeline, asset) over partition ordinals, the fingerprint of
# the ordering each follows, and the change log other processes follow (the dashboard).
_SQLITE_V6 = (
    """CREATE TABLE IF NOT EXISTS partition_ranges (
        pipeline TEXT NOT NULL,
        asset    TEXT NOT NULL,
        first    INTEGER NOT NULL,
        last     INTEGER NOT NULL,
        status   TEXT NOT NULL,
        PRIMARY KEY (pipeline, asset, first)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS partition_orders (
        pipeline TEXT NOT NULL,
        asset    TEXT NOT NULL,
        ordering TEXT NOT NULL,
        PRIMARY KEY (pipeline, asset)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS changes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        at        INTEGER NOT NULL,
        pipeline  TEXT NOT NULL,
        kind      TEXT NOT NULL,
        run_id    TEXT NOT NULL,
        asset     TEXT,
        partition TEXT,
        status    TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS changes_by_pipeline ON changes (pipeline, seq)",
    "CREATE INDEX IF NOT EXISTS changes_by_time ON changes (at)",
    """CREATE TABLE IF NOT EXISTS runtimes (
        id         TEXT PRIMARY KEY,
        pipeline   TEXT NOT NULL,
        host       TEXT NOT NULL,
        pid        INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        seen_at    INTEGER NOT NULL,
        tree       TEXT NOT NULL
    )""",
)

_POSTGRES_V6 = (
    """CREATE TABLE IF NOT EXISTS {s}.partition_ranges (
        pipeline text COLLATE "C" NOT NULL,
        asset    text COLLATE "C" NOT NULL,
        first    bigint NOT NULL,
        last     bigint NOT NULL,
        status   text NOT NULL,
        PRIMARY KEY (pipeline, asset, first)
    )""",
    """CREATE TABLE IF NOT EXISTS {s}.partition_orders (
        pipeline text COLLATE "C" NOT NULL,
        asset    text COLLATE "C" NOT NULL,
        ordering text NOT NULL,
        PRIMARY KEY (pipeline, asset)
    )""",
    """CREATE TABLE IF NOT EXISTS {s}.changes (
        seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at        timestamptz NOT NULL DEFAULT now(),
        pipeline  text COLLATE "C" NOT NULL,
        kind      text NOT NULL,
        run_id    text COLLATE "C" NOT NULL,
        asset     text COLLATE "C",
        partition text,
        status    text NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS changes_by_pipeline ON {s}.changes (pipeline, seq)",
    "CREATE INDEX IF NOT EXISTS changes_by_time ON {s}.changes (at)",
    """CREATE TABLE IF NOT EXISTS {s}.runtimes (
        id         text COLLATE "C" PRIMARY KEY,
        pipeline   text COLLATE "C" NOT NULL,
        host       text NOT NULL,
        pid        integer NOT NULL,
        started_at timestamptz NOT NULL,
        seen_at    timestamptz NOT NULL,
        tree       jsonb NOT NULL
    )""",
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
