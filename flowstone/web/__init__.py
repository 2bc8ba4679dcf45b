"""The dashboard: ``flowstone ui`` (Starlette + uvicorn).

Module map:
    _app.py        create_app(): routes, sign-in, the API guard, the WebSocket endpoint
    _auth.py       Authenticator, User, Credential: tokens, signed sessions, CSRF
    _hub.py        Hub: the change-log feed, coalesced per browser over /ws
    _views.py      Views: what each JSON endpoint returns
    _approvals.py  ApprovalsSection: the approvals queue and decisions (rt.approvals)
    _automation.py AutomationSection: schedules and sensors (the automation wing's store)
    _pages.py      the sign-in form and the application shell
    _server.py     serve(): run the app with uvicorn
    static/        app.js, app.css and vendored front-end libraries (no CDN)
"""

from flowstone.web._app import create_app as create_app
from flowstone.web._auth import Authenticator as Authenticator
from flowstone.web._auth import Credential as Credential
from flowstone.web._auth import User as User
from flowstone.web._auth import credentials_from as credentials_from
from flowstone.web._server import serve as serve

__all__ = ("Authenticator", "Credential", "User", "create_app", "credentials_from", "serve")

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
