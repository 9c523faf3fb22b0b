"""The manager's award notices through the test client: the page (the last eight quarters, a plain GET form with its
errors), the JSON download (its file name, the audit event, nothing about the child), an empty or impossible quarter,
and other roles refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Role
from portal.security import DOWNLOAD_CSP
from portal.services.audit import Events
from tests.factories import make_lot, make_user
from tests.factories_calloff import CHILD_IDENTIFIERS, make_child
from tests.factories_placements import awarded_referral
from tests.helpers import count_queries, sign_in, start_session

NOW = datetime(2027, 5, 10, 9, 0, tzinfo=UTC)  # in Q2 2027


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER, email="morgan@council.example")
    client = app.test_client()
    start_session(client, manager.email)
    client.user = manager
    return client


def _awards(app, moments: list[datetime]) -> dict:
    with app.app_context():
        officer = make_user("officer")
        child = make_child(officer)
        lot = make_lot(1)
        made = []
        for moment in moments:
            awarded = awarded_referral(officer=officer, lot=lot, child=child)
            awarded.referral.award_rationale = f"Chosen for {child.full_name}, {child.upn}"
            awarded.referral.awarded_at = moment
            db.session.commit()
            made.append((awarded.referral.id, awarded.provider.name))
        return {"awards": made}


def _audit_events(app, event: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_the_page_shows_the_last_eight_quarters_with_counts(app, manager_client):
    _awards(
        app,
        [
            datetime(2027, 2, 1, 10, tzinfo=UTC),
            datetime(2027, 3, 1, 10, tzinfo=UTC),
            datetime(2026, 11, 1, 10, tzinfo=UTC),
        ],
    )

    response = manager_client.get("/manager/award-notices")

    assert response.status_code == 200
    html = _text(response)
    assert '<h1 class="govuk-heading-l">Award notices</h1>' in html
    assert "Q2 2027 (April to June)" in html and "In progress" in html
    assert "Q3 2025 (July to September)" in html  # the eighth quarter back
    assert "Q2 2025" not in html
    assert html.count("None to publish") == 6
    assert 'href="/manager/award-notices/2027-Q1.json"' in html
    assert 'href="/manager/award-notices/2026-Q4.json"' in html
    assert 'href="/manager/award-notices/2027-Q2.json"' not in html
    q1_row = html[html.index("Q1 2027 (January to March)") :]
    assert '<td class="govuk-table__cell govuk-table__cell--numeric">2</td>' in q1_row[:400]
    # A GET changes nothing.
    assert _audit_events(app, Events.AWARD_NOTICES_EXPORTED) == []


def test_the_page_statements_do_not_grow_with_awards(app, manager_client):
    manager_client.get("/manager/award-notices")
    with count_queries(_engine(app)) as few:
        manager_client.get("/manager/award-notices?year=2027&quarter=1")
    _awards(app, [datetime(2027, 2, 1, 10, tzinfo=UTC)] * 3)
    with count_queries(_engine(app)) as many:
        response = manager_client.get("/manager/award-notices?year=2027&quarter=1")
    assert "3 call-off awards" in _text(response)
    assert many.count == few.count


def _engine(app):
    with app.app_context():
        return db.engine


def test_choosing_a_quarter_shows_its_count_and_download_link(app, manager_client):
    _awards(app, [datetime(2024, 5, 1, 10, tzinfo=UTC)])

    response = manager_client.get("/manager/award-notices?year=2024&quarter=2")

    assert response.status_code == 200
    html = _text(response)
    assert "Q2 2024 (April to June)" in html
    assert "1 call-off award." in html
    assert 'href="/manager/award-notices/2024-Q2.json"' in html
    assert 'value="2024"' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("year=&quarter=1", "year", "Enter a year"),
        ("year=27&quarter=1", "year", "Year must be 4 numbers, for example 2027"),
        ("year=20x7&quarter=1", "year", "Year must be 4 numbers, for example 2027"),
        ("year=1999&quarter=1", "year", "Year must be between 2000 and 2200"),
        ("year=2027&quarter=", "quarter", "Select a quarter"),
        ("year=2027&quarter=5", "quarter", "Select a quarter"),
    ],
)
def test_a_wrong_choice_is_shown_next_to_the_field(manager_client, query, field, message):
    response = manager_client.get(f"/manager/award-notices?{query}")

    assert response.status_code == 200
    html = _text(response)
    assert "govuk-error-summary" in html
    assert f'href="#{field}"' in html
    assert f'id="{field}-error"' in html
    assert message in html
    assert "<title>Error: Award notices" in html
    assert 'id="chosen-quarter"' not in html


def test_the_download_is_an_ocds_package_with_a_safe_name_and_an_audit_event(app, manager_client):
    made = _awards(app, [datetime(2027, 1, 20, 10, tzinfo=UTC), datetime(2027, 3, 3, 10, tzinfo=UTC)])

    response = manager_client.get("/manager/award-notices/2027-Q1.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="award-notices-2027-Q1.json"'
    assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    assert response.headers["Cache-Control"] == "no-store"
    package = json.loads(_text(response))
    assert package["version"] == "1.1"
    assert package["publishedDate"] == "2027-05-10T09:00:00Z"
    assert [r["ocid"] for r in package["releases"]] == [f"ocds-xxxxxx-R{rid:05d}" for rid, _ in made["awards"]]
    assert [r["awards"][0]["suppliers"][0]["name"] for r in package["releases"]] == [n for _, n in made["awards"]]
    text = _text(response).lower()
    assert [i for i in CHILD_IDENTIFIERS if i.lower() in text] == []

    [event] = _audit_events(app, Events.AWARD_NOTICES_EXPORTED)
    assert event.actor_id == manager_client.user.id
    assert event.details == {"quarter": "2027-Q1", "awards": 2}


def test_a_quarter_with_no_awards_is_a_404_saying_so(app, manager_client):
    response = manager_client.get("/manager/award-notices/2026-Q3.json")

    assert response.status_code == 404
    html = _text(response)
    assert "No call-offs were awarded in Q3 2026 (July to September)" in html
    assert 'value="2026"' in html
    assert _audit_events(app, Events.AWARD_NOTICES_EXPORTED) == []


@pytest.mark.parametrize("path", ["2027-Q0.json", "2027-Q5.json", "1999-Q1.json", "2027-Q12.json"])
def test_an_impossible_quarter_is_a_404(manager_client, path):
    assert manager_client.get(f"/manager/award-notices/{path}").status_code == 404


@pytest.mark.parametrize("role", [Role.OFFICER, Role.PROVIDER])
def test_officers_and_providers_are_refused(app, user_factory, role):
    _awards(app, [datetime(2027, 2, 1, 10, tzinfo=UTC)])
    user = user_factory(role)
    client = app.test_client()
    sign_in(client, user.email)

    assert client.get("/manager/award-notices").status_code == 403
    response = client.get("/manager/award-notices/2027-Q1.json")
    assert response.status_code == 403
    assert "ocid" not in _text(response)
    assert _audit_events(app, Events.AWARD_NOTICES_EXPORTED) == []
