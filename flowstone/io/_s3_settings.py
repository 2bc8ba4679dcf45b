"""Value types of the S3 client: stored objects, retry and multipart settings.

``S3Object``, ``S3Retry`` and ``S3Transfer`` are public (exported by ``flowstone.io``);
``S3Settings`` is internal, not part of the public API.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

MiB = 1024 * 1024
_MIN_PART = 5 * MiB  # S3 refuses smaller parts (except the last one)
_MAX_PARTS = 10_000  # S3's limit on parts per upload


@dataclass(frozen=True)
class S3Object:
    """One stored object, as listed or read by a HEAD request."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def uri(self) -> str:
        """The ``s3://bucket/key`` form."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3Retry:
    """How often and how patiently to retry throttled or failed S3 requests.

    A request answered with SlowDown / throttling / HTTP 429, any 5xx, a request timeout or
    a dropped connection is retried up to ``max_attempts`` attempts in all, sleeping a
    "full jitter" exponential backoff between them: uniform in
    ``[0, min(max_delay, base_delay * 2 ** (attempt - 1))]``. Client errors (4xx: missing
    bucket or key, bad credentials) are never retried.
    """

    max_attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"S3Retry.max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("S3Retry delays must not be negative")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Return the sleep before retrying after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * rand()


@dataclass(frozen=True)
class S3Transfer:
    """When and how to split uploads into multipart uploads.

    Bodies of ``multipart_threshold`` bytes or more are uploaded in parts of ``part_size``
    bytes (grown when the object would need more than 10,000 parts), at most
    ``max_concurrency`` parts at a time.
    """

    multipart_threshold: int = 8 * MiB
    part_size: int = 8 * MiB
    max_concurrency: int = 4

    def __post_init__(self) -> None:
        if self.part_size < _MIN_PART:
            raise ValueError(
                f"S3Transfer.part_size must be at least 5 MiB ({_MIN_PART} bytes), the "
                f"smallest part S3 accepts; got {self.part_size}"
            )
        if self.multipart_threshold < 1 or self.max_concurrency < 1:
            raise ValueError("S3Transfer.multipart_threshold and max_concurrency must be >= 1")

    def part_size_for(self, size: int) -> int:
        """Return the part size to use for a body of ``size`` bytes."""
        return max(self.part_size, -(-size // _MAX_PARTS))


@dataclass(frozen=True)
class S3Settings:
    """Connection settings of an ``S3Client`` (internal)."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    retry: S3Retry = S3Retry()
    transfer: S3Transfer = S3Transfer()
