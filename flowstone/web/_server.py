"""Running the dashboard with uvicorn."""

from __future__ import annotations

import uvicorn

from flowstone import AsyncRuntime
from flowstone.web._app import create_app
from flowstone.web._auth import Authenticator


def serve(
    runtime: AsyncRuntime,
    auth: Authenticator,
    *,
    host: str = "127.0.0.1",
    port: int = 8686,
    log_level: str = "info",
) -> None:
    """Serve the dashboard until interrupted (binds 127.0.0.1 unless told otherwise).

    uvicorn's access log is off: request lines are not needed to run the dashboard, and
    keeping them out means no query string can ever carry anything sensitive into a log.
    """
    app = create_app(runtime, auth)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
