"""``PartitionCatalog``: the stored keys of dynamic partitions, and decoding stored keys.

Dynamic partition sets live in the record store; the catalog loads them when the engine
starts, answers "every key" questions from memory and refuses a dynamic key that was never
added. It also turns stored partition strings back into ``PartitionKey``s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowstone.errors import InvalidPartition
from flowstone.partitions import DynamicPartitions, MultiPartitions, PartitionKey
from flowstone.storage import Storage

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._node import Node


class PartitionCatalog:
    """Dynamic partition keys of one pipeline, cached from the store."""

    def __init__(self, assets: Mapping[str, AssetDefinition], storage: Storage) -> None:
        self._assets = assets
        self._storage = storage
        self._keys: dict[str, list[str]] = {}

    async def load(self) -> None:
        """Read every dynamic partitions set the pipeline uses from the store."""
        for name in _dynamic_names(self._assets.values()):
            self._keys[name] = await self._storage.dynamic_partitions(name)

    def stored_keys(self, definition: Any) -> Any:
        """The stored keys a definition needs for "every key" questions (None if static)."""
        if isinstance(definition, DynamicPartitions):
            return self._keys.get(definition.name, [])
        if isinstance(definition, MultiPartitions):
            found = {
                dim: self._keys.get(d.name, [])
                for dim, d in definition.dimensions.items()
                if isinstance(d, DynamicPartitions)
            }
            return found or None
        return None

    async def add(self, name: str, keys: Sequence[str]) -> list[str]:
        """Persist new keys of a dynamic partitions set; return the new ones.

        Raises:
            InvalidPartition: a key is not a usable key, checked before any store sees it.
        """
        keys = DynamicPartitions(name).check_new_keys(keys)
        added = await self._storage.add_dynamic_partitions(name, keys)
        self._keys[name] = await self._storage.dynamic_partitions(name)
        return added

    def check(self, asset: AssetDefinition, node: Node) -> None:
        """Refuse a dynamic partition key that was never added."""
        definition = asset.partitions
        if not isinstance(definition, DynamicPartitions):
            return
        known = self._keys.get(definition.name, [])
        if node.key not in known:
            raise InvalidPartition(
                f"asset {asset.name!r}: partition {node.key!r} is not a key of dynamic "
                f"partitions {definition.name!r} ({len(known)} keys stored); add it first "
                f"with rt.add_dynamic_partitions({definition.name!r}, [{node.key!r}])"
            )

    def decode(self, asset: str, encoded: str | None) -> PartitionKey:
        """The key of a stored partition string of ``asset`` (unknown assets keep the text)."""
        definition = self._assets.get(asset)
        return PartitionKey.from_encoded(
            definition.partitions if definition is not None else None, encoded
        )


def _dynamic_names(assets: Any) -> set[str]:
    names: set[str] = set()
    for asset in assets:
        definition = asset.partitions
        if isinstance(definition, DynamicPartitions):
            names.add(definition.name)
        elif isinstance(definition, MultiPartitions):
            names.update(
                d.name for d in definition.dimensions.values() if isinstance(d, DynamicPartitions)
            )
    return names


DynamicKeysOf = Callable[[Any], Any]
