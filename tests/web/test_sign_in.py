"""Signing in and out through the test client."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Role, UserSession
from tests.helpers import DEFAULT_PASSWORD, csrf_token, sign_in, submit_two_factor

GENERIC_ERROR = "Enter a correct email address and password"


@pytest.mark.parametrize(
    ("role", "home"),
    [(Role.OFFICER, "/officer/"), (Role.PROVIDER, "/provider/"), (Role.MANAGER, "/manager/")],
)
def test_each_role_lands_on_its_own_home_page(client, user_factory, role, home):
    user = user_factory(role, email=f"{role.value}@example.org")
    response = sign_in(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == home
    page = client.get(home).get_data(as_text=True)
    assert user.name in page
    assert user.organisation_name in page
    assert "Sign out" in page


def test_email_is_case_insensitive(client, user_factory):
    user_factory(Role.MANAGER, email="morgan@example.org")
    assert sign_in(client, "  Morgan@EXAMPLE.org ").headers["Location"] == "/manager/"


@pytest.mark.parametrize(
    "email, password, active",
    [
        ("known@example.org", "a wrong password here", True),  # wrong password
        ("nobody@example.org", DEFAULT_PASSWORD, True),  # unknown email
        ("known@example.org", DEFAULT_PASSWORD, False),  # inactive account
    ],
    ids=["wrong-password", "unknown-email", "inactive-user"],
)
def test_failed_sign_in_gives_one_generic_message(client, user_factory, email, password, active):
    user_factory(Role.OFFICER, email="known@example.org", active=active)
    response = sign_in(client, email, password)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count(GENERIC_ERROR) == 2  # in the error summary and next to the field
    assert "There is a problem" in page
    assert "<title>Error: Sign in" in page
    assert 'value="' + email.strip() + '"' in page  # what the user typed is kept
    assert client.get("/officer/").status_code == 302  # and they are not signed in


def test_missing_fields_are_named(client):
    response = client.post("/sign-in", data={"email": "", "password": "", "csrf_token": csrf_token(client)})
    page = response.get_data(as_text=True)
    assert "Enter your email address" in page
    assert "Enter your password" in page
    assert 'href="#email"' in page and 'href="#password"' in page


def _session_rows(app, user):
    with app.app_context():
        return db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)).all()


def test_sign_out_ends_the_session_on_the_server(client, user_factory, app):
    user = user_factory(Role.OFFICER)
    sign_in(client, user.email)
    stolen_cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    token = csrf_token(client, "/officer/")

    response = client.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    [row] = _session_rows(app, user)
    assert row.ended_at is not None and row.ended_reason == "signed out"

    # Replaying the cookie from before sign-out no longer works.
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen_cookie)
    response = client.get("/officer/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_sign_in_starts_a_new_session(client, user_factory, app):
    user = user_factory(Role.MANAGER)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker before sign-in"
    sign_in(client, user.email)
    with client.session_transaction() as session:
        assert "planted" not in session
        [row] = _session_rows(app, user)
        assert session["_user_id"] == row.token


def test_signed_in_user_visiting_sign_in_goes_home(client, user_factory):
    user = user_factory(Role.PROVIDER)
    sign_in(client, user.email)
    assert client.get("/sign-in").headers["Location"] == "/provider/"
    assert client.get("/").headers["Location"] == "/provider/"


def test_front_door_sends_anonymous_users_to_sign_in(client):
    assert client.get("/").headers["Location"] == "/sign-in"


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account/", "/account/"),
        ("https://evil.example/", "/officer/"),
        ("//evil.example/", "/officer/"),
        ("/\\evil.example", "/officer/"),
        ("account", "/officer/"),
    ],
)
def test_next_only_goes_to_this_site(client, user_factory, next_url, expected):
    user = user_factory(Role.OFFICER)
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in",
        query_string={"next": next_url},
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == expected


def test_next_survives_the_two_factor_step(client, user_factory):
    user = user_factory(Role.MANAGER)
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in",
        query_string={"next": "/account/"},
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/sign-in/two-factor"
    assert submit_two_factor(client).headers["Location"] == "/account/"


def test_session_cookie_flags(client, user_factory, app):
    user = user_factory(Role.OFFICER)
    response = sign_in(client, user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test app is not production; see test_config for production's Secure flag


def test_unknown_email_takes_about_as_long_as_a_wrong_password(app, user_factory, production_password_hashing):
    """The password check runs against a dummy hash for an unknown email: without it the answer comes ~20x faster.
    At the production cost: at the suite's test cost the hash is too quick for the timings to mean anything."""
    import statistics
    import time

    from portal.services import accounts, passwords

    user = user_factory(Role.OFFICER, password_hash=passwords.hash_password(DEFAULT_PASSWORD))

    # Known and unknown take turns, so load from whatever runs beside the test falls on both alike.
    timings = {user.email: [], "nobody-here@example.org": []}
    for attempt in range(9):
        for email, seconds in timings.items():
            with app.app_context():
                start = time.perf_counter()
                accounts.check_credentials(email, f"wrong password {attempt}", ip=None)
                seconds.append(time.perf_counter() - start)
    known, unknown = (statistics.median(seconds) for seconds in timings.values())
    assert 0.5 < unknown / known < 2.0, (known, unknown)
