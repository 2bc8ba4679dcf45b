"""Evaluating ``automation=fs.Automation...`` policies: one ``Decision`` per asset partition
looked at, each with the reason in words, and the runs to request.

Internal. Requests carry run keys (``on_missing:<asset>:<partition>``, ``eager:...:<the
upstream materialization that triggered it>``, ``on_cron:...:<tick>``), so an evaluation
repeated by another daemon, or after a crash, never requests the same run twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowstone.automation._schedule_actor import closed_window
from flowstone.definitions._automation_policy import Automation
from flowstone.definitions._schedule import fire_times
from flowstone.engine._node import Node, upstream_of
from flowstone.errors import InvalidPartition
from flowstone.partitions import PartitionKey, TimeWindowPartitions
from flowstone.storage import Storage


@dataclass(frozen=True)
class Verdict:
    """The decision on one asset partition: request a run (with its key) or not, and why."""

    asset: str
    key: Any
    encoded: str | None
    requested: bool
    reason: str
    run_key: str | None = None


async def evaluate(
    pipeline: Any, storage: Storage, asset: str, policy: Automation, now: datetime
) -> list[Verdict]:
    """Decide what ``policy`` asks of ``asset`` at ``now``."""
    definition = pipeline.get(asset)
    nodes = _candidates(definition, policy, now)
    if not nodes:
        return [Verdict(asset, None, None, False, "no partition is due yet")]
    latest = await storage.latest(asset, [n.encoded for n in nodes])
    verdicts = []
    for node in nodes:
        verdicts.append(await _decide(pipeline, storage, definition, policy, node, latest, now))
    return verdicts


def _candidates(definition: Any, policy: Automation, now: datetime) -> list[Node]:
    partitions = definition.partitions
    if partitions is None:
        return [Node(definition.name, PartitionKey.NONE)]
    if not isinstance(partitions, TimeWindowPartitions):
        return []  # static and dynamic partitions: request them with sensors instead
    try:
        key = closed_window(partitions, now)
    except InvalidPartition:
        return []
    count = policy.lookback if policy.kind == "on_missing" else 1
    nodes = []
    for _ in range(count):
        nodes.append(Node(definition.name, PartitionKey(key, partitions.encode(key))))
        try:
            key = partitions.shift(key, -1)
        except InvalidPartition:
            break
    return nodes


async def _decide(
    pipeline: Any,
    storage: Storage,
    definition: Any,
    policy: Automation,
    node: Node,
    latest: dict[str | None, Any],
    now: datetime,
) -> Verdict:
    label = node.label()
    mine = latest.get(node.encoded)
    missing_up, newest_up = await _upstream_state(pipeline, storage, definition, node, now)

    def verdict(requested: bool, reason: str, key: str | None = None) -> Verdict:
        return Verdict(node.asset, node.key, node.encoded, requested, reason, key)

    if missing_up:
        return verdict(False, f"waiting for upstream {', '.join(missing_up)}")
    if policy.kind == "on_missing":
        if mine is not None:
            return verdict(False, f"{label} was materialized (run {mine.run_id})")
        return verdict(True, f"{label} is missing and its upstream is there", f"on_missing:{label}")
    if policy.kind == "eager":
        if mine is None:
            return verdict(True, f"{label} was never materialized", f"eager:{label}:first")
        newer = [u for u in newest_up if _instant(u) > _instant(mine)]
        if not newer:
            return verdict(False, f"no upstream changed since {label}'s run {mine.run_id}")
        trigger = max(newer, key=_instant)
        reason = f"upstream {trigger.asset} was materialized after {label} (run {trigger.run_id})"
        return verdict(True, reason, f"eager:{label}:{trigger.id}")
    return _on_cron(policy, node, mine, newest_up, now, verdict)


def _on_cron(
    policy: Automation,
    node: Node,
    mine: Any,
    newest_up: list[Any],
    now: datetime,
    verdict: Callable[..., Verdict],
) -> Verdict:
    assert policy.trigger is not None  # on_cron always has one

    ticks = fire_times(policy.trigger, now - timedelta(days=31), now, limit=100_000)
    if not ticks:
        return verdict(False, f"no tick of {policy.cron!r} in the last 31 days")
    tick = ticks[-1]
    if mine is not None and _instant(mine) >= tick:
        return verdict(
            False, f"{node.label()} was materialized since the tick at {tick.isoformat()}"
        )
    stale = [u.asset for u in newest_up if _instant(u) < tick]
    if stale:
        return verdict(
            False, f"waiting for {', '.join(stale)} to be materialized after {tick.isoformat()}"
        )
    return verdict(
        True,
        f"cron tick {tick.isoformat()} passed and upstream is fresh",
        f"on_cron:{node.label()}:{tick.isoformat()}",
    )


async def _upstream_state(
    pipeline: Any, storage: Storage, definition: Any, node: Node, now: datetime
) -> tuple[list[str], list[Any]]:
    """Upstream nodes without a succeeded materialization, and the newest succeeded
    materialization of each upstream asset the node reads."""
    missing: list[str] = []
    newest: list[Any] = []
    for upstream in upstream_of(definition, node, pipeline.get, now=now):
        found = await storage.latest(upstream.dep, [n.encoded for n in upstream.nodes])
        missing.extend(n.label() for n in upstream.nodes if n.encoded not in found)
        if found:
            newest.append(max(found.values(), key=_instant))
    return missing, newest


def _instant(record: Any) -> datetime:
    return record.finished_at or record.started_at  # type: ignore[no-any-return]
