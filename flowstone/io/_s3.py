"""``S3IOManager``: asset values as objects in S3 (or any S3-compatible store)."""

from __future__ import annotations

import asyncio
import builtins
import json
import pickle
import string
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import quote

from pydantic import field_validator

from flowstone.errors import ConfigurationError, IOManagerError

from . import _tabular
from ._digest import DIGEST_KEY, sha256_hex
from ._manager import IOContext, IOManager, IOOptions
from ._s3_client import S3Client, S3Object, S3Retry, S3Settings, S3Transfer
from ._s3_errors import S3Target

Format = Literal["json", "pickle", "parquet", "bytes"]
_EXTENSIONS: dict[str, Format] = {
    "json": "json",
    "pkl": "pickle",
    "pickle": "pickle",
    "parquet": "parquet",
    "bin": "bytes",
}
_DEFAULT_EXTENSION: dict[Format, str] = {
    "json": "json",
    "pickle": "pkl",
    "parquet": "parquet",
    "bytes": "bin",
}
_CONTENT_TYPES: dict[Format, str] = {
    "json": "application/json",
    "pickle": "application/x-python-pickle",
    "parquet": "application/vnd.apache.parquet",
    "bytes": "application/octet-stream",
}
_TEMPLATE_FIELDS = ("asset", "partition", "partition_key", "run_id", "pipeline", "ext")
# Multi-partition keys hold '|' (and static keys may hold '/'): %-escape them in keys.
_SAFE_IN_KEY = "-_.=,+@:"
_RUN_ID_MARK = "\x00run_id\x00"


class S3Options(IOOptions):
    """Per-asset options of ``S3IOManager``.

    Attributes:
        bucket: the bucket, overriding the manager's.
        path: the object key: a template or a function of the partition key returning the
            key. A template may use ``{asset}``, ``{partition}`` (the key itself, so dates
            take format specs: ``{partition:%Y/%m/%d}``), ``{partition_key}`` (its string
            form, %-escaped; ``__all__`` when unpartitioned), ``{run_id}``, ``{pipeline}``
            and ``{ext}``. Default ``<asset>/<partition_key>.<ext>``, or ``<asset>.<ext>``
            when unpartitioned.
        format: ``"json"``, ``"pickle"``, ``"parquet"`` or ``"bytes"``. Default: from the
            key's extension (``.json``, ``.pkl``/``.pickle``, ``.parquet``, ``.bin``), else
            the manager's ``format``.
    """

    bucket: str | None = None
    path: str | Callable[[Any], str] | None = None
    format: Format | None = None

    @field_validator("path")
    @classmethod
    def _known_fields(cls, path: Any) -> Any:
        if isinstance(path, str):
            fields = (name for _, name, _, _ in string.Formatter().parse(path) if name)
            unknown = sorted(
                {f.split(".")[0].split("[")[0] for f in fields} - set(_TEMPLATE_FIELDS)
            )
            if unknown:
                known = ", ".join("{" + name + "}" for name in _TEMPLATE_FIELDS)
                raise ValueError(
                    f"path template {path!r} uses {', '.join(unknown)}; it may use {known}"
                )
        return path


class S3IOManager(IOManager):
    """Store asset values as S3 objects: JSON, pickle, Parquet or raw bytes.

    Endpoint, region and credentials default to botocore's usual sources: the environment
    variables ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``), ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
    ``AWS_SESSION_TOKEN``, then ``AWS_PROFILE`` and the shared config files. One aiobotocore
    client is opened on first use and closed by ``aclose()``.

    Args:
        bucket: the default bucket (assets may set ``io_options["bucket"]``).
        endpoint_url: e.g. ``"http://127.0.0.1:9000"`` for MinIO; None for AWS.
        region: the signing region; default from the environment, else ``"us-east-1"``.
        prefix: prepended to every key this manager computes (``"prod/"``).
        format: the format when neither ``io_options`` nor the key's extension says.
        access_key_id, secret_access_key, session_token: explicit credentials.
        retry: retries of throttled and failed requests (``S3Retry``).
        transfer: multipart settings (``S3Transfer``).
    """

    options_model = S3Options

    def __init__(
        self,
        bucket: str | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        format: Format = "pickle",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        retry: S3Retry | None = None,
        transfer: S3Transfer | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.format: Format = format
        self.client = S3Client(
            S3Settings(
                endpoint_url=endpoint_url,
                region=region,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                session_token=session_token,
                retry=retry or S3Retry(),
                transfer=transfer or S3Transfer(),
            )
        )

    def validate_options(self, options: Mapping[str, Any]) -> IOOptions:
        """Validate ``io_options``; an asset must get a bucket from somewhere."""
        validated = super().validate_options(options)
        assert isinstance(validated, S3Options)
        if validated.bucket is None and self.bucket is None:
            raise ConfigurationError(
                "S3IOManager has no bucket for this asset: pass S3IOManager(bucket=...) "
                "or set io_options={'bucket': ...}"
            )
        return validated

    # -- the I/O manager interface ---------------------------------------------------------

    async def store(self, context: IOContext, value: Any) -> dict[str, Any]:  # type: ignore[override]
        """Upload ``value``; return ``uri``, ``size``, ``etag``, ``last_modified``, ``format``
        and ``sha256`` (of the uploaded bytes: unlike an ETag, a content digest whatever the
        upload method)."""
        target = self._target(context, "store")
        fmt = self._format(context, target.key)
        data, extra = await self._encode(target, fmt, value)
        stored = await self.client.put(target, data, content_type=_CONTENT_TYPES[fmt])
        return {**_describe(stored), "format": fmt, DIGEST_KEY: sha256_hex(data), **extra}

    async def load(self, context: IOContext) -> Any:
        """Download and decode the value stored for this asset partition."""
        target = await self._resolved(self._target(context, "load"))
        data = await self.client.get(target) if target is not None else None
        if target is None or data is None:
            missing = target or self._target(context, "load")
            uri = missing.uri.replace(_RUN_ID_MARK, "{run_id}")
            raise IOManagerError(
                f"cannot {missing.what}: no object at {uri}; it was probably never "
                "materialized, or it was deleted",
                asset=context.asset,
                partition=context.partition,
            )
        fmt = self._format(context, target.key)
        try:
            return await self._decode(fmt, data)
        except Exception as exc:
            raise IOManagerError(
                f"cannot {target.what}: the object at {target.uri} is not valid {fmt} "
                f"({type(exc).__name__}: {exc}); was it written in another format?",
                asset=context.asset,
                partition=context.partition,
            ) from exc

    async def exists(self, context: IOContext) -> bool:  # type: ignore[override]
        """Return True when an object is stored for this asset partition."""
        target = await self._resolved(self._target(context, "check"))
        return target is not None and await self.client.head(target) is not None

    async def delete(self, context: IOContext) -> None:  # type: ignore[override]
        """Delete the stored object(s) for this asset partition (quietly if there are none)."""
        target = self._target(context, "delete")
        keys = [target.key]
        if _RUN_ID_MARK in target.key:
            keys = [found.key for found in await self._run_id_matches(target)]
        for key in keys:
            await self.client.delete(_with_key(target, key))

    # -- public operations for sensors -----------------------------------------------------

    async def list(
        self,
        prefix: str = "",
        *,
        bucket: str | None = None,
        start_after: str | None = None,
        page_size: int = 1000,
    ) -> builtins.list[S3Object]:
        """List the objects whose keys start with ``prefix``, in key order.

        Keys are absolute within the bucket: the manager's ``prefix`` is not added. With
        ``start_after``, only keys after it are listed. ``page_size`` is the number of keys
        asked for per request (S3 answers at most 1000).
        """
        name = self._bucket_or_error(bucket)
        target = S3Target(name, prefix, f"list s3://{name}/{prefix}", _hint(bucket))
        return await self.client.list(target, start_after=start_after, page_size=page_size)

    async def head(self, key: str, *, bucket: str | None = None) -> S3Object | None:
        """Return an object's size, ETag and last-modified time, or None when it is absent."""
        name = self._bucket_or_error(bucket)
        return await self.client.head(S3Target(name, key, f"read s3://{name}/{key}", _hint(bucket)))

    async def aclose(self) -> None:
        """Close the S3 client."""
        await self.client.aclose()

    def __repr__(self) -> str:
        return (
            f"<S3IOManager bucket={self.bucket!r} endpoint={self.client.endpoint!r} "
            f"prefix={self.prefix!r}>"
        )

    # -- keys and formats ------------------------------------------------------------------

    def _options(self, context: IOContext) -> S3Options:
        options = context.options
        if isinstance(options, S3Options):
            return options
        return S3Options(**dict(context.io_options))

    def _bucket_or_error(self, bucket: str | None) -> str:
        name = bucket or self.bucket
        if not name:
            raise ConfigurationError("no bucket given: pass bucket= or S3IOManager(bucket=...)")
        return name

    def _target(self, context: IOContext, verb: str) -> S3Target:
        options = self._options(context)
        bucket = self._bucket_or_error(options.bucket)
        hint = "io_options['bucket']" if options.bucket else "S3IOManager(bucket=...)"
        what = f"{verb} asset {context.asset!r}"
        if context.partition_key is not None:
            what += f" partition {context.partition_key!r}"
        key = self._key(context, options)
        if verb == "store":  # a {run_id} key names this run's object; other verbs search
            key = key.replace(_RUN_ID_MARK, context.run_id)
        return S3Target(bucket, key, what, hint, context.asset, context.partition)

    def _key(self, context: IOContext, options: S3Options) -> str:
        path = options.path
        ext = _DEFAULT_EXTENSION[options.format or self.format]
        escaped = (
            None if context.partition_key is None else quote(context.partition_key, _SAFE_IN_KEY)
        )
        if path is None:
            key = f"{context.asset}/{escaped}.{ext}" if escaped else f"{context.asset}.{ext}"
        elif callable(path):
            key = path(context.partition)
            if not isinstance(key, str) or not key:
                raise IOManagerError(
                    f"the path function of asset {context.asset!r} returned {key!r} for "
                    f"partition {context.partition_key!r}; it must return a non-empty str key",
                    asset=context.asset,
                    partition=context.partition,
                )
        else:
            key = path.format(
                asset=context.asset,
                partition=context.partition,
                partition_key=escaped or "__all__",
                run_id=_RUN_ID_MARK,
                pipeline=context.pipeline,
                ext=ext,
            )
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _format(self, context: IOContext, key: str) -> Format:
        options = self._options(context)
        if options.format is not None:
            return options.format
        extension = key.rsplit("/", 1)[-1].rpartition(".")[2].lower()
        return _EXTENSIONS.get(extension, self.format)

    # -- {run_id} keys: written once per run, loaded from the latest run -------------------

    async def _resolved(self, target: S3Target) -> S3Target | None:
        if _RUN_ID_MARK not in target.key:
            return target
        matches = await self._run_id_matches(target)
        if not matches:
            return None
        latest = max(matches, key=lambda found: (found.last_modified, found.key))
        return _with_key(target, latest.key)

    async def _run_id_matches(self, target: S3Target) -> builtins.list[S3Object]:
        before, _, after = target.key.partition(_RUN_ID_MARK)
        listed = await self.client.list(_with_key(target, before))
        return [
            found
            for found in listed
            if found.key.endswith(after)
            and "/" not in found.key[len(before) : len(found.key) - len(after)]
        ]

    # -- encoding --------------------------------------------------------------------------

    async def _encode(
        self, target: S3Target, fmt: Format, value: Any
    ) -> tuple[bytes, dict[str, Any]]:
        try:
            if fmt == "json":
                return json.dumps(value).encode(), {}
            if fmt == "bytes":
                if not isinstance(value, bytes | bytearray | memoryview):
                    raise TypeError(f"expected bytes, got {type(value).__qualname__}")
                return bytes(value), {}
            if fmt == "pickle":
                return await asyncio.to_thread(pickle.dumps, value, 5), {}
            table, kind = _tabular.to_arrow(value)
            data = await asyncio.to_thread(_tabular.parquet_bytes, table)
            return data, _tabular.table_metadata(table, kind)
        except (TypeError, ValueError, AttributeError, pickle.PicklingError) as exc:
            # json: TypeError / ValueError (cycles); pickle: PicklingError, or AttributeError
            # for local objects; parquet: TypeError for non-tables, ArrowInvalid (ValueError)
            raise IOManagerError(
                f"cannot {target.what}: format {fmt!r} cannot encode a value of type "
                f"{type(value).__qualname__} ({exc}); return a value that fits the format or "
                "set io_options['format'] (e.g. 'pickle')",
                asset=target.asset,
                partition=target.partition,
            ) from exc

    async def _decode(self, fmt: Format, data: bytes) -> Any:
        if fmt == "json":
            return json.loads(data)
        if fmt == "bytes":
            return data
        if fmt == "pickle":
            return await asyncio.to_thread(pickle.loads, data)
        table = await asyncio.to_thread(_tabular.read_parquet_bytes, data)
        return _tabular.from_arrow(table, _tabular.stored_kind(table))


def _with_key(target: S3Target, key: str) -> S3Target:
    return S3Target(
        target.bucket, key, target.what, target.bucket_hint, target.asset, target.partition
    )


def _hint(bucket: str | None) -> str:
    return "the bucket= argument" if bucket else "S3IOManager(bucket=...)"


def _describe(stored: S3Object) -> dict[str, Any]:
    return {
        "uri": stored.uri,
        "size": stored.size,
        "etag": stored.etag,
        "last_modified": stored.last_modified.isoformat(),
    }
