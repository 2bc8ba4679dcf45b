"""Module-level shortcuts on a default runtime, as in the original design::

fs.configure(pipeline, storage="memory")
fs.materialize_all("daily_report", partition="2025-01-15")
fs.lineage.upstream("daily_report", "2025-01-15")
"""

from __future__ import annotations

import atexit
from typing import Any

from flowstone.engine._results import BackfillResult, RunResult
from flowstone.runtime._sync_runtime import Runtime

_default: Runtime | None = None


def configure(pipeline: Any, **runtime_kwargs: Any) -> Runtime:
    """Build the default runtime (closing a previous one) and return it."""
    global _default
    if _default is not None:
        _default.close()
    _default = Runtime(pipeline, **runtime_kwargs)
    return _default


def default_runtime() -> Runtime:
    """Return the runtime set by ``configure``."""
    if _default is None:
        raise RuntimeError(
            "no default runtime: call fs.configure(pipeline, storage=...) first, or build "
            "an fs.Runtime(pipeline) and call its methods"
        )
    return _default


def materialize(asset: str, partition: Any = None) -> RunResult:
    """``materialize`` on the default runtime."""
    return default_runtime().materialize(asset, partition)


def materialize_all(asset: str, partition: Any = None) -> RunResult:
    """``materialize_all`` on the default runtime."""
    return default_runtime().materialize_all(asset, partition)


def backfill(asset: str, partitions: Any, max_parallel: int = 10, **kw: Any) -> BackfillResult:
    """``backfill`` on the default runtime."""
    return default_runtime().backfill(asset, partitions, max_parallel, **kw)


class _DefaultLineage:
    """``fs.lineage``: lineage queries on the default runtime."""

    def upstream(self, asset: str, partition: Any = None, **kw: Any) -> list[tuple[str, Any]]:
        """See ``Runtime.lineage.upstream``."""
        return default_runtime().lineage.upstream(asset, partition, **kw)

    def downstream(self, asset: str, partition: Any = None) -> list[tuple[str, Any]]:
        """See ``Runtime.lineage.downstream``."""
        return default_runtime().lineage.downstream(asset, partition)

    def impact(self, asset: str, partition: Any = None) -> list[Any]:
        """See ``Runtime.lineage.impact``."""
        return default_runtime().lineage.impact(asset, partition)

    def stale(self, asset: str | None = None) -> list[Any]:
        """See ``Runtime.lineage.stale``."""
        return default_runtime().lineage.stale(asset)


lineage = _DefaultLineage()


def _close_default() -> None:
    global _default
    if _default is not None:
        _default.close()
        _default = None


atexit.register(_close_default)
