"""Every complete program in docs/actors.md runs as written."""

from __future__ import annotations

import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).parents[2] / "docs" / "actors.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
PROGRAMS = [block for block in BLOCKS if block.startswith("import")]


def test_the_guide_has_runnable_examples() -> None:
    assert len(PROGRAMS) >= 7


def _title(program: str) -> str:
    """The first definition after the imports, to name the test."""
    body = [
        line for line in program.splitlines() if line and not line.startswith(("import", "from"))
    ]
    return body[0][:40]


@pytest.mark.parametrize("program", PROGRAMS, ids=_title)
def test_an_example_of_the_guide_runs(program: str) -> None:
    exec(compile(program, str(DOC), "exec"), {"__name__": "__doc_example__"})
