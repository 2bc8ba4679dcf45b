"""Schedules and sensors in the dashboard, over the automation wing's store: each one's
definition, on/off state and recent ticks, the daemons that run them, and switching one on
or off (persisted: a daemon reads it at its next tick)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flowstone import AsyncRuntime
from flowstone.web._auth import User
from flowstone.web._views import iso

KINDS = ("schedule", "sensor")


class AutomationSection:
    """The schedules and sensors page (the page builds against ``describe``)."""

    def __init__(self, runtime: AsyncRuntime) -> None:
        self.rt = runtime

    def _defined(self, kind: str) -> dict[str, Any]:
        pipeline = self.rt.pipeline
        return dict(pipeline.schedules if kind == "schedule" else pipeline.sensors)

    async def describe(self, ticks: int = 5) -> dict[str, Any]:
        """Every schedule and sensor with its state and latest ticks, and the daemons."""
        store = await self.rt.queue.store()
        now = datetime.now(UTC)
        items: list[dict[str, Any]] = []
        for kind in KINDS:
            defined = self._defined(kind)
            origins = [f"{kind}:{name}" for name in sorted(defined)]
            for state in await store.states(self.rt.pipeline.name, origins, now):
                name = state.origin.split(":", 1)[1]
                recent = await store.ticks(self.rt.pipeline.name, state.origin, ticks)
                items.append(
                    {
                        "kind": kind,
                        "name": name,
                        "enabled": state.enabled,
                        "definition": _describe(defined[name]),
                        "cursor": state.cursor,
                        "ticks": [
                            {
                                "at": iso(t.tick_at),
                                "status": t.status,
                                "runs": list(t.run_ids),
                                "error": t.error,
                            }
                            for t in recent
                        ],
                    }
                )
        daemons = [
            {
                "id": d.daemon_id,
                "host": d.host,
                "pid": d.pid,
                "status": d.status,
                "heartbeat_at": iso(d.heartbeat_at),
                "runs": list(d.runs),
            }
            for d in await store.daemons()
        ]
        return {"wired": True, "items": items, "daemons": daemons, "note": None}

    async def switch(
        self, user: User, kind: str, name: str, on: bool
    ) -> tuple[int, dict[str, Any]]:
        """Turn one schedule or sensor on or off, as ``user``."""
        if kind not in KINDS or name not in self._defined(kind):
            return 404, {"error": f"no {kind} {name!r} in pipeline {self.rt.pipeline.name!r}"}
        store = await self.rt.queue.store()
        await store.set_enabled(self.rt.pipeline.name, f"{kind}:{name}", on, datetime.now(UTC))
        return 200, {"kind": kind, "name": name, "enabled": on, "by": user.name}


def _describe(definition: Any) -> str:
    if hasattr(definition, "cron"):
        return (
            f"{definition.asset} @ {definition.cron} {definition.timezone} ({definition.catch_up})"
        )
    return f"every {definition.interval:g}s"
