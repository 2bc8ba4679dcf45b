"""Assets made in a loop by a factory: shard_0..shard_2 each read raw, total reads them all."""

from __future__ import annotations

from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("factory")
SHARDS = 3


@pipeline.asset
def raw(context: Any) -> list[int]:
    return list(range(30))


def make_shard(index: int) -> fs.AssetDefinition:
    def shard(context: Any, raw: list[int]) -> list[int]:
        return raw[index::SHARDS]

    return pipeline.asset(name=f"shard_{index}", depends_on=["raw"])(shard)


shards = [make_shard(i) for i in range(SHARDS)]


def total(context: Any, **shards: list[int]) -> int:
    return sum(sum(values) for values in shards.values())


pipeline.asset(name="total", depends_on=[s.name for s in shards])(total)
