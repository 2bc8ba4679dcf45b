"""Log records as one line each on standard error while a command runs.

Long-running commands (a backfill against PostgreSQL, a Ray cluster) log what they ride
out: a lost connection, a restarted writer. Python's fallback handler would print each
with its full traceback, burying the output; the CLI prints ``level: logger: message
(ErrorType: error)`` instead, and the tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TextIO


class OneLineFormatter(logging.Formatter):
    """Format a record on one line, naming its exception without the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``level: logger: message (ErrorType: error)`` on a single line."""
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            message = f"{message} ({type(error).__name__}: {error})"
        flat = " ".join(line.strip() for line in message.splitlines() if line.strip())
        return f"{record.levelname.lower()}: {record.name}: {flat}"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Write to whatever ``sys.stderr`` is at the time of the record (a progress bar or a
    test runner may have replaced it since the handler was made)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record to the current ``sys.stderr``."""
        self.setStream(sys.stderr)
        super().emit(record)


def install(verbose: bool) -> Callable[[], None]:
    """Route log records of WARNING and above to standard error; return the undo.

    With ``verbose``, records keep their traceback and INFO records are shown too.
    """
    root = logging.getLogger()
    handler = _StderrHandler()
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(OneLineFormatter())
    previous_level = root.level
    root.addHandler(handler)
    if verbose and not logging.NOTSET < previous_level <= logging.INFO:
        root.setLevel(logging.INFO)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    return undo
