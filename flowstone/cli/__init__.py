"""The ``flowstone`` command line (see ``_commands`` for the commands and exit codes)."""

from flowstone.cli import _approvals  # noqa: F401 - registers `approvals` and `audit`
from flowstone.cli._commands import cli as cli
from flowstone.cli._commands import main as main

__all__ = ("cli", "main")

main.__module__ = "flowstone.cli"
