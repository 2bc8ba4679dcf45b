"""What one attempt leaves behind: its record, its error, its timeout.

Pure helpers of the job: building the ``MaterializationRecord`` of an attempt, describing
exceptions, making metadata JSON-able, and bounding an attempt by its timeout on the
runtime clock.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import actors
from flowstone.clock import utcnow
from flowstone.errors import AssetTimeout
from flowstone.storage import ErrorInfo, InputRef, MaterializationRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._materializer import JobOrder

TENANT_DIMENSIONS = ("tenant",)
"""Names of the multi-partition dimension that says which tenant a partition belongs to."""


def attempt_record(
    order: JobOrder,
    asset: AssetDefinition,
    *,
    status: str,
    attempt: int,
    started: datetime,
    inputs: list[InputRef],
    metadata: dict[str, Any],
    exc: BaseException | None,
    user: str,
    host: str,
) -> MaterializationRecord:
    """The record of one finished attempt of ``order``'s node."""
    node = order.node
    return MaterializationRecord(
        id=MaterializationRecord.make_id(order.run_id, node.asset, node.encoded, attempt),
        run_id=order.run_id,
        asset=node.asset,
        partition=node.encoded,
        attempt=attempt,
        status=status,
        started_at=started,
        finished_at=utcnow(),
        triggered_by=order.triggered_by,
        trigger=order.trigger,
        user=user,
        host=host,
        code_version=asset.code_version,
        inputs=tuple(inputs),
        metadata=jsonable(metadata),
        error=error_info(exc) if exc is not None else None,
        tenant=record_tenant(order),
    )


def record_tenant(order: JobOrder) -> str | None:
    """The tenant of a node's records: its partition's tenant dimension, else the tenant
    scope the run was started in."""
    key = order.node.key
    if isinstance(key, dict):
        for dimension in TENANT_DIMENSIONS:
            if dimension in key:
                return str(key[dimension])
    return order.tenant


def cancelled_error(record: MaterializationRecord, run_id: str) -> MaterializationRecord:
    """``record`` with the error a cancelled attempt carries."""
    return replace(record, error=ErrorInfo("Cancelled", f"run {run_id} was cancelled"))


def error_info(exc: BaseException) -> ErrorInfo:
    """An exception as recorded: type, message and the (bounded) formatted traceback."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ErrorInfo(type(exc).__qualname__, str(exc), text[-20_000:])


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for events and summaries."""
    return f"{type(exc).__name__}: {exc}"


async def with_timeout(
    awaitable: Awaitable[Any],
    timeout: float,
    asset: str,
    partition: str | None,
    may_expire: Callable[[], bool] | None = None,
) -> Any:
    """Await ``awaitable`` for at most ``timeout`` seconds of the runtime clock.

    ``may_expire`` is asked when the time runs out; False lets the awaitable finish (a
    worker-thread attempt whose store has begun, see ``StoreGuard``).

    Raises:
        AssetTimeout: the time ran out (the awaitable is cancelled).
    """
    task = asyncio.ensure_future(awaitable)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not task.done() and (may_expire is None or may_expire()):
            expired = True
            task.cancel()

    handle = actors.get_clock().call_later(timeout, expire)
    try:
        return await task
    except asyncio.CancelledError:
        if expired:
            raise AssetTimeout(asset, partition, timeout) from None
        raise
    finally:
        handle.cancel()


_SCALARS = frozenset({str, int, float, bool, type(None)})


def jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with every value JSON can hold as is, the others as their ``repr``."""
    if all(type(key) is str and type(value) in _SCALARS for key, value in metadata.items()):
        return dict(metadata)  # the usual case: nothing to check
    if all(type(key) is str for key in metadata):
        try:
            json.dumps(metadata)  # the usual case: every value serialises, check them at once
            return dict(metadata)
        except (TypeError, ValueError):
            pass
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        clean[str(key)] = value
    return clean
