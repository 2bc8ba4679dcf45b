"""Which S3 failures are retried, and how failures are explained (internal).

Every message names the operation, the asset partition or S3 URI involved, the endpoint, and
the one thing to change: the bucket setting, the credentials' source, the endpoint.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from botocore import exceptions as boto

from flowstone.errors import IOManagerError

if TYPE_CHECKING:
    from ._s3_client import S3Client

# Error codes S3 (and S3-compatible stores) use for "slow down" and transient failures.
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "PriorRequestNotComplete",
    }
)
_NETWORK_ERRORS = (
    boto.ConnectionError,
    boto.HTTPClientError,
    boto.IncompleteReadError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)
_AUTH_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)
_SOURCES = {
    "explicit": "the access_key_id= / secret_access_key= arguments",
    "env": "the environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
    "shared-credentials-file": (
        "the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default "
        "~/.aws/credentials, profile AWS_PROFILE)"
    ),
    "config-file": "the AWS config file (AWS_CONFIG_FILE, default ~/.aws/config)",
}


@dataclass(frozen=True)
class S3Target:
    """What a request is about, for retries' logs and error messages (internal).

    ``what`` completes "cannot ..." (``"load asset 'events' partition '2025-01-15'"``);
    ``bucket_hint`` says where the bucket name was configured.
    """

    bucket: str
    key: str
    what: str
    bucket_hint: str = "the bucket setting"
    asset: str | None = None
    partition: Any = None

    @property
    def uri(self) -> str:
        """The ``s3://bucket/key`` form."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class CredentialInfo:
    """Where credentials came from (botocore's provider name) and the access key id."""

    method: str | None
    access_key_id: str | None

    @property
    def source(self) -> str:
        """A sentence fragment naming the variables or arguments that supply them."""
        if self.method is None:
            return "nowhere (no credentials were found)"
        return _SOURCES.get(self.method, f"botocore's {self.method!r} credential provider")

    @property
    def masked_key(self) -> str:
        """The access key id with its middle hidden."""
        key = self.access_key_id or ""
        return f"{key[:4]}...{key[-4:]}" if len(key) > 8 else key


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ``ClientError`` (None for other exceptions)."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def is_retryable(exc: BaseException) -> bool:
    """Return True for throttling, 5xx, timeouts and dropped connections."""
    if isinstance(exc, boto.SSLError):
        return False
    if isinstance(exc, _NETWORK_ERRORS):
        return True
    status = _status(exc)
    return error_code(exc) in _TRANSIENT_CODES or status == 429 or (status or 0) >= 500


async def to_io_error(
    exc: BaseException, target: S3Target, client: S3Client, *, attempts: int = 1
) -> IOManagerError:
    """Explain ``exc`` as an ``IOManagerError`` (the caller chains ``exc`` as its cause)."""
    message = f"cannot {target.what}: " + await _explain(exc, target, client, attempts)
    return IOManagerError(message, asset=target.asset, partition=target.partition)


async def _explain(exc: BaseException, target: S3Target, client: S3Client, attempts: int) -> str:
    code, status, endpoint = error_code(exc), _status(exc), client.endpoint
    if code == "NoSuchBucket" or (code == "404" and exc_operation(exc) == "HeadBucket"):
        return (
            f"bucket {target.bucket!r} does not exist at {endpoint}; "
            f"create it or fix {target.bucket_hint}"
        )
    if code in _AUTH_CODES:
        return _explain_credentials(code, endpoint, await client.credential_info())
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (
            "no complete AWS credentials were found; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass access_key_id= and "
            "secret_access_key= to the I/O manager"
        )
    if code in {"AccessDenied", "403"}:
        info = await client.credential_info()
        return (
            f"access to {target.uri} was denied ({code}) for the access key "
            f"{info.masked_key!r}; grant that identity the S3 permission it needs "
            f"(the credentials come from {info.source})"
        )
    if isinstance(exc, _NETWORK_ERRORS):
        return (
            f"could not reach the S3 endpoint {endpoint} after {attempts} attempt(s) ({exc}); "
            "check endpoint_url= or the AWS_ENDPOINT_URL environment variable"
        )
    if is_retryable(exc):
        return (
            f"S3 at {endpoint} kept answering {code} (HTTP {status}) for {target.uri}; "
            f"gave up after {attempts} attempts"
        )
    if code is not None:
        detail = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        return f"S3 at {endpoint} answered {code} (HTTP {status}) for {target.uri}: {detail}"
    return f"{type(exc).__name__} for {target.uri}: {exc}"


def _explain_credentials(code: str, endpoint: str, info: CredentialInfo) -> str:
    fix = (
        f"the credentials come from {info.source}; fix them, or pass access_key_id= and "
        "secret_access_key= to the I/O manager"
    )
    if code == "InvalidAccessKeyId":
        return f"{endpoint} does not know the access key {info.masked_key!r} ({code}); {fix}"
    if code == "SignatureDoesNotMatch":
        return (
            f"{endpoint} rejected the request signature ({code}): the secret access key does "
            f"not belong to the access key {info.masked_key!r}; {fix}"
        )
    return (
        f"{endpoint} rejected the session token of the access key {info.masked_key!r} "
        f"({code}); refresh AWS_SESSION_TOKEN or the session_token= argument; {fix}"
    )


def exc_operation(exc: BaseException) -> str | None:
    """The botocore operation name a ``ClientError`` came from."""
    name = getattr(exc, "operation_name", None)
    return str(name) if name is not None else None
