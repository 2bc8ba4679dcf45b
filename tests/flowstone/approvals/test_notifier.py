"""Notifications: a webhook receives JSON on request, escalation and decision, retrying
with backoff; a failing notifier never blocks or loses a gate, and its failure is logged
and recorded in the audit trail."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import flowstone as fs
from flowstone.approvals import ApprovalsWing, Notification
from flowstone.engine._gate import Wait
from tests.flowstone.approvals.gates import Clock, reach


class Hook:
    """A local HTTP endpoint that fails the first ``failures`` POSTs with HTTP 503."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                if hook.attempts <= hook.failures:
                    self.send_response(503)
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    made = Hook(failures=2)
    yield made
    made.close()


async def test_a_webhook_gets_request_escalation_and_decision_as_json_after_retries(
    make_wing: Callable[..., ApprovalsWing], clock: Clock, hook: Hook
) -> None:
    notifier = fs.WebhookNotifier(hook.url, retries=3, backoff=0.0)
    wing = make_wing(notifiers=[notifier])
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Wait)
    await wing.settle()
    clock.advance(hours=24)
    await wing.decider.fire_due()
    await wing.settle()
    await wing.approvals.approve(outcome.approval_id, by="alice")
    await wing.settle()
    assert hook.attempts == 5  # two refusals, then three deliveries
    assert [(m["event"], m["approval"]["status"]) for m in hook.received] == [
        ("requested", "pending"),
        ("escalated", "escalated"),
        ("decided", "approved"),
    ]
    assert hook.received[0]["approval"]["partition"] == "2026-03-01"
    assert [e.event for e in await wing.store.audit()] == ["requested", "escalated", "approved"]


class Broken:
    async def notify(self, notification: Notification) -> None:
        raise RuntimeError("chat is down")

    def __repr__(self) -> str:
        return "<Broken>"


async def test_a_failing_notifier_never_blocks_a_gate_and_its_failure_is_audited(
    make_wing: Callable[..., ApprovalsWing], caplog: pytest.LogCaptureFixture
) -> None:
    wing = make_wing(notifiers=[Broken()])
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Wait)
    approved = await wing.approvals.approve(outcome.approval_id, by="alice")
    assert approved.status == "approved"
    await wing.settle()
    trail = await wing.store.audit(approval_id=outcome.approval_id)
    failures = [
        (e.actor, e.reason, e.detail["notification"])
        for e in trail
        if e.event == "notification_failed"
    ]
    assert sorted(failures) == [
        ("<Broken>", "RuntimeError: chat is down", "decided"),
        ("<Broken>", "RuntimeError: chat is down", "requested"),
    ]
    assert "notifier <Broken> failed on requested" in caplog.text


async def test_a_webhook_that_never_answers_raises_after_its_retries(hook: Hook) -> None:
    hook.failures = 10
    notifier = fs.WebhookNotifier(hook.url, retries=2, backoff=0.0)
    approval = fs.Approval(
        "a1", "gate", None, "run-1", "pending", None, Clock()(), None, None, None, None, None, 0
    )
    with pytest.raises(
        fs.approvals.NotificationFailed,
        match=r"refused requested of approval a1 3 time\(s\); last: HTTPError: HTTP Error 503",
    ):
        await notifier.notify(Notification("requested", approval))


async def test_webhook_retries_wait_an_exponential_backoff_on_the_runtime_clock(
    hook: Hook,
) -> None:
    import asyncio

    from actors.testing import MockClock, use_clock

    hook.failures = 2
    notifier = fs.WebhookNotifier(hook.url, retries=3, backoff=10.0)
    approval = fs.Approval(
        "a1", "gate", None, "run-1", "pending", None, Clock()(), None, None, None, None, None, 0
    )
    mock = MockClock()

    async def backing_off() -> None:
        # The POSTs run in a thread (real I/O): wait until the notifier sleeps on the clock.
        while mock.pending_timers == 0:  # noqa: ASYNC110 - the clock has no "scheduled" event
            await asyncio.sleep(0.001)

    with use_clock(mock):
        task = asyncio.get_running_loop().create_task(
            notifier.notify(Notification("requested", approval))
        )
        await asyncio.wait_for(backing_off(), timeout=10)
        assert (hook.attempts, mock.next_deadline) == (1, 10.0)  # first retry after 10 s
        await mock.advance(10.0)
        await asyncio.wait_for(backing_off(), timeout=10)
        assert (hook.attempts, mock.next_deadline) == (2, 30.0)  # then after 20 s more
        await mock.advance(20.0)
        await asyncio.wait_for(task, timeout=10)
    assert hook.attempts == 3
    assert len(hook.received) == 1
