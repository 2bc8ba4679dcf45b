"""Migration 8: the PostgreSQL batch write as one server-side function (SQLite: nothing).

Internal, not part of the public API; `_migrations.py` lists it in ``MIGRATIONS``.

A chain of assets waits, step by step, for each record to be durable, and on PostgreSQL a
batch used to be a client-side transaction of statements, each a round trip (11 for one
record, 16 when its asset keeps status ranges). ``write_batch``
does all of it in one statement (an implicit transaction, durable when it returns): the
client sends the batch as one ``jsonb`` document (``_postgres_write.document``) and waits
once. What it does, in order, is what the client-side transaction did
(docs/adr/0024-postgres-write-in-one-round-trip.md):

1. set ``flowstone.tenant`` when the batch belongs to one tenant (row-level security);
2. upsert the runs;
3. read the keys of the records being replaced (a replaced record may have moved: same id,
   other key, so its old key is refreshed too, and forgotten once it has no record left);
4. upsert the materializations, replace their input rows, refresh the newest and
   newest-succeeded pointers of every key touched (in key order, so two writers lock
   ``asset_partitions`` rows in the same order);
5. maintain the status ranges of every ordered asset touched, in asset order, each under
   its advisory lock (``_ranges`` describes the scheme; ``rewrite`` is computed in SQL);
6. take the change-log lock last, append the change rows and notify listeners (delivered at
   commit), so sequence numbers follow commit order.

The statements are driven by the batch's keys and should probe indexes: the function's
``SET`` clauses rule out sequential scans and hash joins for its duration (the planner may
pick them on tables without fresh statistics). They also keep each statement's generic plan,
planned once per connection: left to choose, the planner went on planning statements again
for each batch (custom plans), which cost about 40% of a one-record call's server time.

Partition ordinals are computed by Python objects the database cannot call, so the client
sends the ordinal of every key of an ordered asset it writes. The one key it cannot know is
the old key of a record that moved: then the function raises ``FS001`` with those keys as
JSON in the detail (nothing is written), and the client calls again with their ordinals.

The statements are formatted with ``{s}``, the quoted schema, and hold no other braces.
"""

from __future__ import annotations

#: SQLSTATE raised when moved records left keys whose ordinals the batch does not carry.
NEEDS_ORDINALS = "FS001"

# A set-returning SQL function that only selects is inlined into the statements using it:
# the batch's materializations as rows, with the columns the client does not send.
_MATERIALIZATIONS = """
CREATE OR REPLACE FUNCTION {s}.batch_materializations(batch jsonb)
RETURNS TABLE (n bigint, id text, run_id text, asset text, partition text, attempt integer,
    status text, started_at timestamptz, finished_at timestamptz, triggered_by text,
    trigger text, user_name text, host text, code_version text, inputs jsonb,
    metadata jsonb, error jsonb, tenant text, pkey text, event_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT x.n, x.e->>0, x.e->>1, x.e->>2, x.e->>3, (x.e->>4)::integer, x.e->>5,
        (x.e->>6)::timestamptz, (x.e->>7)::timestamptz, x.e->>8, x.e->>9, x.e->>10,
        x.e->>11, x.e->>12, x.e->13, x.e->14, nullif(x.e->15, 'null'), x.e->>16,
        CASE WHEN x.e->>3 IS NULL THEN '' ELSE '~' || (x.e->>3) END,
        coalesce((x.e->>7)::timestamptz, (x.e->>6)::timestamptz)
    FROM jsonb_array_elements(batch->'mats') WITH ORDINALITY AS x(e, n)
$$"""

_RUN_COLUMNS = (
    "run_id, pipeline, kind, targets, status, started_at, finished_at, triggered_by, trigger, "
    "backfill_id, partition, metadata, error, tenant"
)
_MAT_COLUMNS = (
    "id, run_id, asset, partition, attempt, status, started_at, finished_at, triggered_by, "
    "trigger, user_name, host, code_version, inputs, metadata, error, tenant, pkey, event_at, "
    "pipeline"
)


def _set_all(columns: str, key: str) -> str:
    names = [c.strip() for c in columns.split(",") if c.strip() != key]
    return ", ".join(f"{n} = excluded.{n}" for n in names)


# Step 5 for one asset: the stored ranges meeting the changed ordinals and their neighbours
# (per span of nearby ordinals: the range containing its start and those starting inside
# it, two index probes), cut at the changed ordinals, the changed ordinals that have a
# status added as ranges of one, neighbours of one status merged; what differs from the
# stored ranges is deleted and inserted. The same result as ``_ranges.rewrite``.
_REWRITE = """
    WITH c AS (SELECT * FROM unnest(ch_o, ch_s) AS c(o, s)),
    spans AS (
        SELECT min(o) - 1 AS a, max(o) + 1 AS b FROM (
            SELECT o, sum(brk) OVER (ORDER BY o) AS g FROM (
                SELECT o, CASE WHEN o - lag(o) OVER (ORDER BY o) <= 3 THEN 0 ELSE 1 END
                    AS brk FROM c) x) y
        GROUP BY g),
    around AS (
        SELECT DISTINCT r.first, r.last, r.status FROM spans sp CROSS JOIN LATERAL (
            (SELECT x.first, x.last, x.status FROM {s}.partition_ranges x
             WHERE x.pipeline = _pipeline AND x.asset = ord.asset AND x.first <= sp.a
             ORDER BY x.first DESC LIMIT 1)
            UNION ALL
            (SELECT x.first, x.last, x.status FROM {s}.partition_ranges x
             WHERE x.pipeline = _pipeline AND x.asset = ord.asset AND x.first > sp.a
               AND x.first <= sp.b)) r
        WHERE r.last >= sp.a),
    bounds AS (
        SELECT r.first, r.status, cut.b FROM around r CROSS JOIN LATERAL (
            SELECT r.first - 1 AS b
            UNION ALL SELECT c.o FROM c WHERE c.o BETWEEN r.first AND r.last
            UNION ALL SELECT r.last + 1) cut),
    pieces AS (
        SELECT f, l, status FROM (
            SELECT status, b + 1 AS f,
                lead(b) OVER (PARTITION BY first ORDER BY b) - 1 AS l FROM bounds) z
        WHERE l >= f
        UNION ALL SELECT o, o, s FROM c WHERE s IS NOT NULL),
    merged AS (
        SELECT min(f) AS first, max(l) AS last, min(status) AS status FROM (
            SELECT f, l, status, sum(brk) OVER (ORDER BY f) AS g FROM (
                SELECT f, l, status, CASE WHEN lag(l) OVER w = f - 1
                    AND lag(status) OVER w = status THEN 0 ELSE 1 END AS brk
                FROM pieces WINDOW w AS (ORDER BY f)) x) y
        GROUP BY g)
    SELECT d.firsts, a.firsts, a.lasts, a.statuses INTO doomed, add_f, add_l, add_s
    FROM (SELECT array_agg(first) AS firsts FROM (
            SELECT first, last, status FROM around
            EXCEPT SELECT first, last, status FROM merged) gone) d
    CROSS JOIN (SELECT array_agg(first) AS firsts, array_agg(last) AS lasts,
            array_agg(status) AS statuses FROM (
            SELECT first, last, status FROM merged
            EXCEPT SELECT first, last, status FROM around) fresh) a"""


_RANGES = (
    """
    FOR ord IN
        SELECT o->>0 AS asset, o->>1 AS fingerprint, (o->>2)::bigint AS lock_key
        FROM jsonb_array_elements(batch->'orders') o ORDER BY (o->>0) COLLATE "C"
    LOOP
        PERFORM pg_advisory_xact_lock(ord.lock_key);
        SELECT ordering INTO stored FROM {s}.partition_orders
        WHERE pipeline = _pipeline AND asset = ord.asset;
        CONTINUE WHEN NOT FOUND;  -- no ranges yet: rebuild_partition_ranges starts them
        IF stored <> ord.fingerprint THEN  -- stale: the numbering changed; rebuilt on demand
            DELETE FROM {s}.partition_ranges WHERE pipeline = _pipeline AND asset = ord.asset;
            DELETE FROM {s}.partition_orders WHERE pipeline = _pipeline AND asset = ord.asset;
            CONTINUE;
        END IF;
        SELECT array_agg(o ORDER BY o), array_agg(s ORDER BY o) INTO ch_o, ch_s FROM (
            SELECT DISTINCT ON ((k->>2)::bigint) (k->>2)::bigint AS o, ap.latest_status AS s
            FROM jsonb_array_elements(batch->'ordinals') k
            LEFT JOIN {s}.asset_partitions ap ON ap.pipeline = _pipeline
                AND ap.asset = ord.asset AND ap.pkey = k->>1
            WHERE k->>0 = ord.asset AND k->>2 IS NOT NULL
            ORDER BY (k->>2)::bigint) changed;
        CONTINUE WHEN ch_o IS NULL;
    """
    + _REWRITE
    + """;
        IF doomed IS NOT NULL THEN
            DELETE FROM {s}.partition_ranges
            WHERE pipeline = _pipeline AND asset = ord.asset AND first = ANY(doomed);
        END IF;
        IF add_f IS NOT NULL THEN
            INSERT INTO {s}.partition_ranges (pipeline, asset, first, last, status)
            SELECT _pipeline, ord.asset, * FROM unnest(add_f, add_l, add_s);
        END IF;
    END LOOP;"""
)

# Steps 3 and 4. ``gone``: the keys replaced records left (none for new records, whose
# statements are then skipped, as the client-side transaction skipped them).
_REPLACED_V8 = """
    SELECT o.ids, g.pipelines, g.assets, g.pkeys INTO replaced, gone_p, gone_a, gone_k
    FROM (SELECT array_agg(m.id) AS ids FROM {s}.materializations m
          WHERE m.id = ANY(ARRAY(SELECT b.id FROM {s}.batch_materializations(batch) b))) o
    CROSS JOIN (
        SELECT array_agg(k.pipeline) AS pipelines, array_agg(k.asset) AS assets,
            array_agg(k.pkey) AS pkeys FROM (
            SELECT DISTINCT m.pipeline, m.asset, m.pkey FROM {s}.materializations m
            WHERE m.id = ANY(ARRAY(SELECT b.id FROM {s}.batch_materializations(batch) b))
              AND NOT EXISTS (SELECT 1 FROM {s}.batch_materializations(batch) b
                  WHERE m.pipeline = _pipeline AND b.asset = m.asset AND b.pkey = m.pkey)
        ) k) g;"""

_MOVED_AND_UPSERT = (
    """
    IF gone_k IS NOT NULL AND (batch->>'ordered')::boolean THEN
        SELECT jsonb_agg(jsonb_build_array(g.asset, g.pkey)) INTO unknown
        FROM unnest(gone_p, gone_a, gone_k) AS g(pipeline, asset, pkey)
        WHERE g.pipeline = _pipeline AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements(batch->'ordinals') k
            WHERE k->>0 = g.asset AND k->>1 = g.pkey);
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'records moved from keys whose partition ordinals are missing'
                USING ERRCODE = '"""
    + NEEDS_ORDINALS
    + """',
                DETAIL = unknown::text, HINT = 'write the batch again with those ordinals';
        END IF;
    END IF;
    INSERT INTO {s}.materializations ("""
    + _MAT_COLUMNS
    + """)
    SELECT b.id, b.run_id, b.asset, b.partition, b.attempt, b.status, b.started_at,
        b.finished_at, b.triggered_by, b.trigger, b.user_name, b.host, b.code_version,
        b.inputs, b.metadata, b.error, b.tenant, b.pkey, b.event_at, _pipeline
    FROM {s}.batch_materializations(batch) b
    ON CONFLICT (id) DO UPDATE SET """
    + _set_all(_MAT_COLUMNS, "id")
    + """;
    IF replaced IS NOT NULL THEN
        DELETE FROM {s}.materialization_inputs WHERE materialization_id = ANY(replaced);
    END IF;
    INSERT INTO {s}.materialization_inputs (materialization_id, position, upstream_asset,
        upstream_partition, upstream_pkey, upstream_materialization_id, tenant)
    SELECT b.id, i.n - 1, i.e->>0, i.e->>1,
        CASE WHEN i.e->>1 IS NULL THEN '' ELSE '~' || (i.e->>1) END, i.e->>2, b.tenant
    FROM {s}.batch_materializations(batch) b
    CROSS JOIN LATERAL jsonb_array_elements(b.inputs) WITH ORDINALITY AS i(e, n);"""
)

_POINTERS_READ = """
    -- The newest and newest-succeeded pointers of every key touched, one descending index
    -- probe each; the row belongs to the tenant of the newest record.
    INSERT INTO {s}.asset_partitions (pipeline, asset, pkey, partition, latest_id,
        latest_status, latest_at, succeeded_id, succeeded_at, tenant)
    SELECT k.pipeline, k.asset, k.pkey, l.partition, l.id, l.status, l.event_at, ok.id,
        ok.event_at, l.tenant
    FROM (SELECT _pipeline AS pipeline, b.asset, b.pkey FROM {s}.batch_materializations(batch) b
          UNION SELECT * FROM unnest(gone_p, gone_a, gone_k)) AS k(pipeline, asset, pkey)
    CROSS JOIN LATERAL (SELECT m.partition, m.id, m.status, m.event_at, m.tenant
        FROM {s}.materializations m
        WHERE m.pipeline = k.pipeline AND m.asset = k.asset AND m.pkey = k.pkey
        ORDER BY m.event_at DESC, m.id DESC LIMIT 1) l
    LEFT JOIN LATERAL (SELECT m.id, m.event_at FROM {s}.materializations m
        WHERE m.pipeline = k.pipeline AND m.asset = k.asset AND m.pkey = k.pkey
          AND m.status = 'succeeded'
        ORDER BY m.event_at DESC, m.id DESC LIMIT 1) ok ON true
    ORDER BY k.pipeline COLLATE "C", k.asset COLLATE "C", k.pkey COLLATE "C"
    ON CONFLICT (pipeline, asset, pkey) DO UPDATE SET partition = excluded.partition,
        latest_id = excluded.latest_id, latest_status = excluded.latest_status,
        latest_at = excluded.latest_at, succeeded_id = excluded.succeeded_id,
        succeeded_at = excluded.succeeded_at, tenant = excluded.tenant;"""

_GONE_KEYS = """
    IF gone_k IS NOT NULL THEN  -- keys left without any record
        DELETE FROM {s}.asset_partitions ap
        USING unnest(gone_p, gone_a, gone_k) AS k(pipeline, asset, pkey)
        WHERE ap.pipeline = k.pipeline AND ap.asset = k.asset AND ap.pkey = k.pkey
          AND NOT EXISTS (SELECT 1 FROM {s}.materializations m WHERE m.pipeline = k.pipeline
              AND m.asset = k.asset AND m.pkey = k.pkey);
    END IF;"""

_MATERIALIZATIONS_WRITE = _REPLACED_V8 + _MOVED_AND_UPSERT + _POINTERS_READ + _GONE_KEYS

# Version 10: the same steps, cheaper for the usual batch, whose records are all new.
# ``replaced`` is one primary-key probe per record, and the keys they left are looked for
# only when there are replaced records. With no record replaced, a key's pointers can only
# move forward, to the batch's newest (succeeded) record of the key when it is newer than
# the one they hold: they are computed from the batch and the pointer row, without reading
# ``materializations`` (whose index the planner picked from the size of the table when the
# connection first planned the statement, scanning all of a pipeline's recent records on
# a table that was empty then), and a row whose pointers stay is not rewritten.
_REPLACED_V10 = """
    SELECT array_agg(m.id) INTO replaced FROM {s}.materializations m
    WHERE m.id = ANY(ARRAY(SELECT b.id FROM {s}.batch_materializations(batch) b));
    IF replaced IS NOT NULL THEN
        SELECT array_agg(k.pipeline), array_agg(k.asset), array_agg(k.pkey)
        INTO gone_p, gone_a, gone_k FROM (
            SELECT DISTINCT m.pipeline, m.asset, m.pkey FROM {s}.materializations m
            WHERE m.id = ANY(replaced)
              AND NOT EXISTS (SELECT 1 FROM {s}.batch_materializations(batch) b
                  WHERE m.pipeline = _pipeline AND b.asset = m.asset AND b.pkey = m.pkey)
        ) k;
    END IF;"""

_NEWER = "(excluded.latest_at, excluded.latest_id) > (ap.latest_at, ap.latest_id)"
_NEWER_SUCCEEDED = (
    "(excluded.succeeded_id IS NOT NULL AND (ap.succeeded_id IS NULL"
    " OR (excluded.succeeded_at, excluded.succeeded_id) > (ap.succeeded_at, ap.succeeded_id)))"
)


def _keep_or_take(column: str, newer: str) -> str:
    return f"{column} = CASE WHEN {newer} THEN excluded.{column} ELSE ap.{column} END"


_POINTERS_FROM_BATCH = (
    """
    INSERT INTO {s}.asset_partitions AS ap (pipeline, asset, pkey, partition, latest_id,
        latest_status, latest_at, succeeded_id, succeeded_at, tenant)
    SELECT _pipeline, l.asset, l.pkey, l.partition, l.id, l.status, l.event_at, ok.id,
        ok.event_at, l.tenant
    FROM (SELECT DISTINCT ON (b.asset COLLATE "C", b.pkey COLLATE "C") b.asset, b.pkey,
            b.partition, b.id,
            b.status, b.event_at, b.tenant
          FROM {s}.batch_materializations(batch) b
          ORDER BY b.asset COLLATE "C", b.pkey COLLATE "C", b.event_at DESC,
              b.id COLLATE "C" DESC) l
    LEFT JOIN LATERAL (SELECT b.id, b.event_at FROM {s}.batch_materializations(batch) b
        WHERE b.asset = l.asset AND b.pkey = l.pkey AND b.status = 'succeeded'
        ORDER BY b.event_at DESC, b.id COLLATE "C" DESC LIMIT 1) ok ON true
    ORDER BY l.asset COLLATE "C", l.pkey COLLATE "C"
    ON CONFLICT (pipeline, asset, pkey) DO UPDATE SET """
    + ", ".join(
        [_keep_or_take(c, _NEWER) for c in ("partition", "latest_id", "latest_status")]
        + [_keep_or_take(c, _NEWER) for c in ("tenant", "latest_at")]
        + [_keep_or_take(c, _NEWER_SUCCEEDED) for c in ("succeeded_id", "succeeded_at")]
    )
    + """
    WHERE """
    + _NEWER
    + """ OR """
    + _NEWER_SUCCEEDED
    + """;"""
)

_MATERIALIZATIONS_WRITE_V10 = (
    _REPLACED_V10
    + _MOVED_AND_UPSERT
    + """
    IF replaced IS NULL THEN"""
    + _POINTERS_FROM_BATCH
    + """
    ELSE"""
    + _POINTERS_READ
    + """
    END IF;"""
    + _GONE_KEYS
)


def _write_batch(materializations_write: str) -> str:
    return (
        """
CREATE OR REPLACE FUNCTION {s}.write_batch(batch jsonb) RETURNS void
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_hashjoin = off
SET plan_cache_mode = force_generic_plan
AS $write$
DECLARE
    _pipeline text := batch->>'pipeline';
    replaced text[];
    gone_p text[];
    gone_a text[];
    gone_k text[];
    unknown jsonb;
    ord record;
    stored text;
    ch_o bigint[];
    ch_s text[];
    doomed bigint[];
    add_f bigint[];
    add_l bigint[];
    add_s text[];
BEGIN
    IF batch->>'tenant' IS NOT NULL THEN
        PERFORM set_config('flowstone.tenant', batch->>'tenant', true);
    END IF;
    IF jsonb_array_length(batch->'runs') > 0 THEN
        INSERT INTO {s}.runs ("""
        + _RUN_COLUMNS
        + """)
        SELECT e->>0, e->>1, e->>2, e->3, e->>4, (e->>5)::timestamptz, (e->>6)::timestamptz,
            e->>7, e->>8, e->>9, e->>10, e->11, nullif(e->12, 'null'), e->>13
        FROM jsonb_array_elements(batch->'runs') e
        ON CONFLICT (run_id) DO UPDATE SET """
        + _set_all(_RUN_COLUMNS, "run_id")
        + """;
    END IF;
    IF jsonb_array_length(batch->'mats') > 0 THEN"""
        + materializations_write
        + _RANGES
        + """
    END IF;
    -- Last, and held only until the commit right after: numbers follow commit order.
    PERFORM pg_advisory_xact_lock((batch->>'lock')::bigint);
    INSERT INTO {s}.changes (pipeline, kind, run_id, asset, partition, status)
    SELECT _pipeline, c.kind, c.run_id, c.asset, c.partition, c.status FROM (
        SELECT 0 AS part, r.n, 'run' AS kind, r.e->>0 AS run_id,
            coalesce((SELECT string_agg(t.name, ',' ORDER BY t.n)
                      FROM jsonb_array_elements_text(r.e->3) WITH ORDINALITY AS t(name, n)),
                     '') AS asset,
            r.e->>10 AS partition, r.e->>4 AS status
        FROM jsonb_array_elements(batch->'runs') WITH ORDINALITY AS r(e, n)
        UNION ALL
        SELECT 1, b.n, 'materialization', b.run_id, b.asset, b.partition, b.status
        FROM {s}.batch_materializations(batch) b) c
    ORDER BY c.part, c.n;
    PERFORM pg_notify(batch->>'channel', '');
END
$write$"""
    )


_WRITE_BATCH = _write_batch(_MATERIALIZATIONS_WRITE)

SQLITE_V8: tuple[str, ...] = ()
POSTGRES_V8 = (_MATERIALIZATIONS, _WRITE_BATCH)

SQLITE_V10: tuple[str, ...] = ()
POSTGRES_V10 = (_write_batch(_MATERIALIZATIONS_WRITE_V10),)
