"""The ```python example of docs/postgres.md runs as written, against a throwaway database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

PAGE = Path(__file__).resolve().parents[3] / "docs" / "postgres.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_example_of_the_postgres_page_runs(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWSTONE_DEMO_DSN", pg_url)
    monkeypatch.chdir(tmp_path)
    blocks = _PYTHON_BLOCK.findall(PAGE.read_text())
    assert len(blocks) == 4, "the page's example is four ```python blocks"
    namespace: dict[str, object] = {"__name__": "docs_postgres"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{PAGE} (example {number})", "exec"), namespace)
