"""``flowstone ui``: serve the dashboard on the project's store (same flowstone.toml)."""

from __future__ import annotations

import os
from typing import Any

import click

from flowstone.cli._state import State, errors_to_exit_codes
from flowstone.cli._store import check_store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8686, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def ui(state: State, host: str, port: int) -> None:
    """Serve the live dashboard (sign in with FLOWSTONE_UI_TOKEN or a configured token).

    Tokens: FLOWSTONE_UI_TOKEN signs in an operator (may act), FLOWSTONE_UI_READ_TOKEN a
    viewer; more users under [flowstone.ui] in flowstone.toml:
    users = [{name = "alice", token = "...", role = "operator"}] (and secret = "..." to keep
    sessions valid across restarts).
    """
    from flowstone.web import Authenticator, credentials_from, serve

    with errors_to_exit_codes():
        settings = state.settings.ui
        auth = Authenticator(
            credentials_from(
                settings.get("users", []),
                os.environ.get("FLOWSTONE_UI_TOKEN") or settings.get("token"),
                os.environ.get("FLOWSTONE_UI_READ_TOKEN") or settings.get("read_token"),
            ),
            secret=os.environ.get("FLOWSTONE_UI_SECRET") or settings.get("secret"),
        )
        runtime = async_runtime(state)
    click.echo(f"FlowStone dashboard on http://{host}:{port}/ (Ctrl+C stops it)")
    serve(runtime, auth, host=host, port=port)


def async_runtime(state: State) -> Any:
    """Build an ``AsyncRuntime`` as the other commands build their ``Runtime`` (the server
    may act, so the store is created when missing and resources are set up)."""
    from flowstone import AsyncRuntime

    check_store(state.storage, state.base_dir, must_exist=False)
    return AsyncRuntime(
        state.pipeline(), storage=state.storage, base_dir=state.base_dir, **state.runtime_kwargs()
    )
