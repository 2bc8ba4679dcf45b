"""A tenant scope entered by the caller reaches the I/O managers of the blocking Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flowstone as fs


class RecordingIO(fs.io.MemoryIOManager):
    """Remembers the tenant in scope when each value was stored."""

    def __init__(self) -> None:
        super().__init__()
        self.tenants: list[str | None] = []

    def store(self, context: fs.io.IOContext, value: Any) -> Any:
        self.tenants.append(fs.current_tenant())
        return super().store(context, value)


def test_the_callers_tenant_scope_is_in_effect_inside_the_run(tmp_path: Path) -> None:
    p = fs.Pipeline("scoped")

    @p.asset(io_manager="rec")
    def value(context: Any) -> int:
        return 1

    io = RecordingIO()
    with fs.Runtime(p, storage="memory", io_managers={"rec": io}, base_dir=tmp_path) as rt:
        rt.materialize("value")
        with fs.tenant_scope("acme"):
            rt.materialize("value")
    assert io.tenants == [None, "acme"]
