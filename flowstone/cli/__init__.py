"""The ``flowstone`` command line (see ``_commands`` for the commands and exit codes)."""

# Command groups of the wings, registered on the one `flowstone` group.
from flowstone.cli._automation import COMMANDS as _AUTOMATION_COMMANDS
from flowstone.cli._commands import cli as cli
from flowstone.cli._commands import main as main

for _command in _AUTOMATION_COMMANDS:
    cli.add_command(_command)

__all__ = ("cli", "main")

main.__module__ = "flowstone.cli"
