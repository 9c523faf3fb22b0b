"""Hostile input to the forms anyone can reach (issue 10, point 3): signing in, the two-factor step, registering,
a forgotten password and the emailed set-password link. The same fuzz as tests/fuzz/test_hostile_forms.py; a refused
sign-in may record the failure (that is how lockout counts), and nothing else."""

from __future__ import annotations

from portal.extensions import db
from portal.models import Role, TokenPurpose, User
from portal.services import account_tokens
from tests.fuzz.hostile import fuzz_form
from tests.fuzz.pages import crawl, endpoint_of, local_path, parse
from tests.helpers import DEFAULT_PASSWORD, csrf_token

FAILED_SIGN_IN = frozenset({"sign_in_failures"})
FAILED_SIGN_IN_EVENTS = frozenset({"sign-in failed", "account locked", "two-factor code refused"})


def _forms(app, client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    forms = [form for form in parse(path, response.get_data(as_text=True)).forms if form.method == "post"]
    assert forms, f"no form on {path}"
    return [(endpoint_of(app, local_path(form.action), "POST"), form) for form in forms]


def test_public_forms_survive_hostile_input(app, monkeypatch):
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT", "10000 per minute")
    client = app.test_client()
    result = crawl(app, client, ["/sign-in", "/register", "/forgot-password"], check_writes=False)
    found = result.forms_by_endpoint(app)
    assert {"auth.login", "auth.register", "auth.forgot_password"} <= found.keys()
    for endpoint in ("auth.login", "auth.register", "auth.forgot_password"):
        fuzz_form(app, client, "anonymous", endpoint, found[endpoint][0],
                  records=FAILED_SIGN_IN, events=FAILED_SIGN_IN_EVENTS)


def test_the_two_factor_step_survives_hostile_input(app, user_factory, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_RATE_LIMIT", "10000 per minute")
    user = user_factory(Role.MANAGER)
    client = app.test_client()
    response = client.post("/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD,
                                             "csrf_token": csrf_token(client, "/sign-in")})
    assert response.headers["Location"] == "/sign-in/two-factor"
    for endpoint, form in _forms(app, client, "/sign-in/two-factor"):
        fuzz_form(app, client, "half signed in", endpoint, form, records=FAILED_SIGN_IN, events=FAILED_SIGN_IN_EVENTS)


def test_the_set_password_link_survives_hostile_input(app, user_factory):
    user = user_factory(Role.OFFICER)
    with app.app_context():
        raw = account_tokens.issue(db.session.get(User, user.id), TokenPurpose.PASSWORD_RESET)
        db.session.commit()
    client = app.test_client()
    for endpoint, form in _forms(app, client, f"/set-password/{raw}"):
        fuzz_form(app, client, "emailed link", endpoint, form)
