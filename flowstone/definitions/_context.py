"""``AssetContext``: what an asset function receives as its first argument."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any


class AssetContext:
    """The run-time facts of one materialization attempt.

    Attributes:
        asset: the asset name.
        partition: the partition key (``datetime.date`` for daily, ``str`` for static, a
            ``dict`` for multi partitions, ``None`` when unpartitioned).
        partition_key: the key's canonical string form.
        run_id: the run this attempt belongs to.
        attempt: 1 for the first attempt, 2 for the first retry...
        resources: the resources the asset declared, by name (only those).
        log: a logger named ``flowstone.asset.<asset>``.
        pipeline: the pipeline name.
    """

    __slots__ = (
        "_metadata",
        "asset",
        "attempt",
        "definition",
        "log",
        "partition",
        "partition_key",
        "pipeline",
        "resources",
        "run_id",
    )

    def __init__(
        self,
        *,
        asset: str,
        partition: Any,
        partition_key: str | None,
        run_id: str,
        attempt: int,
        resources: Mapping[str, Any],
        pipeline: str,
        definition: Any = None,
    ) -> None:
        self.asset = asset
        self.partition = partition
        self.partition_key = partition_key
        self.run_id = run_id
        self.attempt = attempt
        self.resources = resources
        self.pipeline = pipeline
        self.definition = definition
        self.log = logging.getLogger(f"flowstone.asset.{asset}")
        self._metadata: dict[str, Any] = {}

    def add_metadata(self, **metadata: Any) -> None:
        """Attach JSON-serialisable metadata (row counts, URLs...) to this materialization."""
        self._metadata.update(metadata)

    @property
    def metadata(self) -> dict[str, Any]:
        """Metadata added so far by ``add_metadata``."""
        return dict(self._metadata)

    def __repr__(self) -> str:
        part = f"[{self.partition_key}]" if self.partition_key is not None else ""
        return f"<AssetContext {self.asset}{part} run={self.run_id} attempt={self.attempt}>"
