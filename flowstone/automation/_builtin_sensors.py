"""Built-in sensors: an upstream asset was materialized, new objects under an S3 prefix, a
SQL query's value changed. Each registers an ordinary sensor on the pipeline (so it has a
cursor, ticks and run keys like any other) and returns its definition."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flowstone.definitions._sensor import RunRequest, SensorContext, SensorDefinition, SensorResult


def asset_sensor(
    pipeline: Any,
    name: str,
    *,
    watch: str,
    request: str,
    interval: float = 30.0,
    upstream: bool = True,
) -> SensorDefinition:
    """Request ``request`` for a partition whenever ``watch`` is materialized for it.

    The cursor is the finish time of the newest materialization of ``watch`` seen; each
    materialization is requested once (its id is the run key). Partitions are passed on as
    recorded, so both assets should share a partitions definition.
    """
    del upstream  # runs always include the upstream closure; kept for a future option

    async def evaluate(context: SensorContext) -> SensorResult:
        since = datetime.fromisoformat(context.cursor) if context.cursor else None
        records = await context.records.materializations(
            asset=watch, status="succeeded", limit=1000
        )
        fresh = [r for r in records if since is None or (r.finished_at or r.started_at) >= since]
        if not fresh:
            return SensorResult()
        newest = max((r.finished_at or r.started_at) for r in fresh)
        requests = [
            RunRequest(request, partition=r.partition, run_key=r.id) for r in reversed(fresh)
        ]
        return SensorResult(run_requests=requests, cursor=newest.isoformat())

    return pipeline.sensor(interval=interval, name=name)(evaluate)  # type: ignore[no-any-return]


def s3_sensor(
    pipeline: Any,
    name: str,
    *,
    bucket: str,
    prefix: str,
    asset: str,
    partition: Callable[[str], Any] | None = None,
    interval: float = 30.0,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> SensorDefinition:
    """Request ``asset`` for every new object under ``s3://bucket/prefix``.

    Objects are listed in key order after the cursor (the last key seen), so keys should
    grow over time (dated or sequenced names); the object key is the run key.
    ``partition(key)`` gives the partition to request (default: none).
    """
    from flowstone.io._s3_client import S3Client
    from flowstone.io._s3_errors import S3Target
    from flowstone.io._s3_settings import S3Settings

    settings = S3Settings(endpoint_url=endpoint_url, region=region)

    async def evaluate(context: SensorContext) -> SensorResult:
        client = S3Client(settings)
        target = S3Target(bucket, prefix, what=f"list s3://{bucket}/{prefix} for sensor {name!r}")
        try:
            objects = await client.list(target, start_after=context.cursor)
        finally:
            await client.aclose()
        if not objects:
            return SensorResult()
        requests = [
            RunRequest(asset, partition=partition(o.key) if partition else None, run_key=o.key)
            for o in objects
        ]
        return SensorResult(run_requests=requests, cursor=objects[-1].key)

    return pipeline.sensor(interval=interval, name=name)(evaluate)  # type: ignore[no-any-return]


def sql_sensor(
    pipeline: Any,
    name: str,
    *,
    url: str,
    query: str,
    asset: str,
    partition: Callable[[str], Any] | None = None,
    interval: float = 60.0,
) -> SensorDefinition:
    """Request ``asset`` whenever ``query``'s value (first column of the first row) changes.

    ``url`` is ``postgresql://...`` or ``sqlite:///PATH``. The first evaluation only records
    the value (nothing changed yet); later ones request a run per new value (the value is
    the run key, so a value seen again later does not run twice).
    """

    async def evaluate(context: SensorContext) -> SensorResult:
        value = await _query_value(url, query)
        if context.cursor is None:
            return SensorResult(cursor=value)
        if value == context.cursor:
            return SensorResult()
        key = partition(value) if partition else None
        return SensorResult(
            run_requests=[RunRequest(asset, partition=key, run_key=value)], cursor=value
        )

    return pipeline.sensor(interval=interval, name=name)(evaluate)  # type: ignore[no-any-return]


async def _query_value(url: str, query: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return str(await conn.fetchval(query))
        finally:
            await conn.close()
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]

        def read() -> str:
            with sqlite3.connect(path) as conn:
                row = conn.execute(query).fetchone()
            return str(row[0] if row else None)

        return await asyncio.to_thread(read)
    from flowstone.errors import ConfigurationError

    raise ConfigurationError(
        f"sql_sensor url must be postgresql://... or sqlite:///PATH, got {url!r}"
    )
