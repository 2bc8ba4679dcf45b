"""The one error hierarchy of FlowStone. Every public error derives from ``FlowStoneError``
and, where one fits, from the nearest builtin so that generic handlers keep working."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class FlowStoneError(Exception):
    """Base class of every error FlowStone raises."""


@dataclass(frozen=True)
class DefinitionProblem:
    """One problem found in a pipeline definition, with where it was defined."""

    message: str
    asset: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        who = f"asset {self.asset!r}: " if self.asset else ""
        return f"{where}{who}{self.message}"


class DefinitionError(FlowStoneError, ValueError):
    """Raised at definition or ``Runtime`` construction time; lists every problem at once."""

    def __init__(self, problems: Sequence[DefinitionProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [DefinitionProblem(problems)]
        self.problems: tuple[DefinitionProblem, ...] = tuple(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{len(self.problems)} problems in the pipeline definition:\n{lines}"
        super().__init__(text)


class AssetNotFound(FlowStoneError, LookupError):
    """Raised when an asset name is not defined in the pipeline (with did-you-mean)."""

    def __init__(self, name: str, known: Sequence[str], pipeline: str | None = None) -> None:
        from difflib import get_close_matches

        self.name = name
        self.suggestions = get_close_matches(name, list(known), n=3, cutoff=0.6)
        where = f" in pipeline {pipeline!r}" if pipeline else ""
        hint = (
            "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
            if self.suggestions
            else f"; defined assets: {', '.join(sorted(known)) or '(none)'}"
        )
        super().__init__(f"unknown asset {name!r}{where}{hint}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.suggestions))


class InvalidPartition(FlowStoneError, ValueError):
    """Raised when a partition key does not fit the asset's partitions definition."""


class MissingUpstream(FlowStoneError):
    """Raised by ``materialize`` when an upstream partition it needs was never materialized
    (or its stored value cannot be loaded)."""

    def __init__(self, message: str, missing: Sequence[tuple[str, Any]] = ()) -> None:
        super().__init__(message)
        self.missing = list(missing)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.missing))


class RunFailed(FlowStoneError):
    """Raised by ``materialize`` / ``materialize_all`` when the run failed; ``.result`` is
    the ``RunResult``."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

    @property
    def run_id(self) -> str | None:
        """The id of the failed run."""
        return getattr(self.result, "run_id", None)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.result))

    @property
    def materializations(self) -> list[Any]:
        """This run's materialization records."""
        return list(getattr(self.result, "materializations", []) or [])


class StorageError(FlowStoneError):
    """Raised when the record store cannot be opened or used (bad URL, unreachable server)."""


class StorageUnavailable(StorageError):
    """Raised when the record store cannot take a write for now (the server stayed
    unreachable, the disk is full, the database stayed locked); the same write may succeed
    once the condition clears. Any other ``StorageError`` means the request itself is refused.
    """


class RuntimeStopped(FlowStoneError, RuntimeError):
    """Raised by calls on a runtime that stopped for good: its start failed, or its
    supervision tree gave up; the message says why. Create a new runtime."""


class ConfigurationError(FlowStoneError, ValueError):
    """Raised for invalid runtime configuration (io manager options, resources, settings)."""


class IOManagerError(FlowStoneError):
    """Raised when an I/O manager cannot store or load a value; the cause is chained."""

    def __init__(self, message: str, *, asset: str | None = None, partition: Any = None) -> None:
        super().__init__(message)
        self.asset = asset
        self.partition = partition


class TenantIsolationError(FlowStoneError, PermissionError):
    """Raised when code acting as one tenant reaches for another tenant's data, or when
    PostgreSQL's row-level security refuses a row; ``tenant`` is who acted (None when no
    tenant was set) and ``owner`` the tenant the data belongs to (when known)."""

    def __init__(
        self, message: str, *, tenant: str | None = None, owner: str | None = None
    ) -> None:
        super().__init__(message)
        self.tenant = tenant
        self.owner = owner

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_tenant_error, (str(self), self.tenant, self.owner))


def _rebuild_tenant_error(message: str, tenant: str | None, owner: str | None) -> Any:
    return TenantIsolationError(message, tenant=tenant, owner=owner)


class ResourceError(FlowStoneError):
    """Raised when a resource cannot be set up, or is not provided for an asset that needs it."""

    def __init__(
        self, message: str, *, resource: str | None = None, asset: str | None = None
    ) -> None:
        super().__init__(message)
        self.resource = resource
        self.asset = asset


class ResourceNotDeclared(ResourceError, KeyError):
    """Raised when an asset reads a resource it did not declare with ``resources=[...]``."""

    def __str__(self) -> str:
        # KeyError would show the message in quotes, as if it were the missing key.
        return str(self.args[0]) if self.args else ""


class AssetTimeout(FlowStoneError, TimeoutError):
    """Raised (and recorded as the attempt's error) when an attempt exceeds the asset's
    ``timeout``; the attempt's value, if any arrives later, is discarded."""

    def __init__(self, asset: str, partition: str | None, timeout: float) -> None:
        self.asset = asset
        self.partition = partition
        self.timeout = timeout
        where = f"asset {asset!r}" if partition is None else f"asset {asset!r} [{partition}]"
        super().__init__(f"{where} did not finish within its timeout of {timeout:g} s")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.asset, self.partition, self.timeout))


class ApprovalNotFound(FlowStoneError, LookupError):
    """Raised when no checkpoint approval has the id asked for."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(
            f"no approval with id {approval_id!r}; list the open ones with "
            f"rt.approvals.pending() or `flowstone approvals list`"
        )
        self.approval_id = approval_id

    def __str__(self) -> str:
        # LookupError would show the message in quotes, as if it were the missing key.
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.approval_id,))


class ApprovalAlreadyDecided(FlowStoneError):
    """Raised when a decision reaches an approval that is already terminal (approved,
    modified, rejected or expired): it names who decided, when, and the outcome."""

    def __init__(
        self, approval_id: str, status: str, decided_by: str | None, decided_at: Any
    ) -> None:
        when = decided_at.isoformat() if hasattr(decided_at, "isoformat") else decided_at
        super().__init__(
            f"approval {approval_id!r} is already {status} (by {decided_by or 'nobody'} at "
            f"{when}); a decision is final, so this one was not recorded"
        )
        self.approval_id = approval_id
        self.status = status
        self.decided_by = decided_by
        self.decided_at = decided_at

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.approval_id, self.status, self.decided_by, self.decided_at)
        return (type(self), args)


class CheckpointRejected(FlowStoneError):
    """Raised (and recorded as the gate's failed attempt) when a checkpoint gate is
    rejected — by a person, ``auto_decide``, a deadline or expiry; ``reason`` says why,
    ``decided_by`` who decided. The gate's node fails (never retried) and so does its run."""

    def __init__(
        self,
        checkpoint: str,
        reason: str,
        decided_by: str | None = None,
        *,
        partition_key: str | None = None,
        approval_id: str | None = None,
    ) -> None:
        where = f"[{partition_key}]" if partition_key is not None else ""
        who = f" by {decided_by}" if decided_by else ""
        super().__init__(f"checkpoint {checkpoint}{where} was rejected{who}: {reason}")
        self.checkpoint = checkpoint
        self.reason = reason
        self.partition_key = partition_key
        self.decided_by = decided_by
        self.approval_id = approval_id

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = (self.partition_key, self.decided_by, self.approval_id)
        return (_rebuild_rejected, (self.checkpoint, self.reason, *kwargs))


def _rebuild_rejected(
    checkpoint: str, reason: str, partition_key: Any, decided_by: Any, approval_id: Any
) -> CheckpointRejected:
    return CheckpointRejected(
        checkpoint,
        reason,
        partition_key=partition_key,
        decided_by=decided_by,
        approval_id=approval_id,
    )


class RunNotFound(FlowStoneError, LookupError):
    """Raised when no run has the id asked for."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}; list runs with rt.runs()")
        self.run_id = run_id

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id,))


class WaitTimeout(FlowStoneError, TimeoutError):
    """Raised by ``rt.wait(run_id, timeout=...)`` when the run is not finished in time."""


class InvalidDecision(FlowStoneError, ValueError):
    """Raised when a decision on a checkpoint is malformed: a rejection without a reason, a
    modified value that does not fit the gate's declared type, a missing ``by``."""


class AssetInterrupted(FlowStoneError):
    """Recorded as a failed attempt (never retried) when asset code raises
    ``KeyboardInterrupt``, ``SystemExit`` or ``asyncio.CancelledError`` itself: those would
    otherwise stop the runtime's event loop or look like a cancellation of the run."""

    def __init__(self, asset: str, raised: str) -> None:
        self.asset = asset
        self.raised = raised
        super().__init__(
            f"asset {asset!r} raised {raised}; it is recorded as a failed attempt instead of "
            "stopping the runtime (raise an ordinary exception to fail an attempt)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.asset, self.raised))


class BackfillInterrupted(KeyboardInterrupt):
    """Raised by the blocking ``Runtime.backfill`` when Ctrl-C interrupts it, once the
    backfill has been cancelled cleanly: ``.result`` is its ``BackfillResult`` (what
    succeeded, failed, was cancelled, was never started). Still a ``KeyboardInterrupt``,
    so code that stops on Ctrl-C keeps doing so; running the backfill again resumes it."""

    def __init__(self, result: Any) -> None:
        super().__init__(f"backfill {getattr(result, 'backfill_id', '?')} interrupted")
        self.result = result


__all__ = (
    "ApprovalAlreadyDecided",
    "ApprovalNotFound",
    "AssetInterrupted",
    "AssetNotFound",
    "AssetTimeout",
    "BackfillInterrupted",
    "CheckpointRejected",
    "ConfigurationError",
    "DefinitionError",
    "DefinitionProblem",
    "FlowStoneError",
    "IOManagerError",
    "InvalidDecision",
    "InvalidPartition",
    "MissingUpstream",
    "ResourceError",
    "ResourceNotDeclared",
    "RunFailed",
    "RunNotFound",
    "RuntimeStopped",
    "StorageError",
    "StorageUnavailable",
    "TenantIsolationError",
    "WaitTimeout",
)
