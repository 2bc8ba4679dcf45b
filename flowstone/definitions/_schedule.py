"""``ScheduleDefinition``: a cron schedule that requests runs of one asset, made with
``pipeline.schedule(...)``. The time arithmetic (time zones, DST) is APScheduler's
``CronTrigger``; the daemon (flowstone/automation) turns fire times into stored ticks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from flowstone.errors import DefinitionError

CATCH_UP = ("skip", "latest", "all")
_TICK = timedelta(microseconds=1)


def cron_trigger(cron: str, timezone: str, who: str) -> CronTrigger:
    """Parse a 5-field crontab (or 6 fields, seconds first) in ``timezone``.

    Raises:
        DefinitionError: an invalid expression or an unknown time zone.
    """
    if not isinstance(timezone, str):
        raise DefinitionError(f"{who}: timezone must be an IANA name such as 'Europe/Paris'")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            f"{who}: unknown time zone {timezone!r}; use an IANA name such as "
            f"'UTC' or 'Europe/Paris'"
        ) from None
    fields = cron.split() if isinstance(cron, str) else []
    try:
        if len(fields) == 6:
            second, minute, hour, day, month, dow = fields
            return CronTrigger(
                second=second, minute=minute, hour=hour, day=day, month=month,
                day_of_week=dow, timezone=zone,
            )  # fmt: skip
        return CronTrigger.from_crontab(" ".join(fields), timezone=zone)
    except ValueError as exc:
        raise DefinitionError(
            f"{who}: invalid cron expression {cron!r} ({exc}); expected 5 fields "
            f"'minute hour day month weekday' (e.g. '0 2 * * *'), or 6 with seconds first"
        ) from None


def fire_times(
    trigger: CronTrigger, after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """Return the fire times strictly after ``after`` and at or before ``until`` (UTC), at
    most ``limit`` of them, oldest first."""
    found: list[datetime] = []
    moment = after + _TICK
    while len(found) < limit:
        fire: datetime | None = trigger.get_next_fire_time(None, moment)
        if fire is None or fire > until:
            break
        found.append(fire.astimezone(UTC))
        moment = fire + _TICK
    return found


@final
@dataclass(frozen=True, eq=False)
class ScheduleDefinition:
    """A cron schedule of one asset; made by ``pipeline.schedule(...)``, never directly.

    Attributes:
        name: the schedule's name (runs it creates say ``triggered_by="schedule:<name>"``).
        asset: the asset each tick requests (with its upstream).
        cron: the crontab expression (5 fields, or 6 with seconds first).
        timezone: the IANA zone the expression is read in (DST-correct).
        partition: ``callable(scheduled_time) -> key``, or None: for a time-partitioned asset
            the window that closed at the tick, else no partition.
        catch_up: after downtime, ``"skip"`` missed ticks, run only the ``"latest"``, or
            run ``"all"`` of them.
    """

    name: str
    asset: str
    cron: str
    timezone: str
    partition: Callable[[datetime], Any] | None
    catch_up: str
    trigger: CronTrigger = field(repr=False)

    @property
    def origin(self) -> str:
        """The key of the schedule's ticks and state in the record store."""
        return f"schedule:{self.name}"

    def fire_times(self, after: datetime, until: datetime, limit: int = 1000) -> list[datetime]:
        """Return the tick times in ``(after, until]``, oldest first (at most ``limit``)."""
        return fire_times(self.trigger, after, until, limit)


def build_schedule(
    name: str,
    *,
    asset: str,
    cron: str,
    timezone: str = "UTC",
    partition: Callable[[datetime], Any] | None = None,
    catch_up: str = "latest",
) -> ScheduleDefinition:
    """Check the arguments of ``pipeline.schedule`` and build the definition.

    Raises:
        DefinitionError: naming the schedule and what to write instead.
    """
    who = f"schedule {name!r}"
    if not isinstance(name, str) or not name.replace("_", "a").replace("-", "a").isalnum():
        raise DefinitionError(
            f"schedule name must use letters, digits, '_' and '-', got {name!r}; "
            f"e.g. pipeline.schedule('nightly', asset=..., cron='0 2 * * *')"
        )
    if not isinstance(asset, str) or not asset:
        raise DefinitionError(f"{who}: asset must be an asset name, got {asset!r}")
    if catch_up not in CATCH_UP:
        raise DefinitionError(
            f"{who}: catch_up must be one of {', '.join(map(repr, CATCH_UP))}, got {catch_up!r}"
        )
    if partition is not None and not callable(partition):
        raise DefinitionError(
            f"{who}: partition must be a function of the scheduled time returning a key, "
            f"got {partition!r}; e.g. partition=lambda t: t.date()"
        )
    trigger = cron_trigger(cron, timezone, who)
    return ScheduleDefinition(name, asset, cron, timezone, partition, catch_up, trigger)
