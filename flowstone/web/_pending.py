"""The interface of dashboard pages whose wing is not on this branch yet.

The approvals queue and the schedules/sensors pages are built against ``describe()`` (a list
of items plus whether the wing is wired); until the approvals and automation wings land,
``PendingWing`` reports that they are not wired, and decisions are refused with 501 after
the role and CSRF checks, so the security of those routes is already in force.
"""

from __future__ import annotations

from typing import Any

from flowstone.web._auth import User


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

    def refusal(self, user: User) -> dict[str, Any]:
        """The answer to a decision before the wing exists."""
        return {"error": f"{self.name} are not wired yet ({self.provider})", "user": user.name}
