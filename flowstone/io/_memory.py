"""``MemoryIOManager``: values kept in a dict, for tests and notebooks."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flowstone.errors import IOManagerError
from flowstone.io._manager import IOContext, IOManager


class MemoryIOManager(IOManager):
    """Keep each value in memory, keyed by (pipeline, asset, partition key), exactly as
    returned (one manager may serve several pipelines without mixing their values).

    Values are not copied: an asset that mutates its input changes the stored value. Nothing
    survives the process. Safe to use from the engine's worker threads.
    """

    inline = True  # dict operations never block: the engine calls them on the loop

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str | None], Any] = {}
        # The engine calls plain methods from its thread pool.
        self._lock = threading.Lock()

    def store(self, context: IOContext, value: Any) -> Mapping[str, Any] | None:
        """Keep ``value`` for the asset partition, replacing any earlier one."""
        with self._lock:
            self._values[_key(context)] = value
        return None

    def load(self, context: IOContext) -> Any:
        """Return the kept value.

        Raises:
            IOManagerError: when nothing is kept for this asset partition.
        """
        with self._lock:
            try:
                return self._values[_key(context)]
            except KeyError:
                pass
        raise IOManagerError(
            f"no value in memory for {_describe(context)}; materialize it first (values in "
            "memory do not survive the process)",
            asset=context.asset,
            partition=context.partition,
        )

    def exists(self, context: IOContext) -> bool:
        """Return True when a value is kept for the asset partition."""
        with self._lock:
            return _key(context) in self._values

    def delete(self, context: IOContext) -> None:
        """Forget the value of the asset partition (a no-op when there is none)."""
        with self._lock:
            self._values.pop(_key(context), None)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def __repr__(self) -> str:
        return f"<MemoryIOManager {len(self)} values>"


def _key(context: IOContext) -> tuple[str, str, str | None]:
    return (context.pipeline, context.asset, context.partition_key)


def _describe(context: IOContext) -> str:
    if context.partition_key is None:
        return f"asset {context.asset!r}"
    return f"asset {context.asset!r} partition {context.partition_key!r}"
