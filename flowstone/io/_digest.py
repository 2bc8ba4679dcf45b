"""Content digests of what I/O managers store: the SHA-256 of the exact bytes written,
recorded in the materialization's metadata as ``sha256`` so an audit can prove which data
was produced and approved.

Internal. (An S3 ETag is not such a digest: for a multipart upload it is an MD5 of the
parts' MD5s with a part count, and with SSE-KMS not an MD5 of the content at all.)
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

DIGEST_KEY = "sha256"
"""The metadata key holding the hex SHA-256 of the stored bytes."""

_CHUNK = 1 << 20


def sha256_hex(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> str:
    """Return the hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashingWriter:
    """A write-only file wrapper that hashes every byte on its way to ``file``."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        """Write and hash ``data``."""
        self._digest.update(data)
        return self._file.write(data)

    def hexdigest(self) -> str:
        """Return the hex SHA-256 of everything written so far."""
        return self._digest.hexdigest()
