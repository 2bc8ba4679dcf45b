"""How records become rows and rows become records, shared by every backend.

Internal, not part of the public API. Keeping the conversions in one place is what makes the
backends interchangeable: the memory backend pushes its records through the same JSON and
time normalisation as the SQL backends, so the contract suite sees identical values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flowstone.errors import StorageError
from flowstone.storage._normalise import clean_optional, clean_text, jsonable, require_storable
from flowstone.storage._records import (
    MATERIALIZATION_STATUSES,
    ErrorInfo,
    InputRef,
    LineageEntry,
    MaterializationRecord,
    RunRecord,
    WriteBatch,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- partition keys ---------------------------------------------------------------------------
# SQL treats NULL as distinct from NULL, so an unpartitioned key cannot take part in a primary
# key or an index equality lookup. Every table therefore also stores ``pkey``: "" for the
# unpartitioned key and "~" + key otherwise. The mapping is injective (no sentinel can collide
# with a real key) and preserves order, with the unpartitioned key first.


def encode_pkey(partition: str | None) -> str:
    """Return the non-null index form of a partition key."""
    return "" if partition is None else "~" + partition


def decode_pkey(pkey: str) -> str | None:
    """Invert ``encode_pkey``."""
    return None if pkey == "" else pkey[1:]


# -- time -------------------------------------------------------------------------------------


def require_aware(value: datetime, what: str) -> datetime:
    """Return ``value`` in UTC; refuse naive datetimes, whose instant is unknowable."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StorageError(
            f"{what} must be a timezone-aware datetime, got the naive {value.isoformat()!r}; "
            f"pass e.g. datetime.now(UTC) or value.replace(tzinfo=UTC)"
        )
    return value.astimezone(UTC)


def to_micros(value: datetime) -> int:
    """Return microseconds since the Unix epoch (exact; SQLite stores times this way)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """Invert ``to_micros``."""
    return _EPOCH + timedelta(0, 0, value)  # positional: this runs for every row read


def event_at(record: MaterializationRecord) -> datetime:
    """Return the instant that orders a materialization: its finish, or its start while it
    has none (a waiting attempt)."""
    return record.finished_at if record.finished_at is not None else record.started_at


# -- JSON -------------------------------------------------------------------------------------


_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False)


def dump_json(value: Any) -> str:
    """Serialise metadata, normalised first (``_normalise.jsonable``): every backend then
    stores the same text, and values JSON cannot hold are stored as their ``str()``."""
    return _ENCODER.encode(jsonable(value))


def dump_error(error: ErrorInfo | None) -> str | None:
    """Serialise an error as ``{"type", "message", "traceback"}``."""
    if error is None:
        return None
    return dump_json({"type": error.type, "message": error.message, "traceback": error.traceback})


def load_error(text: str | None) -> ErrorInfo | None:
    """Invert ``dump_error``."""
    if text is None:
        return None
    data = json.loads(text)
    return ErrorInfo(data["type"], data["message"], data.get("traceback", ""))


def dump_inputs(inputs: Sequence[InputRef]) -> str:
    """Serialise inputs as a JSON list of ``[asset, partition, materialization_id]``."""
    return json.dumps([[i.asset, i.partition, i.materialization_id] for i in inputs])


def load_inputs(text: str) -> tuple[InputRef, ...]:
    """Invert ``dump_inputs``."""
    if text == "[]":
        return ()
    return tuple(InputRef(a, p, m) for a, p, m in json.loads(text))


def load_metadata(text: str | None) -> dict[str, Any]:
    """Return the metadata mapping stored as JSON."""
    return {} if not text or text == "{}" else dict(json.loads(text))


# -- batches ----------------------------------------------------------------------------------


def prepare_batch(
    batch: WriteBatch, pipeline: str = ""
) -> tuple[list[RunRecord], list[MaterializationRecord]]:
    """Validate a batch, clean its free text and keep only the last version of each id.

    A group commit may hold several versions of one run (pending, then running); the last one
    wins, as it would if they had been written one by one. Deduplicating first also keeps
    set-based upserts valid (one statement may not update a row twice). Free text is cleaned
    and keys are checked here, for every backend alike (``_normalise``). A store opened for
    a pipeline refuses the runs of another (its materializations are all written as its own).
    """
    runs = {r.run_id: _check_run(r, pipeline) for r in batch.runs}
    mats = {m.id: _check_materialization(m) for m in batch.materializations}
    return list(runs.values()), list(mats.values())


def _check_run(run: RunRecord, pipeline: str) -> RunRecord:
    require_storable("run id", [run.run_id])
    what = f"run {run.run_id!r}"
    if pipeline and run.pipeline != pipeline:
        raise StorageError(
            f"{what} belongs to pipeline {run.pipeline!r}, but this store was opened for "
            f"pipeline {pipeline!r}; write it through a store opened for its own pipeline "
            f"(open_storage(url, pipeline={run.pipeline!r}))"
        )
    require_storable(f"{what} pipeline", [run.pipeline])
    require_storable(f"{what} target", run.targets)
    require_storable(f"{what} backfill id", [run.backfill_id])
    require_storable(f"{what} partition", [run.partition])
    require_storable(f"{what} tenant", [run.tenant])
    require_aware(run.started_at, f"{what} started_at")
    if run.finished_at is not None:
        require_aware(run.finished_at, f"{what} finished_at")
    text = (run.kind, run.triggered_by, run.trigger)
    clean = tuple(clean_text(t) for t in text)
    if clean != text:
        run = replace(run, kind=clean[0], triggered_by=clean[1], trigger=clean[2])
    return run


def _check_materialization(record: MaterializationRecord) -> MaterializationRecord:
    _check_keys(record)
    if record.status not in MATERIALIZATION_STATUSES:
        raise StorageError(
            f"materialization {record.id!r} has status {record.status!r}; expected one of "
            f"{', '.join(MATERIALIZATION_STATUSES)}"
        )
    require_aware(record.started_at, f"materialization {record.id!r} started_at")
    if record.finished_at is not None:
        require_aware(record.finished_at, f"materialization {record.id!r} finished_at")
    return _clean_materialization(record)


def _check_keys(record: MaterializationRecord) -> None:
    what = f"materialization {record.id!r}"
    for field, value in (
        ("run id", record.run_id),
        ("asset", record.asset),
        ("partition", record.partition),
        ("tenant", record.tenant),
    ):
        require_storable(f"{what} {field}", [value])
    for ref in record.inputs:
        require_storable(f"{what} input asset", [ref.asset])
        require_storable(f"{what} input partition", [ref.partition])
        require_storable(f"{what} input id", [ref.materialization_id])
    require_storable("materialization id", [record.id])  # last: it repeats the fields above


def _clean_materialization(record: MaterializationRecord) -> MaterializationRecord:
    required = (record.triggered_by, record.trigger)
    optional = (record.user, record.host, record.code_version)
    clean = tuple(clean_text(t) for t in required)
    clean_opt = tuple(clean_optional(t) for t in optional)
    if clean == required and clean_opt == optional:
        return record
    return replace(
        record,
        triggered_by=clean[0],
        trigger=clean[1],
        user=clean_opt[0],
        host=clean_opt[1],
        code_version=clean_opt[2],
    )


def check_dynamic_keys(name: str, keys: Iterable[str]) -> list[str]:
    """Return the keys of a dynamic partitions set, refusing any no store can hold."""
    wanted = list(keys)
    require_storable("dynamic partitions name", [name])
    require_storable(f"dynamic partition key of {name!r}:", wanted)
    return wanted


def normalise_run(run: RunRecord) -> RunRecord:
    """Return ``run`` as a SQL backend would give it back (UTC times, JSON metadata)."""
    return RunRecord(
        run_id=run.run_id,
        pipeline=run.pipeline,
        kind=run.kind,
        targets=tuple(run.targets),
        status=run.status,
        started_at=run.started_at.astimezone(UTC),
        finished_at=run.finished_at.astimezone(UTC) if run.finished_at else None,
        triggered_by=run.triggered_by,
        trigger=run.trigger,
        backfill_id=run.backfill_id,
        partition=run.partition,
        metadata=load_metadata(dump_json(dict(run.metadata))),
        error=load_error(dump_error(run.error)),
        tenant=run.tenant,
    )


def normalise_materialization(record: MaterializationRecord) -> MaterializationRecord:
    """Return ``record`` as a SQL backend would give it back."""
    return MaterializationRecord(
        id=record.id,
        run_id=record.run_id,
        asset=record.asset,
        partition=record.partition,
        attempt=record.attempt,
        status=record.status,
        started_at=record.started_at.astimezone(UTC),
        finished_at=record.finished_at.astimezone(UTC) if record.finished_at else None,
        triggered_by=record.triggered_by,
        trigger=record.trigger,
        user=record.user,
        host=record.host,
        code_version=record.code_version,
        inputs=_normal_inputs(record.inputs),
        metadata=_normal_metadata(record.metadata),
        error=load_error(dump_error(record.error)),
        tenant=record.tenant,
    )


def _normal_inputs(inputs: Sequence[InputRef]) -> tuple[InputRef, ...]:
    """``load_inputs(dump_inputs(inputs))``, without the JSON round trip when the inputs are
    plain ``InputRef``s of plain strings already (what the engine writes)."""
    if type(inputs) is tuple and all(
        type(i) is InputRef
        and type(i.asset) is str
        and type(i.materialization_id) is str
        and (i.partition is None or type(i.partition) is str)
        for i in inputs
    ):
        return inputs
    return load_inputs(dump_inputs(inputs))


def _normal_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``load_metadata(dump_json(metadata))``, without the JSON round trip for a flat mapping
    of clean text keys to clean text, ints, bools and None (what most attempts record)."""
    for key, value in metadata.items():
        if not (type(key) is str and key.isascii() and "\x00" not in key):
            break
        kind = type(value)
        if kind is str:
            if not (value.isascii() and "\x00" not in value):
                break
        elif not (value is None or kind is int or kind is bool):
            break
    else:
        return {key: metadata[key] for key in sorted(metadata)}  # JSON's sort_keys order
    return load_metadata(dump_json(dict(metadata)))


# -- queries ----------------------------------------------------------------------------------


def partition_filter(partition: str | None, any_partition: bool) -> str | None:
    """Return the ``pkey`` that ``materializations(partition=..., any_partition=...)``
    filters on, or None for no partition filter."""
    if partition is not None:
        return encode_pkey(partition)
    return None if any_partition else encode_pkey(None)


def lineage_entries(rows: Iterable[tuple[str, str, int, str | None]]) -> list[LineageEntry]:
    """Build lineage entries from ``(asset, pkey, depth, materialization_id)`` rows, keeping
    each node at its smallest depth, ordered by depth, asset, then partition (unpartitioned
    first). Ordering here, not in SQL, keeps it identical across backends and collations."""
    best: dict[tuple[str, str], tuple[int, str | None]] = {}
    for asset, pkey, depth, mid in rows:
        seen = best.get((asset, pkey))
        if seen is None or depth < seen[0]:
            best[(asset, pkey)] = (depth, mid)
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[0][0], item[0][1]))
    return [
        LineageEntry(asset, decode_pkey(pkey), depth, mid)
        for (asset, pkey), (depth, mid) in ordered
    ]


def check_as_of(as_of: datetime | None) -> datetime | None:
    """Validate an optional point in time given to a query."""
    return None if as_of is None else require_aware(as_of, "as_of")


# -- rows -------------------------------------------------------------------------------------
# Column orders match _sql.RUN_COLUMNS and _sql.MAT_COLUMNS. ``to_time``/``from_time`` adapt
# times to the column type (microseconds in SQLite, timestamptz in PostgreSQL).

TimeIn = Callable[[datetime], Any]
TimeOut = Callable[[Any], datetime]


def run_values(run: RunRecord, to_time: TimeIn) -> tuple[Any, ...]:
    """Return a run as column values."""
    return (
        run.run_id,
        run.pipeline,
        run.kind,
        json.dumps(list(run.targets)),
        run.status,
        to_time(run.started_at),
        None if run.finished_at is None else to_time(run.finished_at),
        run.triggered_by,
        run.trigger,
        run.backfill_id,
        run.partition,
        dump_json(dict(run.metadata)),
        dump_error(run.error),
        run.tenant,
    )


def run_from_row(row: Sequence[Any], from_time: TimeOut) -> RunRecord:
    """Build a run from column values."""
    return RunRecord(
        run_id=row[0],
        pipeline=row[1],
        kind=row[2],
        targets=tuple(json.loads(row[3])),
        status=row[4],
        started_at=from_time(row[5]),
        finished_at=None if row[6] is None else from_time(row[6]),
        triggered_by=row[7],
        trigger=row[8],
        backfill_id=row[9],
        partition=row[10],
        metadata=load_metadata(row[11]),
        error=load_error(row[12]),
        tenant=row[13],
    )


def materialization_values(record: MaterializationRecord, to_time: TimeIn) -> tuple[Any, ...]:
    """Return a materialization as column values, in the order of the upsert statements:
    the MAT_COLUMNS, then pkey and event_at."""
    return (
        record.id,
        record.run_id,
        record.asset,
        record.partition,
        record.attempt,
        record.status,
        to_time(record.started_at),
        None if record.finished_at is None else to_time(record.finished_at),
        record.triggered_by,
        record.trigger,
        record.user,
        record.host,
        record.code_version,
        dump_inputs(record.inputs),
        dump_json(dict(record.metadata)),
        dump_error(record.error),
        record.tenant,
        encode_pkey(record.partition),
        to_time(event_at(record)),
    )


def materialization_from_row(row: Sequence[Any], from_time: TimeOut) -> MaterializationRecord:
    """Build a materialization from column values (MAT_COLUMNS order)."""
    return MaterializationRecord(
        id=row[0],
        run_id=row[1],
        asset=row[2],
        partition=row[3],
        attempt=row[4],
        status=row[5],
        started_at=from_time(row[6]),
        finished_at=None if row[7] is None else from_time(row[7]),
        triggered_by=row[8],
        trigger=row[9],
        user=row[10],
        host=row[11],
        code_version=row[12],
        inputs=load_inputs(row[13]),
        metadata=load_metadata(row[14]),
        error=load_error(row[15]),
        tenant=row[16],
    )


def input_values(record: MaterializationRecord) -> list[tuple[Any, ...]]:
    """Return the materialization_inputs rows of a materialization (each with the tenant of
    the materialization, which its row-level security policy judges it by)."""
    return [
        (
            record.id,
            position,
            ref.asset,
            ref.partition,
            encode_pkey(ref.partition),
            ref.materialization_id,
            record.tenant,
        )
        for position, ref in enumerate(record.inputs)
    ]
