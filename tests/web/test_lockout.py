"""Lockout: the 10th failure within 15 minutes locks the email address for 15 minutes, known or not."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import AuditEvent, Role, SignInFailures
from portal.services import lockout
from portal.services.audit import Events
from tests.helpers import DEFAULT_PASSWORD, csrf_token

LOCKED = "There have been too many attempts to sign in with this email address"
WRONG = "Enter a correct email address and password"


def _attempt(client, email, password):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, "/sign-in")}
    return client.post("/sign-in", data=data)


def _text(response):
    return response.get_data(as_text=True)


@pytest.mark.parametrize("known", [True, False], ids=["known-email", "unknown-email"])
def test_tenth_failure_locks_and_unknown_emails_behave_the_same(app, client, user_factory, known):
    email = "target@example.org"
    if known:
        user_factory(Role.OFFICER, email=email)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False) as clock:
        for attempt in range(1, 10):
            assert WRONG in _text(_attempt(client, email, f"wrong password {attempt}")), attempt
            clock.shift(timedelta(seconds=30))
        tenth = _attempt(client, email, "wrong password 10")
        assert LOCKED in _text(tenth)

        # Locked: even the right password is refused, with the same answer.
        assert LOCKED in _text(_attempt(client, email, DEFAULT_PASSWORD))
        clock.shift(lockout.LOCK_DURATION - timedelta(seconds=1))
        assert LOCKED in _text(_attempt(client, email, DEFAULT_PASSWORD))

        clock.shift(timedelta(seconds=2))
        after = _attempt(client, email, DEFAULT_PASSWORD)
    if known:
        assert after.headers["Location"] == "/officer/"
    else:
        assert WRONG in _text(after)
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent.event).where(AuditEvent.event == Events.ACCOUNT_LOCKED)).all()
        assert len(events) == 1


def test_failures_spread_over_more_than_15_minutes_do_not_lock(client, user_factory):
    user = user_factory(Role.OFFICER)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False) as clock:
        for _ in range(9):
            _attempt(client, user.email, "wrong wrong wrong")
        clock.shift(lockout.WINDOW + timedelta(seconds=1))
        for _ in range(9):
            assert WRONG in _text(_attempt(client, user.email, "wrong wrong wrong"))
        assert _attempt(client, user.email, DEFAULT_PASSWORD).headers["Location"] == "/officer/"


def test_a_successful_sign_in_clears_the_count(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    for _ in range(5):
        _attempt(client, user.email, "wrong wrong wrong")
    assert _attempt(client, user.email, DEFAULT_PASSWORD).status_code == 302
    with app.app_context():
        assert db.session.get(SignInFailures, lockout.email_key(user.email)) is None


def test_wrong_two_factor_codes_count_towards_the_lockout(app, user_factory):
    user = user_factory(Role.MANAGER)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        for _ in range(9):
            with app.app_context():
                lockout.record_failure(user.email)
        client = app.test_client()
        assert _attempt(client, user.email, DEFAULT_PASSWORD).headers["Location"] == "/sign-in/two-factor"
        path = "/sign-in/two-factor"
        response = client.post(path, data={"code": "000000", "csrf_token": csrf_token(client, path)})
        assert response.headers["Location"] == "/sign-in"
        assert LOCKED in _text(client.get("/sign-in"))


def test_concurrent_failures_are_all_counted(app, user_factory):
    """Twenty threads fail at once: every failure is counted and the address is locked exactly once."""
    user = user_factory(Role.OFFICER)
    barrier = threading.Barrier(20)
    locked_by = []
    errors = []

    def fail():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                if lockout.record_failure(user.email):
                    locked_by.append(threading.get_ident())
                db.session.remove()
        except Exception as error:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=fail) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(locked_by) == 1
    with app.app_context():
        row = db.session.get(SignInFailures, lockout.email_key(user.email))
        assert row.locked_until is not None
        # The 10th failure locked it and restarted the count; the ten that raced past were not counted.
        assert row.failures == 0


def test_nine_concurrent_failures_do_not_lock(app, user_factory):
    user = user_factory(Role.OFFICER)
    barrier = threading.Barrier(9)

    def fail():
        with app.app_context():
            barrier.wait(timeout=10)
            lockout.record_failure(user.email)
            db.session.remove()

    threads = [threading.Thread(target=fail) for _ in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with app.app_context():
        row = db.session.get(SignInFailures, lockout.email_key(user.email))
        assert (row.failures, row.locked_until) == (9, None)
