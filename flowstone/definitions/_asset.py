"""``AssetDefinition``: everything FlowStone knows about one asset, recorded by the
``@pipeline.asset`` decorator (see ``_asset_options`` for how the arguments are checked)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

from flowstone.definitions._asset_info import AssetInfo
from flowstone.definitions._dependency import Dep
from flowstone.definitions._naming import quoted_list, suggestion
from flowstone.definitions._ray_options import RayOptions
from flowstone.definitions._retry import RetryPolicy
from flowstone.errors import AssetNotFound, DefinitionError
from flowstone.partitions import PartitionMapping, PartitionsDefinition, default_mapping

if TYPE_CHECKING:
    from flowstone.definitions._automation_policy import Automation
    from flowstone.definitions._checkpoint import CheckpointSpec
    from flowstone.definitions._pipeline import Pipeline


@final
@dataclass(frozen=True, eq=False)
class AssetDefinition:
    """One asset of a pipeline; made by ``@pipeline.asset(...)``, never directly.

    Calling the definition calls the decorated function, so an asset can be unit-tested as
    the plain function it is: ``cleaned_events(context, raw_events=[...])``. The engine calls
    ``fn(context, **inputs)`` with one keyword argument per dependency.

    Attributes:
        name: the asset name (the function name unless ``name=`` was given).
        fn: the decorated function (sync or async).
        deps: the dependencies, in ``depends_on`` order.
        partitions: the partitions definition, or None for an unpartitioned asset.
        io_manager: the key of the I/O manager that stores the value.
        io_options: that manager's per-asset options, as given (validated by the runtime).
        description: the ``description=`` argument, else the function's docstring.
        metadata, tags, owners, group, code_version: from ``info=fs.AssetInfo(...)``.
        retry: the retry policy, or None for no retries.
        timeout: seconds one attempt may take, or None for no limit.
        executor: ``"local"`` or ``"ray"``.
        ray_options: Ray task resources (``executor="ray"`` only).
        resources: names of the resources the asset reads from ``context.resources``.
        is_async: whether ``fn`` is a coroutine function.
        file, line: where the function is defined (the line of its ``def``).
        pipeline: the pipeline the asset belongs to.
        checkpoint: for a checkpoint gate (``@pipeline.checkpoint``), how it asks for a
            decision; None for an ordinary asset.
        pool: the named concurrency pool its queued runs occupy (limits hold across daemons).
        automation: an ``fs.Automation`` policy the daemon evaluates, or None.
    """

    name: str
    fn: Callable[..., Any]
    deps: tuple[Dep, ...]
    partitions: PartitionsDefinition | None
    io_manager: str
    io_options: Mapping[str, Any]
    description: str | None
    metadata: Mapping[str, Any]
    tags: Mapping[str, str]
    owners: tuple[str, ...]
    group: str
    code_version: str | None
    retry: RetryPolicy | None
    timeout: float | None
    executor: str
    ray_options: RayOptions | None
    resources: tuple[str, ...]
    is_async: bool
    file: str
    line: int
    pipeline: Pipeline | None = field(default=None, repr=False)
    checkpoint: CheckpointSpec | None = None
    pool: str | None = None
    automation: Automation | None = field(default=None, repr=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the decorated function (for tests and notebooks)."""
        return self.fn(*args, **kwargs)

    def dep_names(self) -> tuple[str, ...]:
        """Return the names of the upstream assets, in ``depends_on`` order."""
        return tuple(dep.name for dep in self.deps)

    @property
    def info(self) -> AssetInfo:
        """The catalogue information as one ``AssetInfo``."""
        return AssetInfo(
            metadata=self.metadata,
            tags=self.tags,
            owners=self.owners,
            group=self.group,
            code_version=self.code_version,
        )

    def mapping_for(self, dep_name: str) -> PartitionMapping:
        """Return how this asset's partitions map onto those of the dependency ``dep_name``:
        the explicit ``Dep(..., mapping=...)``, else ``default_mapping`` (identity for equal
        definitions, all partitions for an unpartitioned upstream).

        Raises:
            AssetNotFound: when ``dep_name`` is not a dependency of this asset.
            DefinitionError: when the two definitions need an explicit mapping (a validated
                pipeline never has such a dependency).
        """
        dep = next((d for d in self.deps if d.name == dep_name), None)
        if dep is None:
            error = AssetNotFound(dep_name, self.dep_names(), self._pipeline_name())
            error.args = (
                f"{dep_name!r} is not a dependency of asset {self.name!r}"
                f"{suggestion(dep_name, self.dep_names())}; "
                f"its dependencies: {quoted_list(self.dep_names())}",
            )
            raise error
        if dep.mapping is not None:
            return dep.mapping
        if self.pipeline is None:
            raise AssetNotFound(dep_name, (), None)
        upstream = self.pipeline.get(dep_name)
        mapping = default_mapping(self.partitions, upstream.partitions)
        if mapping is None:
            raise DefinitionError(
                f"asset {self.name!r} needs an explicit partition mapping for {dep_name!r}; "
                "call pipeline.validate() for details"
            )
        return mapping

    @property
    def location(self) -> str:
        """``file:line`` of the asset's ``def``."""
        return f"{self.file}:{self.line}"

    def _pipeline_name(self) -> str | None:
        return self.pipeline.name if self.pipeline is not None else None

    def __repr__(self) -> str:
        deps = ", ".join(self.dep_names())
        return f"<AssetDefinition {self.name!r} deps=[{deps}] at {self.location}>"
