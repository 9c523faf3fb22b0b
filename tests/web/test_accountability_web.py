"""Provider accountability pages: only the manager; the sortable table and its CSV (a BOM, one line per row); the
provider's performance page and its actions; recording a meeting and a complaint without JavaScript."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Complaint, PerformanceMeeting
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider
from tests.helpers import csrf_token, sign_in

NOW = datetime(2027, 3, 26, 12, tzinfo=UTC)


@dataclass
class Ref:
    id: int
    email: str = ""


@pytest.fixture
def world(app, monkeypatch):
    """Built in an app context of its own: requests must not share its ``g`` (the CSRF token lives there)."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    with app.app_context():
        lot = make_lot(1)
        providers = [eligible_provider(lot, name) for name in ("Alpha AP", "=Bravo AP", "Charlie AP")]
        manager = make_user("manager")
        officer = make_user("officer")
        provider_user = make_user("provider", provider=providers[0])
        db.session.add(
            PerformanceMeeting(
                provider_id=providers[2].id, held_on=date(2027, 3, 1), notes="Met", recorded_by_id=manager.id
            )
        )
        db.session.commit()
        return {
            "providers": [Ref(p.id) for p in providers],
            "manager": Ref(manager.id, manager.email),
            "officer": Ref(officer.id, officer.email),
            "provider_user": Ref(provider_user.id, provider_user.email),
        }


def scalar(app, statement):
    with app.app_context():
        return db.session.scalar(statement)


def urls(provider_id: int) -> list[str]:
    return [
        "/manager/accountability",
        "/manager/accountability.csv",
        f"/manager/providers/{provider_id}/performance",
        f"/manager/providers/{provider_id}/performance-meetings/new",
        f"/manager/providers/{provider_id}/complaints/new",
    ]


@pytest.mark.parametrize("role", ["officer", "provider_user"])
def test_officers_and_providers_are_refused(app, client, world, role):
    sign_in(client, world[role].email)
    provider_id = world["providers"][0].id
    for url in urls(provider_id):
        assert client.get(url).status_code == 403, url
    for url in urls(provider_id)[3:]:
        assert client.post(url, data={"csrf_token": csrf_token(client)}).status_code == 403, url
    assert scalar(app, sa.select(sa.func.count(Complaint.id))) == 0


def test_the_table_sorts_by_a_column_with_aria_sort(client, world):
    sign_in(client, world["manager"].email)
    page = client.get("/manager/accountability?sort=meeting&dir=desc").get_data(as_text=True)
    assert 'aria-sort="descending"' in page and page.count("aria-sort=") == 1
    assert page.index("Charlie AP") < page.index("Alpha AP")  # the one with a meeting first
    # The sorted heading's link turns the order round; the others start high.
    assert "/manager/accountability?sort=meeting&amp;dir=asc" in page
    assert "/manager/accountability?sort=attendance&amp;dir=desc" in page
    ascending = client.get("/manager/accountability?sort=name&dir=asc").get_data(as_text=True)
    assert 'aria-sort="ascending"' in ascending
    assert ascending.index("Alpha AP") < ascending.index("Charlie AP")
    for provider in world["providers"]:
        assert f"/manager/providers/{provider.id}/performance" in page


def test_the_csv_has_a_bom_and_the_table_rows(client, world):
    sign_in(client, world["manager"].email)
    response = client.get("/manager/accountability.csv?sort=name&dir=asc")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    table = client.get("/manager/accountability?sort=name&dir=asc").get_data(as_text=True)
    assert len(lines) - 1 == table.count('<th scope="row"') == 3
    assert [line[0] for line in lines[1:]] == ["'=Bravo AP", "Alpha AP", "Charlie AP"]  # formula neutralised


def test_the_performance_page_links_to_its_actions(client, world):
    sign_in(client, world["manager"].email)
    provider = world["providers"][2]
    page = client.get(f"/manager/providers/{provider.id}/performance").get_data(as_text=True)
    assert f"/manager/providers/{provider.id}/suspend" in page
    assert f"/manager/providers/{provider.id}/performance-meetings/new" in page
    assert f"/manager/providers/{provider.id}/complaints/new" in page
    assert "January to March 2027" in page and "1 March 2027" in page
    assert client.get("/manager/providers/999999/performance").status_code == 404
    detail = client.get(f"/manager/providers/{provider.id}").get_data(as_text=True)
    assert f"/manager/providers/{provider.id}/performance" in detail


def test_recording_a_meeting_without_javascript(app, client, world):
    sign_in(client, world["manager"].email)
    provider = world["providers"][0]
    url = f"/manager/providers/{provider.id}/performance-meetings/new"
    token = csrf_token(client)
    refused = client.post(
        url, data={"csrf_token": token, "held_on": ["27", "3", "2027"], "notes": "Talked about attendance"}
    )
    assert refused.status_code == 200
    text = refused.get_data(as_text=True)
    assert "The date the meeting was held must be today or in the past" in text
    assert "govuk-error-summary" in text and "Talked about attendance" in text
    assert scalar(app, sa.select(sa.func.count(PerformanceMeeting.id))) == 1
    too_long = client.post(url, data={"csrf_token": token, "held_on": ["20", "3", "2027"], "notes": "x" * 5001})
    assert "Notes must be 5000 characters or fewer" in too_long.get_data(as_text=True)
    done = client.post(url, data={"csrf_token": token, "held_on": ["20", "3", "2027"], "notes": "Agreed a plan"})
    assert done.status_code == 302 and done.location.endswith(f"/manager/providers/{provider.id}/performance")
    with app.app_context():
        meeting = db.session.scalar(sa.select(PerformanceMeeting).where(PerformanceMeeting.provider_id == provider.id))
        assert (meeting.held_on, meeting.notes) == (date(2027, 3, 20), "Agreed a plan")


def test_recording_a_complaint_without_javascript(app, client, world):
    sign_in(client, world["manager"].email)
    provider = world["providers"][1]
    url = f"/manager/providers/{provider.id}/complaints/new"
    token = csrf_token(client)
    refused = client.post(url, data={"csrf_token": token, "received_on": ["1", "3", "2027"], "summary": ""})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Enter a summary of the complaint" in text
    assert "Select whether the complaint was upheld, or not yet decided" in text
    done = client.post(
        url,
        data={
            "csrf_token": token,
            "received_on": ["1", "3", "2027"],
            "summary": "Progress reports late",
            "upheld": "undecided",
            "placement": "",
        },
    )
    assert done.status_code == 302
    with app.app_context():
        complaint = db.session.scalar(sa.select(Complaint))
        assert (complaint.provider_id, complaint.upheld, complaint.placement_id) == (provider.id, None, None)
    page = client.get(f"/manager/providers/{provider.id}/performance").get_data(as_text=True)
    assert "Progress reports late" in page and "Not yet decided" in page
