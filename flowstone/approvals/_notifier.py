"""Notifications on gate events: a pluggable ``Notifier`` and the ``WebhookNotifier``.

Notifiers are called on ``requested``, ``escalated`` and ``decided`` (every terminal
state, automatic ones included). They run in the background: a gate never waits for a
notifier, and a notifier that fails (or hangs until its own timeout) never blocks or
loses a gate. Its failure is logged and appended to the audit trail
(``notification_failed``), so a missed page is visible afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, final, runtime_checkable

import actors
from flowstone.approvals._approval import Approval
from flowstone.errors import FlowStoneError
from flowstone.storage import ApprovalStore, AuditEntry

log = logging.getLogger("flowstone.approvals")

EVENTS = ("requested", "escalated", "decided")


@final
@dataclass(frozen=True, slots=True)
class Notification:
    """One gate event: ``event`` is ``requested``, ``escalated`` or ``decided``."""

    event: str
    approval: Approval

    def to_json(self) -> dict[str, Any]:
        """Return the payload a webhook receives."""
        return {"event": self.event, "approval": self.approval.to_json()}


@runtime_checkable
class Notifier(Protocol):
    """Something told about gate events (chat, e-mail, a pager, a webhook).

    ``notify`` runs as a background task of the process that caused the event; if it
    raises, the failure is logged and recorded in the audit trail and nothing else happens.
    """

    async def notify(self, notification: Notification) -> None:
        """Deliver one notification."""
        ...


class NotificationFailed(FlowStoneError, ConnectionError):
    """Raised by a notifier that could not deliver a notification (after its retries)."""


@final
class WebhookNotifier:
    """POST each notification as JSON to ``url``, retrying with exponential backoff.

    Args:
        url: the endpoint (http or https).
        headers: extra request headers (e.g. an authorization token).
        retries: attempts after the first one; a 2xx answer ends them.
        backoff: seconds before the first retry, doubled for each further one (runtime clock).
        timeout: seconds one attempt may take.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout

    async def notify(self, notification: Notification) -> None:
        """POST the notification; raise ``NotificationFailed`` once every attempt failed."""
        body = json.dumps(notification.to_json(), default=str).encode()
        failures: list[str] = []
        for attempt in range(self.retries + 1):
            if attempt:
                await actors.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                await asyncio.to_thread(self._post, body)
                return
            except (OSError, urllib.error.URLError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
        raise NotificationFailed(
            f"webhook {self.url} refused {notification.event} of approval "
            f"{notification.approval.id} {len(failures)} time(s); last: {failures[-1]}"
        )

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"HTTP {response.status}")

    def __repr__(self) -> str:
        return f"<WebhookNotifier {self.url}>"


class Notifications:
    """Internal: sends each event to every notifier in the background and records failures.

    Args:
        notifiers: who to tell.
        store: where failures are appended to the audit trail.
        now: the wall clock of audit rows.
    """

    def __init__(
        self, notifiers: Sequence[Notifier], store: ApprovalStore, now: Callable[[], datetime]
    ) -> None:
        self._notifiers = tuple(notifiers)
        self._store = store
        self._now = now
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, event: str, approval: Approval) -> None:
        """Start telling every notifier; returns at once."""
        for notifier in self._notifiers:
            task = asyncio.get_running_loop().create_task(
                self._deliver(notifier, Notification(event, approval))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, notifier: Notifier, notification: Notification) -> None:
        try:
            await notifier.notify(notification)
        except Exception as exc:
            await self._record_failure(notifier, notification, exc)

    async def _record_failure(
        self, notifier: Notifier, notification: Notification, exc: Exception
    ) -> None:
        approval = notification.approval
        log.warning(
            "notifier %r failed on %s of approval %s: %s",
            notifier,
            notification.event,
            approval.id,
            exc,
        )
        entry = AuditEntry(
            id=uuid.uuid4().hex,
            event="notification_failed",
            actor=repr(notifier),
            at=self._now(),
            run_id=approval.run_id,
            asset=approval.checkpoint,
            partition=approval.partition_key,
            approval_id=approval.id,
            reason=f"{type(exc).__name__}: {exc}",
            detail={"notification": notification.event},
        )
        try:
            await self._store.append_audit(entry)
        except Exception:
            log.exception("could not record the failure of notifier %r", notifier)

    async def drain(self) -> None:
        """Wait until every notification sent so far was delivered or recorded as failed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel deliveries still in flight (their retries would outlive the runtime)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
