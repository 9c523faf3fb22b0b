"""Server-side sessions: started at sign-in, ended by sign-out, timeouts, password change and deactivation."""

from datetime import timedelta

import time_machine

from portal.extensions import db
from portal.models import Role, UserSession
from portal.services import accounts, sessions
from portal.services.sessions import EndReason
from tests.factories import make_user

IDLE, ABSOLUTE = timedelta(minutes=30), timedelta(hours=12)


def _load(token):
    return sessions.load_session(token, idle=IDLE, absolute=ABSOLUTE)


def _start(user):
    token = sessions.start_session(user, ip="192.0.2.1", user_agent="Test").token
    db.session.commit()
    return token


def test_each_sign_in_gets_its_own_session(app_context):
    user = make_user(Role.OFFICER)
    first, second = _start(user), _start(user)
    assert first != second and len(first) >= 40
    assert _load(first)[0].id == user.id and _load(second)[0].id == user.id
    assert _load("") == (None, None) and _load("no-such-token") == (None, None)


def test_signing_out_ends_only_this_session(app_context):
    user = make_user(Role.OFFICER)
    here, elsewhere = _start(user), _start(user)
    loaded, _ = _load(here)
    accounts.sign_out(loaded, ip=None)
    assert _load(here) == (None, EndReason.SIGNED_OUT)
    assert _load(elsewhere)[0] is not None


def test_sign_out_everywhere_ends_every_session(app_context):
    user = make_user(Role.OFFICER)
    tokens = [_start(user) for _ in range(3)]
    assert accounts.sign_out_everywhere(user, ip=None) == 3
    assert all(_load(t) == (None, EndReason.SIGNED_OUT_EVERYWHERE) for t in tokens)


def test_changing_the_password_ends_the_other_sessions(app_context):
    user = make_user(Role.OFFICER)
    here, elsewhere = _start(user), _start(user)
    loaded, _ = _load(here)
    accounts.change_password(loaded, "correct horse battery staple", "a completely new passphrase", ip=None)
    assert _load(here)[0] is not None
    assert _load(elsewhere) == (None, EndReason.PASSWORD_CHANGED)


def test_a_deactivated_users_sessions_stop_loading(app_context):
    user = make_user(Role.OFFICER)
    token = _start(user)
    user.active = False
    db.session.commit()
    assert _load(token) == (None, EndReason.DEACTIVATED)


def test_idle_timeout(app_context):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        user = make_user(Role.OFFICER)
        token = _start(user)
        clock.shift(timedelta(minutes=29))
        assert _load(token)[0] is not None  # activity restarts the idle clock
        clock.shift(timedelta(minutes=29))
        assert _load(token)[0] is not None
        clock.shift(timedelta(minutes=30, seconds=1))
        assert _load(token) == (None, EndReason.IDLE)
        assert db.session.query(UserSession).one().ended_reason == EndReason.IDLE


def test_absolute_timeout_even_when_active(app_context):
    with time_machine.travel("2026-11-25 08:00:00Z", tick=False) as clock:
        user = make_user(Role.OFFICER)
        token = _start(user)
        for _ in range(24):  # active every 29 minutes for 11 h 36 min
            clock.shift(timedelta(minutes=29))
            assert _load(token)[0] is not None
        clock.shift(timedelta(minutes=25))  # 12 h 1 min after sign-in
        assert _load(token) == (None, EndReason.ABSOLUTE)


def test_extending_restarts_the_idle_clock(app_context):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        user = make_user(Role.OFFICER)
        token = _start(user)
        clock.shift(timedelta(minutes=25))
        loaded, _ = _load(token)
        sessions.extend_session(loaded.current_session)
        clock.shift(timedelta(minutes=29))
        assert _load(token)[0] is not None


def test_last_seen_is_written_at_most_once_a_minute(app_context):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False) as clock:
        user = make_user(Role.OFFICER)
        token = _start(user)
        clock.shift(timedelta(seconds=30))
        _load(token)
        row = db.session.query(UserSession).one()
        db.session.refresh(row)
        assert row.last_seen_at == row.created_at
        clock.shift(timedelta(seconds=31))
        _load(token)
        db.session.refresh(row)
        assert row.last_seen_at > row.created_at
