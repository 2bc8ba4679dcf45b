"""``flowstone ui``: serve the dashboard on the project's store (same flowstone.toml)."""

from __future__ import annotations

import os
from typing import Any

import click

from flowstone.cli._commands import State, errors_to_exit_codes
from flowstone.cli._config import import_object


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
    """Build an ``AsyncRuntime`` exactly as the other commands build their ``Runtime``."""
    from flowstone import AsyncRuntime

    s = state.settings
    kwargs: dict[str, Any] = {}
    if s.runtime:
        kwargs = dict(import_object(s.runtime, s.root, s.python_path)())
    base_dir = (s.root / s.base_dir).resolve()
    storage = s.storage
    if storage and storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        storage = f"sqlite:///{(s.root / storage[len('sqlite:///') :]).resolve()}"
    return AsyncRuntime(state.pipeline(), storage=storage, base_dir=base_dir, **kwargs)
