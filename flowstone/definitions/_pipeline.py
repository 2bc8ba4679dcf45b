"""``Pipeline``: a named collection of asset definitions, made with ``@pipeline.asset``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, final, overload

from flowstone.definitions._asset import AssetDefinition
from flowstone.definitions._asset_builder import build_asset
from flowstone.definitions._automation_policy import Automation
from flowstone.definitions._naming import is_pipeline_name
from flowstone.definitions._schedule import ScheduleDefinition, build_schedule
from flowstone.definitions._sensor import SensorDefinition, build_sensor
from flowstone.errors import AssetNotFound, DefinitionError, DefinitionProblem

if TYPE_CHECKING:
    from flowstone.definitions._asset_info import AssetInfo
    from flowstone.definitions._dependency import Dep
    from flowstone.definitions._graph import AssetGraph
    from flowstone.definitions._ray_options import RayOptions
    from flowstone.definitions._retry import RetryPolicy
    from flowstone.io import IOManager
    from flowstone.partitions import PartitionsDefinition

AssetFunction = Callable[..., Any]
_CHECKPOINT_OPTIONS = frozenset(
    {"max_escalations", "value_type", "partitioned_by", "io_manager", "io_options", "description"}
)


def check_automation_options(name: object, pool: object, automation: object) -> None:
    """Check the ``pool=`` and ``automation=`` arguments of ``@pipeline.asset``."""
    who = f"asset {name!r}: " if isinstance(name, str) else ""
    if pool is not None and (not isinstance(pool, str) or not pool.strip()):
        raise DefinitionError(f"{who}pool must be a non-empty name, got {pool!r}")
    if automation is not None and not isinstance(automation, Automation):
        raise DefinitionError(
            f"{who}automation must be an fs.Automation, got {automation!r}; e.g. "
            f"automation=fs.Automation.on_missing()"
        )


@final
class Pipeline:
    """A named set of assets.

    Decorators only record: dependencies may name assets defined later (or in another
    module), and the whole pipeline is checked by ``validate()``, which the ``Runtime``
    calls when it is built.

    Args:
        name: letters, digits, ``_`` and ``-``, not starting with a digit or ``-``.

    Raises:
        DefinitionError: when ``name`` is not a valid pipeline name.
    """

    def __init__(self, name: str) -> None:
        if not is_pipeline_name(name):
            raise DefinitionError(
                f"pipeline name must use letters, digits, '_' and '-' and start with a "
                f"letter or '_', got {name!r}; e.g. fs.Pipeline('analytics')"
            )
        self.name = name
        # Every definition in decoration order, duplicates included: validate() reports
        # both places of a duplicated name, so none may be dropped here.
        self._definitions: list[AssetDefinition] = []
        self._by_name: dict[str, AssetDefinition] = {}
        self._schedules: dict[str, ScheduleDefinition] = {}
        self._sensors: dict[str, SensorDefinition] = {}

    @overload
    def asset(self, fn: AssetFunction, /) -> AssetDefinition: ...

    @overload
    def asset(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        depends_on: Sequence[str | Dep] = (),
        partitioned_by: PartitionsDefinition | None = None,
        io_manager: str = "fs",
        io_options: Mapping[str, Any] | None = None,
        description: str | None = None,
        info: AssetInfo | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        executor: str = "local",
        ray_options: RayOptions | None = None,
        resources: Sequence[str] = (),
        pool: str | None = None,
        automation: Automation | None = None,
    ) -> Callable[[AssetFunction], AssetDefinition]: ...

    def asset(
        self,
        fn: AssetFunction | None = None,
        /,
        *,
        name: str | None = None,
        depends_on: Sequence[str | Dep] = (),
        partitioned_by: PartitionsDefinition | None = None,
        io_manager: str = "fs",
        io_options: Mapping[str, Any] | None = None,
        description: str | None = None,
        info: AssetInfo | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        executor: str = "local",
        ray_options: RayOptions | None = None,
        resources: Sequence[str] = (),
        pool: str | None = None,
        automation: Automation | None = None,
    ) -> AssetDefinition | Callable[[AssetFunction], AssetDefinition]:
        """Define an asset: ``@pipeline.asset(depends_on=[...])`` above ``def name(context, ...)``.

        The function's parameters after ``context`` are the dependencies, by name. It may be
        sync or async and is called as ``fn(context, **inputs)``; it returns the value that
        the I/O manager stores. Usable bare (``@pipeline.asset``) and as a plain call in loops
        and factories: ``pipeline.asset(name=f"shard_{i}", depends_on=["raw"])(load_shard)``
        (a factory function may take ``**inputs`` instead of naming each dependency).

        Args:
            fn: the function, when used bare or called directly.
            name: the asset name; default: the function name.
            depends_on: upstream asset names, or ``fs.Dep(name, mapping=...)``.
            partitioned_by: the partitions definition (e.g. ``fs.DailyPartitions(...)``).
            io_manager: the key of the I/O manager that stores the value (default ``"fs"``).
            io_options: that manager's options for this asset (checked by the runtime).
            description: what the asset is; default: the function's docstring.
            info: metadata, tags, owners, group and code_version, as ``fs.AssetInfo``.
            retry: an ``fs.RetryPolicy``; default: no retries.
            timeout: seconds one attempt may take; default: no limit.
            executor: ``"local"`` (default) or ``"ray"``.
            ray_options: an ``fs.RayOptions`` for ``executor="ray"``.
            resources: names of the runtime resources the asset reads.
            pool: a named concurrency pool for queued runs (see docs/automation.md).
            automation: an ``fs.Automation`` policy the daemon evaluates.

        Returns:
            The ``AssetDefinition`` (callable like the function), or a decorator making it.

        Raises:
            DefinitionError: listing every problem visible from this asset alone (the shape
                of the function, the types of the options), with its file and line.
        """
        options = {
            "name": name,
            "depends_on": depends_on,
            "partitioned_by": partitioned_by,
            "io_manager": io_manager,
            "io_options": io_options,
            "description": description,
            "info": info,
            "retry": retry,
            "timeout": timeout,
            "executor": executor,
            "ray_options": ray_options,
            "resources": resources,
        }

        check_automation_options(name or getattr(fn, "__name__", None), pool, automation)

        def decorate(function: AssetFunction) -> AssetDefinition:
            definition = build_asset(function, self, **options)
            if pool is not None or automation is not None:
                definition = replace(definition, pool=pool, automation=automation)
            self._definitions.append(definition)
            self._by_name.setdefault(definition.name, definition)
            return definition

        return decorate(fn) if fn is not None else decorate

    def checkpoint(
        self,
        fn: AssetFunction | None = None,
        /,
        *,
        depends_on: Sequence[str | Dep],
        name: str | None = None,
        message: str | Callable[..., Any] | None = None,
        timeout: timedelta | float | None = None,
        on_timeout: str = "reject",
        escalate_to: str | Sequence[str] | None = None,
        condition: Callable[..., Any] | None = None,
        auto_decide: Callable[..., Any] | None = None,
        **options: Any,
    ) -> Any:
        """Define a checkpoint gate: a node that waits for a decision on its input.

        ``@pipeline.checkpoint(depends_on=["draft"], message=..., timeout=...)`` above
        ``def approved(context, draft): return draft``. When a run reaches the gate, an
        approval request is recorded and the run waits (holding no process or thread);
        on approval the function's return value is what downstream assets receive, on
        modification the approver's value, and a rejection fails the run with
        ``fs.CheckpointRejected``. See docs/approvals.md.

        Args:
            depends_on: the input(s) gated; the gate has their partitions.
            name: the gate's name; default: the function name.
            message: the reviewer's text, or ``fn(context, **inputs) -> str``.
            timeout: how long a request stays open (``timedelta`` or seconds; None: forever).
            on_timeout: ``"escalate"``, ``"approve"``, ``"reject"`` (default) or ``"extend"``.
            escalate_to: who escalations go to (a list gives successive levels).
            condition: ``fn(context, **inputs) -> bool``; False passes without a request.
            auto_decide: ``fn(context, **inputs) -> fs.Approve() | fs.Modify(v) |
                fs.Reject(r) | None``; None asks a person.
            options: ``max_escalations`` (default 3), ``value_type`` (the type a modified
                value must fit; default: the function's return annotation),
                ``partitioned_by`` (default: the inputs'), ``io_manager``, ``io_options``,
                ``description``.

        Raises:
            DefinitionError: listing every problem, with the function's file and line.
        """
        from flowstone.definitions._checkpoint import UNSET, build_checkpoint

        unknown = sorted(set(options) - _CHECKPOINT_OPTIONS)
        if unknown:
            raise DefinitionError(
                f"@pipeline.checkpoint got unknown option(s) {', '.join(map(repr, unknown))}; "
                f"it accepts {', '.join(sorted(_CHECKPOINT_OPTIONS))} besides the named ones"
            )
        settings: dict[str, Any] = {
            "name": name,
            "depends_on": depends_on,
            "message": message,
            "timeout": timeout,
            "on_timeout": on_timeout,
            "escalate_to": escalate_to,
            "condition": condition,
            "auto_decide": auto_decide,
            "max_escalations": options.get("max_escalations", 3),
            "value_type": options.get("value_type"),
            "partitioned_by": options.get("partitioned_by", UNSET),
            "io_manager": options.get("io_manager", "fs"),
            "io_options": options.get("io_options"),
            "description": options.get("description"),
        }

        def decorate(function: AssetFunction) -> AssetDefinition:
            definition = build_checkpoint(function, self, settings)
            self._definitions.append(definition)
            self._by_name.setdefault(definition.name, definition)
            return definition

        return decorate(fn) if fn is not None else decorate

    def schedule(
        self,
        name: str,
        *,
        asset: str,
        cron: str,
        timezone: str = "UTC",
        partition: Callable[[datetime], Any] | None = None,
        catch_up: str = "latest",
    ) -> ScheduleDefinition:
        """Define a cron schedule requesting runs of ``asset`` (with its upstream).

        Args:
            name: the schedule's name; its runs say ``triggered_by="schedule:<name>"``.
            asset: the asset to materialize (checked when the pipeline is validated).
            cron: a crontab expression, 5 fields (or 6, seconds first).
            timezone: the IANA zone the expression is read in (DST-correct).
            partition: ``callable(scheduled_time) -> key``; default: for a time-partitioned
                asset, the window that closed at the tick.
            catch_up: after downtime, ``"skip"`` the missed ticks, run the ``"latest"`` one,
                or run ``"all"`` of them.

        Raises:
            DefinitionError: an invalid cron expression, zone, catch_up, or a duplicate name.
        """
        definition = build_schedule(
            name, asset=asset, cron=cron, timezone=timezone, partition=partition,
            catch_up=catch_up,
        )  # fmt: skip
        if name in self._schedules:
            raise DefinitionError(f"schedule {name!r} is defined twice in pipeline {self.name!r}")
        self._schedules[name] = definition
        return definition

    def sensor(
        self,
        *,
        interval: float = 30.0,
        name: str | None = None,
        jitter: float = 0.1,
        timeout: float = 60.0,
        resources: Sequence[str] = (),
    ) -> Callable[[Callable[..., Any]], SensorDefinition]:
        """Define a sensor: ``@pipeline.sensor(interval=30)`` above ``def name(context)``.

        The function receives an ``fs.SensorContext`` (``context.cursor``,
        ``context.resources``) and returns an ``fs.SensorResult`` (or a list of
        ``fs.RunRequest``, or None for nothing to do).

        Raises:
            DefinitionError: a bad interval, jitter or timeout, or a duplicate name.
        """

        def decorate(fn: Callable[..., Any]) -> SensorDefinition:
            definition = build_sensor(
                fn, name=name, interval=interval, jitter=jitter, timeout=timeout,
                resources=resources,
            )  # fmt: skip
            if definition.name in self._sensors:
                raise DefinitionError(
                    f"sensor {definition.name!r} is defined twice in pipeline {self.name!r}"
                )
            self._sensors[definition.name] = definition
            return definition

        return decorate

    @property
    def schedules(self) -> Mapping[str, ScheduleDefinition]:
        """The schedules by name (read-only)."""
        return MappingProxyType(self._schedules)

    @property
    def sensors(self) -> Mapping[str, SensorDefinition]:
        """The sensors by name (read-only)."""
        return MappingProxyType(self._sensors)

    @property
    def assets(self) -> Mapping[str, AssetDefinition]:
        """The assets by name, in definition order (read-only)."""
        return MappingProxyType(self._by_name)

    @property
    def definitions(self) -> tuple[AssetDefinition, ...]:
        """Every definition in decoration order, including duplicated names."""
        return tuple(self._definitions)

    def get(self, name: str) -> AssetDefinition:
        """Return the asset called ``name``.

        Raises:
            AssetNotFound: with the closest names ("did you mean ...?").
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise AssetNotFound(name, list(self._by_name), self.name) from None

    def validate(
        self,
        io_managers: Mapping[str, IOManager] | None = None,
        resources: Mapping[str, object] | None = None,
    ) -> AssetGraph:
        """Check the whole pipeline and return its graph.

        The I/O manager keys and options are checked only when ``io_managers`` is given,
        and required resources only when ``resources`` is given.

        Raises:
            DefinitionError: listing every problem, each with the asset's file and line.
        """
        from flowstone.definitions._graph import AssetGraph
        from flowstone.definitions._validation import pipeline_problems

        problems, io_options = pipeline_problems(self, io_managers, resources)
        problems = [*problems, *self._schedule_problems()]
        if problems:
            raise DefinitionError(problems)
        return AssetGraph(self, validated_io_options=io_options)

    def _schedule_problems(self) -> list[DefinitionProblem]:
        from flowstone.definitions._naming import suggestion

        return [
            DefinitionProblem(
                f"schedule {s.name!r} requests unknown asset {s.asset!r}"
                f"{suggestion(s.asset, list(self._by_name))}"
            )
            for s in self._schedules.values()
            if s.asset not in self._by_name
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        count = len(self._by_name)
        return f"<Pipeline {self.name!r}: {count} asset{'' if count == 1 else 's'}>"
