"""Run logs: lines of context.log and Python logging, attributed, bounded, stored, shown."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import flowstone as fs
from flowstone.cli import cli
from tests.flowstone.telemetry.conftest import Observed, two_steps


async def test_context_log_lines_are_stored_with_run_asset_partition_and_attempt(
    make_runtime: Any,
) -> None:
    """Without any OpenTelemetry configured, the run's lines are captured and stored."""
    rt = make_runtime(two_steps(), telemetry=fs.Telemetry())
    result = await rt.materialize_all("clean", "2025-01-02")

    lines = await rt.logs(result.run_id)
    assert [(x.logger, x.level, x.message) for x in lines] == [
        ("flowstone.asset.raw", "INFO", "raw for 2025-01-02"),
        ("flowstone.asset.clean", "INFO", "cleaning 3 rows"),
    ]
    assert {(x.run_id, x.partition, x.attempt) for x in lines} == {(result.run_id, "2025-01-02", 1)}
    assert [x.asset for x in lines] == ["raw", "clean"]
    assert {x.trace_id for x in lines} == {None}


async def test_lines_carry_the_trace_and_span_of_their_attempt(
    make_runtime: Any, observed: Observed
) -> None:
    """With tracing on, each line names the attempt span that was current."""
    rt = make_runtime(two_steps(), telemetry=observed.telemetry)
    result = await rt.materialize_all("clean", "2025-01-02")

    spans = {s.attributes["flowstone.asset"]: s for s in observed.spans("flowstone.materialize")}  # type: ignore[index]
    for line in await rt.logs(result.run_id):
        span = spans[line.asset]
        assert line.trace_id == format(span.context.trace_id, "032x")
        assert line.span_id == format(span.context.span_id, "016x")


async def test_python_logging_in_async_and_thread_assets_is_captured(make_runtime: Any) -> None:
    """Any logger's records made on behalf of an attempt count, in threads and coroutines."""
    p = fs.Pipeline("loggers")
    library = logging.getLogger("some.library")

    @p.asset()
    def in_thread(context: Any) -> int:
        library.warning("from a thread")
        return 1

    @p.asset(depends_on=["in_thread"])
    async def on_loop(context: Any, in_thread: int) -> int:
        library.error("from the loop")
        logging.getLogger("some.library.debug").debug("below the capture level")
        return in_thread

    rt = make_runtime(p, telemetry=fs.Telemetry())
    result = await rt.materialize_all("on_loop")
    lines = await rt.logs(result.run_id)
    assert [(x.asset, x.logger, x.level, x.message) for x in lines] == [
        ("in_thread", "some.library", "WARNING", "from a thread"),
        ("on_loop", "some.library", "ERROR", "from the loop"),
    ]


async def test_records_are_stamped_for_the_users_own_handlers(
    make_runtime: Any, observed: Observed
) -> None:
    """A user's handler sees flowstone_run_id, flowstone_asset... and otelTraceID."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    logging.getLogger("flowstone.asset").addHandler(handler)
    try:
        rt = make_runtime(two_steps(), telemetry=observed.telemetry)
        result = await rt.materialize_all("clean", "2025-01-02")
    finally:
        logging.getLogger("flowstone.asset").removeHandler(handler)

    record = next(r for r in seen if r.name == "flowstone.asset.clean")
    assert record.flowstone_run_id == result.run_id  # type: ignore[attr-defined]
    assert record.flowstone_asset == "clean"  # type: ignore[attr-defined]
    assert record.flowstone_partition == "2025-01-02"  # type: ignore[attr-defined]
    assert record.flowstone_attempt == 1  # type: ignore[attr-defined]
    assert len(record.otelTraceID) == 32  # type: ignore[attr-defined]


async def test_a_failed_attempts_lines_and_traceback_are_kept(make_runtime: Any) -> None:
    """Lines of a failing run are stored too; an exception's traceback is in its line."""
    p = fs.Pipeline("failing")

    @p.asset()
    def broken(context: Any) -> int:
        try:
            raise KeyError("missing column")
        except KeyError:
            context.log.exception("could not parse")
        raise RuntimeError("gave up")

    rt = make_runtime(p, telemetry=fs.Telemetry())
    with pytest.raises(fs.RunFailed) as failed:
        await rt.materialize("broken")
    [line] = await rt.logs(failed.value.result.run_id)
    assert line.level == "ERROR"
    assert line.message.startswith("could not parse\nTraceback (most recent call last):")
    assert line.message.endswith("KeyError: 'missing column'")


async def test_the_oldest_lines_are_dropped_beyond_the_bound_with_a_marker(
    make_runtime: Any,
) -> None:
    """At most log_lines_per_run lines are kept; a first line says how many were dropped."""
    p = fs.Pipeline("chatty")

    @p.asset()
    def chatty(context: Any) -> int:
        for i in range(10):
            context.log.info("line %d", i)
        return 1

    rt = make_runtime(p, telemetry=fs.Telemetry(log_lines_per_run=3))
    result = await rt.materialize("chatty")
    lines = await rt.logs(result.run_id)
    assert [x.message for x in lines] == [
        "[7 earlier log line(s) of this run were dropped: at most 3 lines are kept per run]",
        "line 7",
        "line 8",
        "line 9",
    ]
    assert lines[0].level == "WARNING"


async def test_capture_can_be_turned_off(make_runtime: Any) -> None:
    """capture_logs=False stores nothing."""
    rt = make_runtime(two_steps(), telemetry=fs.Telemetry(capture_logs=False))
    result = await rt.materialize_all("clean", "2025-01-02")
    assert await rt.logs(result.run_id) == []


async def test_log_lines_outside_any_run_are_not_captured(make_runtime: Any) -> None:
    """A line logged by the caller, between runs, belongs to no run."""
    rt = make_runtime(two_steps(), telemetry=fs.Telemetry())
    logging.getLogger("flowstone.asset.raw").warning("not in a run")
    result = await rt.materialize_all("clean", "2025-01-02")
    assert "not in a run" not in [x.message for x in await rt.logs(result.run_id)]


def test_a_bound_below_one_is_refused() -> None:
    """log_lines_per_run=0 is a configuration error that says what to use instead."""
    with pytest.raises(fs.ConfigurationError, match="use capture_logs=False to keep no lines"):
        fs.Telemetry(log_lines_per_run=0)


# -- flowstone logs RUN_ID ------------------------------------------------------------------

PIPELINE = textwrap.dedent(
    """
    import flowstone as fs

    pipeline = fs.Pipeline("cli_logs")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")

    @pipeline.asset(partitioned_by=days)
    def numbers(context):
        context.log.info("counting to %d", context.partition.day)
        return list(range(context.partition.day))
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    module = f"cli_logs_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(PIPELINE)
    (tmp_path / "flowstone.toml").write_text(
        f'[flowstone]\npipeline = "{module}:pipeline"\nbase_dir = ".fs"\n'
    )
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(module, None)


def test_flowstone_logs_prints_a_runs_lines(project: Path) -> None:
    """`flowstone logs RUN_ID` reads the lines stored in the project's SQLite store."""
    runner = CliRunner()
    made = runner.invoke(cli, ["--json", "materialize", "numbers", "-p", "2025-01-03"])
    assert made.exit_code == 0, made.output
    run_id = runner.invoke(cli, ["--json", "runs"]).output.split('"run_id": "')[1].split('"')[0]

    shown = runner.invoke(cli, ["logs", run_id])

    assert shown.exit_code == 0
    [line] = shown.output.splitlines()
    assert line.endswith(" INFO     numbers[2025-01-03] #1 flowstone.asset.numbers: counting to 3")


def test_flowstone_logs_of_an_unknown_run_says_how_to_find_one(project: Path) -> None:
    """An unknown run id exits with the usage code and points at `flowstone runs`."""
    runner = CliRunner()
    made = runner.invoke(cli, ["materialize", "numbers", "-p", "2025-01-03"])
    assert made.exit_code == 0, made.output
    shown = runner.invoke(cli, ["logs", "nope"])
    assert shown.exit_code == 2
    compact = "".join(shown.output.split())  # rich may wrap long lines anywhere
    assert compact.startswith("error:norun'nope'isrecordedinsqlite:///")
    assert compact.endswith("flowstone.db;`flowstoneruns`liststhem")


def test_the_blocking_runtime_takes_telemetry_and_reads_logs(
    tmp_path: Path, observed: Observed
) -> None:
    """fs.Runtime(..., telemetry=fs.Telemetry(...)) traces, and rt.logs reads the lines."""
    with fs.Runtime(
        two_steps(),
        storage="memory",
        base_dir=tmp_path,
        io_managers={"fs": fs.io.MemoryIOManager()},
        telemetry=observed.telemetry,
    ) as rt:
        result = rt.materialize_all("clean", "2025-01-02")
        lines = rt.logs(result.run_id, limit=1)
    assert [x.message for x in lines] == ["cleaning 3 rows"]
    assert len(observed.spans("flowstone.materialize")) == 2
