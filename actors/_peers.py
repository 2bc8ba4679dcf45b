"""``Peers``: who is linked to a process, who monitors it and who waits for its replies,
and what they are told when it exits; shared by every backend."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from actors._exceptions import NoProc
from actors._messages import Down, format_reason

if TYPE_CHECKING:
    from actors._ref import ActorRef
    from actors.abc import ProcessBackend


class Peers:
    """Internal: the link and monitor bookkeeping of one process (local or Ray-hosted).

    The owner sets ``alive`` and empties both collections when it exits; peers that try to
    link to or monitor it after that are told it is dead (``False``).
    """

    alive: bool
    ref: ActorRef
    _links: set[ProcessBackend]
    _monitored_by: dict[int, ProcessBackend]
    _callers: dict[asyncio.Future[Any], Any]

    def _init_peers(self) -> None:
        self._links = set()
        self._monitored_by = {}

    def add_link(self, peer: ProcessBackend) -> bool:
        """Record a link from ``peer``; False if this actor is already dead."""
        if not self.alive:
            return False
        self._links.add(peer)
        return True

    def remove_link(self, peer: ProcessBackend) -> None:
        """Forget the link with ``peer``."""
        self._links.discard(peer)

    def add_monitor(self, monitor_id: int, watcher: ProcessBackend) -> bool:
        """Record that ``watcher`` monitors this actor; False if already dead."""
        if not self.alive:
            return False
        self._monitored_by[monitor_id] = watcher
        return True

    def remove_monitor(self, monitor_id: int) -> None:
        """Forget monitor ``monitor_id``."""
        self._monitored_by.pop(monitor_id, None)

    def _fail_callers(self, reason: Any) -> None:
        """Fail every pending call at once with ``NoProc``: nobody waits for a timeout."""
        callers, self._callers = self._callers, {}
        for future, request in callers.items():
            if not future.done():
                text = (
                    f"call {request!r} to {self.ref!r} failed: the actor exited "
                    f"({format_reason(reason)}) before replying"
                )
                future.set_exception(NoProc(text, ref=self.ref, reason=reason, request=request))

    def _notify_peers(self, reason: Any) -> None:
        """Send the exit to every linked process and a ``Down`` to every monitor."""
        links, self._links = self._links, set()
        for peer in links:
            peer.remove_link(self)  # type: ignore[arg-type]
            peer.exit_signal(self.ref, reason)
        watchers, self._monitored_by = self._monitored_by, {}
        for monitor_id, watcher in watchers.items():
            watcher.down_signal(Down(monitor_id, self.ref, reason))
