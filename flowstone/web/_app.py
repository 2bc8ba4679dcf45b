"""The dashboard's Starlette application: pages, JSON under ``/api``, live updates at ``/ws``.

Every route but ``/login`` and the static files needs a signed-in user (a session cookie or
a bearer token); without one, API calls get 401 and pages the sign-in form: a wrong or
missing token sees nothing. State-changing requests need an operator and, from a browser
session, the session's CSRF token (see ``_auth``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from flowstone import AsyncRuntime
from flowstone.errors import AssetNotFound, FlowStoneError
from flowstone.web._approvals import ApprovalsSection
from flowstone.web._auth import SESSION_COOKIE, SESSION_SECONDS, Authenticator, User
from flowstone.web._automation import AutomationSection
from flowstone.web._hub import Hub
from flowstone.web._pages import app_page, login_page
from flowstone.web._views import Views

log = logging.getLogger("flowstone.web")
_NOT_CANCELLED = (
    "nothing to cancel with this id here: not executing in this server, not queued, not held "
    "by a daemon (a run started by a plain CLI process can only be cancelled there)"
)
STATIC = Path(__file__).parent / "static"
Handler = Callable[[Request, User], Awaitable[Response]]


class Dashboard:
    """The state one server shares between requests: runtime, views, auth, the live hub."""

    def __init__(self, runtime: AsyncRuntime, auth: Authenticator, interval: float) -> None:
        self.runtime, self.auth = runtime, auth
        self.views = Views(runtime)
        self.hub = Hub(runtime.storage, interval=interval)
        self.approvals = ApprovalsSection(runtime)
        self.automation = AutomationSection(runtime)
        self.tasks: set[asyncio.Task[Any]] = set()

    def user(self, conn: HTTPConnection) -> User | None:
        """The signed-in user of a request or WebSocket, or None."""
        header = conn.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.auth.check_token(header[7:].strip())
        return self.auth.session(conn.cookies.get(SESSION_COOKIE))


def create_app(runtime: AsyncRuntime, auth: Authenticator, *, interval: float = 0.1) -> Starlette:
    """Build the dashboard application over ``runtime`` (started and closed with the app).

    Args:
        runtime: the runtime whose store, definitions and supervision tree are shown.
        auth: the accepted tokens (see ``Authenticator``).
        interval: the batching window of live updates, in seconds.
    """
    board = Dashboard(runtime, auth, interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        await board.hub.start()
        try:
            yield
        finally:
            await board.hub.stop()
            for task in list(board.tasks):
                task.cancel()
            await runtime.close()

    async def page(request: Request) -> Response:
        return await _page(board, request)

    async def login(request: Request) -> Response:
        return await _login(board, request)

    async def socket(ws: WebSocket) -> None:
        await _socket(board, ws)

    routes = [
        Route("/", page),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", _logout, methods=["POST"]),
        *_api_routes(board),
        WebSocketRoute("/ws", socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.board = board
    return app


def _api_routes(board: Dashboard) -> list[Route]:
    v = board.views

    async def me(request: Request, user: User) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        csrf = board.auth.csrf_token(session) if session else None
        return JSONResponse({"name": user.name, "role": user.role, "csrf": csrf})

    async def overview(request: Request, user: User) -> Response:
        data = await v.overview()
        data["approvals"] = await board.approvals.describe(limit=20)
        return JSONResponse(data)

    async def graph(request: Request, user: User) -> Response:
        return JSONResponse(await v.graph())

    async def asset(request: Request, user: User) -> Response:
        return JSONResponse(await v.asset(request.path_params["name"]))

    async def asset_status(request: Request, user: User) -> Response:
        return JSONResponse((await v.status(request.path_params["name"])).to_json())

    async def partition(request: Request, user: User) -> Response:
        ordinal = _int(request, "ordinal", 0)
        return JSONResponse(await v.partition(request.path_params["name"], ordinal))

    async def materialize(request: Request, user: User) -> Response:
        name = request.path_params["name"]
        body = await _body(request)
        runtime = board.runtime
        runtime.pipeline.get(name)
        task = asyncio.create_task(_quietly(runtime.materialize(name, body.get("partition"))))
        board.tasks.add(task)
        task.add_done_callback(board.tasks.discard)
        log.info("%s started a materialization of %s", user.name, name)
        return JSONResponse({"started": name, "by": user.name}, status_code=202)

    async def runs(request: Request, user: User) -> Response:
        status = request.query_params.get("status") or None
        return JSONResponse(await v.runs(status, min(_int(request, "limit", 100), 1000)))

    async def run(request: Request, user: User) -> Response:
        found = await v.run(request.path_params["run_id"])
        if found is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(found)

    async def cancel(request: Request, user: User) -> Response:
        run_id = request.path_params["run_id"]
        cancelled = await board.runtime.cancel(run_id)
        log.info("%s asked to cancel run %s (cancelled here: %s)", user.name, run_id, cancelled)
        return JSONResponse(
            {
                "run_id": run_id,
                "cancelled": cancelled,
                "note": None if cancelled else _NOT_CANCELLED,
            }
        )

    async def lineage(request: Request, user: User) -> Response:
        q = request.query_params
        data = await v.lineage(
            q.get("asset", ""),
            q.get("partition") or None,
            "down" if q.get("direction") == "down" else "up",
            _int(request, "offset", 0),
            min(_int(request, "limit", 100), 1000),
        )
        return JSONResponse(data)

    async def supervision(request: Request, user: User) -> Response:
        return JSONResponse(await v.supervision())

    async def approvals(request: Request, user: User) -> Response:
        return JSONResponse(await board.approvals.describe())

    async def decide(request: Request, user: User) -> Response:
        p = request.path_params
        status, body = await board.approvals.decide(
            user, p["approval_id"], p["decision"], await _body(request)
        )
        log.info("%s: %s %s -> %s", user.name, p["decision"], p["approval_id"], status)
        return JSONResponse(body, status_code=status)

    async def approve_all(request: Request, user: User) -> Response:
        status, body = await board.approvals.approve_all(user, await _body(request))
        log.info("%s: bulk approval -> %s", user.name, status)
        return JSONResponse(body, status_code=status)

    async def automation(request: Request, user: User) -> Response:
        return JSONResponse(await board.automation.describe())

    async def switch(request: Request, user: User) -> Response:
        p = request.path_params
        if p["state"] not in ("on", "off"):
            return JSONResponse({"error": "use /on or /off"}, status_code=404)
        status, body = await board.automation.switch(user, p["kind"], p["name"], p["state"] == "on")
        log.info("%s turned %s %s %s -> %s", user.name, p["kind"], p["name"], p["state"], status)
        return JSONResponse(body, status_code=status)

    reads: list[tuple[str, Handler]] = [
        ("/api/me", me),
        ("/api/overview", overview),
        ("/api/assets", graph),
        ("/api/assets/{name}", asset),
        ("/api/assets/{name}/status", asset_status),
        ("/api/assets/{name}/partition", partition),
        ("/api/runs", runs),
        ("/api/runs/{run_id}", run),
        ("/api/lineage", lineage),
        ("/api/supervision", supervision),
        ("/api/approvals", approvals),
        ("/api/automation", automation),
    ]
    writes: list[tuple[str, Handler]] = [
        ("/api/assets/{name}/materialize", materialize),
        ("/api/runs/{run_id}/cancel", cancel),
        ("/api/approvals/bulk/approve", approve_all),
        ("/api/approvals/{approval_id}/{decision}", decide),
        ("/api/automation/{kind}/{name}/{state}", switch),
    ]
    routes = [Route(path, _guard(board, fn, act=False)) for path, fn in reads]
    routes += [Route(path, _guard(board, fn, act=True), methods=["POST"]) for path, fn in writes]
    return routes


def _guard(
    board: Dashboard, handler: Handler, *, act: bool
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an API handler: sign-in, role, CSRF, and FlowStone errors as JSON."""

    async def endpoint(request: Request) -> Response:
        user = board.user(request)
        if user is None:
            return JSONResponse({"error": "sign in first"}, status_code=401)
        if act:
            if not user.can_act:
                return JSONResponse(
                    {"error": f"user {user.name!r} is a viewer and cannot act"}, status_code=403
                )
            session = request.cookies.get(SESSION_COOKIE)
            bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
            if not bearer and not board.auth.check_csrf(
                session or "", request.headers.get("x-csrf-token")
            ):
                return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        try:
            return await handler(request, user)
        except AssetNotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except FlowStoneError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return endpoint


async def _page(board: Dashboard, request: Request) -> Response:
    if board.user(request) is None:
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(app_page(board.runtime.pipeline.name))


async def _login(board: Dashboard, request: Request) -> Response:
    if request.method == "GET":
        return HTMLResponse(login_page())
    # A urlencoded form of one field: parsed here rather than pulling in a multipart parser.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    user = board.auth.check_token((form.get("token") or [""])[0])
    if user is None:
        log.info("a sign-in with an unknown token was refused")
        return HTMLResponse(login_page("That token is not accepted."), status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        board.auth.issue(user),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    log.info("%s signed in (%s)", user.name, user.role)
    return response


async def _logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def _socket(board: Dashboard, ws: WebSocket) -> None:
    user = board.user(ws)
    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    if user is None or (origin is not None and origin.split("://", 1)[-1] != host):
        await ws.close(code=4401)  # a page of another origin never gets the feed
        return
    await ws.accept()
    after = ws.query_params.get("after")
    client = await board.hub.attach(ws.send_json, int(after) if after and after.isdigit() else None)
    sender = asyncio.create_task(client.run())
    try:
        while True:  # the browser sends nothing but pings; a close ends the loop
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        board.hub.detach(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _quietly(awaitable: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):  # the outcome is recorded and reaches the feed
        await awaitable


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name, "")
    return int(text) if text.lstrip("-").isdigit() else default
