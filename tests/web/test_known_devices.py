"""Known devices (portal.devices): a stranger who locks an address by guessing does not lock its owner out of the
browser where they have signed in before; the stranger stays locked, and a cookie that is not the owner's own is no
help."""

from __future__ import annotations

import sqlalchemy as sa

from portal.devices import COOKIE
from portal.extensions import db
from portal.models import AuditEvent, Role, SignInFailures
from portal.services import lockout
from portal.services.audit import Events
from tests.helpers import DEFAULT_PASSWORD, csrf_token, submit_two_factor

LOCKED = "There have been too many attempts to sign in with this email address"
WRONG = "Enter a correct email address and password"


def _attempt(client, email: str, password: str):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, "/sign-in")}
    return client.post("/sign-in", data=data)


def _owner_device(app, email: str):
    """The owner's browser: signed in fully once (so it carries the device cookie), then signed out."""
    client = app.test_client()
    response = _attempt(client, email, DEFAULT_PASSWORD)
    if response.headers["Location"] == "/sign-in/two-factor":
        response = submit_two_factor(client)
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    assert email not in cookie and email.split("@")[0] not in cookie  # the address is not in it, only its hash
    client.post("/sign-out", data={"csrf_token": csrf_token(client)})
    return client


def _stranger(app):
    """Another browser, from another address (the per-address rate limits are the owner's and the stranger's own)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    return client


def _lock_by_guessing(app, email: str):
    stranger = _stranger(app)
    for attempt in range(lockout.MAX_FAILURES):
        response = _attempt(stranger, email, f"a wrong guess {attempt}")
    assert LOCKED in response.get_data(as_text=True)
    return stranger


def test_a_stranger_locks_the_address_but_not_its_owners_known_browser(app, user_factory):
    user = user_factory(Role.OFFICER)
    owner = _owner_device(app, user.email)
    stranger = _lock_by_guessing(app, user.email)

    assert LOCKED in _attempt(stranger, user.email, DEFAULT_PASSWORD).get_data(as_text=True)  # the right one too
    assert LOCKED in _attempt(app.test_client(), user.email, DEFAULT_PASSWORD).get_data(as_text=True)  # any new one
    assert _attempt(owner, user.email, DEFAULT_PASSWORD).headers["Location"] == "/officer/"
    # The owner signing in on their own browser does not lift the stranger's lock, nor give its guesses a new count.
    assert LOCKED in _attempt(stranger, user.email, DEFAULT_PASSWORD).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(SignInFailures, lockout.email_key(user.email)).locked_until is not None


def test_a_known_browser_has_a_lockout_of_its_own(app, user_factory):
    user = user_factory(Role.OFFICER)
    owner = _owner_device(app, user.email)
    for attempt in range(lockout.MAX_FAILURES):
        response = _attempt(owner, user.email, f"a wrong guess {attempt}")
    assert LOCKED in response.get_data(as_text=True)
    assert LOCKED in _attempt(owner, user.email, DEFAULT_PASSWORD).get_data(as_text=True)
    # Its guesses were its own: elsewhere the address is not locked.
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD).headers["Location"] == "/officer/"
    with app.app_context():
        assert (
            len(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.ACCOUNT_LOCKED)).all()) == 1
        )


def test_a_known_browser_of_another_address_or_a_forged_cookie_is_no_help(app, user_factory):
    user, other = user_factory(Role.OFFICER), user_factory(Role.OFFICER)
    others_browser = _owner_device(app, other.email)
    _lock_by_guessing(app, user.email)
    assert LOCKED in _attempt(others_browser, user.email, DEFAULT_PASSWORD).get_data(as_text=True)

    forged = app.test_client()
    forged.set_cookie(COOKIE, others_browser.get_cookie(COOKIE).value.replace(".", "x.", 1))
    assert LOCKED in _attempt(forged, user.email, DEFAULT_PASSWORD).get_data(as_text=True)


def test_wrong_two_factor_codes_from_a_stranger_do_not_lock_the_owners_known_browser(app, user_factory):
    """The stranger has the password (phished) but not the phone: guessing codes locks the address, not the owner."""
    user = user_factory(Role.MANAGER)
    owner = _owner_device(app, user.email)
    stranger = _stranger(app)
    path = "/sign-in/two-factor"
    for _ in range(lockout.MAX_FAILURES):
        if _attempt(stranger, user.email, DEFAULT_PASSWORD).headers.get("Location") != path:
            break
        stranger.post(path, data={"code": "000000", "csrf_token": csrf_token(stranger, path)})
    assert LOCKED in _attempt(stranger, user.email, DEFAULT_PASSWORD).get_data(as_text=True)

    assert _attempt(owner, user.email, DEFAULT_PASSWORD).headers["Location"] == path
    assert submit_two_factor(owner).headers["Location"] == "/manager/"
