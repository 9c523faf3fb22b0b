"""Invitations and password resets through the test client: the emailed link, the set-password page, and signing in
afterwards (with two-factor where the role has it: a reset or an invitation never gets round it)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Role, TokenPurpose, User
from portal.services import account_tokens, passwords
from portal.services.audit import Events
from tests.factories import CouncilServiceFactory, ProviderFactory
from tests.helpers import csrf_token, sign_in

NEW_PASSWORD = "plenty of words make it strong"
LINK = re.compile(r"https?://[^/\s]+(/set-password/[A-Za-z0-9_\-]+)")
MAIN = re.compile(r"<main.*</main>", re.S)


def _mail(app, to: str) -> list[OutboxMessage]:
    with app.app_context():
        messages = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.to_address == to).order_by(OutboxMessage.id)
        ).all()
        for message in messages:
            db.session.expunge(message)
        return messages


def _link_path(app, to: str) -> str:
    """The path of the set-password link in the newest email to this address."""
    match = LINK.search(_mail(app, to)[-1].body)
    assert match, "no set-password link in the email"
    return match.group(1)


def _invite(app, client, **data) -> None:
    token = csrf_token(client, "/manager/users/invite")
    response = client.post("/manager/users/invite", data={**data, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def _set_password(client, path, password=NEW_PASSWORD, confirm=None):
    return client.post(
        path,
        data={
            "password": password,
            "confirm": password if confirm is None else confirm,
            "csrf_token": csrf_token(client, path),
        },
    )


def _forgot(client, email):
    return client.post("/forgot-password", data={"email": email, "csrf_token": csrf_token(client, "/forgot-password")})


def _issue(app, user_id, purpose) -> str:
    with app.app_context():
        raw = account_tokens.issue(db.session.get(User, user_id), purpose)
        db.session.commit()
        return f"/set-password/{raw}"


def _events(app, event):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)).all()


@pytest.mark.parametrize(
    ("role", "organisation", "after_sign_in"),
    [("officer", {"service": "SEND"}, "/officer/"), ("provider", {"provider": "Acme Learning"}, "/two-factor/set-up")],
)
def test_the_invitation_flow_from_the_manager_to_the_first_sign_in(
    app, user_factory, role, organisation, after_sign_in
):
    with app.app_context():
        CouncilServiceFactory(name="SEND")
        ProviderFactory(name="Acme Learning")
    manager = user_factory(Role.MANAGER)
    manager_client = app.test_client()
    sign_in(manager_client, manager.email)
    _invite(app, manager_client, email="New.Person@Example.org", name="New Person", role=role, **organisation)

    [invitation] = _mail(app, "new.person@example.org")
    assert invitation.subject == "You have been invited to Alternative provision commissioning"
    assert "72 hours" in invitation.body
    path = _link_path(app, "new.person@example.org")

    invitee = app.test_client()
    page = invitee.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set your password" in text and "new.person@example.org" in text
    assert 'autocomplete="new-password"' in text

    done = _set_password(invitee, path)
    assert done.status_code == 302 and done.headers["Location"] == "/sign-in"
    assert "Your password is set. Sign in." in invitee.get("/sign-in").get_data(as_text=True)
    assert invitee.get("/account/").status_code == 302  # setting the password did not sign them in

    response = sign_in(invitee, "new.person@example.org", NEW_PASSWORD)
    assert response.headers["Location"] == after_sign_in
    assert len(_events(app, Events.INVITATION_ACCEPTED)) == 1
    assert invitee.get(path).status_code == 410  # the link is spent


def test_a_reset_never_gets_round_two_factor(app, client, user_factory):
    manager = user_factory(Role.MANAGER, email="morgan@example.org")
    response = _forgot(client, "morgan@example.org")
    assert response.status_code == 200
    path = _link_path(app, "morgan@example.org")
    assert "Choose a new password" in client.get(path).get_data(as_text=True)
    assert _set_password(client, path).headers["Location"] == "/sign-in"
    token = csrf_token(client, "/sign-in")
    step = client.post("/sign-in", data={"email": manager.email, "password": NEW_PASSWORD, "csrf_token": token})
    assert step.headers["Location"] == "/sign-in/two-factor"
    assert client.get("/manager/").status_code == 302
    assert len(_events(app, Events.PASSWORD_RESET)) == 1


def test_a_reset_signs_the_user_out_everywhere(app, user_factory):
    user = user_factory(Role.OFFICER)
    elsewhere = app.test_client()
    sign_in(elsewhere, user.email)
    assert elsewhere.get("/officer/").status_code == 200
    path = _issue(app, user.id, TokenPurpose.PASSWORD_RESET)
    _set_password(app.test_client(), path)
    response = elsewhere.get("/officer/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def _main(response, email: str) -> str:
    """The page's main content, with the email typed taken out (it is echoed back)."""
    return MAIN.search(response.get_data(as_text=True)).group(0).replace(email, "EMAIL")


def test_forgot_password_gives_the_same_answer_for_known_and_unknown_addresses(app, client, user_factory):
    user_factory(Role.OFFICER, email="known@example.org")
    answers = []
    for email in ("known@example.org", "nobody@example.org"):
        response = _forgot(client, email)
        assert response.status_code == 200
        answers.append(_main(response, email))
    assert answers[0] == answers[1]
    assert "If an account uses that address, we have sent a link" in answers[0]
    assert len(_mail(app, "known@example.org")) == 1 and _mail(app, "nobody@example.org") == []
    assert len(_events(app, Events.PASSWORD_RESET_REQUESTED)) == 2


def test_forgot_password_form_errors_are_next_to_the_field_and_keep_what_was_typed(client):
    token = csrf_token(client, "/forgot-password")
    empty = client.post("/forgot-password", data={"email": "", "csrf_token": token}).get_data(as_text=True)
    assert "There is a problem" in empty and empty.count("Enter your email address") == 2
    wrong = client.post("/forgot-password", data={"email": "not an email", "csrf_token": token}).get_data(as_text=True)
    assert "Enter an email address in the correct format" in wrong and 'value="not an email"' in wrong
    assert 'href="#email"' in wrong


def test_forgot_password_requests_are_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT", "2 per minute")
    token = csrf_token(client, "/forgot-password")
    statuses = [
        client.post("/forgot-password", data={"email": f"x{n}@example.org", "csrf_token": token}).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert client.get("/forgot-password").status_code == 200  # reading the page is never limited


def test_the_sign_in_page_links_to_forgotten_password(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/forgot-password"' in page and "Forgotten your password?" in page


@pytest.mark.parametrize(
    ("purpose", "lifetime", "advice"),
    [
        (TokenPurpose.INVITATION, timedelta(hours=72), "ask the person who invited you to send a new invitation"),
        (TokenPurpose.PASSWORD_RESET, timedelta(hours=1), "Ask for a new link to reset your password"),
    ],
)
def test_an_expired_link_says_so_and_how_to_get_a_new_one(app, client, user_factory, purpose, lifetime, advice):
    user = user_factory(Role.OFFICER)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        path = _issue(app, user.id, purpose)
    with time_machine.travel(start + lifetime - timedelta(minutes=1), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(start + lifetime + timedelta(minutes=1), tick=False):
        response = client.get(path)
        text = response.get_data(as_text=True)
        assert response.status_code == 410 and "This link has expired" in text and advice in text
        refused = _set_password(client, path)
        assert refused.status_code == 410
    with app.app_context():
        assert passwords.verify_password(db.session.get(User, user.id).password_hash, NEW_PASSWORD) is False


def test_a_used_link_says_so(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    path = _issue(app, user.id, TokenPurpose.PASSWORD_RESET)
    assert _set_password(client, path).status_code == 302
    response = client.get(path)
    text = response.get_data(as_text=True)
    assert response.status_code == 410 and "This link has been used already" in text
    assert 'href="/forgot-password"' in text and 'href="/sign-in"' in text
    again = _set_password(client, path, "yet another strong password")
    assert again.status_code == 410


def test_an_unknown_or_changed_link_is_not_valid(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    path = _issue(app, user.id, TokenPurpose.INVITATION)
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    for wrong in (tampered, "/set-password/nonsense"):
        response = client.get(wrong)
        text = response.get_data(as_text=True)
        assert response.status_code == 404 and "This link is not valid" in text and 'href="/forgot-password"' in text
    assert client.get(path).status_code == 200  # the real link still works


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("", "", "Enter a new password"),
        ("password1234", "password1234", passwords.TOO_COMMON),
        ("short one", "short one", "Password must be 12 characters or more"),
        (NEW_PASSWORD, "something else entirely", "The passwords do not match"),
        ("sam@example.org is me", "sam@example.org is me", "Your password must not contain your email address"),
    ],
)
def test_set_password_errors_are_shown_next_to_the_field(app, client, user_factory, password, confirm, message):
    user = user_factory(Role.OFFICER, email="sam@example.org", password_hash=None)
    path = _issue(app, user.id, TokenPurpose.INVITATION)
    response = _set_password(client, path, password, confirm)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in text and "<title>Error: Set your password" in text
    assert text.count(message) == 2  # in the error summary and next to the field
    assert 'class="govuk-error-message"' in text
    assert client.get(path).status_code == 200  # a refused password does not spend the link
