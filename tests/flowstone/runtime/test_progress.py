"""The backfill progress bar keeps its line when libraries log (Ray's warnings)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from rich.console import Console

from flowstone.engine._events import EventBus
from flowstone.runtime._progress import BackfillProgress


@pytest.fixture
def early_logger(
    capsys: pytest.CaptureFixture[str],
) -> Iterator[tuple[logging.Logger, logging.StreamHandler[io.StringIO]]]:
    """A logger whose handler took ``sys.stderr`` at import time, as Ray's does (after
    ``capsys`` replaced it, so the test can see where the line goes)."""
    logger = logging.getLogger("flowstone.tests.ray_like")
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, handler  # type: ignore[misc]
    logger.removeHandler(handler)
    logger.propagate = True


def test_a_library_log_line_is_printed_above_the_bar_not_into_it(
    early_logger: tuple[logging.Logger, logging.StreamHandler[io.StringIO]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger, handler = early_logger
    original = handler.stream
    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=100)
    with BackfillProgress(EventBus(), "daily[eu]", console=console):
        logger.warning("ray: a worker was slow to start")
    assert "ray: a worker was slow to start" in terminal.getvalue()
    assert "a worker was slow" not in capsys.readouterr().err
    assert handler.stream is original  # restored after the bar


def test_the_asset_name_is_shown_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=100, color_system=None)
    with BackfillProgress(EventBus(), "daily[eu]", console=console):
        pass
    assert "backfill daily[eu]" in terminal.getvalue()
