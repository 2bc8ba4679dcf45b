"""Live updates for browsers: the change log, coalesced, over one WebSocket per browser.

The feed (one task per server) follows the store's change log (``Storage.wait_for_changes``
then ``Storage.changes``), so runs executing in other processes reach every browser without
any polling by the browser. Each connected browser has a ``Coalescer``: changes fold into it
(per asset: how many changed and the newest status; per run: its newest status), and a
flusher sends at most one message per ``interval``. A 10,000-partition backfill therefore
becomes a few messages a second whose size is bounded by the number of assets and
``max_runs``, never one message per partition. Every message carries ``last_id``, the
newest change it covers; a browser that reconnects with it gets what it missed (or, after
too long away, ``{"type": "resync"}``: refetch everything).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flowstone.storage import Storage
from flowstone.storage._changes import Change

log = logging.getLogger("flowstone.web")

Send = Callable[[dict[str, Any]], Awaitable[None]]

#: The most changes replayed to a reconnecting browser; beyond it, it resyncs.
CATCH_UP_LIMIT = 20_000


@dataclass
class AssetDelta:
    """What changed for one asset since the last message."""

    changed: int = 0
    status: str = ""
    partitions: list[str | None] = field(default_factory=list)


class Coalescer:
    """Folds changes into one pending message of bounded size."""

    def __init__(self, max_runs: int = 100, max_partitions: int = 20) -> None:
        self.max_runs, self.max_partitions = max_runs, max_partitions
        self.assets: dict[str, AssetDelta] = {}
        self.runs: dict[str, tuple[str, str]] = {}
        self.runs_dropped = 0
        self.last_id = 0

    def add(self, changes: Iterable[Change]) -> None:
        """Fold changes in (oldest first)."""
        for change in changes:
            self.last_id = max(self.last_id, change.seq)
            if change.kind == "run":
                if change.run_id in self.runs or len(self.runs) < self.max_runs:
                    self.runs[change.run_id] = (change.status, change.asset or "")
                else:
                    self.runs_dropped += 1
            elif change.asset is not None:
                delta = self.assets.setdefault(change.asset, AssetDelta())
                delta.changed += 1
                delta.status = change.status
                if len(delta.partitions) < self.max_partitions:
                    delta.partitions.append(change.partition)

    @property
    def pending(self) -> bool:
        """Whether there is anything to send."""
        return bool(self.assets or self.runs or self.runs_dropped)

    def take(self) -> dict[str, Any]:
        """Return the pending message and start a new one."""
        message = {
            "type": "changes",
            "last_id": self.last_id,
            "assets": {
                name: {"changed": d.changed, "status": d.status, "partitions": d.partitions}
                for name, d in self.assets.items()
            },
            "runs": [
                {"run_id": run_id, "status": status, "targets": targets}
                for run_id, (status, targets) in self.runs.items()
            ],
            "runs_dropped": self.runs_dropped,
        }
        self.assets, self.runs, self.runs_dropped = {}, {}, 0
        return message


class Client:
    """One browser's WebSocket: a coalescer and the task that flushes it."""

    def __init__(self, send: Send, interval: float) -> None:
        self._send, self._interval = send, interval
        self.coalescer = Coalescer()
        self._wake = asyncio.Event()
        self.sent = 0

    def push(self, changes: list[Change]) -> None:
        """Queue changes; never blocks (a slow browser only gets bigger, rarer messages)."""
        self.coalescer.add(changes)
        self._wake.set()

    async def run(self) -> None:
        """Send coalesced messages until the socket fails or the task is cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.coalescer.pending:
                await self._send(self.coalescer.take())
                self.sent += 1
            await asyncio.sleep(self._interval)  # the batching window


class Hub:
    """The browsers connected to one server, fed from the store's change log."""

    def __init__(self, storage: Storage, *, interval: float = 0.1) -> None:
        self.storage = storage
        self.interval = interval
        self.clients: set[Client] = set()
        self.cursor = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start following the change log from its current end."""
        self.cursor = await self.storage.last_change()
        self._task = asyncio.create_task(self._follow(), name="flowstone-web-feed")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        while True:
            try:
                await self.storage.wait_for_changes(self.cursor, timeout=5.0)
                changes = await self.storage.changes(self.cursor, limit=5000)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store blinked: try again shortly, keep the cursor
                log.exception("reading the change log failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if changes:
                self.cursor = changes[-1].seq
                for client in list(self.clients):
                    client.push(changes)

    async def attach(self, send: Send, after: int | None) -> Client:
        """Register a browser; replay what it missed since ``after`` (its last id)."""
        client = Client(send, self.interval)
        # From here the feed pushes every change above ``upto``; the replay below covers
        # ``after < seq <= upto``: no gap and no overlap, whatever the feed does meanwhile.
        upto = self.cursor
        self.clients.add(client)
        await send({"type": "hello", "last_id": upto})
        if after is not None and after < upto:
            missed = await self.storage.changes(after, limit=CATCH_UP_LIMIT)
            if len(missed) == CATCH_UP_LIMIT:
                await send({"type": "resync", "last_id": upto})
            else:
                client.push([c for c in missed if c.seq <= upto])
        return client

    def detach(self, client: Client) -> None:
        """Forget a browser."""
        self.clients.discard(client)
