"""The arrangement page, its warnings, setting up a successor through the form, and providers re-confirming."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Admission, Arrangement, Lot
from tests.factories import make_lot, make_user
from tests.factories_dps import admit, make_provider
from tests.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@dataclass
class Ref:
    id: int
    email: str = ""


@pytest.fixture
def world(app, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    with app.app_context():
        lot1, lot2 = make_lot(1), make_lot(2)
        a, b = make_provider("Alpha AP"), make_provider("Bravo AP")
        admit(a, lot1), admit(a, lot2), admit(b, lot2)
        users = {
            "manager": make_user("manager"),
            "officer": make_user("officer"),
            "provider_a": make_user("provider", provider=a),
            "provider_b": make_user("provider", provider=b),
        }
        db.session.commit()
        refs = {name: Ref(user.id, user.email) for name, user in users.items()}
        refs["arrangement"] = Ref(lot1.arrangement_id)
        refs["a"], refs["b"] = Ref(a.id), Ref(b.id)
        return refs


def scalar(app, statement):
    with app.app_context():
        return db.session.scalar(statement)


def _form(client, **fields):
    data = {
        "csrf_token": csrf_token(client),
        "name": "AP dynamic market",
        "regime": "PA2023 dynamic market",
        "start_date": ["1", "9", "2027"],
        "end_date": ["31", "8", "2031"],
    }
    data.update(fields)
    return data


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["officer", "provider_a"])
def test_only_the_manager_sees_the_arrangement(app, client, world, role):
    sign_in(client, world[role].email)
    assert client.get("/manager/arrangement").status_code == 403
    assert client.get("/manager/arrangement/successor/new").status_code == 403
    response = client.post("/manager/arrangement/successor/new", data=_form(client))
    assert response.status_code == 403
    assert scalar(app, sa.select(sa.func.count(Arrangement.id))) == 1


def test_managers_and_officers_cannot_reconfirm_for_a_provider(client, world):
    sign_in(client, world["manager"].email)
    assert client.get("/provider/reconfirm").status_code == 403
    assert client.post("/provider/reconfirm", data={"csrf_token": csrf_token(client)}).status_code == 403


def test_the_page_shows_regime_term_and_days_to_the_legal_end(client, world):
    sign_in(client, world["manager"].email)
    html = _page(client, "/manager/arrangement")
    assert "Dynamic purchasing system (Public Contracts Regulations 2015)" in html
    assert "23 February 2029" in html and "31 March 2031" in html
    assert str((date(2029, 2, 23) - date(2026, 11, 25)).days) in html  # 821 days
    assert 'id="arrangement-warning"' not in html


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2028, 2, 22, 12, tzinfo=UTC), None),
        (datetime(2028, 2, 23, 12, tzinfo=UTC), "less than 12 months away"),
        (datetime(2028, 8, 23, 12, tzinfo=UTC), "less than 6 months away"),
        (datetime(2029, 1, 23, 12, tzinfo=UTC), "less than 1 month away"),
    ],
)
def test_the_warning_on_the_home_and_arrangement_pages(client, world, monkeypatch, moment, text):
    sign_in(client, world["manager"].email)
    monkeypatch.setattr(clock, "now", lambda: moment)
    for url in ("/manager/", "/manager/arrangement"):
        html = _page(client, url)
        if text is None:
            assert 'id="arrangement-warning"' not in html, url
        else:
            assert 'id="arrangement-warning"' in html and text in html, url


def test_setting_up_a_successor_through_the_form(app, client, world):
    sign_in(client, world["manager"].email)
    form = _page(client, "/manager/arrangement/successor/new")
    assert 'name="predecessor"' in form and 'for="name"' in form
    response = client.post(
        "/manager/arrangement/successor/new", data=_form(client, predecessor=str(world["arrangement"].id))
    )
    assert response.status_code == 302 and response.location.endswith("/manager/arrangement")
    assert scalar(app, sa.select(sa.func.count(Lot.id))) == 4
    assert scalar(app, sa.select(sa.func.count(Admission.id))) == 6
    html = _page(client, "/manager/arrangement")
    assert "AP dynamic market" in html and "Dynamic market (Procurement Act 2023)" in html
    assert "3 carried-over admissions are waiting" in html
    # A second go (a stale page) is a 409 with nothing saved.
    again = client.post(
        "/manager/arrangement/successor/new",
        data=_form(client, name="Another", predecessor=str(world["arrangement"].id)),
    )
    assert again.status_code == 409
    assert "already has a successor" in again.get_data(as_text=True)
    assert scalar(app, sa.select(sa.func.count(Arrangement.id))) == 2


def test_a_refused_form_shows_the_errors_and_what_was_typed(app, client, world):
    sign_in(client, world["manager"].email)
    response = client.post(
        "/manager/arrangement/successor/new",
        data=_form(
            client,
            name="Typed name",
            regime="PCR2015 DPS",
            start_date=["1", "1", "2026"],
            predecessor=str(world["arrangement"].id),
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "govuk-error-summary" in html
    assert "The start date must be after today" in html
    assert "Select a Procurement Act 2023 dynamic market or open framework" in html
    assert 'value="Typed name"' in html
    assert scalar(app, sa.select(sa.func.count(Arrangement.id))) == 1


def test_a_provider_reconfirms_only_its_own_admissions(app, client, world):
    sign_in(client, world["manager"].email)
    client.post("/manager/arrangement/successor/new", data=_form(client, predecessor=str(world["arrangement"].id)))
    client = app.test_client()
    sign_in(client, world["provider_a"].email)
    assert "Re-confirm your place" in _page(client, "/provider/")
    assert "Lots waiting for you to re-confirm" in _page(client, "/provider/reconfirm")
    response = client.post("/provider/reconfirm", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    waiting = sa.select(sa.func.count(Admission.id)).where(
        Admission.carried_from_id.is_not(None), Admission.reconfirmed_on.is_(None)
    )
    assert scalar(app, waiting.where(Admission.provider_id == world["a"].id)) == 0
    # Bravo's carried admission is untouched.
    assert scalar(app, waiting.where(Admission.provider_id == world["b"].id)) == 1
    assert "You have nothing to re-confirm" in _page(client, "/provider/reconfirm")
