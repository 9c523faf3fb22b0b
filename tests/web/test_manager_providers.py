"""The manager's providers through the test client: the list and its statement budget, a provider's page, and
suspending, lifting and removing as plain forms (GOV.UK date inputs, errors by the fields, typed values kept)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.blueprints.manager import applications as applications_view
from portal.blueprints.manager import providers as providers_view
from portal.extensions import db
from portal.models import Admission, AuditEvent, OutboxMessage, Role, Suspension
from portal.services.audit import Events
from portal.services.eligibility import eligible_providers
from tests.factories import AdmissionFactory, ProviderFactory, SuspensionFactory, make_lots, make_user
from tests.factories_slas import make_sla
from tests.helpers import count_queries, csrf_token, start_session

TODAY = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(applications_view, "today", lambda: TODAY)
    monkeypatch.setattr(providers_view, "today", lambda: TODAY)


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER, name="Morgan Manager")
    client = app.test_client()
    start_session(client, manager.email)
    return client


@pytest.fixture
def setting(app):
    """A provider admitted to lots 1 and 2, with one user; ids only."""
    with app.app_context():
        lots = make_lots(2)
        provider = ProviderFactory(name="Harbour Learning", dsl_name="Dana Lead")
        make_user(Role.PROVIDER, provider=provider, email="pat@harbour.example")
        admissions = [
            AdmissionFactory(provider_id=provider.id, lot_id=lot.id, admitted_on=date(2025, 1, 6)) for lot in lots
        ]
        make_sla(provider, lots)  # in force: eligible unless suspended
        return {
            "provider": provider.id,
            "lots": [lot.id for lot in lots],
            "labels": [lot.label for lot in lots],
            "admissions": [a.id for a in admissions],
        }


def _text(response) -> str:
    return response.get_data(as_text=True)


def _post(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def _date(name: str, day: date | None) -> dict:
    """The three boxes of a GOV.UK date input share one name: day, month, year, in that order."""
    values = ["", "", ""] if day is None else [str(day.day), str(day.month), str(day.year)]
    return {name: values}


def _events(app, event):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)).all()


# ---- The list ------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_provider_its_lots_and_whether_it_is_suspended(app, manager_client, setting):
    with app.app_context():
        SuspensionFactory(provider_id=setting["provider"], lot_id=setting["lots"][1], starts_on=date(2026, 6, 1))
        ProviderFactory(name="Acorn Tutors")
    page = _text(manager_client.get("/manager/providers"))
    assert "2 providers" in page
    assert re.findall(r'href="/manager/providers/\d+">([^<]+)</a>', page) == ["Acorn Tutors", "Harbour Learning"]
    harbour = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Harbour Learning</a>.*?</tr>", page, re.S).group(0)
    assert setting["labels"][0] in harbour and "Suspended" in harbour
    acorn = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Acorn Tutors</a>.*?</tr>", page, re.S).group(0)
    assert "None" in acorn and "Suspended" not in acorn
    assert 'href="/manager/lots"' in page and 'href="/manager/applications"' in page  # the navigation


def test_the_list_runs_the_same_statements_for_3_or_30_providers(app, manager_client):
    def make(count):
        with app.app_context():
            lots = make_lots(2)
            for _ in range(count):
                provider = ProviderFactory()
                for lot in lots:
                    AdmissionFactory(provider_id=provider.id, lot_id=lot.id)
                SuspensionFactory(provider_id=provider.id)

    with app.app_context():
        engine = db.engine
    make(3)
    with count_queries(engine) as three:
        assert "3 providers" in _text(manager_client.get("/manager/providers"))
    make(27)
    with count_queries(engine) as thirty:
        page = _text(manager_client.get("/manager/providers"))
    assert "30 providers" in page and len(re.findall(r'href="/manager/providers/\d+"', page)) == 25
    assert thirty.count == three.count, thirty.statements


# ---- A provider's page ---------------------------------------------------------------------------------------------


def test_the_provider_page_shows_admissions_suspensions_and_standing(app, manager_client, setting):
    with app.app_context():
        SuspensionFactory(
            provider_id=setting["provider"],
            lot_id=setting["lots"][1],
            starts_on=date(2026, 6, 1),
            reason="Complaint under review",
        )
    page = _text(manager_client.get(f"/manager/providers/{setting['provider']}"))
    assert "Harbour Learning" in page and "Dana Lead" in page
    assert "6 January 2025" in page and "Complaint under review" in page and "In force" in page
    standing = page.split("Standing today")[1].split("Admissions")[0]
    lot1 = re.search(rf"{re.escape(setting['labels'][0])}.*?</tr>", standing, re.S).group(0)
    lot2 = re.search(rf"{re.escape(setting['labels'][1])}.*?</tr>", standing, re.S).group(0)
    assert ">Yes<" in lot1 and ">No<" in lot2 and "Suspended" in lot2
    assert f"/manager/providers/{setting['provider']}/suspend" in page
    assert manager_client.get("/manager/providers/999999").status_code == 404


# ---- Suspending ----------------------------------------------------------------------------------------------------


def test_suspending_from_one_lot_through_the_form(app, manager_client, setting):
    path = f"/manager/providers/{setting['provider']}/suspend"
    form = _text(manager_client.get(path))
    assert "All lots" in form and setting["labels"][0] in form and 'name="starts_on"' in form
    starts = TODAY + timedelta(days=2)
    response = _post(
        manager_client,
        path,
        {
            "scope": str(setting["lots"][0]),
            "reason": "Safeguarding concern",
            **_date("starts_on", starts),
            **_date("ends_on", starts + timedelta(days=13)),
        },
    )
    assert response.status_code == 302
    page = _text(manager_client.get(response.headers["Location"]))
    assert f"Harbour Learning is suspended from {setting['labels'][0]} from 17 June 2026 to 30 June 2026" in page
    with app.app_context():
        [suspension] = db.session.scalars(sa.select(Suspension)).all()
        assert (suspension.lot_id, suspension.starts_on, suspension.ends_on) == (
            setting["lots"][0],
            starts,
            starts + timedelta(days=13),
        )
        [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
        assert mail.to_address == "pat@harbour.example" and "Safeguarding concern" in mail.body
        from portal.models import Lot, Provider

        lot = db.session.get(Lot, setting["lots"][0])
        provider = db.session.get(Provider, setting["provider"])
        assert provider in eligible_providers(lot, starts - timedelta(days=1))
        assert provider not in eligible_providers(lot, starts)
    assert len(_events(app, Events.PROVIDER_SUSPENDED)) == 1


def test_a_refused_suspension_shows_each_error_by_its_field_and_keeps_what_was_typed(app, manager_client, setting):
    path = f"/manager/providers/{setting['provider']}/suspend"
    response = _post(manager_client, path, {"reason": "", **_date("starts_on", None), "ends_on": ["31", "2", ""]})
    page = _text(response)
    assert response.status_code == 200 and "govuk-error-summary" in page
    assert re.search(r'id="scope-error".*?Select all lots or the lot to suspend them from', page, re.S)
    assert re.search(r'id="reason-error".*?Enter the reason for the suspension', page, re.S)
    assert re.search(r'id="starts_on-error".*?Enter the date the suspension starts', page, re.S)
    assert re.search(r'id="ends_on-error".*?End date must include a year', page, re.S)
    assert 'id="ends_on-day" name="ends_on" type="text" value="31"' in page or re.search(
        r'id="ends_on-day"[^>]*value="31"', page
    )

    response = _post(
        manager_client,
        path,
        {
            "scope": "all",
            "reason": "Late returns",
            **_date("starts_on", TODAY + timedelta(days=5)),
            **_date("ends_on", TODAY + timedelta(days=1)),
        },
    )
    page = _text(response)
    assert re.search(r'id="ends_on-error".*?End date must be the same as or after the start date', page, re.S)
    assert "Late returns" in page

    response = _post(manager_client, path, {"scope": "all", "reason": "Late returns", "starts_on": ["30", "2", "2026"]})
    assert re.search(r'id="starts_on-error".*?Start date must be a real date', _text(response), re.S)

    response = _post(
        manager_client,
        path,
        {"scope": "all", "reason": "Late returns", **_date("starts_on", TODAY - timedelta(days=1))},
    )
    assert re.search(r'id="starts_on-error".*?must start today or later', _text(response), re.S)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suspension)) == 0


def test_lifting_a_suspension_through_the_form(app, manager_client, setting):
    with app.app_context():
        suspension = SuspensionFactory(provider_id=setting["provider"], starts_on=date(2026, 6, 1))
        suspension_id = suspension.id
    path = f"/manager/providers/{setting['provider']}/suspensions/{suspension_id}/lift"
    assert "Lift the suspension" in _text(manager_client.get(path))
    page = _text(_post(manager_client, path, {"reason": ""}))
    assert re.search(r'id="reason-error".*?Enter the reason for lifting the suspension', page, re.S)
    response = _post(manager_client, path, {"reason": "Investigation closed"})
    assert response.status_code == 302
    assert "is lifted" in _text(manager_client.get(response.headers["Location"]))
    with app.app_context():
        saved = db.session.get(Suspension, suspension_id)
        assert saved.lifted_at is not None and saved.lift_reason == "Investigation closed"
    assert len(_events(app, Events.SUSPENSION_LIFTED)) == 1
    # Lifting again is refused with a message, and nothing more is recorded.
    response = _post(manager_client, path, {"reason": "Again"})
    assert response.status_code == 302
    assert "lifted already" in _text(manager_client.get(response.headers["Location"]))
    assert len(_events(app, Events.SUSPENSION_LIFTED)) == 1


def test_removing_from_a_lot_through_the_form(app, manager_client, setting):
    path = f"/manager/providers/{setting['provider']}/admissions/{setting['admissions'][0]}/remove"
    assert "Remove from " + setting["labels"][0] in _text(manager_client.get(path))
    page = _text(_post(manager_client, path, {"reason": ""}))
    assert re.search(r'id="reason-error".*?Enter the reason for removing the provider from the lot', page, re.S)
    response = _post(manager_client, path, {"reason": "Contract breach"})
    assert response.status_code == 302
    assert "is removed from" in _text(manager_client.get(response.headers["Location"]))
    with app.app_context():
        admission = db.session.get(Admission, setting["admissions"][0])
        assert admission.removed_on == TODAY and admission.removed_reason == "Contract breach"
        [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
        assert "Contract breach" in mail.body
    assert len(_events(app, Events.PROVIDER_REMOVED_FROM_LOT)) == 1


def test_another_providers_suspension_or_admission_is_not_found(app, manager_client, setting):
    with app.app_context():
        other = ProviderFactory()
        theirs = SuspensionFactory(provider_id=other.id)
        their_admission = AdmissionFactory(provider_id=other.id, lot_id=setting["lots"][0])
        ids = (theirs.id, their_admission.id)
    provider = setting["provider"]
    assert manager_client.get(f"/manager/providers/{provider}/suspensions/{ids[0]}/lift").status_code == 404
    assert manager_client.get(f"/manager/providers/{provider}/admissions/{ids[1]}/remove").status_code == 404
