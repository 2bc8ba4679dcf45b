"""Dashboard sign-in: tokens, signed sessions, CSRF tokens."""

from __future__ import annotations

import pytest

from flowstone.errors import ConfigurationError
from flowstone.web import Authenticator, Credential, User, credentials_from

ALICE = User("alice", "operator")
BOB = User("bob", "viewer")


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator(
        [Credential("alice-token-1", ALICE), Credential("bob-token-12", BOB)], secret="k" * 32
    )


def test_a_known_token_signs_in_its_user_and_others_nobody(auth: Authenticator) -> None:
    assert auth.check_token("alice-token-1") == ALICE
    assert auth.check_token("bob-token-12") == BOB
    assert auth.check_token("alice-token-2") is None
    assert auth.check_token("") is None
    assert auth.check_token(None) is None


def test_a_session_round_trips_and_cannot_be_forged_or_elevated(auth: Authenticator) -> None:
    cookie = auth.issue(BOB, now=1000.0)
    assert auth.session(cookie, now=1001.0) == BOB
    body, signature = cookie.rsplit(".", 1)
    assert auth.session(body + "." + signature[::-1], now=1001.0) is None
    forged = Authenticator([Credential("x" * 8, ALICE)], secret="other" * 8).issue(ALICE)
    assert auth.session(forged) is None
    assert auth.session("garbage") is None
    assert auth.session(None) is None


def test_a_session_expires_after_twelve_hours(auth: Authenticator) -> None:
    cookie = auth.issue(ALICE, now=0.0)
    assert auth.session(cookie, now=12 * 3600 - 1) == ALICE
    assert auth.session(cookie, now=12 * 3600 + 1) is None


def test_csrf_tokens_belong_to_one_session(auth: Authenticator) -> None:
    one, two = auth.issue(ALICE), auth.issue(ALICE)
    assert auth.check_csrf(one, auth.csrf_token(one))
    assert not auth.check_csrf(two, auth.csrf_token(one))
    assert not auth.check_csrf(one, None)


def test_a_credential_never_shows_its_token() -> None:
    assert "alice-token-1" not in repr(Credential("alice-token-1", ALICE))


def test_no_token_at_all_is_refused_with_how_to_configure_one() -> None:
    with pytest.raises(ConfigurationError, match="set FLOWSTONE_UI_TOKEN"):
        Authenticator([])


def test_short_tokens_and_unknown_roles_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="shorter than 8 characters"):
        Authenticator([Credential("short", ALICE)])
    with pytest.raises(ConfigurationError, match="role 'admin'; expected one of viewer, operator"):
        Authenticator([Credential("long-enough", User("eve", "admin"))])


def test_credentials_come_from_configured_users_and_the_environment_tokens() -> None:
    found = credentials_from(
        [{"name": "carol", "token": "carol-token", "role": "operator"}], "op-token-1", "view-token"
    )
    assert [(c.user.name, c.user.role) for c in found] == [
        ("carol", "operator"),
        ("operator", "operator"),
        ("viewer", "viewer"),
    ]
    with pytest.raises(ConfigurationError, match="lacks token"):
        credentials_from([{"name": "dave"}])
