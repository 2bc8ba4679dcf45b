"""The interface of dashboard pages whose wing is not on this branch yet.

The schedules/sensors page is built against ``describe()`` (a list of items plus whether the
wing is wired); until the automation wing lands, ``PendingWing`` reports that it is not
wired. (The approvals queue used it too until the approvals wing landed: ``_approvals``.)
"""

from __future__ import annotations

from typing import Any


class PendingWing:
    """A dashboard section waiting for its wing."""

    def __init__(self, name: str, provider: str) -> None:
        self.name, self.provider = name, provider

    def describe(self) -> dict[str, Any]:
        """What the page shows: nothing yet, and why."""
        return {
            "wired": False,
            "items": [],
            "note": f"pending wiring: {self.name} appear here once {self.provider} is merged",
        }
