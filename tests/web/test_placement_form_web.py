"""The officer's "Set up the placement" form through the test client: the page (prefilled, the child's name read
through the audited service), the safeguarding prompt as an htmx fragment and on the plain post, validation with what
was typed kept, the two guards, 409s, and who may use it."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Placement,
    ReferralStatus,
    ResponsibleParty,
    Site,
)
from portal.services.audit import Events
from portal.services.placements import ALL_SESSIONS
from tests.factories import make_user
from tests.factories_calloff import CHILD_FIRST_NAME, make_child
from tests.factories_placements import awarded_referral, make_placement
from tests.helpers import csrf_token, start_session
from tests.unit.test_placement_setup import RULE_TABLE

HX = {"HX-Request": "true", "HX-Target": "responsibility-prompt"}
VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d+)"')


def _text(response) -> str:
    return response.get_data(as_text=True)


def _count(app, model, *conditions) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


@pytest.fixture
def setup(app):
    """An awarded referral (its service with a DSL), the officer signed in: (client, ids)."""
    with app.app_context():
        aw = awarded_referral()
        service = aw.referral.service
        service.dsl_name, service.dsl_email = "Sam Service", "sam.service@council.example"
        db.session.commit()
        site = db.session.scalars(sa.select(Site).where(Site.provider_id == aw.provider.id).order_by(Site.id)).first()
        ids = {
            "referral": aw.referral.id,
            "version": aw.referral.version,
            "site": site.id,
            "officer": aw.officer.email,
            "service": service.name,
            "service_id": service.id,
            "provider": aw.provider.name,
            "provider_id": aw.provider.id,
            "provider_user": aw.provider_user.id,
            "lot": aw.lot.id,
            "officer_id": aw.officer.id,
        }
    return ids


def _signed_in(app, email):
    client = app.test_client()
    start_session(client, email)
    return client


def _url(ids) -> str:
    return f"/officer/referrals/{ids['referral']}/placement"


def _form(ids, party: ResponsibleParty = ResponsibleParty.PROVIDER, **overrides) -> dict:
    answers = {
        ResponsibleParty.PROVIDER: ("PROVIDER", "MAIN", "COUNCIL"),
        ResponsibleParty.SERVICE: ("HOME_SCHOOL", "MAIN", "COUNCIL"),
        ResponsibleParty.SCHOOL: ("HOME_SCHOOL", "MAIN", "SCHOOL"),
    }[party]
    data = {
        "version": str(ids["version"]),
        "sites": [str(ids["site"])],
        "hours_per_week": "15",
        "sessions": "Monday to Friday, 9am to 12pm",
        "expected_sessions": list(ALL_SESSIONS),
        "full_time": "no",
        "rate_type": "DAY",
        "rate": "120.00",
        "units_per_week": "5",
        "total_cost": "7200.00",
        "start_date": ["11", "1", "2027"],
        "planned_end_date": ["2", "4", "2027"],
        "reintegration_criteria": "Attends 90% for six weeks",
        "ehc_plan_reference": "",
        "first_review_date": ["22", "2", "2027"],
        "on_roll": answers[0],
        "school_name": "Marblewick Academy",
        "provision_role": answers[1],
        "commissioner": answers[2],
        "confirmed_party": party.name,
        "confirm_responsibility": "yes",
    }
    if party is ResponsibleParty.SCHOOL:
        data.update(
            school_dsl_name="Sally School",
            school_dsl_email="sally@marblewick.example",
            school_dsl_phone="01895 123456",
            staff_checks_confirmed_on=["4", "1", "2026"],
            staff_checks_reference="Letter from the head",
        )
    data.update(overrides)
    return data


def _post(client, ids, data):
    return client.post(_url(ids), data={**data, "csrf_token": csrf_token(client)})


# --- The page ---------------------------------------------------------------------------------------------------------


def test_the_form_is_prefilled_and_the_childs_name_read_is_audited(app, setup):
    client = _signed_in(app, setup["officer"])
    response = client.get(_url(setup))
    page = _text(response)
    assert response.status_code == 200
    assert "Set up the placement" in page and CHILD_FIRST_NAME in page and setup["provider"] in page
    assert re.search(r'id="hours_per_week"[^>]*value="15"', page)
    assert 'value="7200.00"' in page and 'value="Marblewick Academy"' in page
    assert page.count('name="expected_sessions"') == 10 and page.count("checked") >= 10
    assert 'id="responsibility-prompt"' in page and 'aria-live="polite"' in page
    assert 'hx-get="/officer/referrals/{}/placement/responsibility"'.format(setup["referral"]) in page
    assert "Aim 1: build up attendance" in page and "Baseline 1" in page and "Target 1" in page
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORD_VIEWED))
        assert event.details["purpose"] == "setting up the placement"
    assert _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED) == 1


def test_the_referral_page_links_to_setting_up_then_to_the_placement(app, setup):
    client = _signed_in(app, setup["officer"])
    page = _text(client.get(f"/officer/referrals/{setup['referral']}"))
    assert f'href="{_url(setup)}"' in page
    response = _post(client, setup, _form(setup))
    assert response.status_code == 302
    page = _text(client.get(f"/officer/referrals/{setup['referral']}"))
    assert f'href="{_url(setup)}"' not in page
    with app.app_context():
        placement_id = db.session.scalar(sa.select(Placement.id))
    assert f'href="/placements/{placement_id}"' in page


# --- The rule table through the htmx fragment --------------------------------------------------------------------------


@pytest.mark.parametrize(("on_roll", "role", "commissioner", "party"), RULE_TABLE)
def test_the_fragment_names_the_party_and_its_dsl(app, setup, on_roll, role, commissioner, party):
    client = _signed_in(app, setup["officer"])
    query = {
        "on_roll": on_roll.name,
        "provision_role": role.name,
        "commissioner": commissioner.name,
        "school_name": "Marblewick Academy",
        "school_dsl_name": "Sally School",
    }
    before = _count(app, AuditEvent)
    response = client.get(f"{_url(setup)}/responsibility?{urlencode(query)}", headers=HX)
    fragment = _text(response)
    assert response.status_code == 200
    assert fragment.lstrip().startswith("<div") and "<html" not in fragment
    assert 'id="responsibility-prompt"' in fragment
    assert CHILD_FIRST_NAME not in fragment
    needs = "confirmation of the provider's staff checks is needed"
    if party is None:
        assert "only for a child on its roll" in fragment
        assert "I confirm" not in fragment
    else:
        organisation, dsl = {
            ResponsibleParty.PROVIDER: (setup["provider"], "Dana Lead"),
            ResponsibleParty.SERVICE: (setup["service"], "Sam Service"),
            ResponsibleParty.SCHOOL: ("Marblewick Academy", 'value="Sally School"'),
        }[party]
        assert f"Safeguarding responsibility: {organisation} ({party.value})" in fragment
        assert dsl in fragment
        assert f'name="confirmed_party" type="hidden" value="{party.name}"' in fragment
    assert (needs in fragment) is (party is ResponsibleParty.SCHOOL)
    assert _count(app, AuditEvent) == before  # nothing written: no child read


def test_the_fragment_is_for_officers_of_the_service_only(app, setup):
    other = _signed_in(app, _other_officer(app))
    assert other.get(f"{_url(setup)}/responsibility?on_roll=PROVIDER", headers=HX).status_code == 403


# --- The rule table through the plain post ----------------------------------------------------------------------------


@pytest.mark.parametrize("party", list(ResponsibleParty), ids=lambda p: p.name)
def test_a_valid_post_saves_the_party_the_answers_name(app, setup, party):
    client = _signed_in(app, setup["officer"])
    response = _post(client, setup, _form(setup, party))
    assert response.status_code == 302, _text(response)
    with app.app_context():
        placement = db.session.scalar(sa.select(Placement))
        assert placement.responsible_party is party
        assert response.headers["Location"] == f"/placements/{placement.id}"
        if party is ResponsibleParty.SCHOOL:
            assert placement.school_dsl_name == "Sally School"
            assert placement.staff_checks_reference == "Letter from the head"
        else:
            assert placement.school_dsl_name == ""


def test_without_javascript_a_changed_answer_shows_the_new_prompt_and_asks_to_confirm_again(app, setup):
    client = _signed_in(app, setup["officer"])
    # The officer ticked the box for the provider, then changed the on-roll answer (no htmx to refresh the prompt).
    response = _post(client, setup, _form(setup, on_roll="HOME_SCHOOL"))
    page = _text(response)
    assert response.status_code == 200
    assert f"Safeguarding responsibility: {setup['service']} (the commissioning service)" in page
    assert "now name" in page
    assert 'name="confirmed_party" type="hidden" value="SERVICE"' in page
    assert 'name="confirm_responsibility" type="checkbox" value="yes" checked' not in page
    assert _count(app, Placement) == 0
    # Confirmed again for the party now shown: saved.
    response = _post(client, setup, _form(setup, on_roll="HOME_SCHOOL", confirmed_party="SERVICE"))
    assert response.status_code == 302


def test_the_school_fields_appear_when_the_school_holds_responsibility(app, setup):
    client = _signed_in(app, setup["officer"])
    data = _form(setup, ResponsibleParty.SCHOOL)
    for name in ("school_dsl_name", "school_dsl_email", "school_dsl_phone", "staff_checks_reference"):
        data.pop(name)
    data.pop("staff_checks_confirmed_on")
    page = _text(_post(client, setup, data))
    assert "Enter the name of the school&#39;s Designated Safeguarding Lead" in page
    assert "Enter the date the school received the provider&#39;s written confirmation" in page
    assert "Enter a reference for the written confirmation of staff checks" in page
    assert _count(app, Placement) == 0


# --- Validation -----------------------------------------------------------------------------------------------------------


def test_bad_fields_get_their_messages_and_what_was_typed_is_kept(app, setup):
    client = _signed_in(app, setup["officer"])
    data = _form(
        setup,
        hours_per_week="lots",
        rate="12.345",
        sessions="S" * 201,
        expected_sessions=[],
        planned_end_date=["8", "1", "2027"],
        sites=[],
    )
    response = _post(client, setup, data)
    page = _text(response)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "Enter the hours per week as a number, for example 15 or 12.5" in page
    assert 'value="lots"' in page
    assert "Enter the rate in pounds and pence, for example 120.00" in page and 'value="12.345"' in page
    assert "The sessions must be 200 characters or fewer" in page and "S" * 201 in page
    assert "Tick at least one session the child is expected at" in page
    assert "Choose at least one site the child will attend" in page
    assert "The planned end date must be the same as or after the start date" in page
    assert 'href="#hours_per_week"' in page
    assert _count(app, Placement) == 0


def test_a_stale_version_is_a_409_and_nothing_is_saved(app, setup):
    client = _signed_in(app, setup["officer"])
    response = _post(client, setup, _form(setup, version=str(setup["version"] - 1), sessions="Typed before"))
    page = _text(response)
    assert response.status_code == 409
    assert "Someone else changed this referral" in page
    assert 'value="Typed before"' in page
    assert f'name="version" type="hidden" value="{setup["version"]}"' in page
    assert _count(app, Placement) == 0


# --- The guards -----------------------------------------------------------------------------------------------------------


def test_a_child_with_an_active_placement_needs_a_reason(app, setup):
    with app.app_context():
        from portal.models import Lot

        child = make_child(make_user("officer"), upn="D000000000001")
        first = awarded_referral(lot=db.session.get(Lot, setup["lot"]), child=child)
        existing = make_placement(first)
        # The referral of the fixture is for another child: give it this child.
        from portal.models import Referral

        referral = db.session.get(Referral, setup["referral"])
        referral.child_id = existing.child_id
        db.session.commit()
        setup["version"] = referral.version
        reference = f"P{existing.id:05d}"
    client = _signed_in(app, setup["officer"])
    page = _text(client.get(_url(setup)))
    assert f"already has an active placement: placement {reference}" in page
    assert 'name="concurrent_reason"' in page
    page = _text(_post(client, setup, _form(setup)))
    assert "say why a second placement runs alongside it" in page
    assert _count(app, Placement) == 1
    response = _post(client, setup, _form(setup, concurrent_reason="Therapy alongside"))
    assert response.status_code == 302
    assert _count(app, Placement) == 2


def test_an_unregistered_provider_is_refused_a_fifth_full_time_pupil(app):
    with app.app_context():
        aw = awarded_referral(registered=False)
        for n in range(4):
            child = make_child(aw.officer, upn=f"C{n:012d}")
            other = awarded_referral(
                officer=aw.officer, lot=aw.lot, provider=aw.provider, provider_user=aw.provider_user, child=child
            )
            make_placement(other, full_time=True)
        site = aw.provider.sites[0].id
        ids = {"referral": aw.referral.id, "version": aw.referral.version, "site": site, "officer": aw.officer.email}
    client = _signed_in(app, ids["officer"])
    page = _text(_post(client, ids, _form(ids, full_time="yes")))
    assert "would make it educate 5 pupils full time" in page
    assert "must be registered as an independent school" in page
    assert _count(app, Placement) == 4


# --- States and access -----------------------------------------------------------------------------------------------------


def _other_officer(app) -> str:
    with app.app_context():
        return make_user("officer").email


def test_officers_of_other_services_are_refused(app, setup):
    client = _signed_in(app, _other_officer(app))
    assert client.get(_url(setup)).status_code == 403
    assert _post(client, setup, _form(setup)).status_code == 403
    assert _count(app, Placement) == 0


def test_a_colleague_in_the_same_service_may_set_it_up(app, setup):
    with app.app_context():
        from portal.models import CouncilService

        colleague = make_user("officer", service=db.session.get(CouncilService, setup["service_id"])).email
    client = _signed_in(app, colleague)
    assert client.get(_url(setup)).status_code == 200


@pytest.mark.parametrize("role", ["provider", "manager"])
def test_providers_and_the_manager_are_refused(app, setup, role):
    with app.app_context():
        email = make_user(role).email
    client = _signed_in(app, email)
    assert client.get(_url(setup)).status_code == 403
    assert client.get(f"{_url(setup)}/responsibility").status_code == 403


def test_an_unknown_referral_is_404(app, setup):
    client = _signed_in(app, setup["officer"])
    assert client.get("/officer/referrals/99999/placement").status_code == 404
    assert client.get("/officer/referrals/99999/placement/responsibility", headers=HX).status_code == 404


def test_a_referral_not_awarded_is_a_409_saying_why(app, setup):
    with app.app_context():
        from portal.models import Referral

        db.session.get(Referral, setup["referral"]).status = ReferralStatus.OPEN
        db.session.commit()
    client = _signed_in(app, setup["officer"])
    response = client.get(_url(setup))
    assert response.status_code == 409
    assert "has not been awarded" in _text(response)
    assert _post(client, setup, _form(setup)).status_code == 409
    assert client.get(f"{_url(setup)}/responsibility?on_roll=PROVIDER", headers=HX).status_code == 409
    assert _count(app, Placement) == 0
    assert _count(app, AuditEvent, AuditEvent.event == Events.CHILD_RECORD_VIEWED) == 0


def test_a_second_set_up_is_a_409_linking_to_the_placement(app, setup):
    client = _signed_in(app, setup["officer"])
    assert _post(client, setup, _form(setup)).status_code == 302
    response = _post(client, setup, _form(setup))
    assert response.status_code == 409
    with app.app_context():
        placement_id = db.session.scalar(sa.select(Placement.id))
    assert f'href="/placements/{placement_id}"' in _text(response)
    assert _count(app, Placement) == 1


def test_nothing_in_the_form_is_saved_by_a_get(app, setup):
    client = _signed_in(app, setup["officer"])
    client.get(_url(setup))
    assert _count(app, Placement) == 0
    assert (
        _count(app, AuditEvent, AuditEvent.event != Events.CHILD_RECORD_VIEWED, AuditEvent.event.like("placement%"))
        == 0
    )
