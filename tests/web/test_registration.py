"""A provider registers itself: the organisation and its first user, an emailed link to confirm the address and set a
password, then sign-in with two-factor set-up. The same answer whether or not the address has an account."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.extensions import db
from portal.models import AccountToken, AuditEvent, OutboxMessage, Provider, Role, TokenPurpose, User
from portal.services.audit import Events
from tests.factories import ProviderFactory
from tests.helpers import csrf_token

LINK = re.compile(r"https?://[^/\s]+(/set-password/[A-Za-z0-9_\-]+)")
MAIN = re.compile(r"<main.*</main>", re.S)
NEW_PASSWORD = "a long and lovely passphrase"


def _register(client, **fields):
    data = {"organisation_name": "Acme Learning", "contact_name": "Ada Acme", "email": "ada@acme.example", **fields}
    return client.post("/register", data={**data, "csrf_token": csrf_token(client, "/register")})


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _events(app, event) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)).all()
        for entry in events:
            db.session.expunge(entry)
        return events


def _mail(app, to) -> list[OutboxMessage]:
    with app.app_context():
        messages = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == to)).all()
        for message in messages:
            db.session.expunge(message)
        return messages


def test_the_sign_in_page_links_to_registration(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/register"' in page and "register your organisation" in page


def test_registering_makes_the_provider_and_its_first_user_and_emails_a_link(app, client):
    page = client.get("/register")
    assert page.status_code == 200 and "Register your organisation" in page.get_data(as_text=True)
    response = _register(client, email="Ada@Acme.example")
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)

    with app.app_context():
        provider = db.session.scalar(sa.select(Provider).where(Provider.name == "Acme Learning"))
        user = db.session.scalar(sa.select(User).where(User.email == "ada@acme.example"))
        assert user.role is Role.PROVIDER and user.provider_id == provider.id
        assert user.password_hash is None and user.manages_colleagues and user.active
        tokens = db.session.scalars(sa.select(AccountToken).where(AccountToken.user_id == user.id)).all()
        assert [token.purpose for token in tokens] == [TokenPurpose.INVITATION]
    [event] = _events(app, Events.PROVIDER_REGISTERED)
    assert event.subject_type == "providers" and event.details["email"] == "ada@acme.example"

    [message] = _mail(app, "ada@acme.example")
    assert "confirm your email address and set your password" in message.body and "72 hours" in message.body
    path = LINK.search(message.body).group(1)

    # The link sets the password; signing in then asks for two-factor set-up (providers must use it).
    set_page = client.get(path)
    assert set_page.status_code == 200
    response = client.post(
        path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token(client, path)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    response = client.post(
        "/sign-in",
        data={"email": "ada@acme.example", "password": NEW_PASSWORD, "csrf_token": csrf_token(client, "/sign-in")},
    )
    assert response.headers["Location"] == "/two-factor/set-up"


def test_an_address_with_an_account_gets_the_same_answer_and_nothing_is_made(app, client, user_factory):
    existing = user_factory(Role.OFFICER, email="taken@council.example")
    fresh = _register(client, organisation_name="Fresh Start", email="new@fresh.example")
    client_two = app.test_client()
    again = _register(client_two, organisation_name="Sneaky Ltd", email="TAKEN@council.example")
    assert again.status_code == fresh.status_code == 200

    def main(response, email):
        return MAIN.search(response.get_data(as_text=True)).group(0).replace(email, "EMAIL")

    assert main(again, "TAKEN@council.example") == main(fresh, "new@fresh.example")
    with app.app_context():
        assert db.session.scalar(sa.select(Provider).where(Provider.name == "Sneaky Ltd")) is None
        assert db.session.get(User, existing.id).provider_id is None
    [event] = _events(app, Events.REGISTRATION_EMAIL_IN_USE)
    assert event.actor_label == "taken@council.example" and event.subject_id == existing.id
    # The owner of the address hears of it (the person registering does not).
    [message] = _mail(app, "taken@council.example")
    assert "already has an account" in message.body and "/set-password/" not in message.body


def test_a_taken_organisation_name_is_an_error_next_to_the_field(app, client):
    with app.app_context():
        ProviderFactory(name="Acme Learning")
    response = _register(client, organisation_name="  acme   LEARNING ", email="someone@else.example")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in page
    assert "An organisation with this name is registered already" in page
    assert 'href="#organisation_name"' in page
    assert 'value="someone@else.example"' in page and 'value="Ada Acme"' in page  # nothing typed is lost
    assert _count(app, Provider) == 1 and _count(app, User) == 0


def test_missing_and_malformed_answers_are_errors_and_what_was_typed_is_kept(app, client):
    response = _register(client, organisation_name="", contact_name="", email="")
    page = response.get_data(as_text=True)
    for message in ("Enter your organisation&#39;s name", "Enter your full name", "Enter your email address"):
        assert message in page
    response = _register(client, organisation_name="Good Name", email="not-an-email")
    page = response.get_data(as_text=True)
    assert "Enter an email address in the correct format" in page
    assert 'value="Good Name"' in page and 'value="not-an-email"' in page
    assert _count(app, Provider) == 0


def test_registration_is_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT", "2 per minute")
    statuses = [
        _register(client, organisation_name=f"Org {n}", email=f"x{n}@example.org").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert client.get("/register").status_code == 200  # reading the page is never limited
    assert _count(app, Provider) == 2


def test_a_signed_in_user_is_sent_home(client, user_factory):
    from tests.helpers import sign_in

    sign_in(client, user_factory(Role.OFFICER).email)
    assert client.get("/register").headers["Location"] == "/officer/"
