"""FlowStone: asset-first data orchestration on an OTP-style actor runtime.

Layering (enforced by tests/test_layering.py): ``flowstone`` uses only the public APIs of
``supervisors`` and ``actors``.

Wings (each a subpackage; tests/test_layering.py keeps them in order):
    definitions/   what users declare: Pipeline, @asset, @checkpoint, Dep, RetryPolicy, graph
    partitions/    partition definitions, keys, sets and mappings
    storage/       the record store (memory, SQLite, PostgreSQL)
    io/            I/O managers (memory, fs, s3, parquet, postgres)
    engine/        planning, scheduling, materializers, executors (local, Ray), lineage writer
    approvals/     checkpoint gates: gatekeeper, decisions, deadlines, audit, notifications
    automation/    run queue, daemons, schedules, sensors, automation policies
    telemetry/     OpenTelemetry traces and metrics, run-log capture (the engine's hook)
    runtime/       AsyncRuntime, Runtime, backfills, lineage queries, module-level shortcuts
    cli/           the `flowstone` command line
    status/        partition status as ranges (rt.partition_status, `flowstone status`)
    web/           the dashboard (`flowstone ui`)
    errors.py, tenancy.py, testing.py   the error hierarchy, tenant scopes, test helpers
"""

from flowstone import approvals as approvals
from flowstone import automation as automation
from flowstone import errors as errors
from flowstone import io as io
from flowstone import tenancy as tenancy
from flowstone.approvals import Approval as Approval
from flowstone.approvals import Approve as Approve
from flowstone.approvals import Modify as Modify
from flowstone.approvals import Reject as Reject
from flowstone.approvals import WebhookNotifier as WebhookNotifier
from flowstone.automation import DaemonConfig as DaemonConfig
from flowstone.definitions._asset import AssetDefinition as AssetDefinition
from flowstone.definitions._asset_info import AssetInfo as AssetInfo
from flowstone.definitions._automation_policy import Automation as Automation
from flowstone.definitions._context import AssetContext as AssetContext
from flowstone.definitions._dependency import Dep as Dep
from flowstone.definitions._graph import AssetGraph as AssetGraph
from flowstone.definitions._pipeline import Pipeline as Pipeline
from flowstone.definitions._ray_options import RayOptions as RayOptions
from flowstone.definitions._resources import ResourceDefinition as ResourceDefinition
from flowstone.definitions._retry import RetryPolicy as RetryPolicy
from flowstone.definitions._schedule import ScheduleDefinition as ScheduleDefinition
from flowstone.definitions._sensor import RunRequest as RunRequest
from flowstone.definitions._sensor import SensorContext as SensorContext
from flowstone.definitions._sensor import SensorDefinition as SensorDefinition
from flowstone.definitions._sensor import SensorResult as SensorResult
from flowstone.engine._events import Event as Event
from flowstone.engine._events import EventBus as EventBus
from flowstone.engine._results import BackfillResult as BackfillResult
from flowstone.engine._results import Materialization as Materialization
from flowstone.engine._results import RunResult as RunResult
from flowstone.errors import ApprovalAlreadyDecided as ApprovalAlreadyDecided
from flowstone.errors import ApprovalNotFound as ApprovalNotFound
from flowstone.errors import AssetInterrupted as AssetInterrupted
from flowstone.errors import AssetNotFound as AssetNotFound
from flowstone.errors import AssetTimeout as AssetTimeout
from flowstone.errors import BackfillInterrupted as BackfillInterrupted
from flowstone.errors import CheckpointRejected as CheckpointRejected
from flowstone.errors import ConfigurationError as ConfigurationError
from flowstone.errors import DefinitionError as DefinitionError
from flowstone.errors import DefinitionProblem as DefinitionProblem
from flowstone.errors import FlowStoneError as FlowStoneError
from flowstone.errors import InvalidDecision as InvalidDecision
from flowstone.errors import InvalidPartition as InvalidPartition
from flowstone.errors import IOManagerError as IOManagerError
from flowstone.errors import MissingUpstream as MissingUpstream
from flowstone.errors import ResourceError as ResourceError
from flowstone.errors import ResourceNotDeclared as ResourceNotDeclared
from flowstone.errors import RunFailed as RunFailed
from flowstone.errors import RunNotFound as RunNotFound
from flowstone.errors import RuntimeStopped as RuntimeStopped
from flowstone.errors import StorageError as StorageError
from flowstone.errors import StorageUnavailable as StorageUnavailable
from flowstone.errors import TenantIsolationError as TenantIsolationError
from flowstone.errors import WaitTimeout as WaitTimeout
from flowstone.partitions import AllPartitionsMapping as AllPartitionsMapping
from flowstone.partitions import CronPartitions as CronPartitions
from flowstone.partitions import DailyPartitions as DailyPartitions
from flowstone.partitions import DimensionMapping as DimensionMapping
from flowstone.partitions import DynamicPartitions as DynamicPartitions
from flowstone.partitions import HourlyPartitions as HourlyPartitions
from flowstone.partitions import IdentityMapping as IdentityMapping
from flowstone.partitions import MonthlyPartitions as MonthlyPartitions
from flowstone.partitions import MultiPartitions as MultiPartitions
from flowstone.partitions import PartitionKey as PartitionKey
from flowstone.partitions import PartitionMapping as PartitionMapping
from flowstone.partitions import PartitionsDefinition as PartitionsDefinition
from flowstone.partitions import PartitionSet as PartitionSet
from flowstone.partitions import StaticPartitions as StaticPartitions
from flowstone.partitions import TimeWindowMapping as TimeWindowMapping
from flowstone.partitions import TimeWindowPartitions as TimeWindowPartitions
from flowstone.partitions import WeeklyPartitions as WeeklyPartitions
from flowstone.runtime._daemon import Daemon as Daemon
from flowstone.runtime._default import backfill as backfill
from flowstone.runtime._default import configure as configure
from flowstone.runtime._default import lineage as lineage
from flowstone.runtime._default import materialize as materialize
from flowstone.runtime._default import materialize_all as materialize_all
from flowstone.runtime._runtime import AsyncRuntime as AsyncRuntime
from flowstone.runtime._sync_runtime import Runtime as Runtime
from flowstone.status import PartitionRange as PartitionRange
from flowstone.status import PartitionStatus as PartitionStatus
from flowstone.telemetry import Telemetry as Telemetry
from flowstone.tenancy import TenantScope as TenantScope
from flowstone.tenancy import current_tenant as current_tenant
from flowstone.tenancy import tenant_scope as tenant_scope

__all__ = (
    "AllPartitionsMapping",
    "Approval",
    "ApprovalAlreadyDecided",
    "ApprovalNotFound",
    "Approve",
    "AssetContext",
    "AssetDefinition",
    "AssetGraph",
    "AssetInfo",
    "AssetInterrupted",
    "AssetNotFound",
    "AssetTimeout",
    "AsyncRuntime",
    "Automation",
    "BackfillInterrupted",
    "BackfillResult",
    "CheckpointRejected",
    "ConfigurationError",
    "CronPartitions",
    "Daemon",
    "DaemonConfig",
    "DailyPartitions",
    "DefinitionError",
    "DefinitionProblem",
    "Dep",
    "DimensionMapping",
    "DynamicPartitions",
    "Event",
    "EventBus",
    "FlowStoneError",
    "HourlyPartitions",
    "IOManagerError",
    "IdentityMapping",
    "InvalidDecision",
    "InvalidPartition",
    "Materialization",
    "MissingUpstream",
    "Modify",
    "MonthlyPartitions",
    "MultiPartitions",
    "PartitionKey",
    "PartitionMapping",
    "PartitionRange",
    "PartitionSet",
    "PartitionStatus",
    "PartitionsDefinition",
    "Pipeline",
    "RayOptions",
    "Reject",
    "ResourceDefinition",
    "ResourceError",
    "ResourceNotDeclared",
    "RetryPolicy",
    "RunFailed",
    "RunNotFound",
    "RunRequest",
    "RunResult",
    "Runtime",
    "RuntimeStopped",
    "ScheduleDefinition",
    "SensorContext",
    "SensorDefinition",
    "SensorResult",
    "StaticPartitions",
    "StorageError",
    "StorageUnavailable",
    "Telemetry",
    "TenantIsolationError",
    "TenantScope",
    "TimeWindowMapping",
    "TimeWindowPartitions",
    "WaitTimeout",
    "WebhookNotifier",
    "WeeklyPartitions",
    "approvals",
    "automation",
    "backfill",
    "configure",
    "current_tenant",
    "errors",
    "io",
    "lineage",
    "materialize",
    "materialize_all",
    "tenancy",
    "tenant_scope",
)

__version__ = "0.1.0"


def _publish_module_names() -> None:
    # Reprs, tracebacks and pickles say ``flowstone.Pipeline``, not
    # ``flowstone.definitions._pipeline``.
    for name in __all__:
        obj = globals()[name]
        module = getattr(obj, "__module__", "") or ""
        if module.startswith("flowstone.") and any(p.startswith("_") for p in module.split(".")):
            try:
                obj.__module__ = "flowstone"
            except (AttributeError, TypeError):
                pass


_publish_module_names()
