"""The I/O manager interface: how an asset's value is stored and loaded.

Methods may be plain functions or coroutines. The engine awaits coroutine methods on the
event loop and runs plain methods in its worker thread pool, so a blocking implementation
never stalls the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class IOOptions(BaseModel):
    """Per-asset options of an I/O manager (``io_options=`` on the asset).

    Subclass it and set ``IOManager.options_model``; unknown keys are refused, so a typo in
    ``io_options`` is reported when the ``Runtime`` is built.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)


@dataclass(frozen=True)
class IOContext:
    """What an I/O manager knows about the value it stores or loads.

    Attributes:
        asset: the asset name.
        partition: the partition key (``None`` for an unpartitioned asset).
        partition_key: the key's canonical string form (``None`` when unpartitioned).
        run_id: the run storing the value (for ``load``, the run that reads it).
        io_options: the asset's ``io_options`` as given.
        options: the same, validated by the manager's ``options_model``.
        pipeline: the pipeline name.
        metadata: the asset's definition metadata.
    """

    asset: str
    partition: Any
    partition_key: str | None
    run_id: str
    io_options: Mapping[str, Any] = field(default_factory=dict)
    options: IOOptions = field(default_factory=IOOptions)
    pipeline: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default=logging.getLogger("flowstone.io"), repr=False)


class IOManager:
    """Base class for I/O managers. Subclass and implement the four methods.

    ``store`` may return a dict of metadata (location, size, rows...) that is recorded with
    the materialization. Exceptions raised by these methods fail the materialization attempt
    (they are retried under the asset's retry policy like any user-code error).
    """

    options_model: ClassVar[type[IOOptions]] = IOOptions
    inline: ClassVar[bool] = False
    """True when the plain (non-async) methods are cheap and non-blocking, so the engine
    calls them on the event loop instead of handing them to a worker thread."""

    def store(self, context: IOContext, value: Any) -> Mapping[str, Any] | None:
        """Persist ``value`` for ``context.asset`` / ``context.partition``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement store()")

    def load(self, context: IOContext) -> Any:
        """Return the value stored for ``context.asset`` / ``context.partition``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement load()")

    def exists(self, context: IOContext) -> bool:
        """Return True when a value is stored for this asset partition."""
        raise NotImplementedError(f"{type(self).__name__} does not implement exists()")

    def delete(self, context: IOContext) -> None:
        """Delete the stored value (a no-op when there is none)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement delete()")

    def validate_options(self, options: Mapping[str, Any]) -> IOOptions:
        """Validate an asset's ``io_options`` against ``options_model`` (raises on error)."""
        return self.options_model(**dict(options))

    async def aclose(self) -> None:
        """Release clients and pools; called once when the runtime closes."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
