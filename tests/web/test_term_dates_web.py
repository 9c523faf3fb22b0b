"""The manager's term dates (six half terms a year, checked field by field, a stale form refused with 409) and the
council services' safeguarding leads, through the test client."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, CouncilService, HalfTerm
from portal.services.audit import Events
from tests.factories import CouncilServiceFactory
from tests.helpers import count_queries, csrf_token, start_session

NOW = datetime(2026, 11, 10, 10, tzinfo=UTC)
GOOD = {
    1: (date(2026, 9, 2), date(2026, 10, 23)),
    2: (date(2026, 11, 2), date(2026, 12, 18)),
    3: (date(2027, 1, 4), date(2027, 2, 12)),
    4: (date(2027, 2, 22), date(2027, 4, 1)),
    5: (date(2027, 4, 19), date(2027, 5, 28)),
    6: (date(2027, 6, 7), date(2027, 7, 21)),
}


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def manager(app, user_factory):
    client = app.test_client()
    start_session(client, user_factory("manager").email)
    return client


def _parts(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _seen(client, year="2026/27") -> str:
    page = _text(client.get(f"/manager/term-dates?year={year}"))
    return re.search(r'name="seen" type="hidden" value="([0-9a-f]*)"', page).group(1)


def _data(client, dates=None, year="2026/27", seen=None):
    data = {"csrf_token": csrf_token(client), "year": year, "seen": _seen(client, year) if seen is None else seen}
    for position, (start, end) in (dates or GOOD).items():
        data[f"starts_{position}"] = _parts(start)
        data[f"ends_{position}"] = _parts(end)
    return data


def _rows(app, year="2026/27"):
    with app.app_context():
        return [
            (row.position, row.starts_on, row.ends_on)
            for row in db.session.scalars(
                sa.select(HalfTerm).where(HalfTerm.academic_year == year).order_by(HalfTerm.position)
            )
        ]


def test_the_year_is_chosen_from_this_year_and_the_next_two(manager):
    page = _text(manager.get("/manager/term-dates"))
    assert "Term dates 2026/27" in page
    for year in ("2026/27", "2027/28", "2028/29"):
        assert f'<option value="{year}"' in page
    assert "2025/26" not in page
    assert "Term dates 2027/28" in _text(manager.get("/manager/term-dates?year=2027/28"))


def test_saving_the_half_terms_replaces_the_years_rows(app, manager):
    response = manager.post("/manager/term-dates", data=_data(manager))
    assert response.status_code == 302
    assert response.headers["Location"] == "/manager/term-dates?year=2026/27"
    assert _rows(app) == [(p, s, e) for p, (s, e) in GOOD.items()]
    changed = dict(GOOD)
    changed[3] = (date(2027, 1, 5), date(2027, 2, 12))
    assert manager.post("/manager/term-dates", data=_data(manager, changed)).status_code == 302
    assert _rows(app)[2] == (3, date(2027, 1, 5), date(2027, 2, 12))
    assert len(_rows(app)) == 6
    page = _text(manager.get("/manager/term-dates?year=2026/27"))
    assert "5 January 2027" in page
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.TERM_DATES_SET)).all()
        assert len(events) == 2 and events[0].details["academic_year"] == "2026/27"


def test_each_wrong_date_is_named_next_to_its_field(app, manager):
    wrong = dict(GOOD)
    wrong[1] = (date(2026, 7, 30), date(2026, 10, 23))  # before 1 August
    wrong[2] = (date(2026, 11, 2), date(2026, 11, 1))  # ends before it starts
    wrong[4] = (date(2027, 2, 10), date(2027, 4, 1))  # overlaps Spring 1
    wrong[6] = (date(2027, 6, 7), date(2027, 8, 2))  # after 31 July
    response = manager.post("/manager/term-dates", data=_data(manager, wrong))
    assert response.status_code == 200
    body = _text(response)
    assert "There is a problem" in body
    assert "Autumn 1 must start within the academic year 2026/27" in body
    assert "Autumn 2 must end on or after the day it starts" in body
    assert "Spring 2 must start after Spring 1 ends" in body
    assert "Summer 2 must end within the academic year 2026/27" in body
    assert 'value="30"' in body  # what was typed is kept
    assert _rows(app) == []


def test_a_missing_date_is_asked_for(app, manager):
    data = _data(manager)
    data["ends_5"] = ["", "", ""]
    response = manager.post("/manager/term-dates", data=data)
    assert response.status_code == 200
    assert "Enter the date Summer 1 ends" in _text(response)
    assert _rows(app) == []


def test_a_form_made_before_someone_else_saved_is_refused(app, manager):
    stale = _seen(manager)
    assert manager.post("/manager/term-dates", data=_data(manager)).status_code == 302
    changed = dict(GOOD)
    changed[1] = (date(2026, 9, 3), date(2026, 10, 23))
    response = manager.post("/manager/term-dates", data=_data(manager, changed, seen=stale))
    assert response.status_code == 409
    assert "Someone else changed the term dates" in _text(response)
    assert _rows(app)[0] == (1, date(2026, 9, 2), date(2026, 10, 23))
    # The form shown with the 409 carries the rows' fingerprint as they are now: sending it again saves.
    assert manager.post("/manager/term-dates", data=_data(manager, changed)).status_code == 302
    assert _rows(app)[0] == (1, date(2026, 9, 3), date(2026, 10, 23))


def test_a_year_outside_the_choices_is_never_saved(app, manager):
    response = manager.post("/manager/term-dates", data=_data(manager, year="2030/31", seen=_seen(manager)))
    assert response.status_code == 404
    assert _rows(app, "2030/31") == [] and _rows(app) == []


# --- The council services' safeguarding leads -----------------------------------------------------------------------


def test_the_services_list_and_its_statement_budget(app, manager):
    with app.app_context():
        CouncilServiceFactory(name="Inclusion", dsl_name="Sam Lead", dsl_email="sam@council.example")
    page = manager.get("/manager/services")
    assert page.status_code == 200 and "Inclusion" in _text(page) and "sam@council.example" in _text(page)
    with app.app_context(), count_queries(db.engine) as one:
        manager.get("/manager/services")
    with app.app_context():
        for n in range(5):
            CouncilServiceFactory(name=f"Virtual School {n}")
    with app.app_context(), count_queries(db.engine) as six:
        assert "Virtual School 4" in _text(manager.get("/manager/services"))
    assert six.count == one.count


def test_the_manager_sets_a_services_safeguarding_lead(app, manager):
    with app.app_context():
        service_id = CouncilServiceFactory(name="Inclusion").id
    url = f"/manager/services/{service_id}"
    page = _text(manager.get(url))
    seen = re.search(r'name="seen" type="hidden" value="([0-9a-f]*)"', page).group(1)
    data = {
        "csrf_token": csrf_token(manager),
        "seen": seen,
        "dsl_name": "Sam Lead",
        "dsl_role": "Head of Inclusion",
        "dsl_email": "not-an-email",
        "dsl_phone": "01895 250000",
    }
    refused = manager.post(url, data=data)
    assert refused.status_code == 200
    assert "Enter an email address in the correct format" in _text(refused)
    assert "Sam Lead" in _text(refused)
    data["dsl_email"] = "Sam.Lead@Council.example"
    assert manager.post(url, data=data).status_code == 302
    with app.app_context():
        service = db.session.get(CouncilService, service_id)
        assert (service.dsl_name, service.dsl_email) == ("Sam Lead", "sam.lead@council.example")
    data["dsl_name"] = "Someone else"
    stale = manager.post(url, data=data)
    assert stale.status_code == 409 and "Someone else changed" in _text(stale)
    assert manager.get("/manager/services/999999").status_code == 404
