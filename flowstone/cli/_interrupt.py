"""What to tell after Ctrl-C stopped a backfill: done, cancelled, left, and how to resume."""

from __future__ import annotations

import shlex
import sys

from flowstone.engine._results import BackfillResult


def interrupted_report(result: BackfillResult, asset: str) -> list[str]:
    """Lines telling what the interrupted backfill did and how to resume it.

    ``result`` is the one ``BackfillInterrupted`` carries: the backfill was cancelled as a
    whole before it was raised, so its counts are final.
    """
    done = len(result.succeeded) + len(result.failed)
    left = "unknown" if result.not_started is None else str(result.not_started)
    lines = [
        f"interrupted: backfill {result.backfill_id} of {asset} stopped",
        f"  done: {done} partitions ({len(result.succeeded)} succeeded, "
        f"{len(result.failed)} failed)",
        f"  cancelled: {len(result.cancelled)} in flight, recorded as cancelled",
        f"  left: {left} not started",
    ]
    if result.skipped:
        lines.append(f"  skipped: {len(result.skipped)} that had already succeeded")
    lines.append(
        f"resume with the same command (partitions that succeeded are skipped): {resume_command()}"
    )
    return lines


def resume_command() -> str:
    """The command line of this process, as ``flowstone ...``."""
    return shlex.join(["flowstone", *sys.argv[1:]])
