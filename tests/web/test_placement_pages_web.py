"""The placement page, changing a placement and ending it, through the test client: who sees what (404 for a
placement someone may not see, 403 for changes by anyone but the service's officers), the audited child read, the
history, plain forms with errors by the fields, 409s for a stale page or an ended placement, and the statement budget
of the page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Aim, AuditEvent, Lot, Placement, PlacementChange, PlacementStatus, Site
from portal.services.audit import Events
from tests.factories import make_user
from tests.factories_calloff import CHILD_FIRST_NAME, CHILD_LAST_NAME, make_child
from tests.factories_placements import awarded_referral, make_placement, placed
from tests.helpers import count_queries, csrf_token, start_session

NOW = datetime(2027, 2, 1, 10, tzinfo=UTC)  # a Monday, three weeks into the placement
CHILD = f"{CHILD_FIRST_NAME} {CHILD_LAST_NAME}"
VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d+)"')


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _version(page: str) -> str:
    match = VERSION.search(page)
    assert match, "no version field on the page"
    return match.group(1)


def _signed_in(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


def _setting(app, **fields) -> dict:
    with app.app_context():
        awarded, placement = placed(**fields)
        sites = [s.id for s in db.session.scalars(sa.select(Site).where(Site.provider_id == placement.provider_id))]
        return {
            "id": placement.id,
            "referral": placement.referral_id,
            "officer": awarded.officer.email,
            "officer_id": awarded.officer.id,
            "provider": awarded.provider_user.email,
            "sites": sorted(sites),
            "version": placement.version,
        }


def _another(upn: str = "B123456789012"):
    """A placement of another service (a new officer) with another provider, in the lot already made."""
    officer = make_user("officer")
    other = awarded_referral(
        officer=officer, lot=db.session.scalars(sa.select(Lot)).first(), child=make_child(officer, upn=upn)
    )
    return other, make_placement(other)


def _count(app, model, *conditions) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


def _placement(app, placement_id: int) -> Placement:
    with app.app_context():
        found = db.session.get(Placement, placement_id)
        db.session.expunge(found)
        return found


# ---- The page, for each role ------------------------------------------------------------------------------------------


def test_the_officer_of_the_service_sees_the_placement_the_child_and_the_actions(app):
    setting = _setting(app)
    client = _signed_in(app, setting["officer"])
    viewed = _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED)

    response = client.get(f"/placements/{setting['id']}")
    page = _text(response)

    assert response.status_code == 200
    assert f"P{setting['id']:05d}" in page and CHILD in page and "14 March 2012" in page
    assert f'href="/officer/referrals/{setting["referral"]}"' in page
    assert "Main site: 1 High Street, Uxbridge, UB8 1UW" in page and "Farm site" not in page
    assert "£120.00 a day" in page and "£7,200.00" in page and "11 January 2027" in page and "2 April 2027" in page
    assert "Aim 1: build up attendance" in page and "Baseline 2: attends 40% of sessions" in page
    assert "Attends 90% of sessions for six weeks" in page
    # Safeguarding: the provider is on roll, so responsible, with its DSL.
    assert "The child is on the provider&#39;s roll, so the provider holds responsibility." in page
    assert "Dana Lead" in page and "dsl@placing-provider.example" in page
    # The expected sessions, with words for screen readers.
    assert page.count('<span class="govuk-visually-hidden">Expected</span>') == 10
    assert "22 February 2027" in page  # next review due
    assert f'href="/placements/{setting["id"]}/change"' in page and f'href="/placements/{setting["id"]}/end"' in page
    assert "The placement has not been changed since it was set up." in page
    # The read of the child's record is in the audit trail, with the purpose.
    assert _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED) == viewed + 1
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORD_VIEWED).order_by(AuditEvent.id.desc())
        ).first()
        assert (
            event.details["purpose"] == "viewing the placement" and event.details["referral_id"] == setting["referral"]
        )


def test_the_provider_and_the_manager_see_it_without_the_actions(app):
    setting = _setting(app)
    provider = _signed_in(app, setting["provider"])
    page = _text(provider.get(f"/placements/{setting['id']}"))
    assert CHILD in page and "Referral R" in page
    assert "/officer/referrals/" not in page and "/change" not in page and "End the placement" not in page

    with app.app_context():
        manager_email = make_user("manager").email
    manager = _signed_in(app, manager_email)
    response = manager.get(f"/placements/{setting['id']}")
    assert response.status_code == 200 and CHILD in _text(response)
    assert f'href="/manager/referrals/{setting["referral"]}"' in _text(response)
    assert "Change the placement" not in _text(response)
    assert manager.get(f"/placements/{setting['id']}/change").status_code == 403


def test_another_services_officer_and_another_provider_are_told_there_is_no_such_placement(app):
    setting = _setting(app)
    with app.app_context():
        other, _ = _another()
        others = (other.officer.email, other.provider_user.email)
    viewed = _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED)
    for email in others:
        client = _signed_in(app, email)
        response = client.get(f"/placements/{setting['id']}")
        assert response.status_code == 404, email
        assert CHILD not in _text(response)
    officer = _signed_in(app, others[0])
    assert officer.get(f"/placements/{setting['id']}/change").status_code == 404
    assert officer.get(f"/placements/{setting['id']}/end").status_code == 404
    assert _signed_in(app, setting["provider"]).get(f"/placements/{setting['id']}/end").status_code == 403
    assert _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED) == viewed
    assert _signed_in(app, setting["officer"]).get("/placements/999999").status_code == 404


def _add_history(app, setting, changes: int, aims: int, sites: int) -> None:
    with app.app_context():
        placement = db.session.get(Placement, setting["id"])
        for n in range(changes):
            db.session.add(
                PlacementChange(
                    placement_id=placement.id,
                    changed_at=datetime(2027, 1, 20, 9, n, tzinfo=UTC),
                    # Each by someone else: the page must not read them one at a time.
                    changed_by_id=make_user("officer").id,
                    reason=f"Reason {n}",
                    field="hours_per_week",
                    old_value=f"{n} hours",
                    new_value=f"{n + 1} hours",
                )
            )
        for n in range(aims):
            db.session.add(
                Aim(
                    referral_id=placement.referral_id,
                    position=10 + n,
                    description=f"Extra aim {n}",
                    baseline="b",
                    target="t",
                    measure="m",
                )
            )
        from portal.models import PlacementSite

        placement.sites = [PlacementSite(site_id=site_id) for site_id in setting["sites"][:sites]]
        db.session.commit()


def test_the_page_shows_the_history_newest_first_and_its_statement_count_does_not_grow(app):
    small, large = _setting(app), None
    _add_history(app, small, changes=1, aims=0, sites=1)
    with app.app_context():
        other, placement = _another()
        large = {
            "id": placement.id,
            "officer": other.officer.email,
            "officer_id": other.officer.id,
            "sites": sorted(s.id for s in other.provider.sites),
        }
    _add_history(app, large, changes=12, aims=4, sites=2)

    counts = []
    for setting in (small, large):
        client = _signed_in(app, setting["officer"])
        with app.app_context():
            with count_queries(db.engine) as counter:
                response = client.get(f"/placements/{setting['id']}")
        assert response.status_code == 200
        counts.append(counter.count)
    page = _text(response)
    assert counts[0] == counts[1], counts
    assert "Extra aim 3" in page and "Farm site: Hill Farm" in page
    assert page.index("Reason 11") < page.index("Reason 0")  # newest first
    assert "11 hours" in page and "12 hours" in page


# ---- Changing the placement -----------------------------------------------------------------------------------------


def _vary_data(client, setting, page: str, **changes) -> dict:
    data = {
        "csrf_token": csrf_token(client),
        "version": _version(page),
        "sites": [str(setting["sites"][0])],
        "hours_per_week": "15",
        "sessions": "Monday to Friday, 9am to 12pm",
        "expected_sessions": [
            "mon-am",
            "mon-pm",
            "tue-am",
            "tue-pm",
            "wed-am",
            "wed-pm",
            "thu-am",
            "thu-pm",
            "fri-am",
            "fri-pm",
        ],
        "full_time": "no",
        "rate_type": "day",
        "rate": "120.00",
        "units_per_week": "5",
        "total_cost": "7200.00",
        "planned_end_date": ["2", "4", "2027"],
        "reason": "Agreed at the review",
    }
    data.update(changes)
    return data


def test_the_change_form_is_prefilled_and_a_change_is_saved_with_its_history(app):
    setting = _setting(app)
    client = _signed_in(app, setting["officer"])
    path = f"/placements/{setting['id']}/change"
    page = _text(client.get(path))
    assert re.search(r'name="hours_per_week"[^>]*value="15"', page)
    assert re.search(rf'value="{setting["sites"][0]}" checked', page)
    assert re.search(r'name="rate"[^>]*value="120.00"', page) and 'value="fri-pm" checked' in page
    assert re.search(r'id="planned_end_date-month"[^>]*value="04"', page)

    data = _vary_data(
        client,
        setting,
        page,
        hours_per_week="20",
        sites=[str(s) for s in setting["sites"]],
        planned_end_date=["28", "5", "2027"],
    )
    response = client.post(path, data=data)
    assert response.status_code == 302 and response.headers["Location"] == f"/placements/{setting['id']}"

    page = _text(client.get(f"/placements/{setting['id']}"))
    assert "changed: sites, hours per week, planned end date" in page
    assert "Main site, Farm site" in page and "15 hours" in page and "20 hours" in page
    assert "28 May 2027" in page and "Agreed at the review" in page
    assert _placement(app, setting["id"]).version == setting["version"] + 1


def test_a_refused_change_is_shown_by_the_fields_with_what_was_typed(app):
    setting = _setting(app)
    client = _signed_in(app, setting["officer"])
    path = f"/placements/{setting['id']}/change"
    page = _text(client.get(path))

    response = client.post(
        path,
        data=_vary_data(
            client,
            setting,
            page,
            sites=[],
            hours_per_week="45",
            reason="",
            planned_end_date=["1", "1", "2027"],
            sessions="s" * 201,
        ),
    )
    page = _text(response)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "The sessions must be 200 characters or fewer" in page
    assert 'value="45"' in page
    # The form's own length check stops the service (so the other fields are checked on the next send).
    response = client.post(
        path,
        data=_vary_data(
            client, setting, page, sites=[], hours_per_week="45", reason="", planned_end_date=["1", "1", "2027"]
        ),
    )
    page = _text(response)
    for message in (
        "Choose at least one site the child will attend",
        "The hours a week must be 40 or fewer",
        "The planned end date must be on or after the start date, 11 January 2027",
        "Enter why the placement is changing",
    ):
        assert message in page
    response = client.post(path, data=_vary_data(client, setting, page))
    assert response.status_code == 200 and "Change at least one thing" in _text(response)
    assert _count(app, PlacementChange) == 0


def test_a_stale_change_is_a_409_with_what_was_typed_and_nothing_saved(app):
    setting = _setting(app)
    client = _signed_in(app, setting["officer"])
    path = f"/placements/{setting['id']}/change"
    page = _text(client.get(path))
    data = _vary_data(client, setting, page, hours_per_week="22")
    with app.app_context():  # a colleague changes it meanwhile
        placement = db.session.get(Placement, setting["id"])
        placement.sessions = "Mornings only"
        db.session.commit()

    response = client.post(path, data=data)
    page = _text(response)
    assert response.status_code == 409
    assert "Someone else changed this placement" in page and 'value="22"' in page
    assert _version(page) == str(setting["version"] + 1)  # sending again goes through
    assert _count(app, PlacementChange) == 0
    assert _placement(app, setting["id"]).hours_per_week == 15


# ---- Ending -------------------------------------------------------------------------------------------------------


def test_the_destination_is_required_then_the_end_is_shown_and_nothing_more_can_be_changed(app):
    setting = _setting(app)
    client = _signed_in(app, setting["officer"])
    path = f"/placements/{setting['id']}/end"
    page = _text(client.get(path))
    assert "Back to the home school" in page and "Not in education" in page

    data = {
        "csrf_token": csrf_token(client),
        "version": _version(page),
        "ended_on": ["29", "1", "2027"],
        "reason": "The aims were met",
    }
    response = client.post(path, data=data)
    page = _text(response)
    assert response.status_code == 200 and "Choose where the child went next" in page
    assert 'value="29"' in page and "The aims were met" in page
    assert _placement(app, setting["id"]).status is PlacementStatus.ACTIVE

    response = client.post(path, data={**data, "destination": "back to the home school"})
    assert response.status_code == 302
    page = _text(client.get(f"/placements/{setting['id']}"))
    assert "Ended" in page and "Back to the home school" in page and "29 January 2027" in page
    assert "The aims were met" in page and "Change the placement" not in page
    ended = _placement(app, setting["id"])
    assert ended.status is PlacementStatus.ENDED and ended.ended_on == date(2027, 1, 29)

    # Ended: the forms are refused with the reason, whether asked for or sent, and nothing changes.
    for target in ("change", "end"):
        response = client.get(f"/placements/{setting['id']}/{target}")
        assert response.status_code == 409 and "This placement has ended" in _text(response)
    response = client.post(
        f"/placements/{setting['id']}/change",
        data=_vary_data(client, setting, f'<input name="version" value="{ended.version}">', hours_per_week="30"),
    )
    assert response.status_code == 409 and _count(app, PlacementChange) == 0
    response = client.post(path, data={**data, "version": str(ended.version), "destination": "other"})
    assert response.status_code == 409 and _placement(app, setting["id"]).destination.value == "back to the home school"


def test_an_end_in_the_future_or_from_a_stale_page_is_refused(app):
    setting = _setting(app)
    client = _signed_in(app, setting["officer"])
    path = f"/placements/{setting['id']}/end"
    page = _text(client.get(path))
    data = {
        "csrf_token": csrf_token(client),
        "version": _version(page),
        "ended_on": ["2", "2", "2027"],
        "destination": "employment",
        "reason": "Got a job",
    }
    response = client.post(path, data=data)
    assert response.status_code == 200 and "The end date must be today or in the past" in _text(response)

    response = client.post(path, data={**data, "ended_on": ["1", "2", "2027"], "version": str(setting["version"] - 1)})
    assert response.status_code == 409 and "Someone else changed this placement" in _text(response)
    assert _placement(app, setting["id"]).status is PlacementStatus.ACTIVE
