"""A rich progress bar fed by backfill events."""

from __future__ import annotations

from typing import Any

from flowstone.engine._events import Event, EventBus


class BackfillProgress:
    """Show a backfill's progress in the terminal while the block runs."""

    def __init__(self, events: EventBus, asset: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._events = events
        self._progress = Progress(
            TextColumn(f"backfill [bold]{asset}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task: Any = None
        self._unsubscribe: Any = None

    def _on_event(self, event: Event) -> None:
        if event.kind == "backfill.started":
            total = event.data.get("total")
            self._progress.update(self._task, total=total)
        elif event.kind == "backfill.progress":
            self._progress.update(self._task, advance=1, failed=event.data.get("failed", 0))
        elif event.kind == "backfill.finished":
            skipped = event.data.get("skipped", 0)
            if skipped:
                self._progress.update(self._task, advance=skipped)

    def __enter__(self) -> BackfillProgress:
        self._progress.start()
        self._task = self._progress.add_task("backfill", total=None, failed=0)
        self._unsubscribe = self._events.subscribe(self._on_event)
        return self

    def __exit__(self, *exc: object) -> None:
        self._unsubscribe()
        self._progress.stop()
