"""`make demo` ends with CLI commands that work without activating the virtual environment."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def demo_main(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.chdir(EXAMPLES)
    import analytics_demo.__main__ as demo

    yield demo
    for name in [m for m in sys.modules if m.startswith("analytics_demo")]:
        del sys.modules[name]


def test_the_suggested_cli_command_runs_from_examples_with_a_bare_path(
    demo_main: object, tmp_path: Path
) -> None:
    command = shlex.split(demo_main.cli_command())  # type: ignore[attr-defined]
    env = {
        "PATH": "/usr/bin:/bin",  # no virtual environment on the path
        "PYTHONPATH": str(ROOT),
        "FLOWSTONE_STORAGE": "memory",
    }
    result = subprocess.run(
        [*command, "--version"], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowstone, version ")


def test_the_makefile_demo_runs_the_cli_through_the_venv_path() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    last = recipe.strip().splitlines()[-1].strip()
    assert "../$(BIN)/flowstone " in last, last
