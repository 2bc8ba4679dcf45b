"""Migration 5: the run queue, daemons, automation ticks and run keys (SQLite and PostgreSQL).

Internal, not part of the public API; `_migrations.py` lists it in ``MIGRATIONS``.
"""

from __future__ import annotations

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
SQLITE_V5 = tuple(t.replace("{s}", "").replace("{time}", "INTEGER") for t in _AUTOMATION_TABLES)
POSTGRES_V5 = tuple(
    t.replace("{s}", "{s}.").replace("{time}", "timestamptz") for t in _AUTOMATION_TABLES
)
