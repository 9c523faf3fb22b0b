"""The manager's audit page, and the audit of every refused access (403)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Blueprint, abort

from portal.access import public
from portal.errors import ERROR_PAGES
from portal.extensions import db
from portal.models import AuditEvent, Role, User
from portal.services import audit
from portal.services.audit import Events
from tests.conftest import make_app
from tests.factories import make_user
from tests.helpers import count_queries, csrf_token, failing_routes, sign_in

BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
REFUSED_TITLE = ERROR_PAGES[403][0]


def add_events(app, count: int, event: str = Events.SIGN_IN_FAILED, at: datetime = BASE, **fields) -> None:
    """``count`` events a minute apart from ``at``, labelled person<n>@example.test unless a label is given."""
    with app.app_context():
        for n in range(count):
            label = fields.get("actor_label", f"person{n}@example.test")
            entry = audit.record(event, **{**fields, "actor_label": label})
            entry.occurred_at = at + timedelta(minutes=n)
        db.session.commit()


def events(app, event: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return list(rows)


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', page, re.S)[1:]  # without the header row


def form_group(page: str, field_id: str) -> str:
    """The GOV.UK form group holding the field, so a test can check an error is next to it."""
    group_start = r'<div class="govuk-form-group[^"]*">'
    match = re.search(group_start + r'(?:(?!<div class="govuk-form-group).)*?id="%s"' % field_id, page, re.S)
    assert match, f"no form group for {field_id}"
    return match.group(0) + page[match.end() : match.end() + 300]


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER)
    client = app.test_client()
    response = sign_in(client, manager.email)
    assert response.status_code == 302 and response.headers["Location"] == "/manager/", "manager sign-in failed"
    return client


# --- Refused access is recorded ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.OFFICER], ids=lambda r: r.value)
def test_other_roles_are_refused_and_the_refusal_is_recorded(app, user_factory, role):
    user = user_factory(role)
    client = app.test_client()
    sign_in(client, user.email)
    response = client.get("/manager/audit?event=access+refused&token=s3cr3t-in-the-query")
    assert response.status_code == 403
    assert REFUSED_TITLE in response.get_data(as_text=True)

    [refused] = events(app, Events.ACCESS_REFUSED)
    assert refused.actor_id == user.id
    assert refused.actor_label == user.email
    assert refused.ip_address == "127.0.0.1"
    assert refused.details == {"method": "GET", "path": "/manager/audit"}
    assert "s3cr3t" not in repr(refused.details) + refused.reason


def test_each_refusal_is_recorded_with_its_own_path(app, user_factory):
    user = user_factory(Role.PROVIDER)
    client = app.test_client()
    sign_in(client, user.email)
    client.get("/manager/audit")
    client.get("/manager/")
    refusals = events(app, Events.ACCESS_REFUSED)
    assert [r.details["path"] for r in refusals] == ["/manager/audit", "/manager/"]


def test_anonymous_visitors_are_sent_to_sign_in_and_no_refusal_is_recorded(app, client):
    response = client.get("/manager/audit")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")
    assert events(app, Events.ACCESS_REFUSED) == []


# A route that changes something, does not commit, then refuses: the refusal must not commit the change with it.
half_done_routes = Blueprint("half_done", __name__, url_prefix="/_test_audit")


@half_done_routes.get("/change-then-refuse")
@public
def change_then_refuse():
    audit.record(Events.USER_DEACTIVATED, actor_label="half-done change")
    db.session.flush()
    abort(403)


@pytest.fixture(scope="module")
def failing_app(database_url, app):
    failing = make_app(database_url, PROPAGATE_EXCEPTIONS=False)
    failing.register_blueprint(failing_routes)
    failing.register_blueprint(half_done_routes)
    return failing


def test_an_anonymous_403_is_recorded_as_anonymous(app, failing_app):
    response = failing_app.test_client().get("/_test/abort/403?next=/secret")
    assert response.status_code == 403
    [refused] = events(app, Events.ACCESS_REFUSED)
    assert refused.actor_id is None
    assert refused.actor_label == "anonymous"
    assert refused.details == {"method": "GET", "path": "/_test/abort/403"}


def test_the_refusal_is_committed_alone_not_with_what_the_request_left_pending(app, failing_app):
    assert failing_app.test_client().get("/_test_audit/change-then-refuse").status_code == 403
    assert [r.details["path"] for r in events(app, Events.ACCESS_REFUSED)] == ["/_test_audit/change-then-refuse"]
    assert events(app, Events.USER_DEACTIVATED) == []


def test_other_errors_are_not_recorded_as_refusals(app, failing_app):
    client = failing_app.test_client()
    for code in (400, 404, 405):
        assert client.get(f"/_test/abort/{code}").status_code == code
    assert events(app, Events.ACCESS_REFUSED) == []


def test_a_failure_to_record_never_hides_the_403_page(app, user_factory, monkeypatch):
    user = user_factory(Role.OFFICER)
    client = app.test_client()
    sign_in(client, user.email)

    def broken_record(*args, **kwargs):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(audit, "record", broken_record)
    response = client.get("/manager/audit")
    assert response.status_code == 403
    assert REFUSED_TITLE in response.get_data(as_text=True)
    monkeypatch.undo()
    assert client.get("/officer/").status_code == 200  # the session is still usable


# --- The page ------------------------------------------------------------------------------------------------------


def test_the_manager_sees_the_events_newest_first_with_their_details(app, manager_client, user_factory):
    officer = user_factory(Role.OFFICER)
    with app.app_context():
        subject = db.session.get(User, officer.id)
        entry = audit.record(
            Events.USER_DEACTIVATED,
            actor_label="boss@council.gov.uk",
            ip="203.0.113.9",
            subject=subject,
            reason="left the council",
            sessions_ended=3,
        )
        entry.occurred_at = datetime(2026, 7, 1, 8, 5, tzinfo=UTC)  # 9:05am BST
        db.session.commit()
    add_events(app, 1, Events.ACCESS_REFUSED, at=datetime(2026, 7, 2, 9, 0, tzinfo=UTC), actor_label="newer@x.test")

    page = manager_client.get("/manager/audit").get_data(as_text=True)
    assert 'href="/manager/audit"' in page and ">Audit<" in page  # in the service navigation
    rows = rows_of(page)
    texts = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    newer = next(i for i, t in enumerate(texts) if "newer@x.test" in t)
    deactivated = next(i for i, t in enumerate(texts) if "User deactivated" in t)
    assert newer < deactivated
    assert texts[deactivated] == (
        f"1 July 2026 at 9:05am User deactivated boss@council.gov.uk 203.0.113.9 users {officer.id} "
        "Reason: left the council Sessions ended: 3"
    )


def test_the_event_list_offers_every_event_and_all_events(manager_client):
    page = manager_client.get("/manager/audit").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="event".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"', select)
    assert options == [""] + Events.all()
    assert ">All events<" in select


def test_filters_by_event_and_actor_and_keeps_them_in_the_form(app, manager_client):
    add_events(app, 2, Events.ACCESS_REFUSED, actor_label="pat@provider.example")
    add_events(app, 1, Events.ACCESS_REFUSED, actor_label="sam@provider.example")
    add_events(app, 1, Events.SIGN_IN_FAILED, actor_label="pat@provider.example")

    page = manager_client.get("/manager/audit?event=access+refused&actor=PAT").get_data(as_text=True)
    rows = rows_of(page)
    assert len(rows) == 2
    assert all("pat@provider.example" in row and "Access refused" in row for row in rows)
    assert '<option value="access refused" selected>' in page
    assert 'name="actor" type="text" value="PAT"' in page


def test_filters_by_london_dates(app, manager_client):
    add_events(app, 1, actor_label="before@x.test", at=datetime(2026, 6, 30, 22, 59, tzinfo=UTC))  # 30 June BST
    add_events(app, 1, actor_label="inside@x.test", at=datetime(2026, 6, 30, 23, 0, tzinfo=UTC))  # 1 July BST
    add_events(app, 1, actor_label="after@x.test", at=datetime(2026, 7, 1, 23, 0, tzinfo=UTC))  # 2 July BST
    page = manager_client.get("/manager/audit?date_from=1+7+2026&date_to=01/07/2026").get_data(as_text=True)
    assert "inside@x.test" in page
    assert "before@x.test" not in page and "after@x.test" not in page


@pytest.mark.parametrize(
    ("query", "field", "typed", "message"),
    [
        ("date_from=31+2+2026", "date_from", "31 2 2026", "Date from must be a real date"),
        ("date_to=next+tuesday", "date_to", "next tuesday", "Date to must be a real date"),
        (
            "date_from=5+3+2026&date_to=4+3+2026",
            "date_to",
            "4 3 2026",
            "Date to must be the same as or after date from",
        ),
    ],
)
def test_a_wrong_date_is_shown_next_to_its_field_with_what_was_typed(manager_client, query, field, typed, message):
    response = manager_client.get(f"/manager/audit?{query}&actor=pat")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error: Audit trail" in page
    assert "govuk-error-summary" in page and f'href="#{field}"' in page
    group = form_group(page, field)
    assert "govuk-form-group--error" in group
    assert message in group
    assert f'value="{typed}"' in group
    assert 'value="pat"' in page  # the other filters are kept too
    assert "<table" not in page  # nothing is searched with a filter it could not read


def test_an_unknown_event_is_an_error_not_a_crash(manager_client):
    page = manager_client.get("/manager/audit?event=made-up").get_data(as_text=True)
    assert "Select an event from the list" in form_group(page, "event")


def test_pages_keep_the_filters_in_their_links(app, manager_client):
    add_events(app, 120, Events.SIGN_IN_FAILED, actor_label="many@x.test")
    page = manager_client.get("/manager/audit?event=sign-in+failed&actor=many").get_data(as_text=True)
    assert "120 events" in page
    assert len(rows_of(page)) == 50
    nav = re.search(r'<nav class="govuk-pagination.*?</nav>', page, re.S).group(0)
    assert 'href="/manager/audit?event=sign-in+failed&amp;actor=many&amp;page=2"' in nav
    assert 'href="/manager/audit?event=sign-in+failed&amp;actor=many&amp;page=3"' in nav
    assert 'rel="next"' in nav and 'rel="prev"' not in nav

    last = manager_client.get("/manager/audit?event=sign-in+failed&actor=many&page=3").get_data(as_text=True)
    assert len(rows_of(last)) == 20
    assert "Showing 101 to 120 of 120" in last
    assert 'aria-current="page"' in last and 'rel="prev"' in last


def test_nothing_matching_says_so(manager_client):
    page = manager_client.get("/manager/audit?event=account+locked").get_data(as_text=True)
    assert "No events match" in page and "<table" not in page


def test_a_page_link_followed_with_htmx_gets_only_the_results(app, manager_client):
    add_events(app, 60)
    headers = {"HX-Request": "true", "HX-Target": "audit-results", "HX-Boosted": "true"}
    fragment = manager_client.get("/manager/audit?page=2", headers=headers).get_data(as_text=True)
    assert '<div id="audit-results"' in fragment
    assert "<html" not in fragment and "<form" not in fragment
    assert "Showing 51 to" in fragment

    # Restoring history, or the filter form (which targets the main content), gets the whole page.
    restore = {**headers, "HX-History-Restore-Request": "true"}
    assert "<html" in manager_client.get("/manager/audit?page=2", headers=restore).get_data(as_text=True)
    form_request = {"HX-Request": "true", "HX-Target": "main-content"}
    assert "<html" in manager_client.get("/manager/audit", headers=form_request).get_data(as_text=True)


def test_the_filter_form_works_without_javascript(manager_client):
    page = manager_client.get("/manager/audit").get_data(as_text=True)
    form = re.search(r"<form[^>]*>", page.split('id="main-content"')[1]).group(0)
    assert 'method="get"' in form and 'action="/manager/audit"' in form
    assert 'hx-get="/manager/audit"' in form and 'hx-push-url="true"' in form


def add_events_by_different_people(app, count: int, at: datetime) -> None:
    """Events each by a different user, so a page that loaded each row's actor on its own would show it."""
    with app.app_context():
        for n in range(count):
            person = make_user(Role.OFFICER)
            entry = audit.record(Events.SIGNED_OUT, actor=person, ip="192.0.2.1")
            entry.occurred_at = at + timedelta(minutes=n)
        db.session.commit()


def test_the_number_of_statements_does_not_grow_with_the_rows(app, manager_client):
    with app.app_context():
        engine = db.engine
    add_events_by_different_people(app, 5, BASE)
    manager_client.get("/manager/audit")  # warm up
    with count_queries(engine) as few:
        assert len(rows_of(manager_client.get("/manager/audit").get_data(as_text=True))) >= 5
    add_events_by_different_people(app, 55, BASE + timedelta(days=1))
    with count_queries(engine) as many:
        assert len(rows_of(manager_client.get("/manager/audit").get_data(as_text=True))) == 50
    assert many.count == few.count, many.statements


def test_no_password_ever_appears_on_the_page(app, manager_client, user_factory):
    officer = user_factory(Role.OFFICER)
    wrong_password = "Wr0ng-Passw0rd-Typed-By-Officer"
    other = app.test_client()
    token = csrf_token(other, "/sign-in")
    response = other.post("/sign-in", data={"email": officer.email, "password": wrong_password, "csrf_token": token})
    assert response.status_code == 200
    other.post(
        "/sign-in",
        data={"email": "nobody@x.test", "password": wrong_password + "2", "csrf_token": csrf_token(other, "/sign-in")},
    )
    sign_in(other, officer.email)
    # And a careless caller who stored a secret anyway.
    add_events(
        app, 1, Events.PASSWORD_RESET, actor_label=officer.email, password="Stored-By-Mistake-77", token="tok-99"
    )

    page = manager_client.get("/manager/audit").get_data(as_text=True)
    assert f"{officer.email}" in page and "Sign-in failed" in page and "nobody@x.test" in page
    for secret in (wrong_password, "Stored-By-Mistake-77", "tok-99", "correct horse battery staple"):
        assert secret not in page
    assert "Password: [hidden]" in page
