"""A small asynchronous S3 client shared by the S3 and Parquet I/O managers.

Internal, not part of the public API (its value types are in ``_s3_settings``). One
aiobotocore client per owner, created lazily on first use and closed by ``aclose()``; every
request goes through one bounded retry loop; large bodies go up as
multipart uploads that are aborted when any part fails; botocore errors become
``IOManagerError`` messages that say what to fix (see ``_s3_errors``).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from flowstone.errors import IOManagerError

from ._s3_settings import MiB, S3Object, S3Retry, S3Settings, S3Transfer

__all__ = ("MiB", "S3Client", "S3Object", "S3Retry", "S3Settings", "S3Transfer")
from ._s3_errors import CredentialInfo, S3Target, error_code, is_retryable, to_io_error

_log = logging.getLogger("flowstone.io.s3")


_shared_loader: Any = None


def _new_session() -> Any:
    """A session of its own (credentials, config) sharing botocore's model loader.

    Loading and parsing the S3 service model costs ~0.1-0.2 s per session; the loader
    caches it, so managers share one loader (its caches are plain dicts) and open clients
    in ~10 ms.
    """
    global _shared_loader
    session = get_session()
    if _shared_loader is None:
        _shared_loader = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _shared_loader)
    return session


def _resolved_endpoint(settings: S3Settings) -> str | None:
    # botocore reads AWS_ENDPOINT_URL itself; reading it here too lets errors name the
    # endpoint and lets path-style addressing be chosen for custom endpoints.
    return (
        settings.endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


def _resolved_region(settings: S3Settings) -> str:
    return (
        settings.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )


class S3Client:
    """An aiobotocore S3 client with retries, multipart uploads and clear errors (internal).

    The client is bound to the event loop that first uses it; ``aclose()`` must run there.
    """

    def __init__(
        self,
        settings: S3Settings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.endpoint_url = _resolved_endpoint(settings)
        self.region = _resolved_region(settings)
        self._sleep = sleep
        self._session = _new_session()
        self._context: Any = None
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # A copy (pickled to a worker process) opens its own client on its own loop.
        return {"settings": self.settings, "sleep": self._sleep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"], sleep=state["sleep"])  # type: ignore[misc]

    @property
    def endpoint(self) -> str:
        """The endpoint requests go to, for messages."""
        if self._client is not None:
            return str(self._client.meta.endpoint_url)
        return self.endpoint_url or f"https://s3.{self.region}.amazonaws.com"

    async def _get_client(self) -> Any:
        if self._client is not None and self._loop is not asyncio.get_running_loop():
            raise IOManagerError(
                f"the S3 client of this I/O manager was opened on another event loop "
                f"({self._loop!r}); aiohttp clients cannot move between loops: call "
                "`await manager.aclose()` on that loop before using the manager on another, "
                "or give each loop its own manager"
            )
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    await self._open()
        return self._client

    async def _open(self) -> None:
        s = self.settings
        config = AioConfig(
            # Retries are ours (see ``call``): botocore's would multiply with them.
            retries={"total_max_attempts": 1},
            max_pool_connections=max(10, s.transfer.max_concurrency * 2),
            # Custom endpoints (MinIO, moto, Ceph) rarely resolve bucket subdomains.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        context = self._session.create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=s.access_key_id,
            aws_secret_access_key=s.secret_access_key,
            aws_session_token=s.session_token,
            config=config,
        )
        self._client = await context.__aenter__()
        self._context = context
        self._loop = asyncio.get_running_loop()

    async def aclose(self) -> None:
        """Close the underlying client (it is opened again on next use)."""
        context, self._context, self._client = self._context, None, None
        if context is not None:
            await context.__aexit__(None, None, None)

    async def credential_info(self) -> CredentialInfo:
        """Say where the credentials come from, for error messages."""
        s = self.settings
        if s.access_key_id:
            return CredentialInfo("explicit", s.access_key_id)
        credentials = await self._session.get_credentials()
        if credentials is None:
            return CredentialInfo(None, None)
        frozen = await credentials.get_frozen_credentials()
        return CredentialInfo(getattr(credentials, "method", None), frozen.access_key)

    async def call(
        self, operation: str, target: S3Target, *, read_body: bool = False, **params: Any
    ) -> dict[str, Any]:
        """Run one S3 operation with bounded retries; raise ``IOManagerError`` on failure.

        With ``read_body`` the response body is read inside the retried block (a connection
        dropped mid-body is retried too) and returned under ``"Data"``.
        """
        try:
            return await self._attempt(operation, target, read_body, params)
        except _RequestFailedError as failed:
            raise await self._translate(failed, target) from failed.error

    async def _translate(self, failed: _RequestFailedError, target: S3Target) -> IOManagerError:
        return await to_io_error(failed.error, target, self, attempts=failed.attempts)

    async def _attempt(
        self, operation: str, target: S3Target, read_body: bool, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        client = await self._get_client()
        retry = self.settings.retry
        for attempt in range(1, retry.max_attempts + 1):
            try:
                response: dict[str, Any] = await getattr(client, operation)(**params)
                if read_body:
                    async with response["Body"] as body:
                        response["Data"] = await body.read()
                return response
            except Exception as exc:
                if not is_retryable(exc) or attempt == retry.max_attempts:
                    raise _RequestFailedError(exc, attempt) from exc
                delay = retry.delay(attempt)
                _log.warning(
                    "S3 %s of %s failed (%s); retry %d of %d in %.2fs",
                    operation,
                    target.uri,
                    exc,
                    attempt,
                    retry.max_attempts - 1,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable: the retry loop returns or raises")

    async def head(self, target: S3Target) -> S3Object | None:
        """Return the object's size, ETag and last-modified time, or None when it is absent.

        A missing bucket is an error, not an absent object.
        """
        where: dict[str, Any] = {"Bucket": target.bucket, "Key": target.key}
        try:
            response = await self._attempt("head_object", target, False, where)
        except _RequestFailedError as failed:
            if error_code(failed.error) not in {"404", "NoSuchKey", "NotFound"}:
                raise await self._translate(failed, target) from failed.error
            # A HEAD answer has no body, so "no such bucket" and "no such key" look alike.
            await self.call("head_bucket", target, Bucket=target.bucket)
            return None
        return _object(target, response)

    async def get(self, target: S3Target) -> bytes | None:
        """Return the object's bytes, or None when the key does not exist."""
        where: dict[str, Any] = {"Bucket": target.bucket, "Key": target.key}
        try:
            response = await self._attempt("get_object", target, True, where)
        except _RequestFailedError as failed:
            if error_code(failed.error) == "NoSuchKey":
                return None
            raise await self._translate(failed, target) from failed.error
        data: bytes = response["Data"]
        return data

    async def put(
        self,
        target: S3Target,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> S3Object:
        """Upload ``data`` (multipart above the transfer threshold) and return its HEAD."""
        extra: dict[str, Any] = {"ContentType": content_type, "Metadata": dict(metadata or {})}
        if len(data) >= self.settings.transfer.multipart_threshold:
            await self._put_multipart(target, data, extra)
        else:
            await self.call(
                "put_object", target, Bucket=target.bucket, Key=target.key, Body=data, **extra
            )
        stored = await self.head(target)
        if stored is None:  # S3 is read-after-write consistent; this means a broken endpoint
            raise await to_io_error(LookupError("object vanished after upload"), target, self)
        return stored

    async def _put_multipart(self, target: S3Target, data: bytes, extra: dict[str, Any]) -> None:
        where: dict[str, Any] = {"Bucket": target.bucket, "Key": target.key}
        created = await self.call("create_multipart_upload", target, **where, **extra)
        upload_id = created["UploadId"]
        try:
            parts = await self._upload_parts(target, data, upload_id)
            await self.call(
                "complete_multipart_upload",
                target,
                **where,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # Shielded so that a cancelled store still releases the parts S3 keeps (and bills).
            await asyncio.shield(self._abort(target, upload_id))
            raise

    async def _upload_parts(
        self, target: S3Target, data: bytes, upload_id: str
    ) -> builtins.list[dict[str, Any]]:
        size = self.settings.transfer.part_size_for(len(data))
        view = memoryview(data)
        gate = asyncio.Semaphore(self.settings.transfer.max_concurrency)

        async def upload(number: int, offset: int) -> dict[str, Any]:
            async with gate:
                response = await self.call(
                    "upload_part",
                    target,
                    Bucket=target.bucket,
                    Key=target.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=bytes(view[offset : offset + size]),
                )
            return {"PartNumber": number, "ETag": response["ETag"]}

        tasks = [
            asyncio.ensure_future(upload(number, offset))
            for number, offset in enumerate(range(0, len(data), size), start=1)
        ]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _abort(self, target: S3Target, upload_id: str) -> None:
        try:
            await self.call(
                "abort_multipart_upload",
                target,
                Bucket=target.bucket,
                Key=target.key,
                UploadId=upload_id,
            )
        except Exception as exc:  # the original failure matters more; say what is left over
            _log.error("could not abort multipart upload %s of %s: %s", upload_id, target.uri, exc)

    async def delete(self, target: S3Target) -> None:
        """Delete the object (S3 answers success for a missing key too)."""
        await self.call("delete_object", target, Bucket=target.bucket, Key=target.key)

    async def list(
        self, target: S3Target, *, start_after: str | None = None, page_size: int = 1000
    ) -> builtins.list[S3Object]:
        """List every object whose key starts with ``target.key``, in key order."""
        params: dict[str, Any] = {
            "Bucket": target.bucket,
            "Prefix": target.key,
            "MaxKeys": page_size,
        }
        if start_after:
            params["StartAfter"] = start_after
        found: builtins.list[S3Object] = []
        while True:
            page = await self.call("list_objects_v2", target, **params)
            found.extend(
                S3Object(
                    bucket=target.bucket,
                    key=item["Key"],
                    size=int(item["Size"]),
                    etag=str(item["ETag"]).strip('"'),
                    last_modified=item["LastModified"],
                )
                for item in page.get("Contents", ())
            )
            if not page.get("IsTruncated"):
                return found
            params["ContinuationToken"] = page["NextContinuationToken"]


class _RequestFailedError(Exception):
    """A request that failed for good: the last error and how many attempts were made."""

    def __init__(self, error: Exception, attempts: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


def _object(target: S3Target, head: Mapping[str, Any]) -> S3Object:
    return S3Object(
        bucket=target.bucket,
        key=target.key,
        size=int(head["ContentLength"]),
        etag=str(head["ETag"]).strip('"'),
        last_modified=head["LastModified"],
    )
