"""Who may use the dashboard: tokens, signed session cookies and CSRF tokens.

A user signs in with a token (``POST /login``), or a script sends it as
``Authorization: Bearer <token>``. Each token names a user and a role: ``operator`` may act
(cancel a run, start a materialization, decide an approval), ``viewer`` may only look.
The session cookie carries the user's name and role, signed with HMAC-SHA256 under a key
that lives in the server process (or the configured ``secret``), so it cannot be forged or
elevated. Every state-changing request from a browser session must also send the session's
CSRF token in ``X-CSRF-Token`` (a page of another origin can make the browser send the
cookie, never read the token); requests authenticated by a bearer header need none, since a
browser never adds that header by itself. Tokens are compared in constant time and never
logged or echoed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flowstone.errors import ConfigurationError

ROLES = ("viewer", "operator")
SESSION_COOKIE = "flowstone_session"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in user: the name decisions are recorded under, and what they may do."""

    name: str
    role: str

    @property
    def can_act(self) -> bool:
        """Whether this user may change anything (operators only)."""
        return self.role == "operator"


@dataclass(frozen=True, slots=True)
class Credential:
    """One token the server accepts, and the user it signs in."""

    token: str
    user: User

    def __repr__(self) -> str:  # never show the token
        return f"Credential(user={self.user!r})"


class Authenticator:
    """Checks tokens, issues and verifies session cookies and CSRF tokens.

    Args:
        credentials: the accepted tokens; at least one is required.
        secret: the signing key of session cookies; a random one by default (sessions
            then end when the server restarts).
    """

    def __init__(self, credentials: Iterable[Credential], secret: str | None = None) -> None:
        self._credentials = list(credentials)
        if not self._credentials:
            raise ConfigurationError(
                "the dashboard needs at least one token: set FLOWSTONE_UI_TOKEN (an operator) "
                "or FLOWSTONE_UI_READ_TOKEN (a viewer), or list users under [flowstone.ui] in "
                'flowstone.toml, e.g. users = [{name = "alice", token = "...", role = '
                '"operator"}]'
            )
        for credential in self._credentials:
            if credential.user.role not in ROLES:
                raise ConfigurationError(
                    f"dashboard user {credential.user.name!r} has role "
                    f"{credential.user.role!r}; expected one of {', '.join(ROLES)}"
                )
            if len(credential.token) < 8:
                raise ConfigurationError(
                    f"the token of dashboard user {credential.user.name!r} is shorter than "
                    f"8 characters; use a longer one (e.g. `python -c 'import secrets; "
                    f"print(secrets.token_urlsafe())'`)"
                )
        self._key = (secret or secrets.token_urlsafe(32)).encode()

    def check_token(self, token: str | None) -> User | None:
        """Return the user a token signs in, or None."""
        if not token:
            return None
        found = None
        for credential in self._credentials:  # compare all: no timing hint of which matched
            if hmac.compare_digest(credential.token.encode(), token.encode()):
                found = credential.user
        return found

    def issue(self, user: User, now: float | None = None) -> str:
        """Return a session cookie value for ``user``."""
        issued = int(now if now is not None else time.time())
        body = _b64(json.dumps([user.name, user.role, issued, secrets.token_hex(8)]).encode())
        return f"{body}.{self._sign(body)}"

    def session(self, value: str | None, now: float | None = None) -> User | None:
        """Return the user of a session cookie, or None (absent, forged or expired)."""
        if not value or "." not in value:
            return None
        body, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            name, role, issued, _nonce = json.loads(base64.urlsafe_b64decode(body + "=="))
        except (ValueError, TypeError):
            return None
        if (now if now is not None else time.time()) - issued > SESSION_SECONDS:
            return None
        return User(str(name), str(role))

    def csrf_token(self, session_value: str) -> str:
        """Return the CSRF token bound to one session."""
        return self._sign("csrf:" + session_value)

    def check_csrf(self, session_value: str, token: str | None) -> bool:
        """Whether ``token`` is the CSRF token of this session."""
        return bool(token) and hmac.compare_digest(self.csrf_token(session_value), str(token))

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def credentials_from(
    users: Iterable[Mapping[str, str]],
    operator_token: str | None = None,
    viewer_token: str | None = None,
) -> list[Credential]:
    """Build the accepted tokens from configured users and the two environment tokens."""
    found = []
    for entry in users:
        missing = [k for k in ("name", "token") if not entry.get(k)]
        if missing:
            raise ConfigurationError(
                f"a dashboard user in [flowstone.ui] users lacks {', '.join(missing)}; each "
                f"needs name, token and role ('viewer' or 'operator')"
            )
        role = entry.get("role", "viewer")
        found.append(Credential(entry["token"], User(entry["name"], role)))
    if operator_token:
        found.append(Credential(operator_token, User("operator", "operator")))
    if viewer_token:
        found.append(Credential(viewer_token, User("viewer", "viewer")))
    return found
