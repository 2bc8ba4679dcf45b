"""The ```python examples of docs/assets.md and docs/io-managers.md run as written.

Blocks of one page run in order in one namespace, as a reader would type them; blocks
marked ```py are illustrations that need a running system and are not run here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", ["assets.md", "io-managers.md"])
def test_the_examples_of_the_page_run(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = (DOCS / page).read_text()
    blocks = _PYTHON_BLOCK.findall(text)
    assert blocks, f"no python examples in {page}"
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{DOCS / page} (example {number})", "exec")
        exec(code, namespace)
    if page == "assets.md":
        # the rendered graph printed by the last example is the one shown on the page
        printed = capsys.readouterr().out.rstrip("\n") + "\n"
        assert f"```text\n{printed}```" in text
