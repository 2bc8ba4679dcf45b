"""A rich progress bar fed by backfill events."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from flowstone.engine._events import Event, EventBus


class BackfillProgress:
    """Show a backfill's progress in the terminal while the block runs."""

    def __init__(self, events: EventBus, asset: str, console: Any = None) -> None:
        from rich.markup import escape
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
            TextColumn(f"backfill [bold]{escape(asset)}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
            console=console,
        )
        self._task: Any = None
        self._unsubscribe: Any = None
        self._handlers: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

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
        before = sys.stderr
        self._progress.start()
        if sys.stderr is not before:  # rich redirects stderr above the bar on a terminal
            self._handlers = _redirect_log_handlers({before, sys.__stderr__}, sys.stderr)
        self._task = self._progress.add_task("backfill", total=None, failed=0)
        self._unsubscribe = self._events.subscribe(self._on_event)
        return self

    def __exit__(self, *exc: object) -> None:
        self._unsubscribe()
        for handler, stream in self._handlers:
            handler.setStream(stream)
        self._handlers = []
        self._progress.stop()


def _redirect_log_handlers(
    streams: set[Any], target: TextIO
) -> list[tuple[logging.StreamHandler[TextIO], TextIO]]:
    """Point the log handlers that write to one of ``streams`` at ``target``; return what
    to restore.

    Libraries such as Ray make their handlers at import time, holding the ``sys.stderr`` of
    that moment: their warnings would bypass the bar's redirection and break its line.
    """
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    moved = []
    for lg in loggers:
        for handler in lg.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and (
                stream in streams or _is_stderr(stream)
            ):
                moved.append((handler, handler.stream))
                handler.setStream(target)
    return moved


def _is_stderr(stream: Any) -> bool:
    try:
        return bool(stream.fileno() == 2)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
