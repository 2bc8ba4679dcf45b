"""The ``flowstone`` command line (see ``_commands`` for the commands and exit codes).

It sits above the runtime: nothing below imports it (tests/test_layering.py).

Module map:
    _commands.py         the group, its global options, check / list / graph, main()
    _run_commands.py     materialize, backfill (Ctrl-C: summary and exit 130)
    _record_commands.py  lineage, runs, materializations, storage prune (read-only)
    _state.py            settings -> pipeline and runtime per command; errors -> exit codes
    _store.py            store checks before a runtime is built (must exist, PostgreSQL reachable)
    _config.py           flowstone.toml, FLOWSTONE_* variables and options
    _output.py           rich rendering with user data escaped; JSON
    _interrupt.py        what a backfill had done when interrupted
    _logging.py          log records as one line each while a command runs
    _approvals.py        approvals list|show|approve|modify|reject, audit (checkpoint gates)
    _automation.py       daemon, daemons, submit, wait, cancel, queue, schedules, sensors,
                         automation why (the automation wing)
    _logs.py             logs RUN_ID: a run's captured log lines
"""

from flowstone.cli._approvals import approvals as _approvals
from flowstone.cli._approvals import audit as _audit
from flowstone.cli._automation import COMMANDS as _AUTOMATION_COMMANDS
from flowstone.cli._commands import cli as cli
from flowstone.cli._commands import main as main
from flowstone.cli._logs import logs as _logs
from flowstone.cli._status import status as _status
from flowstone.cli._ui import ui as _ui

cli.add_command(_status)
cli.add_command(_ui)

cli.add_command(_approvals)
cli.add_command(_audit)
for _command in _AUTOMATION_COMMANDS:
    cli.add_command(_command)
cli.add_command(_logs)

__all__ = ("cli", "main")

main.__module__ = "flowstone.cli"
