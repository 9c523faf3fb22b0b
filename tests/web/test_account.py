"""Your account: password and email changes, sign out everywhere, idle and absolute timeouts through the web."""

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Role, User
from portal.services.audit import Events
from portal.services.passwords import verify_password
from tests.helpers import DEFAULT_PASSWORD, csrf_token, sign_in

NEW_PASSWORD = "a fresh and rather long passphrase"


def _post(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def test_account_page_shows_the_user_and_their_sessions(client, user_factory):
    user = user_factory(Role.OFFICER, name="Sam Send")
    sign_in(client, user.email)
    page = client.get("/account/").get_data(as_text=True)
    assert "Sam Send" in page and user.email in page and "This browser" in page


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    other = app.test_client()
    sign_in(client, user.email)
    sign_in(other, user.email)

    wrong = _post(client, "/account/password", {"current_password": "not it at all", "password": NEW_PASSWORD,
                                                "confirm": NEW_PASSWORD})
    assert "Your password is not correct" in wrong.get_data(as_text=True)
    mismatch = _post(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
                                                   "confirm": NEW_PASSWORD + "x"})
    assert "The passwords do not match" in mismatch.get_data(as_text=True)
    short = _post(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "password": "short",
                                                "confirm": "short"})
    assert "12 characters or more" in short.get_data(as_text=True)

    ok = _post(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
                                             "confirm": NEW_PASSWORD})
    assert ok.headers["Location"] == "/account/"
    assert client.get("/officer/").status_code == 200
    ended = other.get("/officer/")
    assert ended.headers["Location"].startswith("/sign-in")
    assert "the password was changed" in other.get("/sign-in").get_data(as_text=True)
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, NEW_PASSWORD)
        assert db.session.scalar(sa.select(OutboxMessage.subject)) == "Your password was changed"
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.PASSWORD_CHANGED))


def test_changing_the_email_asks_for_the_password(app, client, user_factory):
    user = user_factory(Role.OFFICER, email="old@example.org")
    user_factory(Role.OFFICER, email="taken@example.org")
    sign_in(client, user.email)
    refused = _post(client, "/account/email", {"email": "new@example.org", "current_password": "wrong guess 123"})
    page = refused.get_data(as_text=True)
    assert "Your password is not correct" in page and 'value="new@example.org"' in page
    taken = _post(client, "/account/email", {"email": "TAKEN@example.org", "current_password": DEFAULT_PASSWORD})
    assert "Another account already uses that email address" in taken.get_data(as_text=True)
    ok = _post(client, "/account/email", {"email": "New@Example.org", "current_password": DEFAULT_PASSWORD})
    assert ok.headers["Location"] == "/account/"
    with app.app_context():
        assert db.session.get(User, user.id).email == "new@example.org"
        # The old address hears of the change.
        assert db.session.scalar(sa.select(OutboxMessage.to_address)) == "old@example.org"


def test_sign_out_everywhere(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    other = app.test_client()
    sign_in(client, user.email)
    sign_in(other, user.email)
    response = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(client, "/account/")})
    assert response.headers["Location"] == "/sign-in"
    assert client.get("/officer/").status_code == 302
    assert other.get("/officer/").status_code == 302
    assert "signed out on every device" in other.get("/sign-in").get_data(as_text=True)


def test_idle_sessions_end_with_a_message(client, user_factory):
    user = user_factory(Role.OFFICER)
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        sign_in(client, user.email)
        clock.shift(timedelta(minutes=29))
        assert client.get("/officer/").status_code == 200
        clock.shift(timedelta(minutes=30, seconds=1))
        response = client.get("/officer/")
        assert response.headers["Location"].startswith("/sign-in")
        assert "had not done anything for a while" in client.get("/sign-in").get_data(as_text=True)


def test_absolute_timeout_through_the_web(app, user_factory):
    from tests.conftest import make_app

    short = make_app(app.config["SQLALCHEMY_DATABASE_URI"], SESSION_ABSOLUTE_HOURS=1, SESSION_IDLE_MINUTES=30)
    client = short.test_client()
    user = user_factory(Role.OFFICER)
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        sign_in(client, user.email)
        for _ in range(3):
            clock.shift(timedelta(minutes=20))
            assert client.get("/officer/").status_code == 200
        clock.shift(timedelta(minutes=1))
        assert client.get("/officer/").headers["Location"].startswith("/sign-in")


def test_stay_signed_in_restarts_the_idle_clock(client, user_factory):
    user = user_factory(Role.OFFICER)
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        sign_in(client, user.email)
        page = client.get("/officer/").get_data(as_text=True)
        assert 'id="session-timeout"' in page and 'data-idle-seconds="1800"' in page
        clock.shift(timedelta(minutes=28))
        token = csrf_token(client, "/accessibility")
        htmx = client.post("/session/extend", data={"csrf_token": token}, headers={"HX-Request": "true"})
        assert htmx.status_code == 204
        clock.shift(timedelta(minutes=28))
        plain = client.post("/session/extend", data={"csrf_token": token, "back": "/account/"})
        assert plain.headers["Location"] == "/account/"  # without JavaScript: back to the page
        clock.shift(timedelta(minutes=28))
        assert client.get("/officer/").status_code == 200


def test_the_timeout_warning_signs_out_with_the_reason(client, user_factory):
    sign_in(client, user_factory(Role.OFFICER).email)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/officer/"), "reason": "idle"})
    assert "had not done anything for a while" in client.get("/sign-in").get_data(as_text=True)


def test_deactivation_ends_sessions_at_once(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    sign_in(client, user.email)
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert client.get("/officer/").headers["Location"].startswith("/sign-in")
    assert "no longer active" in client.get("/sign-in").get_data(as_text=True)


def test_the_bells_poll_does_not_keep_an_idle_session_alive(client, user_factory):
    user = user_factory(Role.OFFICER)
    poll = {"HX-Request": "true", "HX-Trigger": "notification-bell"}
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        sign_in(client, user.email)
        assert client.get("/officer/").status_code == 200
        for _ in range(29):
            clock.shift(timedelta(minutes=1, seconds=1))
            assert client.get("/notifications/count", headers=poll).status_code == 200
        clock.shift(timedelta(minutes=2))
        ended = client.get("/notifications/count", headers=poll)
    # htmx is told to take the whole page to sign-in, where the reason is shown.
    assert (ended.status_code, ended.headers["HX-Redirect"]) == (204, "/sign-in")
    assert "had not done anything for a while" in client.get("/sign-in").get_data(as_text=True)
