"""The two HTML documents the server renders: the sign-in form and the application shell
(everything else is drawn by ``static/app.js`` from the JSON API)."""

from __future__ import annotations

from html import escape

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css"></head>"""

_NAV = [
    ("#/", "Overview"),
    ("#/graph", "Assets"),
    ("#/runs", "Runs"),
    ("#/lineage", "Lineage"),
    ("#/approvals", "Approvals"),
    ("#/automation", "Schedules & sensors"),
    ("#/supervision", "Supervision"),
]


def app_page(pipeline: str) -> str:
    """The single-page application shell."""
    links = "".join(f'<a href="{href}">{label}</a>' for href, label in _NAV)
    return (
        _HEAD.format(title=f"FlowStone · {escape(pipeline)}")
        + f"""<body><header><span class="brand">FlowStone</span>
<span class="pipeline">{escape(pipeline)}</span><nav>{links}</nav>
<span id="live" class="live off" title="live updates">offline</span>
<span id="user"></span>
<form method="post" action="/logout"><button class="link">Sign out</button></form>
</header><main id="main"></main>
<script src="/static/vendor/elk-api.js"></script>
<script src="/static/app.js"></script></body></html>"""
    )


def login_page(message: str = "") -> str:
    """The sign-in form (a token; never put in a URL, so it never reaches a log)."""
    note = f'<p class="error">{escape(message)}</p>' if message else ""
    return (
        _HEAD.format(title="FlowStone · sign in")
        + f"""<body class="login"><form method="post" action="/login" class="card">
<h1>FlowStone</h1><p>Sign in with your dashboard token.</p>{note}
<input type="password" name="token" placeholder="token" autocomplete="current-password"
 autofocus required><button type="submit">Sign in</button></form></body></html>"""
    )
