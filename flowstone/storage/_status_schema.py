"""Migration 6: partition status ranges, their orderings, the change log and runtime
snapshots (SQLite and PostgreSQL).

Internal, not part of the public API; `_migrations.py` lists it in ``MIGRATIONS``.
"""

from __future__ import annotations

# Version 6: status ranges per (pipeline, asset) over partition ordinals, the fingerprint of
# the ordering each follows, and the change log other processes follow (the dashboard).
SQLITE_V6 = (
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

POSTGRES_V6 = (
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
