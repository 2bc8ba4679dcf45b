"""``RecordReader``: the engine's read side of the record store, for one pipeline.

Answers "has this node succeeded?" in bulk (planning, input resolution) and turns stored
records into public ``Materialization``s with decoded keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowstone.engine._catalog import PartitionCatalog
from flowstone.engine._node import Node
from flowstone.engine._results import Materialization
from flowstone.storage import MaterializationRecord, Storage


class RecordReader:
    """Reads materialization records of one pipeline."""

    def __init__(self, storage: Storage, catalog: PartitionCatalog) -> None:
        self._storage = storage
        self._catalog = catalog

    async def latest_succeeded(
        self, nodes: Sequence[Node]
    ) -> dict[str | None, MaterializationRecord]:
        """Newest succeeded record per encoded partition (nodes must share one asset)."""
        if not nodes:
            return {}
        return await self._storage.latest(nodes[0].asset, [n.encoded for n in nodes])

    async def succeeded_in_run(self, run_id: str) -> list[MaterializationRecord]:
        """The succeeded records of one run (what a resumed run does not redo)."""
        records = await self._storage.materializations(run_id=run_id, status="succeeded")
        return list(records)

    def to_materialization(self, record: MaterializationRecord) -> Materialization:
        """The public form of a stored record (partition keys decoded)."""
        decode = self._catalog.decode
        inputs = [(i.asset, decode(i.asset, i.partition).value) for i in record.inputs]
        return Materialization.from_record(record, decode(record.asset, record.partition), inputs)
