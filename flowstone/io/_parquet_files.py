"""Where ``ParquetIOManager`` keeps its files: a local directory or an S3 prefix (internal).

Both stores read and write whole Parquet files in one partition directory. Local writes are
atomic (a temporary file in the same directory, fsync'ed, then renamed over the target);
S3 writes are atomic by nature and go through the shared ``S3Client`` (retries, multipart,
clear errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from flowstone.errors import IOManagerError

from . import _tabular
from ._digest import DIGEST_KEY, file_sha256, sha256_hex
from ._parquet_layout import FILE_NAME as _FILE
from ._s3_client import S3Client
from ._s3_errors import S3Target


@dataclass(frozen=True)
class Where:
    """What a file operation is about, for messages (an ``S3Target`` without the key)."""

    what: str
    asset: str | None
    partition: Any


class ParquetFiles(Protocol):
    """A place holding partition directories of Parquet files (internal)."""

    def location(self, directory: str) -> str:
        """The directory as users name it (an absolute path or an ``s3://`` URI)."""
        ...

    async def write(
        self, directory: str, table: pa.Table, options: dict[str, Any], where: Where
    ) -> dict[str, Any]:
        """Write ``table`` as the directory's only Parquet file; return its description."""
        ...

    async def names(self, directory: str, where: Where) -> list[str]:
        """The Parquet files directly in ``directory``, sorted."""
        ...

    async def read(self, directory: str, name: str, where: Where) -> pa.Table:
        """Read one file."""
        ...

    async def remove(self, directory: str, names: list[str], where: Where) -> None:
        """Delete files of ``directory``."""
        ...

    async def aclose(self) -> None:
        """Release clients."""
        ...


def _is_data_file(name: str) -> bool:
    # pyarrow.dataset skips names starting with "." or "_" too (temporary files, _SUCCESS).
    return name.endswith(".parquet") and not name.startswith((".", "_"))


class LocalFiles:
    """Partition directories under a local base directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(root))

    def location(self, directory: str) -> str:
        return str(self.root / directory)

    async def write(
        self, directory: str, table: pa.Table, options: dict[str, Any], where: Where
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self._write, directory, table, options)

    def _write(self, directory: str, table: pa.Table, options: dict[str, Any]) -> dict[str, Any]:
        folder = self.root / directory
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / _FILE
        temporary = folder / f".{_FILE}.{secrets.token_hex(6)}.tmp"
        try:
            with temporary.open("xb") as file:
                pq.write_table(table, file, **options)
                file.flush()
                os.fsync(file.fileno())
                size = file.tell()
            sha256 = file_sha256(str(temporary))
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(folder)
        # The partition is replaced as a whole: files another writer left there go too.
        for other in self._names(directory):
            if other != _FILE:
                (folder / other).unlink(missing_ok=True)
        return {"path": str(target), "uri": target.as_uri(), "size": size, DIGEST_KEY: sha256}

    async def names(self, directory: str, where: Where) -> list[str]:
        return await asyncio.to_thread(self._names, directory)

    def _names(self, directory: str) -> list[str]:
        try:
            entries = list(os.scandir(self.root / directory))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(e.name for e in entries if e.is_file() and _is_data_file(e.name))

    async def read(self, directory: str, name: str, where: Where) -> pa.Table:
        path = self.root / directory / name

        def read() -> pa.Table:
            with pq.ParquetFile(path) as file:
                return file.read()

        return await asyncio.to_thread(read)

    async def remove(self, directory: str, names: list[str], where: Where) -> None:
        await asyncio.to_thread(self._remove, directory, names)

    def _remove(self, directory: str, names: list[str]) -> None:
        folder = self.root / directory
        for name in names:
            (folder / name).unlink(missing_ok=True)
        # Drop the partition directories left empty, innermost first, never the base.
        while folder != self.root and folder.is_relative_to(self.root):
            with contextlib.suppress(OSError):
                folder.rmdir()
            if folder.exists():
                break
            folder = folder.parent

    async def aclose(self) -> None:
        return None


class S3Files:
    """Partition directories under ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def _key(self, directory: str, name: str = "") -> str:
        return "/".join(part for part in (self.prefix, directory, name) if part)

    def location(self, directory: str) -> str:
        return f"s3://{self.bucket}/{self._key(directory)}/"

    def _target(self, key: str, where: Where) -> S3Target:
        hint = "the bucket of ParquetIOManager's base_path"
        return S3Target(self.bucket, key, where.what, hint, where.asset, where.partition)

    async def write(
        self, directory: str, table: pa.Table, options: dict[str, Any], where: Where
    ) -> dict[str, Any]:
        """Upload ``table`` as ``part-0.parquet`` and delete the directory's other files."""
        data = await asyncio.to_thread(_tabular.parquet_bytes, table, **options)
        stored = await self.client.put(
            self._target(self._key(directory, _FILE), where),
            data,
            content_type="application/vnd.apache.parquet",
        )
        others = [name for name in await self.names(directory, where) if name != _FILE]
        await self.remove(directory, others, where)
        return {
            "uri": stored.uri,
            "size": stored.size,
            "etag": stored.etag,
            "last_modified": stored.last_modified.isoformat(),
            DIGEST_KEY: sha256_hex(data),
        }

    async def names(self, directory: str, where: Where) -> list[str]:
        prefix = self._key(directory) + "/"
        listed = await self.client.list(self._target(prefix, where))
        names = (found.key[len(prefix) :] for found in listed)
        return sorted(name for name in names if "/" not in name and _is_data_file(name))

    async def read(self, directory: str, name: str, where: Where) -> pa.Table:
        target = self._target(self._key(directory, name), where)
        data = await self.client.get(target)
        if data is None:
            raise IOManagerError(
                f"cannot {where.what}: {target.uri} was deleted while it was being read; "
                "another writer is replacing this partition, try again",
                asset=where.asset,
                partition=where.partition,
            )
        return await asyncio.to_thread(_tabular.read_parquet_bytes, data)

    async def remove(self, directory: str, names: list[str], where: Where) -> None:
        for name in names:
            await self.client.delete(self._target(self._key(directory, name), where))

    async def aclose(self) -> None:
        await self.client.aclose()


def _fsync_directory(path: Path) -> None:
    # Makes the rename durable; not every platform can open a directory.
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
