"""A CLI test project: a pipeline module, a flowstone.toml, and an in-process CLI runner."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from flowstone.cli import cli

PIPELINE = textwrap.dedent(
    """
    import flowstone as fs

    pipeline = fs.Pipeline("cli_demo")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")
    regions = fs.StaticPartitions(["eu", "us"])
    region_days = fs.MultiPartitions({"region": regions, "date": days})

    @pipeline.asset(partitioned_by=days)
    def numbers(context):
        return list(range(context.partition.day))

    @pipeline.asset(depends_on=["numbers"], partitioned_by=days)
    def total(context, numbers):
        if context.partition.day == 13:
            raise RuntimeError("unlucky day")
        return sum(numbers)

    @pipeline.asset(partitioned_by=regions)
    def raw(context):
        if context.partition == "us":
            raise ValueError("no data for [us] yet")
        return context.partition

    @pipeline.asset(partitioned_by=region_days)
    def sales(context):
        return 1

    @pipeline.asset(depends_on=["sales"], partitioned_by=region_days)
    def sales_report(context, sales):
        return sales
    """
)


def write_project(folder: Path, source: str, config: str = "") -> str:
    """Write a pipeline module and a flowstone.toml into ``folder``; return the module name."""
    module = f"cli_pipeline_{folder.name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(source)
    (folder / "flowstone.toml").write_text(
        f'[flowstone]\npipeline = "{module}:pipeline"\nbase_dir = ".fs"\n{config}'
    )
    return module


def run(*args: str) -> tuple[int, str]:
    """Invoke the CLI in-process; return the exit code and stdout + stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output
