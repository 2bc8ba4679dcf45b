"""``Dep``: one dependency of an asset, with an optional partition mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from flowstone.definitions._naming import IDENTIFIER_RULE, is_identifier
from flowstone.errors import DefinitionError
from flowstone.partitions import PartitionMapping


@final
@dataclass(frozen=True)
class Dep:
    """A dependency on the asset ``name``, optionally with a partition mapping.

    Plain strings in ``depends_on`` are the same as ``Dep(name)``: the partitions of the
    two assets are matched by ``default_mapping`` (identity when the definitions agree).
    Give a ``mapping`` when they differ or to shift them, e.g. yesterday's partition:
    ``Dep("events", mapping=fs.TimeWindowMapping(-1, -1))``.

    Raises:
        DefinitionError: when ``name`` is not an asset name or ``mapping`` is not a
            ``PartitionMapping``.
    """

    name: str
    mapping: PartitionMapping | None = None

    def __post_init__(self) -> None:
        if not is_identifier(self.name):
            raise DefinitionError(
                f"Dep name must be an asset name ({IDENTIFIER_RULE}), got {self.name!r}"
            )
        if self.mapping is not None and not isinstance(self.mapping, PartitionMapping):
            raise DefinitionError(
                f"Dep({self.name!r}) mapping must be a PartitionMapping such as "
                f"fs.TimeWindowMapping(-1, -1), got {self.mapping!r}"
            )
