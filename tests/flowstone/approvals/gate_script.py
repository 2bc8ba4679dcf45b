"""A FlowStone process for the approvals' multi-process tests (run as a subprocess).

gate_script.py create STORAGE N [ON_TIMEOUT]   reach N gates (run-0..N-1), deadlines
                                         1..N minutes after T0; print READY, then wait
gate_script.py restart STORAGE MINUTES   open the store with the wall clock at T0 + MINUTES
                                         and a deadline timer; print the first tick's
                                         count, then the statuses, as JSON
gate_script.py approve STORAGE           approve every open gate (random order)
gate_script.py deadlines STORAGE         fire every due deadline (random order)
(approve / deadlines print {approval id: status or "lost"} as JSON; the clock is T0 + 1 day)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import sys
from typing import Any

import flowstone as fs
from flowstone.approvals import ApprovalsWing
from flowstone.storage import open_storage
from tests.flowstone.approvals.gates import DAYS, T0, reach, report_pipeline


def pipeline(on_timeout: str = "escalate") -> fs.Pipeline:
    escalate_to = ("team-leads",) if on_timeout == "escalate" else None
    return report_pipeline(
        timeout=dt.timedelta(minutes=1),
        on_timeout=on_timeout,
        escalate_to=escalate_to,
        max_escalations=5,
    )


async def create(url: str, count: int, on_timeout: str) -> None:
    async with open_storage(url) as storage:
        for i in range(count):
            # Deadlines spread over N minutes: gate i is due at T0 + (i + 1) minutes.
            now = T0 + dt.timedelta(minutes=i)
            wing = ApprovalsWing(
                pipeline(on_timeout), storage, now=lambda now=now: now, timer_interval=None
            )
            day = DAYS.decode("2026-01-01") + dt.timedelta(days=i)
            await wing.gatekeeper.reached(reach(wing.pipeline, f"run-{i}", day))
        print("READY", flush=True)
        await asyncio.Event().wait()


async def restart(url: str, minutes: float) -> None:
    now = T0 + dt.timedelta(minutes=minutes)
    async with open_storage(url) as storage:
        wing = ApprovalsWing(pipeline(), storage, now=lambda: now, timer_interval=3600.0)
        await wing.start()  # the first tick runs now
        assert wing._timer is not None
        ticks = await wing._timer.call(("ticks",))
        records = await storage.approvals.list_approvals(open_only=False)
        await wing.close()
    statuses = {
        r.run_id: [r.status, r.timeout_at.isoformat() if r.timeout_at else None] for r in records
    }
    print(json.dumps({"ticks": ticks, "statuses": statuses}), flush=True)


async def decide(url: str, role: str) -> None:
    now = T0 + dt.timedelta(days=1)
    rng = random.Random()
    outcomes: dict[str, str] = {}
    async with open_storage(url) as storage:
        wing = ApprovalsWing(pipeline(), storage, now=lambda: now, timer_interval=None)
        found = await storage.approvals.list_approvals(open_only=False)
        rng.shuffle(found)
        for record in found:
            if role == "approve":
                try:
                    await wing.approvals.approve(record.id, by=f"pid-{id(wing)}")
                    outcomes[record.id] = "approved"
                except fs.ApprovalAlreadyDecided:
                    outcomes[record.id] = "lost"
            else:
                fired = await wing.decider.fire(record)
                outcomes[record.id] = "lost" if fired is None else fired.status
    print(json.dumps(outcomes), flush=True)


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    runs: dict[str, Any] = {
        "create": lambda: create(url, int(rest[0]), rest[1] if len(rest) > 1 else "escalate"),
        "restart": lambda: restart(url, float(rest[0])),
        "approve": lambda: decide(url, "approve"),
        "deadlines": lambda: decide(url, "deadlines"),
    }
    asyncio.run(runs[command]())


if __name__ == "__main__":
    main(sys.argv[1:])
