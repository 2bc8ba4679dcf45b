"""Migration 4: checkpoint approvals and their append-only audit (SQLite and PostgreSQL).

Internal, not part of the public API; `_migrations.py` lists it in ``MIGRATIONS``.
"""

from __future__ import annotations

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
SQLITE_V4 = (
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

POSTGRES_V4 = (
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
