"""Every `flowstone` command the README shows works as written, on the example pipeline."""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flowstone.cli.project import run

ROOT = Path(__file__).resolve().parents[3]


def readme_commands() -> list[list[str]]:
    """The `flowstone ...` lines of the README's shell blocks, split as a shell would."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash|shell|console)\n(.*?)```", text, flags=re.S)
    lines = [line.strip().removeprefix("$ ") for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("flowstone ")]


@pytest.fixture
def example_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example pipeline with its records kept in a temporary folder."""
    (tmp_path / "flowstone.toml").write_text(
        "[flowstone]\n"
        'pipeline = "analytics_demo.pipeline:pipeline"\n'
        f'python_path = ["{ROOT / "examples"}"]\n'
        'base_dir = ".flowstone"\n'
    )
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("analytics_demo")]:
        del sys.modules[name]


def test_the_readme_shows_the_main_commands() -> None:
    shown = {command[0] for command in readme_commands()}
    assert {"check", "materialize", "backfill", "lineage", "runs"} <= shown


def test_every_readme_command_runs_as_written(example_project: Path) -> None:
    outputs = {}
    for command in readme_commands():
        code, out = run(*command)
        assert code == 0, f"flowstone {shlex.join(command)} exited {code}:\n{out}"
        outputs[command[0]] = out
    runs = json.loads(outputs["runs"])  # `flowstone runs --json`: the newest 20
    assert len(runs) == 20
    assert {r["kind"] for r in runs} == {"backfill"}


def test_json_is_accepted_after_every_command_with_json_output(project: Path) -> None:
    run("materialize", "numbers", "-p", "2025-01-02")
    commands = [
        ["check"],
        ["list"],
        ["graph"],
        ["materialize", "numbers", "-p", "2025-01-03"],
        ["backfill", "numbers", "2025-01-04"],
        ["lineage", "numbers", "-p", "2025-01-02"],
        ["runs"],
        ["materializations", "numbers"],
        ["storage", "prune", "--older-than", "90d"],
    ]
    for command in commands:
        code, out = run(*command, "--json")
        assert code == 0, f"{command}: {out}"
        json.loads(out)


def test_version_prints_the_package_version() -> None:
    import flowstone

    code, out = run("--version")
    assert code == 0
    assert out.strip() == f"flowstone, version {flowstone.__version__}"
