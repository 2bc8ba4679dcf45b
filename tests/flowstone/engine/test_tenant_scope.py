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


def test_a_runtime_built_inside_a_tenant_scope_does_not_run_its_services_in_it(
    tmp_path: Path,
) -> None:
    p = fs.Pipeline("scoped_start")

    @p.asset(io_manager="rec")
    def value(context: Any) -> int:
        return 1

    io = RecordingIO()
    with fs.tenant_scope("acme"):
        rt = fs.Runtime(p, storage="memory", io_managers={"rec": io}, base_dir=tmp_path)
    with rt:
        rt.materialize("value")
    assert io.tenants == [None]


def test_multi_partitioned_inputs_arrive_keyed_by_their_string_form(tmp_path: Path) -> None:
    p = fs.Pipeline("multi_inputs")
    space = fs.MultiPartitions(
        {"tenant": fs.StaticPartitions(["acme", "beta"]), "region": fs.StaticPartitions(["eu"])}
    )

    @p.asset(partitioned_by=space)
    def usage(context: Any) -> str:
        return f"{context.partition['tenant']}-{context.partition['region']}"

    @p.asset(depends_on=[fs.Dep("usage", mapping=fs.AllPartitionsMapping())])
    def total(context: Any, usage: dict[str, str]) -> list[str]:
        return sorted(usage.values())

    with fs.Runtime(
        p, storage="memory", io_managers={"fs": fs.io.MemoryIOManager()}, base_dir=tmp_path
    ) as rt:
        run = rt.materialize_all("total")
        assert run.success
        report = run.value_of("total")
        assert report is not None
        assert len(report.inputs) == 2
