"""The worked example of docs/approvals.md runs as written (with a local store)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

import flowstone as fs

PAGE = Path(__file__).resolve().parents[3] / "docs" / "approvals.md"


def test_the_worked_example_pauses_resumes_and_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(), re.MULTILINE | re.DOTALL)
    # A real module, so that the gate's pydantic values can be pickled by the "fs" manager.
    module = types.ModuleType("docs_approvals")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(blocks[0], f"{PAGE} (example 1)", "exec"), module.__dict__)
    pipeline = module.pipeline
    storage = f"sqlite:///{tmp_path / 'flowstone.db'}"
    with fs.Runtime(pipeline, storage=storage, base_dir=tmp_path) as rt:
        run = rt.materialize_all("published", "2026-03-01")
        assert run.status == "waiting"
        [approval] = rt.approvals.pending("approved_report")
        assert approval.message == "Publish Sales 2026-03-01?"
        assert approval.value == {"title": "Sales 2026-03-01", "total": 1234}
    with fs.Runtime(pipeline, storage=storage, base_dir=tmp_path) as rt:
        rt.approvals.approve(approval.id, by="alice@example.com", reason="figures checked")
        assert rt.wait(run.run_id).status == "succeeded"
        assert rt.aio is not None
        assert rt._call(rt.aio.load_value("published", "2026-03-01")) == "Sales 2026-03-01"
