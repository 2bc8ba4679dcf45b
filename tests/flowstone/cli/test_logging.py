"""While a command runs, log records reach standard error as one line each."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flowstone.cli import cli


@pytest.fixture
def logging_command() -> click.Command:
    """A `flowstone log-demo` command that logs as the runtime's actors and stores do."""

    @cli.command("log-demo")
    def log_demo() -> None:
        try:
            raise ConnectionRefusedError("Connect call failed ('127.0.0.1', 5432)")
        except ConnectionRefusedError as error:
            logging.getLogger("actors").error("lineage writer crashed: %s", error, exc_info=error)
        logging.getLogger("flowstone.storage").warning("retrying\nin 0.5 s")
        logging.getLogger("flowstone").info("connected")

    yield log_demo
    cli.commands.pop("log-demo")


def test_records_are_one_line_each_without_tracebacks(
    project: Path, logging_command: click.Command
) -> None:
    result = CliRunner().invoke(cli, ["log-demo"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "error: actors: lineage writer crashed: Connect call failed ('127.0.0.1', 5432) "
        "(ConnectionRefusedError: Connect call failed ('127.0.0.1', 5432))",
        "warning: flowstone.storage: retrying in 0.5 s",
    ]


def test_verbose_shows_tracebacks_and_info(project: Path, logging_command: click.Command) -> None:
    result = CliRunner().invoke(cli, ["-v", "log-demo"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "INFO flowstone: connected" in result.stderr


def test_the_handler_is_removed_when_the_command_ends(
    project: Path, logging_command: click.Command
) -> None:
    before = list(logging.getLogger().handlers)
    CliRunner().invoke(cli, ["log-demo"], catch_exceptions=False)
    assert logging.getLogger().handlers == before
