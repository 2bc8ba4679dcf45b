"""``Peers``: who is linked to a process and who monitors it, shared by every backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.abc import ProcessBackend


class Peers:
    """Internal: the link and monitor bookkeeping of one process (local or Ray-hosted).

    The owner sets ``alive`` and empties both collections when it exits; peers that try to
    link to or monitor it after that are told it is dead (``False``).
    """

    alive: bool
    _links: set[ProcessBackend]
    _monitored_by: dict[int, ProcessBackend]

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
