"""The approval store contract: what ``storage.approvals`` does on every backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowstone.errors import ApprovalAlreadyDecided, ApprovalNotFound
from flowstone.storage import ApprovalPolicy, ApprovalRecord, AuditEntry, Storage
from flowstone.storage._approval_records import StaleDeadline, fields_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def approval(
    run_id: str = "r1",
    checkpoint: str = "gate",
    partition: str | None = None,
    *,
    requested: float = 0,
    timeout: float | None = 60,
) -> ApprovalRecord:
    return ApprovalRecord(
        id=f"a-{run_id}-{checkpoint}-{partition}",
        run_id=run_id,
        checkpoint=checkpoint,
        partition=partition,
        status="pending",
        requested_at=at(requested),
        message="please check",
        view={"rows": 3, "names": ["a", "b"]},
        timeout_at=None if timeout is None else at(requested + timeout),
        policy=ApprovalPolicy(on_timeout="escalate", timeout_seconds=3600, escalate_to=("x",)),
        pipeline="p",
    )


def entry(
    record: ApprovalRecord, event: str, actor: str = "alice", minute: float = 0
) -> AuditEntry:
    return AuditEntry(
        id=uuid.uuid4().hex,
        event=event,
        actor=actor,
        at=at(minute),
        run_id=record.run_id,
        asset=record.checkpoint,
        partition=record.partition,
        approval_id=record.id,
        detail={"note": event},
    )


def decision(status: str, by: str, minute: float) -> dict[str, object]:
    return {"status": status, "decided_by": by, "decided_at": at(minute), "reason": "ok"}


class ApprovalStoreContract:
    @pytest.fixture
    def make_storage(self) -> Callable[[], Storage]:
        raise NotImplementedError

    @pytest.fixture
    async def storage(self, make_storage: Callable[[], Storage]) -> AsyncIterator[Storage]:
        storage = make_storage()
        await storage.open()
        yield storage
        await storage.close()

    async def test_a_request_is_stored_once_per_gate_with_its_audit_row(
        self, storage: Storage
    ) -> None:
        record = approval(partition="2026-01-01")
        stored, created = await storage.approvals.request(record, [entry(record, "requested")])
        again, created_again = await storage.approvals.request(
            approval(partition="2026-01-01", requested=5), [entry(record, "requested")]
        )
        assert (created, created_again) == (True, False)
        assert stored == again == record
        assert await storage.approvals.get(record.id) == record
        assert await storage.approvals.find("r1", "gate", "2026-01-01") == record
        assert await storage.approvals.find("r1", "gate", None) is None
        assert [e.event for e in await storage.approvals.audit(approval_id=record.id)] == [
            "requested"
        ]

    async def test_a_decision_is_one_conditional_update_and_the_loser_learns_who_won(
        self, storage: Storage
    ) -> None:
        record = approval()
        await storage.approvals.request(record, [entry(record, "requested")])
        won = await storage.approvals.transition(
            record.id, decision("approved", "alice", 3), entry(record, "approved", "alice", 3)
        )
        assert (won.status, won.decided_by, won.decided_at) == ("approved", "alice", at(3))
        with pytest.raises(ApprovalAlreadyDecided, match=r"already approved \(by alice at 2026"):
            await storage.approvals.transition(
                record.id, decision("rejected", "bob", 4), entry(record, "rejected", "bob", 4)
            )
        events = [(e.event, e.actor) for e in await storage.approvals.audit(approval_id=record.id)]
        assert events == [("requested", "alice"), ("approved", "alice")]

    async def test_concurrent_deciders_yield_exactly_one_terminal_state(
        self, storage: Storage
    ) -> None:
        record = approval()
        await storage.approvals.request(record, [])
        deciders = [
            storage.approvals.transition(
                record.id, decision(status, who, 1), entry(record, status, who, 1)
            )
            for status, who in [("approved", "a"), ("rejected", "b"), ("modified", "c")] * 3
        ]
        outcomes = await asyncio.gather(*deciders, return_exceptions=True)
        winners = [o for o in outcomes if isinstance(o, ApprovalRecord)]
        losers = [o for o in outcomes if isinstance(o, ApprovalAlreadyDecided)]
        assert (len(winners), len(losers)) == (1, 8)
        assert len(await storage.approvals.audit(approval_id=record.id)) == 1

    async def test_a_deadline_transition_fires_only_the_deadline_it_saw(
        self, storage: Storage
    ) -> None:
        record = approval(timeout=10)
        await storage.approvals.request(record, [])
        escalate = {"status": "escalated", "escalation_count": 1, "timeout_at": at(20)}
        await storage.approvals.transition(
            record.id, escalate, entry(record, "escalated", "system"), deadline=at(10)
        )
        with pytest.raises(StaleDeadline):
            await storage.approvals.transition(
                record.id, escalate, entry(record, "escalated", "system"), deadline=at(10)
            )
        assert (await storage.approvals.get(record.id)).escalation_count == 1  # type: ignore[union-attr]

    async def test_an_unknown_approval_is_not_found(self, storage: Storage) -> None:
        with pytest.raises(ApprovalNotFound, match=r"^no approval with id 'nope'"):
            await storage.approvals.transition(
                "nope", decision("approved", "a", 1), entry(approval(), "approved")
            )
        assert await storage.approvals.get("nope") is None

    async def test_listing_filters_open_gates_by_checkpoint_partition_and_age(
        self, storage: Storage
    ) -> None:
        records = [
            approval("r1", "gate", "k1", requested=1),
            approval("r2", "gate", "k2", requested=2),
            approval("r3", "other", "k1", requested=3),
            approval("r4", "gate", None, requested=4),
        ]
        for r in records:
            await storage.approvals.request(r, [])
        await storage.approvals.transition(
            records[1].id, decision("rejected", "x", 5), entry(records[1], "rejected")
        )
        ids = lambda found: [r.run_id for r in found]  # noqa: E731
        assert ids(await storage.approvals.list_approvals()) == ["r1", "r3", "r4"]
        assert ids(await storage.approvals.list_approvals(open_only=False)) == [
            "r1",
            "r2",
            "r3",
            "r4",
        ]
        assert ids(await storage.approvals.list_approvals(checkpoint="gate")) == ["r1", "r4"]
        assert ids(await storage.approvals.list_approvals(partitions=["k1"])) == ["r1", "r3"]
        assert ids(await storage.approvals.list_approvals(partitions=[None])) == ["r4"]
        assert ids(await storage.approvals.list_approvals(partitions=[])) == []
        assert ids(await storage.approvals.list_approvals(requested_before=at(3))) == ["r1"]
        assert ids(await storage.approvals.list_approvals(requested_after=at(1))) == ["r3", "r4"]
        assert ids(await storage.approvals.list_approvals(limit=2)) == ["r1", "r3"]
        assert ids(await storage.approvals.list_approvals(run_id="r3")) == ["r3"]

    async def test_listing_fields_match_the_records_for_every_filter(
        self, storage: Storage
    ) -> None:
        records = [
            approval("r1", "gate", "k1", requested=1),
            approval("r2", "gate", "k2", requested=2),
            approval("r3", "other", "k1", requested=3, timeout=None),
            approval("r4", "gate", None, requested=4),
        ]
        for r in records:
            await storage.approvals.request(r, [])
        await storage.approvals.transition(
            records[1].id, decision("rejected", "x", 5), entry(records[1], "rejected")
        )
        escalated = {"status": "escalated", "escalated_to": "bob", "escalation_count": 1}
        await storage.approvals.transition(records[3].id, escalated, entry(records[3], "escalated"))
        filters: list[dict[str, Any]] = [
            {},
            {"checkpoint": "gate"},
            {"partitions": ["k1"]},
            {"partitions": [None]},
            {"partitions": []},
            {"requested_before": at(3)},
            {"limit": 2},
        ]
        for kw in filters:
            expected = [fields_of(r) for r in await storage.approvals.list_approvals(**kw)]
            assert await storage.approvals.list_fields(**kw) == expected, kw
        first, *_ = await storage.approvals.list_fields()
        assert first[:6] == ("a-r1-gate-k1", "gate", "k1", "r1", "pending", "please check")
        assert first[6:8] == (at(1), at(61))
        assert first[13] == {"rows": 3, "names": ["a", "b"]}
        last = (await storage.approvals.list_fields())[-1]
        assert (last[4], last[11], last[12]) == ("escalated", "bob", 1)

    async def test_due_lists_open_gates_whose_deadline_came(self, storage: Storage) -> None:
        early, late, never = (
            approval("r1", timeout=10),
            approval("r2", timeout=30),
            approval("r3", timeout=None),
        )
        for r in (late, early, never):
            await storage.approvals.request(r, [])
        assert [r.run_id for r in await storage.approvals.due(at(10))] == ["r1"]
        assert [r.run_id for r in await storage.approvals.due(at(99))] == ["r1", "r2"]
        await storage.approvals.transition(
            early.id, decision("approved", "a", 11), entry(early, "approved")
        )
        assert [r.run_id for r in await storage.approvals.due(at(99))] == ["r2"]

    async def test_the_audit_trail_filters_and_keeps_append_order(self, storage: Storage) -> None:
        one, two = approval("r1", partition="k1"), approval("r2", partition="k2")
        await storage.approvals.request(one, [entry(one, "requested")])
        await storage.approvals.request(two, [entry(two, "requested")])
        await storage.approvals.append_audit(entry(one, "notification_failed", "webhook"))
        trail = await storage.approvals.audit(asset="gate", partition="k1")
        assert [(e.event, e.detail) for e in trail] == [
            ("requested", {"note": "requested"}),
            ("notification_failed", {"note": "notification_failed"}),
        ]
        assert trail[0].seq is not None
        assert trail[0].seq < trail[1].seq
        assert len(await storage.approvals.audit(run_id="r2")) == 1
        assert len(await storage.approvals.audit(asset="gate", limit=1)) == 1

    async def test_approvals_survive_reopening(
        self, storage: Storage, make_storage: Callable[[], Storage]
    ) -> None:
        record = approval()
        await storage.approvals.request(record, [entry(record, "requested")])
        async with make_storage() as again:
            assert await again.approvals.get(record.id) == record
