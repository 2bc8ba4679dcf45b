"""``Automation``: declarative conditions under which the daemon materializes an asset by
itself (``@pipeline.asset(automation=fs.Automation.on_missing())``). Only the description
lives here; flowstone/automation evaluates it and records every decision with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import final

from apscheduler.triggers.cron import CronTrigger

from flowstone.definitions._schedule import cron_trigger


@final
@dataclass(frozen=True, eq=False)
class Automation:
    """When the daemon should materialize an asset by itself; build with the class methods.

    Attributes:
        kind: ``"on_missing"``, ``"eager"`` or ``"on_cron"``.
        cron, timezone: for ``on_cron``.
        lookback: how many of the newest partitions ``on_missing`` considers.
    """

    kind: str
    cron: str | None = None
    timezone: str = "UTC"
    lookback: int = 30
    trigger: CronTrigger | None = field(default=None, repr=False)

    @classmethod
    def on_missing(cls, *, lookback: int = 30) -> Automation:
        """Materialize each partition once it is due and its upstream is there.

        For a time-partitioned asset a window is due once it has closed; only the newest
        ``lookback`` windows are considered. An unpartitioned asset is due when it has never
        been materialized. Each partition is requested at most once.
        """
        return cls("on_missing", lookback=max(1, int(lookback)))

    @classmethod
    def eager(cls) -> Automation:
        """Materialize again whenever an upstream partition was materialized after the
        asset's own newest materialization (newest partition only, for time partitions)."""
        return cls("eager")

    @classmethod
    def on_cron(cls, cron: str, timezone: str = "UTC") -> Automation:
        """Materialize the newest partition once per cron tick, once every upstream asset
        was materialized since that tick.

        Raises:
            DefinitionError: an invalid expression or zone.
        """
        trigger = cron_trigger(cron, timezone, f"Automation.on_cron({cron!r})")
        return cls("on_cron", cron=cron, timezone=timezone, trigger=trigger)

    def describe(self) -> str:
        """Return the policy as written."""
        if self.kind == "on_cron":
            return f"on_cron({self.cron!r}, timezone={self.timezone!r})"
        return f"{self.kind}()"
