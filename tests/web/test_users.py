"""The manager's Users pages and a provider's Colleagues pages, through the test client."""

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Provider, Role, User, UserSession
from portal.services.audit import Events
from tests.factories import CouncilServiceFactory, ProviderFactory, make_user
from tests.helpers import count_queries, csrf_token, sign_in, start_session

MAIN = re.compile(r"<main.*</main>", re.S)


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER, name="Morgan Manager", email="morgan@council.example")
    client = app.test_client()
    start_session(client, manager.email)
    client.manager = manager
    return client


def _make_users(app, count: int, **fields) -> None:
    with app.app_context():
        for _ in range(count):
            make_user(Role.OFFICER, **fields)


def _colleague(app, of: User, **fields) -> User:
    """A second user of the same provider organisation (who does not look after its accounts)."""
    with app.app_context():
        provider = db.session.get(Provider, of.provider_id)
        user = make_user(Role.PROVIDER, provider=provider, manages_colleagues=False, **fields)
        db.session.refresh(user)
        db.session.expunge(user)
        return user


def _text(response) -> str:
    return response.get_data(as_text=True)


def _post(client, path, data=None, page=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, page or path)})


def _events(app, event):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)).all()


def _outbox(app, to):
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == to)).all()


# ---- The list ------------------------------------------------------------------------------------------------------


def test_the_users_page_lists_name_email_role_organisation_and_status(app, manager_client, user_factory):
    user_factory(Role.OFFICER, name="Olu Officer", email="olu@council.example")
    user_factory(Role.PROVIDER, name="Pat Provider", email="pat@acme.example", password_hash=None)
    user_factory(Role.OFFICER, name="Dee Gone", active=False)
    page = _text(manager_client.get("/manager/users"))
    assert "4 users" in page
    row = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Olu Officer</a></td>.*?</tr>", page, re.S).group(0)
    assert "olu@council.example" in row and "Council officer" in row and "Service " in row and "Active" in row
    pat = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Pat Provider</a></td>.*?</tr>", page, re.S).group(0)
    assert "Provider " in pat and "Invited" in pat
    assert "Deactivated" in page
    assert 'href="/manager/users"' in page and ">Users<" in page  # in the manager's navigation


def test_search_and_role_filter_work_as_a_plain_get_form(app, manager_client, user_factory):
    user_factory(Role.OFFICER, name="Alice Archer", email="alice@council.example")
    user_factory(Role.PROVIDER, name="Archie Provider", email="archie@acme.example")
    user_factory(Role.OFFICER, name="Bob Baker", email="bob@council.example")
    page = _text(manager_client.get("/manager/users?q=ARCH&role=officer"))
    assert "Alice Archer" in page and "Archie Provider" not in page and "Bob Baker" not in page
    assert 'value="ARCH"' in page and '<option value="officer" selected>' in page  # the filter is kept
    none = _text(manager_client.get("/manager/users?q=nobody-at-all"))
    assert "No users match" in none


def test_pages_of_25_keep_the_search_in_their_links(app, manager_client):
    _make_users(app, 30)
    first = _text(manager_client.get("/manager/users?q=user"))
    assert "30 users" in first and "Showing 1 to 25 of 30" in first
    assert 'href="/manager/users?q=user&amp;page=2"' in first and 'class="govuk-pagination' in first
    second = _text(manager_client.get("/manager/users?q=user&page=2"))
    assert "Showing 26 to 30 of 30" in second and 'href="/manager/users?q=user&amp;page=1"' in second
    assert second.count('class="govuk-table__row"') == 1 + 5


def test_the_users_page_runs_the_same_number_of_queries_for_3_or_30_users(app, manager_client):
    with app.app_context():
        engine = db.engine
    _make_users(app, 2)  # 3 with the manager
    with count_queries(engine) as three:
        assert "3 users" in _text(manager_client.get("/manager/users"))
    _make_users(app, 27)
    with count_queries(engine) as thirty:
        page = _text(manager_client.get("/manager/users"))
    assert "30 users" in page and len(re.findall(r'href="/manager/users/\d+"', page)) == 25  # a full page of rows
    assert thirty.count == three.count, thirty.statements


def test_htmx_gets_only_the_results_and_a_plain_request_the_whole_page(app, manager_client, user_factory):
    user_factory(Role.OFFICER, name="Alice Archer")
    headers = {"HX-Request": "true", "HX-Target": "user-results", "HX-Current-URL": "http://localhost/manager/users"}
    partial = _text(manager_client.get("/manager/users?q=alice", headers=headers))
    assert "<html" not in partial
    assert 'id="user-results"' in partial and "Alice Archer" in partial and "1 user" in partial
    restore_headers = {**headers, "HX-History-Restore-Request": "true"}
    restore = _text(manager_client.get("/manager/users?q=alice", headers=restore_headers))
    assert "<html" in restore
    full = _text(manager_client.get("/manager/users?q=alice"))
    assert "<html" in full and 'hx-get="/manager/users"' in full and 'hx-push-url="true"' in full


# ---- Inviting ------------------------------------------------------------------------------------------------------


def test_invite_form_errors_are_shown_next_to_the_fields(manager_client):
    response = _post(manager_client, "/manager/users/invite", {"email": "", "name": "", "role": ""})
    page = _text(response)
    assert response.status_code == 200 and "<title>Error: Invite a user" in page
    for message, anchor in [
        ("Enter the person&#39;s email address", "#email"),
        ("Enter the person&#39;s name", "#name"),
        ("Select the person&#39;s role", "#role"),
    ]:
        assert page.count(message) == 2, message  # the summary and the field
        assert f'href="{anchor}"' in page


def test_an_officer_needs_a_service_and_what_was_typed_is_kept(app, manager_client):
    with app.app_context():
        CouncilServiceFactory(name="SEND")
    data = {"email": "olu@council.example", "name": "Olu O'Brien", "role": "officer", "service": "", "provider": ""}
    page = _text(_post(manager_client, "/manager/users/invite", data))
    assert page.count("Select the council service the officer works in") == 2
    assert 'value="olu@council.example"' in page and 'value="Olu O&#39;Brien"' in page
    assert re.search(r'value="officer"\s+checked', page)
    assert 'href="#service"' in page


def test_an_email_already_in_use_is_refused_next_to_the_field(app, manager_client, user_factory):
    user_factory(Role.MANAGER, email="taken@council.example")
    data = {"email": "Taken@council.example", "name": "T", "role": "manager"}
    page = _text(_post(manager_client, "/manager/users/invite", data))
    assert "A user with the email taken@council.example already exists" in page
    assert 'id="email-error"' in page


def test_inviting_a_provider_user_and_seeing_them_as_invited(app, manager_client):
    with app.app_context():
        ProviderFactory(name="Acme Learning")
    data = {"email": "pat@acme.example", "name": "Pat Provider", "role": "provider", "provider": "Acme Learning"}
    response = _post(manager_client, "/manager/users/invite", data)
    assert response.status_code == 302 and response.headers["Location"].startswith("/manager/users/")
    page = _text(manager_client.get(response.headers["Location"]))
    assert "Invitation sent to pat@acme.example" in page and "Invited" in page and "Acme Learning" in page
    assert "Resend invitation" in page
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "pat@acme.example"))
        assert user.role is Role.PROVIDER and user.provider.name == "Acme Learning" and user.manages_colleagues
    assert len(_outbox(app, "pat@acme.example")) == 1


# ---- One user: deactivate, reactivate, resend ----------------------------------------------------------------------


def test_deactivating_signs_the_user_out_everywhere_and_reactivating_lets_them_back(app, manager_client, user_factory):
    officer = user_factory(Role.OFFICER, name="Olu Officer")
    officer_client = app.test_client()
    sign_in(officer_client, officer.email)
    assert officer_client.get("/officer/").status_code == 200

    detail = f"/manager/users/{officer.id}"
    response = _post(manager_client, f"{detail}/deactivate", {"reason": "Left the council"}, page=detail)
    assert response.headers["Location"] == detail
    page = _text(manager_client.get(detail))
    assert "Olu Officer&#39;s account is deactivated" in page and "Deactivated" in page
    assert "Left the council" in page  # the audit entry on the page

    gone = officer_client.get("/officer/")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/sign-in")
    with app.app_context():
        rows = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == officer.id)).all()
        assert rows and all(row.ended_at is not None for row in rows)
    assert sign_in(app.test_client(), officer.email).status_code == 200  # refused: the sign-in form again

    _post(manager_client, f"{detail}/reactivate", page=detail)
    assert "account is active again" in _text(manager_client.get(detail))
    assert sign_in(app.test_client(), officer.email).headers["Location"] == "/officer/"
    assert len(_events(app, Events.USER_DEACTIVATED)) == 1 and len(_events(app, Events.USER_REACTIVATED)) == 1


def test_a_manager_cannot_deactivate_themself(app, manager_client):
    detail = f"/manager/users/{manager_client.manager.id}"
    assert "You cannot deactivate your own account" in _text(manager_client.get(detail))
    response = _post(manager_client, f"{detail}/deactivate", page=detail)
    assert response.status_code == 302
    assert "You cannot deactivate your own account" in _text(manager_client.get(detail))
    assert manager_client.get("/manager/users").status_code == 200  # still signed in and active


def test_a_too_long_reason_is_shown_again_with_the_message(app, manager_client, user_factory):
    officer = user_factory(Role.OFFICER)
    detail = f"/manager/users/{officer.id}"
    reason = "because " * 70
    page = _text(_post(manager_client, f"{detail}/deactivate", {"reason": reason}, page=detail))
    assert page.count("Reason must be 500 characters or fewer") == 2 and reason.strip() in page
    with app.app_context():
        assert db.session.get(User, officer.id).active


def test_resending_an_invitation(app, manager_client, user_factory):
    invited = user_factory(Role.OFFICER, email="late@council.example", password_hash=None)
    detail = f"/manager/users/{invited.id}"
    _post(manager_client, f"{detail}/resend-invitation", page=detail)
    assert "A new invitation was sent to late@council.example" in _text(manager_client.get(detail))
    assert len(_outbox(app, "late@council.example")) == 1
    active = user_factory(Role.OFFICER)
    _post(manager_client, f"/manager/users/{active.id}/resend-invitation", page=detail)
    assert "has set a password already" in _text(manager_client.get(f"/manager/users/{active.id}"))


def test_an_unknown_user_is_not_found(manager_client):
    assert manager_client.get("/manager/users/999999").status_code == 404
    assert _post(manager_client, "/manager/users/999999/deactivate", page="/manager/users").status_code == 404


# ---- Provider colleagues -------------------------------------------------------------------------------------------


def test_a_provider_sees_only_its_own_colleagues(app, user_factory):
    lead_a = user_factory(Role.PROVIDER, name="Lead A", email="lead@a.example")
    _colleague(app, lead_a, name="Colleague A")
    user_factory(Role.PROVIDER, name="Lead B", email="lead@b.example")
    client = app.test_client()
    sign_in(client, lead_a.email)
    page = _text(client.get("/provider/colleagues"))
    assert "Lead A" in page and "Colleague A" in page
    assert "Lead B" not in page and "lead@b.example" not in page
    assert "Invite a colleague" in page and ">Colleagues<" in page


def test_a_provider_user_who_does_not_manage_colleagues_gets_403_on_invite(app, user_factory):
    lead = user_factory(Role.PROVIDER, name="Lead A")
    member = _colleague(app, lead, name="Member")
    client = app.test_client()
    sign_in(client, member.email)
    assert "Invite a colleague" not in _text(client.get("/provider/colleagues"))
    assert client.get("/provider/colleagues/invite").status_code == 403
    data = {"email": "x@a.example", "name": "X"}
    response = _post(client, "/provider/colleagues/invite", data, page="/provider/colleagues")
    assert response.status_code == 403
    assert _outbox(app, "x@a.example") == []


def test_the_first_provider_user_invites_a_colleague(app, user_factory):
    lead = user_factory(Role.PROVIDER, name="Lead A")
    client = app.test_client()
    sign_in(client, lead.email)
    empty = _text(_post(client, "/provider/colleagues/invite", {"email": "", "name": "Kept Name"}))
    assert empty.count("Enter your colleague&#39;s email address") == 2 and 'value="Kept Name"' in empty
    response = _post(client, "/provider/colleagues/invite", {"email": "new@a.example", "name": "New Colleague"})
    assert response.headers["Location"] == "/provider/colleagues"
    page = _text(client.get("/provider/colleagues"))
    assert "Invitation sent to new@a.example" in page and "New Colleague" in page and "Invited" in page
    with app.app_context():
        colleague = db.session.scalar(sa.select(User).where(User.email == "new@a.example"))
        assert colleague.provider_id == lead.provider_id and not colleague.manages_colleagues
    [message] = _outbox(app, "new@a.example")
    assert "/set-password/" in message.body and "72 hours" in message.body
