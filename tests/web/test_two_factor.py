"""Two-factor authentication through the web: mandatory set-up, codes used once, recovery codes."""

import re

import pyotp
import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, Role, User
from portal.services.audit import Events
from tests.helpers import DEFAULT_PASSWORD, TEST_TOTP_SECRET, csrf_token, sign_in, totp_code


def _password_step(client, email):
    token = csrf_token(client, "/sign-in")
    return client.post("/sign-in", data={"email": email, "password": DEFAULT_PASSWORD, "csrf_token": token})


def _post_code(client, path, code):
    return client.post(path, data={"code": code, "csrf_token": csrf_token(client, path)})


def _events(app, event):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)).all()


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.MANAGER], ids=lambda r: r.value)
def test_set_up_is_mandatory_for_providers_and_managers(app, client, user_factory, role):
    user = user_factory(role, totp_secret=None, totp_enabled_at=None)
    assert _password_step(client, user.email).headers["Location"] == "/two-factor/set-up"

    # No page is reachable until two-factor is set up: every area sends the user back to set-up.
    for path in ["/officer/", "/provider/", "/manager/", "/account/"]:
        assert client.get(path).headers["Location"] == "/two-factor/set-up", path

    page = client.get("/two-factor/set-up").get_data(as_text=True)
    assert "<svg" in page and "QR code for your authenticator app" in page
    secret = re.search(r'id="totp-secret"><code>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")

    wrong = _post_code(client, "/two-factor/set-up", "000000")
    assert "Enter the 6-digit code shown in your authenticator app" in wrong.get_data(as_text=True)

    done = _post_code(client, "/two-factor/set-up", pyotp.TOTP(secret).now())
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(f"/{role.value}/").status_code == 302  # still not signed in until the codes are saved

    finish = client.post("/two-factor/recovery-codes-saved", data={"csrf_token": csrf_token(client)})
    assert finish.headers["Location"] == f"/{role.value}/"
    assert client.get(f"/{role.value}/").status_code == 200

    with app.app_context():
        stored = db.session.scalars(sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
        assert len(stored) == 10 and not set(codes) & set(stored)  # hashes, never the codes
        assert db.session.get(User, user.id).two_factor_enabled
    assert len(_events(app, Events.TWO_FACTOR_SET_UP)) == 1


def test_officers_go_straight_in_and_may_set_up_two_factor(client, user_factory):
    user = user_factory(Role.OFFICER)
    assert _password_step(client, user.email).headers["Location"] == "/officer/"
    page = client.get("/account/").get_data(as_text=True)
    assert "Set up two-factor authentication" in page


def test_a_wrong_code_is_refused_and_counted(app, client, user_factory):
    user = user_factory(Role.MANAGER)
    _password_step(client, user.email)
    response = _post_code(client, "/sign-in/two-factor", "123456")
    assert "The code is not correct" in response.get_data(as_text=True)
    assert client.get("/manager/").status_code == 302
    [failure] = _events(app, Events.SIGN_IN_FAILED)
    assert failure.reason == "wrong two-factor code" and failure.actor_id == user.id


def test_a_code_works_once(client, app, user_factory):
    user = user_factory(Role.PROVIDER)
    _password_step(client, user.email)
    code = totp_code()
    assert _post_code(client, "/sign-in/two-factor", code).headers["Location"] == "/provider/"

    other = app.test_client()
    _password_step(other, user.email)
    replay = _post_code(other, "/sign-in/two-factor", code)
    assert replay.status_code == 200
    assert "used already" in replay.get_data(as_text=True)
    assert other.get("/provider/").status_code == 302


def test_a_recovery_code_works_once(app, client, user_factory):
    user = user_factory(Role.MANAGER)
    from portal.services import two_factor

    with app.app_context():
        codes = two_factor.replace_recovery_codes(db.session.get(User, user.id))
        db.session.commit()

    _password_step(client, user.email)
    response = _post_code(client, "/sign-in/two-factor", codes[0].upper())  # case and hyphen do not matter
    assert response.headers["Location"] == "/manager/"
    assert "You have 9 left" in client.get("/manager/").get_data(as_text=True)
    assert len(_events(app, Events.RECOVERY_CODE_USED)) == 1

    again = app.test_client()
    _password_step(again, user.email)
    assert _post_code(again, "/sign-in/two-factor", codes[0]).status_code == 200
    assert again.get("/manager/").status_code == 302


def test_the_two_factor_step_needs_the_password_step_first(client):
    assert client.get("/sign-in/two-factor").headers["Location"] == "/sign-in"
    assert client.get("/two-factor/set-up").headers["Location"] == "/sign-in"


def test_the_half_way_state_expires_after_ten_minutes(client, user_factory):
    import time_machine

    user = user_factory(Role.MANAGER)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False) as clock:
        _password_step(client, user.email)
        token = csrf_token(client, "/sign-in/two-factor")
        clock.shift(600 + 1)
        code = pyotp.TOTP(TEST_TOTP_SECRET).now()
        response = client.post("/sign-in/two-factor", data={"code": code, "csrf_token": token})
    assert response.headers["Location"] == "/sign-in"


def test_officer_can_turn_two_factor_on_and_off_with_the_password(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    sign_in(client, user.email)
    page = client.get("/two-factor/set-up").get_data(as_text=True)
    secret = re.search(r'id="totp-secret"><code>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    _post_code(client, "/two-factor/set-up", pyotp.TOTP(secret).now())
    assert "On. You sign in with a code" in client.get("/account/").get_data(as_text=True)

    path = "/account/two-factor/turn-off"
    wrong = client.post(path, data={"current_password": "not my password", "csrf_token": csrf_token(client, path)})
    assert "Your password is not correct" in wrong.get_data(as_text=True)
    ok = client.post(path, data={"current_password": DEFAULT_PASSWORD, "csrf_token": csrf_token(client, path)})
    assert ok.headers["Location"] == "/account/"
    with app.app_context():
        assert not db.session.get(User, user.id).two_factor_enabled
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    assert len(_events(app, Events.TWO_FACTOR_TURNED_OFF)) == 1


def test_managers_and_providers_cannot_turn_two_factor_off(client, user_factory):
    sign_in(client, user_factory(Role.PROVIDER).email)
    path = "/account/two-factor/turn-off"
    client.post(path, data={"current_password": DEFAULT_PASSWORD, "csrf_token": csrf_token(client, "/account/")})
    assert "cannot be turned off" in client.get("/account/").get_data(as_text=True)
    assert "On. You sign in with a code" in client.get("/account/").get_data(as_text=True)


def test_new_recovery_codes_need_the_password_and_replace_the_old(app, client, user_factory):
    user = user_factory(Role.MANAGER)
    sign_in(client, user.email)
    path = "/account/recovery-codes"
    refused = client.post(path, data={"current_password": "nope nope nope", "csrf_token": csrf_token(client, path)})
    assert "Your password is not correct" in refused.get_data(as_text=True)
    page = client.post(path, data={"current_password": DEFAULT_PASSWORD, "csrf_token": csrf_token(client, path)})
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", page.get_data(as_text=True))
    assert len(codes) == 10
    assert len(_events(app, Events.RECOVERY_CODES_REPLACED)) == 1
