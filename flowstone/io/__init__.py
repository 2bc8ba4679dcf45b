"""I/O managers: where asset values are stored and how they are loaded back.

Layout: ``_manager`` holds the interface (``IOManager``, ``IOOptions``, ``IOContext``);
each implementation has its own module. The memory and local-filesystem managers are
imported eagerly; those that pull in heavy client libraries (S3, Parquet, PostgreSQL) are
imported on first use, so ``import flowstone`` stays fast and works without them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from flowstone.io._filesystem import FilesystemIOManager as FilesystemIOManager
from flowstone.io._filesystem import FilesystemOptions as FilesystemOptions
from flowstone.io._manager import IOContext as IOContext
from flowstone.io._manager import IOManager as IOManager
from flowstone.io._manager import IOOptions as IOOptions
from flowstone.io._memory import MemoryIOManager as MemoryIOManager

_LAZY = {
    "S3IOManager": "flowstone.io._s3",
    "S3Options": "flowstone.io._s3",
    "S3Object": "flowstone.io._s3",
    "S3Retry": "flowstone.io._s3",
    "S3Transfer": "flowstone.io._s3",
    "ParquetIOManager": "flowstone.io._parquet",
    "ParquetOptions": "flowstone.io._parquet",
    "PostgresIOManager": "flowstone.io._postgres",
    "PostgresOptions": "flowstone.io._postgres",
}

__all__ = (
    "FilesystemIOManager",
    "FilesystemOptions",
    "IOContext",
    "IOManager",
    "IOOptions",
    "MemoryIOManager",
    "ParquetIOManager",
    "ParquetOptions",
    "PostgresIOManager",
    "PostgresOptions",
    "S3IOManager",
    "S3Object",
    "S3Options",
    "S3Retry",
    "S3Transfer",
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowstone.io' has no attribute {name!r}")
    try:
        value = getattr(import_module(module), name)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise  # the module exists but a library it needs is missing: say which
        raise AttributeError(f"flowstone.io.{name} is not available in this version") from None
    _publish(value)
    globals()[name] = value
    return value


def _publish(obj: Any) -> None:
    # Reprs and tracebacks say ``flowstone.io.S3IOManager``, not its private module.
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("flowstone.io._"):
        try:
            obj.__module__ = "flowstone.io"
        except (AttributeError, TypeError):
            pass


def __dir__() -> list[str]:
    return sorted(__all__)


for _name in __all__:
    if _name in globals():
        _publish(globals()[_name])
