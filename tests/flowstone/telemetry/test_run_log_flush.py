"""Run logs stored while the run goes on: another reader sees a running run's lines, the
bound per run holds across batches, and a CLI process killed mid-run keeps what it stored."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import flowstone as fs
from actors.testing import MockClock, use_clock
from flowstone.storage import RunLogLine, Storage, open_storage
from flowstone.telemetry._log_flush import LogFlusher
from tests.flowstone.cli.project import write_project
from tests.pg import database_fixture

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
WAIT = 30.0
"""The longest a step waits for another thread or process (never reached when it works)."""

pg_url = database_fixture()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'flowstone.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def reader(store_url: str) -> AsyncIterator[Storage]:
    """Another connection to the runtime's store: what `flowstone logs` or the dashboard
    of another process reads."""
    storage = open_storage(store_url)
    await storage.open()
    yield storage
    await storage.close()


class Steps:
    """Lets a test hold an asset between its steps: the asset calls ``reached`` and waits
    until the test calls ``go_on``."""

    def __init__(self) -> None:
        self._reached = threading.Semaphore(0)
        self._go_on = threading.Semaphore(0)

    def reached(self) -> None:
        self._reached.release()
        assert self._go_on.acquire(timeout=WAIT), "the test never let the asset go on"

    async def wait(self) -> None:
        assert await asyncio.to_thread(self._reached.acquire, True, WAIT), "step not reached"

    def go_on(self) -> None:
        self._go_on.release()


def stepping(steps: Steps, rounds: int, per_round: int) -> fs.Pipeline:
    p = fs.Pipeline("stepping")

    @p.asset
    def talker(context: Any) -> int:
        for r in range(rounds):
            for i in range(per_round):
                context.log.info("line %d", r * per_round + i)
            steps.reached()
        return 1

    return p


async def running_run(reader: Storage) -> str:
    """The id of the one running run (its record is written beside the first attempt)."""

    async def found() -> list[str]:
        return [run.run_id for run in await reader.list_runs(status="running")]

    (run_id,) = await until(found, "the running run's record")
    return run_id


def flusher(rt: fs.AsyncRuntime) -> LogFlusher:
    return rt._instrumentation.logs  # type: ignore[attr-defined, no-any-return]


async def until(check: Callable[[], Awaitable[T]], what: str) -> T:
    """Wait for another task's (or thread's) store write to show; fail after WAIT."""
    deadline = time.monotonic() + WAIT
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return value


def messages(lines: list[RunLogLine]) -> list[str]:
    return [x.message for x in lines]


async def test_a_running_runs_lines_are_read_by_another_reader_after_an_explicit_flush(
    store_url: str, reader: Storage, tmp_path: Path
) -> None:
    steps = Steps()
    telemetry = fs.Telemetry(log_flush_lines=10_000, log_flush_seconds=3600)
    async with fs.AsyncRuntime(
        stepping(steps, 1, 3), store_url, base_dir=tmp_path, telemetry=telemetry
    ) as rt:
        run = asyncio.create_task(rt.materialize("talker"))
        await steps.wait()
        run_id = await running_run(reader)
        assert await reader.run_logs(run_id) == []  # neither count nor interval reached
        assert await flusher(rt).flush() == 3
        assert messages(await reader.run_logs(run_id)) == ["line 0", "line 1", "line 2"]
        steps.go_on()
        result = await run
    assert result.run_id == run_id
    assert messages(await reader.run_logs(run_id)) == ["line 0", "line 1", "line 2"]


async def test_lines_are_stored_once_the_flush_count_is_reached(
    store_url: str, reader: Storage, tmp_path: Path
) -> None:
    steps = Steps()
    telemetry = fs.Telemetry(log_flush_lines=4, log_flush_seconds=3600)
    async with fs.AsyncRuntime(
        stepping(steps, 2, 2), store_url, base_dir=tmp_path, telemetry=telemetry
    ) as rt:
        run = asyncio.create_task(rt.materialize("talker"))
        await steps.wait()  # two lines wait: below the count
        run_id = await running_run(reader)
        steps.go_on()
        await steps.wait()  # four lines wait: the logging thread woke the flusher

        async def four() -> list[RunLogLine]:
            lines = await reader.run_logs(run_id)
            return lines if len(lines) == 4 else []

        assert messages(await until(four, "four lines")) == [f"line {i}" for i in range(4)]
        assert flusher(rt).batches == 1
        steps.go_on()
        await run


async def test_lines_are_stored_once_the_flush_interval_passes_on_the_clock(
    tmp_path: Path,
) -> None:
    """The interval is a timer of the actors clock: a mock clock moved by the test."""
    url = f"sqlite:///{tmp_path / 'flowstone.db'}"
    steps = Steps()
    clock = MockClock()
    telemetry = fs.Telemetry(log_flush_lines=10_000, log_flush_seconds=2.0)
    with use_clock(clock):
        async with fs.AsyncRuntime(
            stepping(steps, 1, 2), url, base_dir=tmp_path, telemetry=telemetry
        ) as rt:
            reader = rt.storage
            run = asyncio.create_task(rt.materialize("talker"))
            await steps.wait()
            run_id = await running_run(reader)
            await clock.advance(1.9)
            await asyncio.sleep(0)
            assert flusher(rt).batches == 0
            assert await reader.run_logs(run_id) == []
            await clock.advance(0.1)

            async def two() -> list[RunLogLine]:
                lines = await reader.run_logs(run_id)
                return lines if len(lines) == 2 else []

            assert messages(await until(two, "two lines")) == ["line 0", "line 1"]
            steps.go_on()
            await run


async def test_the_bound_per_run_holds_across_flushes_with_its_marker(
    store_url: str, reader: Storage, tmp_path: Path
) -> None:
    """At most log_lines_per_run lines of a run are ever stored, plus one marker line that
    counts every line dropped so far; what ends stored is what one final store keeps."""
    steps = Steps()
    telemetry = fs.Telemetry(log_lines_per_run=5, log_flush_lines=10_000, log_flush_seconds=3600)
    marker = "[{} earlier log line(s) of this run were dropped: at most 5 lines are kept per run]"
    async with fs.AsyncRuntime(
        stepping(steps, 4, 3), store_url, base_dir=tmp_path, telemetry=telemetry
    ) as rt:
        run = asyncio.create_task(rt.materialize("talker"))
        seen = []
        for r in range(4):
            await steps.wait()
            if r == 0:
                run_id = await running_run(reader)
            await flusher(rt).flush()
            seen.append(messages(await reader.run_logs(run_id)))
            steps.go_on()
        await run
    assert seen == [
        ["line 0", "line 1", "line 2"],
        [marker.format(1), *(f"line {i}" for i in range(1, 6))],
        [marker.format(4), *(f"line {i}" for i in range(4, 9))],
        [marker.format(7), *(f"line {i}" for i in range(7, 12))],
    ]
    final = await reader.run_logs(run_id)
    assert messages(final) == seen[-1]
    assert final[0].level == "WARNING"


def test_a_bad_flush_setting_is_refused_with_what_to_use() -> None:
    with pytest.raises(fs.ConfigurationError, match="log_flush_lines=0 must be a whole number"):
        fs.Telemetry(log_flush_lines=0)
    with pytest.raises(fs.ConfigurationError, match="log_flush_seconds=0 must be a number"):
        fs.Telemetry(log_flush_seconds=0)
    with pytest.raises(fs.ConfigurationError, match="FLOWSTONE_LOG_FLUSH_SECONDS='soon'"):
        fs.Telemetry.from_environment({"FLOWSTONE_LOG_FLUSH_SECONDS": "soon"})
    settings = fs.Telemetry.from_environment({"FLOWSTONE_LOG_FLUSH_LINES": "7"})
    assert (settings.log_flush_lines, settings.log_flush_seconds) == (7, 1.0)


# -- a CLI process killed mid-run -----------------------------------------------------------

HELD = textwrap.dedent(
    """
    import asyncio
    from pathlib import Path

    import flowstone as fs

    HERE = Path(__file__).parent
    pipeline = fs.Pipeline("killed")

    @pipeline.asset
    async def held(context):
        for i in range(5):
            context.log.info("before the kill %d", i)
        (HERE / "logged").write_text("")
        await asyncio.Event().wait()
    """
)


def test_kill_9_of_a_cli_run_keeps_the_lines_stored_before_it(tmp_path: Path) -> None:
    """`flowstone materialize` in its own process logs five lines (the flush count), is
    killed with SIGKILL, and `flowstone logs` in another process shows the five lines."""
    write_project(tmp_path, HELD)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
        "FLOWSTONE_LOG_FLUSH_LINES": "5",
        "FLOWSTONE_LOG_FLUSH_SECONDS": "3600",
    }

    def cli(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "flowstone.cli", *args],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    proc = cli("materialize", "held")
    try:
        deadline = time.monotonic() + WAIT
        while not (tmp_path / "logged").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never logged"
            time.sleep(0.02)

        async def stored() -> tuple[str, list[RunLogLine]]:
            storage = open_storage(f"sqlite:///{tmp_path / '.fs' / 'flowstone.db'}")
            await storage.open()
            try:
                run_id = await running_run(storage)

                async def five() -> list[RunLogLine]:
                    lines = await storage.run_logs(run_id)
                    return lines if len(lines) == 5 else []

                return run_id, await until(five, "the five lines in the store")
            finally:
                await storage.close()

        run_id, lines = asyncio.run(stored())
        assert proc.poll() is None, "the run must still be running when it is killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL
    shown = cli("logs", run_id)
    out, err = shown.communicate(timeout=WAIT)
    assert shown.returncode == 0, err
    assert [line.split(": ", 1)[1] for line in out.splitlines()] == [
        f"before the kill {i}" for i in range(5)
    ]
    assert messages(lines) == [f"before the kill {i}" for i in range(5)]
