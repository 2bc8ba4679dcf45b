"""The run-log part of the storage contract (mixed into ``StorageContract``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowstone.errors import StorageError
from flowstone.storage import RunLogLine, Storage

T0 = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)


def line(run_id: str, seq: int, message: str, *, seconds: float = 0.0, **kw: object) -> RunLogLine:
    at = T0 + timedelta(seconds=seconds)
    return RunLogLine(run_id, seq, at, "INFO", "flowstone.asset.raw", message, **kw)  # type: ignore[arg-type]


class RunLogContract:
    """Run logs are appended and read back in the order they were written."""

    async def test_run_log_lines_come_back_equal_and_in_order(self, storage: Storage) -> None:
        """Every field survives, and lines come back ordered by time then seq."""
        full = line(
            "r1",
            2,
            "loaded 3 rows",
            asset="raw",
            partition="2025-01-15",
            attempt=1,
            trace_id="0af7651916cd43dd8448eb211c80319c",
            span_id="b7ad6b7169203331",
            tenant="acme",
        )
        await storage.append_run_logs([line("r1", 3, "third", seconds=1), full])
        await storage.append_run_logs([line("r1", 1, "first"), line("r2", 1, "other run")])

        found = await storage.run_logs("r1")

        assert [f.message for f in found] == ["first", "loaded 3 rows", "third"]
        assert found[1] == full
        assert found[1].at.tzinfo is not None

    async def test_a_limit_keeps_the_newest_lines(self, storage: Storage) -> None:
        """``limit`` returns the last lines, still oldest first."""
        await storage.append_run_logs([line("r1", i, f"line {i}", seconds=i) for i in range(5)])

        found = await storage.run_logs("r1", limit=2)

        assert [f.message for f in found] == ["line 3", "line 4"]

    async def test_a_run_without_logs_has_none(self, storage: Storage) -> None:
        """An unknown run id reads as no lines, not an error."""
        await storage.append_run_logs([])
        assert await storage.run_logs("nope") == []

    async def test_a_naive_time_is_refused(self, storage: Storage) -> None:
        """A naive datetime is refused with StorageError, as in records."""
        naive = RunLogLine("r1", 1, datetime(2025, 1, 1), "INFO", "x", "m")
        with pytest.raises(StorageError, match="run log line at must be a timezone-aware"):
            await storage.append_run_logs([naive])

    async def test_dropped_lines_are_deleted_in_the_same_append(self, storage: Storage) -> None:
        """``drop`` deletes exactly the lines it names (run, seq, time and logger): a line
        of another run, or of the same seq at another time, stays."""
        first, second = line("r1", 1, "first"), line("r1", 2, "second", seconds=1)
        twin = line("r1", 1, "same seq, later", seconds=5)  # a resumed run in a new process
        other = line("r2", 1, "other run")
        await storage.append_run_logs([first, second, twin, other])
        marker = RunLogLine("r1", 1, T0 + timedelta(seconds=1), "WARNING", "flowstone.logs", "m")

        await storage.append_run_logs([marker, line("r1", 3, "third", seconds=2)], drop=[first])
        assert [f.message for f in await storage.run_logs("r1")] == [
            "m", "second", "third", "same seq, later",
        ]  # fmt: skip
        await storage.append_run_logs([], drop=[marker, second])
        assert [f.message for f in await storage.run_logs("r1")] == ["third", "same seq, later"]
        assert [f.message for f in await storage.run_logs("r2")] == ["other run"]
