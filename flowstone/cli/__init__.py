"""The ``flowstone`` command line (see ``_commands`` for the commands and exit codes)."""

from flowstone.cli._commands import cli as cli
from flowstone.cli._commands import main as main
from flowstone.cli._status import status as _status

cli.add_command(_status)

__all__ = ("cli", "main")

main.__module__ = "flowstone.cli"
