"""``AssetInfo``: the descriptive facts about an asset that do not change how it runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, final

from flowstone.errors import DefinitionError


@final
@dataclass(frozen=True)
class AssetInfo:
    """Catalogue information of an asset, given as ``@pipeline.asset(info=fs.AssetInfo(...))``.

    Grouping these keeps the decorator short: they describe the asset for people and tools
    (the dashboard, ``flowstone list``) and never change how it is materialized.

    Args:
        metadata: free-form facts (values of any type), e.g. ``{"sla_hours": 6}``.
        tags: string labels, e.g. ``{"tier": "gold"}``.
        owners: people or teams responsible, e.g. ``["data-eng@example.com"]``.
        group: a group name used to organise assets in listings (default ``"default"``).
        code_version: a version string; when it changes, downstream materializations are
            stale.

    Raises:
        DefinitionError: when a field has the wrong type.
    """

    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    owners: Sequence[str] = ()
    group: str = "default"
    code_version: str | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise DefinitionError(f"invalid AssetInfo: {'; '.join(problems)}")
        # Copies, so that later changes to the caller's dicts do not leak into the definition.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        object.__setattr__(self, "owners", tuple(self.owners))


def _problems(info: AssetInfo) -> list[str]:
    problems = []
    if not isinstance(info.metadata, Mapping) or not all(isinstance(k, str) for k in info.metadata):
        problems.append(f"metadata must be a dict with string keys, got {info.metadata!r}")
    if not isinstance(info.tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in info.tags.items()
    ):
        problems.append(f"tags must be a dict of strings to strings, got {info.tags!r}")
    if isinstance(info.owners, str | bytes) or not (
        isinstance(info.owners, Sequence) and all(isinstance(o, str) for o in info.owners)
    ):
        problems.append(f"owners must be a list of strings, got {info.owners!r}")
    if not isinstance(info.group, str) or not info.group:
        problems.append(f"group must be a non-empty string, got {info.group!r}")
    if info.code_version is not None and not isinstance(info.code_version, str):
        problems.append(f"code_version must be a string or None, got {info.code_version!r}")
    return problems
