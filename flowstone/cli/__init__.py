"""The ``flowstone`` command line (see ``_commands`` for the commands and exit codes)."""

from flowstone.cli._commands import cli as cli
from flowstone.cli._commands import main as main
from flowstone.cli._status import status as _status
from flowstone.cli._ui import ui as _ui

cli.add_command(_status)
cli.add_command(_ui)

__all__ = ("cli", "main")

main.__module__ = "flowstone.cli"
