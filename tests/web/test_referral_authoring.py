"""An officer writes a referral through the test client, without JavaScript: the child, each section of the draft,
check and publish (invitations to exactly the eligible providers), the identity-leak warning, stale saves, withdrawing,
and who may open or change a draft."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from portal import clock
from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Child,
    Invitation,
    Lot,
    OutboxMessage,
    Referral,
    ReferralStatus,
    Role,
    User,
)
from portal.services import children
from portal.services.audit import Events
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_referral, publish
from tests.factories_dps import suspend
from tests.helpers import csrf_token, start_session

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday, 10am in London
TODAY = date(2026, 11, 2)
VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d*)"')
MAIN = re.compile(r"<main.*</main>", re.S)
UPN_REST = "987654321098"
UPN = children.upn_check_letter("A" + UPN_REST) + UPN_REST


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def dps(app):
    """Lot 1 with two eligible providers (each with a user) and a suspended one; lot 2 with one eligible provider."""
    with app.app_context():
        lot_1, lot_2 = make_lot(1, "Full Time Education Provision"), make_lot(2, "Part Time Education Provision")
        good = [eligible_provider(lot_1, "Bright Futures"), eligible_provider(lot_1, "New Leaf")]
        for provider in good:
            make_user("provider", provider=provider)
        suspended = eligible_provider(lot_1, "Under Review")
        suspend(suspended, lot_1, starts_on=TODAY - timedelta(days=2))
        eligible_provider(lot_2, "Part Timers")
        return {"lot_1": lot_1.id, "lot_2": lot_2.id, "eligible": {p.id for p in good}}


def _client(app, user):
    client = app.test_client()
    start_session(client, user.email)
    client.user = user
    return client


@pytest.fixture
def officer(app, user_factory):
    return _client(app, user_factory(Role.OFFICER, name="Olive Officer"))


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


def _main(response) -> str:
    return MAIN.search(_text(response)).group(0)


def _post(client, path, data, *, version=None):
    """Send the form on ``path`` as a browser would: its CSRF token and the version drawn on the page."""
    page = client.get(path).get_data(as_text=True)
    if version is None:
        match = VERSION.search(page)
        version = match.group(1) if match else ""
    return client.post(path, data={**data, "version": version, "csrf_token": csrf_token(client)})


def _date(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


CHILD = {
    "first_name": "Ada",
    "last_name": "Okonkwo",
    "date_of_birth": ["20", "5", "2012"],
    "upn": f"{UPN[:4]} {UPN[4:]}".lower(),
    "gender": "female",
    "home_school": "Brookfield High",
    "on_roll_status": "on roll at home school",
    "ehc_plan": "no",
    "looked_after": "yes",
    "exclusion_status": "at risk of exclusion",
}


def _provision(lot_id) -> dict:
    return {
        "lot": str(lot_id),
        "hours_per_week": "12.5",
        "sessions": "Monday to Friday mornings",
        "start_date": ["11", "1", "2027"],
        "duration_weeks": "12",
        "location": "Within 30 minutes of Uxbridge by bus",
        "travel_needs": "Travels independently",
        "reintegration_criteria": "Attends 90% of sessions for six weeks",
    }


def _aims(*aims) -> dict:
    data = {}
    for index, (description, baseline, target, measure) in enumerate(aims):
        data.update(
            {
                f"aims-{index}-description": description,
                f"aims-{index}-baseline": baseline,
                f"aims-{index}-target": target,
                f"aims-{index}-measure": measure,
            }
        )
    return data


AIM_1 = ("Build up attendance", "Attends 40% of sessions", "Attends 90% of sessions", "Weekly attendance returns")
AIM_2 = ("Read with confidence", "Reading age 9", "Reading age 11", "Termly reading test")
PROFILE = {
    "needs": ["semh", "anxiety-ebsa"],
    "area": "central",
    "profile": "A bright pupil who enjoys practical work and has been out of school for a term.",
}


def _start(client, data=None) -> int:
    response = _post(client, "/officer/referrals/new", data or CHILD, version="")
    assert response.status_code == 302, _main(response)
    match = re.fullmatch(r"/officer/referrals/(\d+)/draft", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _write_draft(client, lot_id, *, profile=None) -> int:
    referral_id = _start(client)
    base = f"/officer/referrals/{referral_id}/draft"
    for path, data in (
        (f"{base}/provision", _provision(lot_id)),
        (f"{base}/aims", {**_aims(AIM_1, AIM_2), "action": "save"}),
        (f"{base}/profile", profile or PROFILE),
    ):
        response = _post(client, path, data)
        assert response.status_code == 302 and response.headers["Location"] == base, _main(response)
    return referral_id


def _referral(app, referral_id) -> Referral:
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        _ = referral.aims, referral.needs
        db.session.expunge_all()
        return referral


def _invited(app, referral_id) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Invitation.provider_id).where(Invitation.referral_id == referral_id)))


# ---- The whole flow ------------------------------------------------------------------------------------------------


def test_an_officer_writes_every_section_and_publishes_to_exactly_the_eligible_providers(app, officer, dps):
    form = _main(officer.get("/officer/referrals/new"))
    assert "Start a new referral" in form and 'name="upn"' in form

    referral_id = _start(officer)
    draft = _main(officer.get(f"/officer/referrals/{referral_id}/draft"))
    assert "Draft referral R%05d for Ada Okonkwo" % referral_id in draft
    assert "Cannot start yet" in draft and f"/officer/referrals/{referral_id}/publish" not in draft
    assert "You have completed 1 of 4 sections" in draft

    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        child = db.session.get(Child, referral.child_id)
        assert child.upn == UPN and child.looked_after and not child.ehc_plan
        assert (referral.officer_id, referral.service_id) == (officer.user.id, officer.user.service_id)
        viewed = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORD_VIEWED)).all()
        assert viewed and viewed[-1].details["referral_id"] == referral_id  # the task list read the child, audited

    base = f"/officer/referrals/{referral_id}/draft"
    assert _post(officer, f"{base}/provision", _provision(dps["lot_1"])).status_code == 302
    assert _post(officer, f"{base}/aims", {**_aims(AIM_1, AIM_2), "action": "save"}).status_code == 302
    profile_page = _main(officer.get(f"{base}/profile"))
    assert "aged 14, Year 10" in profile_page
    assert _post(officer, f"{base}/profile", PROFILE).status_code == 302

    draft = _main(officer.get(base))
    assert "You have completed 4 of 4 sections" in draft
    assert f'href="/officer/referrals/{referral_id}/publish"' in draft
    assert "may identify the child" not in draft

    page = _main(officer.get(f"/officer/referrals/{referral_id}/publish"))
    providers_see, child_part = page.split("The child: providers do not see this")
    assert "What providers will see" in providers_see
    for text in ("Aged 14, Year 10", "Social, emotional and mental health", "12.5", "Read with confidence"):
        assert text in providers_see
    for identifier in ("Ada", "Okonkwo", UPN, "Brookfield High", "20 May 2012"):
        assert identifier not in providers_see
        assert identifier in child_part
    assert "2 providers in Lot 1: Full Time Education Provision will be invited" in page
    default = TODAY + timedelta(days=10)
    assert re.search(rf'name="deadline"[^>]*value="{default.day:02d}"', page)
    assert 'name="quality_weight" type="text" value="70"' in page or re.search(
        r'name="quality_weight"[^>]*value="70"', page
    )
    assert 'name="leaks_checked"' not in page

    response = _post(
        officer,
        f"/officer/referrals/{referral_id}/publish",
        {"deadline": _date(default), "deadline_reason": "", "quality_weight": "70"},
    )
    assert response.status_code == 302, _main(response)
    assert response.headers["Location"] == f"/officer/referrals/{referral_id}"
    assert _invited(app, referral_id) == dps["eligible"]
    published = _referral(app, referral_id)
    assert published.status is ReferralStatus.OPEN and published.quality_weight == 70
    assert published.deadline == datetime(2026, 11, 12, 17, 0, tzinfo=UTC)  # 5pm London (GMT in November)
    assert (published.profile_age, published.profile_year_group) == (14, "Year 10")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 2
    # The flash message is shown on the next page (the referral page, or any page).
    assert f"Referral R{referral_id:05d} published: 2 providers invited" in _text(officer.get("/officer/referrals"))


def test_aims_are_added_and_removed_without_javascript_and_saved_only_on_save(app, officer, dps):
    referral_id = _start(officer)
    path = f"/officer/referrals/{referral_id}/draft/aims"
    page = _main(officer.get(path))
    assert page.count("<legend") == 1 and "Aim 1" in page

    added = _post(officer, path, {**_aims(AIM_1), "action": "add"})
    page = _main(added)
    assert added.status_code == 200 and "Aim 2" in page and AIM_1[0] in page
    assert 'name="aims-1-description"' in page and "There is a problem" not in page

    more = _post(officer, path, {**_aims(AIM_1, ("", "", "", ""), AIM_2), "action": "add"})
    assert "Aim 4" in _main(more)
    removed = _main(_post(officer, path, {**_aims(AIM_1, ("", "", "", ""), AIM_2), "remove": "1"}))
    assert "Aim 3" not in removed and AIM_2[0] in removed
    assert re.search(r'name="aims-1-description"[^>]*>\s*Read with confidence', removed) or (
        'id="aims-1-description"' in removed and AIM_2[0] in removed
    )
    assert _referral(app, referral_id).aims == []  # nothing saved yet

    refused = _post(officer, path, {**_aims(AIM_1, (AIM_2[0], "", AIM_2[2], AIM_2[3])), "action": "save"})
    page = _main(refused)
    assert refused.status_code == 200 and "Aim 2: enter the baseline (where the child is now)" in page
    assert 'href="#aims-1-baseline"' in page and AIM_2[0] in page

    assert _post(officer, path, {**_aims(AIM_2, AIM_1), "action": "save"}).status_code == 302
    aims = _referral(app, referral_id).aims
    assert [(a.position, a.description) for a in aims] == [(1, AIM_2[0]), (2, AIM_1[0])]


def test_a_rejected_child_form_keeps_what_was_typed_with_each_message_by_its_field(app, officer, dps):
    wrong = ("B" if UPN[0] != "B" else "C") + UPN[1:]
    response = _post(
        officer,
        "/officer/referrals/new",
        {**CHILD, "upn": wrong, "date_of_birth": ["31", "2", "2012"], "exclusion_status": "suspended"},
        version="",
    )
    page = _main(response)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "check letter" in page and 'href="#upn"' in page
    assert "Date of birth must be a real date" in page
    assert "Enter the date of the suspension" in page
    assert f'value="{wrong}"' in page and 'value="31"' in page and 'value="Ada"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Referral.id))) == 0


def test_a_child_already_recorded_is_reused_and_the_officer_is_told_to_check_them(app, officer, user_factory, dps):
    first = _start(officer)
    colleague = _client(app, user_factory(Role.OFFICER))
    second = _start(colleague, {**CHILD, "first_name": "Adaeze", "upn": UPN})
    page = _text(colleague.get(f"/officer/referrals/{second}/draft"))
    assert "This child was already recorded: check their details" in page
    assert "for Ada Okonkwo" in page and "This child has 1 other referral" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Child.id))) == 1
        assert db.session.get(Referral, first).child_id == db.session.get(Referral, second).child_id


def test_the_provision_form_refuses_bad_values_next_to_each_field(app, officer, dps):
    referral_id = _start(officer)
    path = f"/officer/referrals/{referral_id}/draft/provision"
    data = {**_provision(dps["lot_1"]), "hours_per_week": "41", "duration_weeks": "60", "lot": ""}
    page = _main(_post(officer, path, data))
    assert "Hours per week must be more than 0 and no more than 40" in page
    assert "Enter the number of weeks as a whole number from 1 to 52" in page
    assert "Select the lot" in page
    assert 'value="41"' in page and "Monday to Friday mornings" in page
    assert _referral(app, referral_id).hours_per_week is None


# ---- Publishing: the deadline and the identity-leak warning ------------------------------------------------------


def test_a_short_deadline_without_a_reason_is_refused_next_to_the_reason(app, officer, dps):
    referral_id = _write_draft(officer, dps["lot_1"])
    path = f"/officer/referrals/{referral_id}/publish"
    short = TODAY + timedelta(days=3)
    response = _post(officer, path, {"deadline": _date(short), "deadline_reason": "  ", "quality_weight": "60"})
    page = _main(response)
    assert response.status_code == 200
    assert "Give the reason for a deadline shorter than 10 days" in page
    assert 'href="#deadline_reason"' in page
    assert re.search(r'id="deadline_reason-error"', page)
    assert 'value="60"' in page and re.search(rf'name="deadline"[^>]*value="{short.day}"', page)
    assert _invited(app, referral_id) == set()
    assert _referral(app, referral_id).status is ReferralStatus.DRAFT

    weight = _main(_post(officer, path, {"deadline": _date(short), "deadline_reason": "x", "quality_weight": "101"}))
    assert "Enter the quality weighting as a whole number from 0 to 100" in weight

    response = _post(
        officer,
        path,
        {"deadline": _date(short), "deadline_reason": "Sixth day of a permanent exclusion", "quality_weight": "60"},
    )
    assert response.status_code == 302
    published = _referral(app, referral_id)
    assert published.deadline_reason == "Sixth day of a permanent exclusion" and published.quality_weight == 60


def test_a_profile_naming_the_child_is_warned_about_and_needs_the_checkbox_to_publish(app, officer, dps):
    named = {**PROFILE, "profile": "Ada loves football and was born on 20/05/2012."}
    referral_id = _write_draft(officer, dps["lot_1"], profile=named)
    draft = _main(officer.get(f"/officer/referrals/{referral_id}/draft"))
    assert "may identify the child" in draft
    assert "The profile</a> contains the child's first name (Ada), the child's date of birth" in draft

    path = f"/officer/referrals/{referral_id}/publish"
    page = _main(officer.get(path))
    assert "may identify the child" in page and 'name="leaks_checked"' in page
    form = {"deadline": _date(TODAY + timedelta(days=10)), "quality_weight": "70"}
    refused = _main(_post(officer, path, form))
    assert "The profile or aims may identify the child" in refused and 'href="#leaks_checked"' in refused
    assert _invited(app, referral_id) == set()

    assert _post(officer, path, {**form, "leaks_checked": "y"}).status_code == 302
    assert _invited(app, referral_id) == dps["eligible"]


# ---- Stale pages and stages ---------------------------------------------------------------------------------------


def test_a_stale_save_is_refused_with_409_and_keeps_what_was_typed(app, officer, dps):
    referral_id = _write_draft(officer, dps["lot_1"])
    path = f"/officer/referrals/{referral_id}/draft/provision"
    old_version = VERSION.search(officer.get(path).get_data(as_text=True)).group(1)
    assert _post(officer, path, {**_provision(dps["lot_1"]), "sessions": "Afternoons"}).status_code == 302

    response = _post(officer, path, {**_provision(dps["lot_1"]), "sessions": "Evenings"}, version=old_version)
    page = _main(response)
    assert response.status_code == 409
    assert "Someone else changed this referral" in page and 'value="Evenings"' in page
    assert "Saved now" in page and "Afternoons" in page
    assert _referral(app, referral_id).sessions == "Afternoons"
    # The form now carries the current version: saving again goes through.
    assert VERSION.search(response.get_data(as_text=True)).group(1) != old_version

    child_path = f"/officer/referrals/{referral_id}/draft/child"
    child_version = VERSION.search(officer.get(child_path).get_data(as_text=True)).group(1)
    assert _post(officer, child_path, {**CHILD, "last_name": "Okafor"}).status_code == 302
    response = _post(officer, child_path, {**CHILD, "last_name": "Stale"}, version=child_version)
    page = _main(response)
    assert response.status_code == 409
    assert "Someone else changed this child's details" in page and 'value="Stale"' in page and "Okafor" in page
    with app.app_context():
        assert db.session.get(Child, _referral(app, referral_id).child_id).last_name == "Okafor"


def test_a_published_referral_is_no_longer_a_draft(app, officer, dps):
    referral_id = _write_draft(officer, dps["lot_1"])
    path = f"/officer/referrals/{referral_id}/draft/provision"
    version = VERSION.search(officer.get(path).get_data(as_text=True)).group(1)
    assert (
        _post(
            officer,
            f"/officer/referrals/{referral_id}/publish",
            {"deadline": _date(TODAY + timedelta(days=10)), "quality_weight": "70"},
        ).status_code
        == 302
    )

    response = officer.get(f"/officer/referrals/{referral_id}/draft")
    assert response.status_code == 302 and response.headers["Location"] == f"/officer/referrals/{referral_id}"
    assert officer.get(path).headers["Location"] == f"/officer/referrals/{referral_id}"
    token = csrf_token(officer)
    for section, data in (("provision", _provision(dps["lot_2"])), ("child", CHILD), ("aims", {}), ("profile", {})):
        refused = officer.post(
            f"/officer/referrals/{referral_id}/draft/{section}", data={**data, "version": version, "csrf_token": token}
        )
        assert refused.status_code == 409, section
        assert "You cannot edit this referral now" in _text(refused)
    again = officer.post(
        f"/officer/referrals/{referral_id}/publish",
        data={"deadline": _date(TODAY + timedelta(days=10)), "quality_weight": "70", "csrf_token": token},
    )
    assert again.status_code == 409 and "You cannot publish this referral now" in _text(again)
    assert _referral(app, referral_id).lot_id == dps["lot_1"]


# ---- Who may ------------------------------------------------------------------------------------------------------


def _draft_paths(referral_id: int) -> list[str]:
    base = f"/officer/referrals/{referral_id}"
    return [
        f"{base}/draft",
        f"{base}/draft/child",
        f"{base}/draft/provision",
        f"{base}/draft/aims",
        f"{base}/draft/profile",
        f"{base}/publish",
        f"{base}/withdraw",
        "/officer/referrals",
        "/officer/referrals/new",
    ]


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.MANAGER])
def test_providers_and_managers_are_refused_every_officer_route(app, officer, user_factory, dps, role):
    referral_id = _write_draft(officer, dps["lot_1"])
    other = _client(app, user_factory(role))
    token = csrf_token(other)
    for path in _draft_paths(referral_id):
        assert other.get(path).status_code == 403, path
        if not path.endswith("/draft") and path != "/officer/referrals":
            assert other.post(path, data={"csrf_token": token, **CHILD}).status_code == 403, path


def test_an_officer_of_another_service_reads_the_draft_but_cannot_change_it(app, officer, user_factory, dps):
    referral_id = _write_draft(officer, dps["lot_1"])
    stranger = _client(app, user_factory(Role.OFFICER))
    draft = _main(stranger.get(f"/officer/referrals/{referral_id}/draft"))
    assert "Only officers in" in draft and "can change it" in draft
    base = f"/officer/referrals/{referral_id}"
    for path, data in (
        (f"{base}/draft/child", {**CHILD, "first_name": "Changed"}),
        (f"{base}/draft/provision", _provision(dps["lot_2"])),
        (f"{base}/draft/aims", {**_aims(AIM_2), "action": "save"}),
        (f"{base}/draft/profile", {**PROFILE, "profile": "Changed"}),
        (f"{base}/publish", {"deadline": _date(TODAY + timedelta(days=10)), "quality_weight": "70"}),
        (f"{base}/withdraw", {"reason": "Not needed"}),
    ):
        page = stranger.get(path)
        assert page.status_code == 200, path
        assert "Save and continue</button>" not in _main(page) and "Publish referral</button>" not in _main(page)
        assert _post(stranger, path, data).status_code == 403, path
    saved = _referral(app, referral_id)
    assert saved.status is ReferralStatus.DRAFT and saved.lot_id == dps["lot_1"] and len(saved.aims) == 2
    assert saved.profile == PROFILE["profile"]
    assert _invited(app, referral_id) == set()


# ---- Withdrawing --------------------------------------------------------------------------------------------------


def test_withdrawing_needs_a_reason_and_tells_the_invited_providers(app, officer, dps):
    with app.app_context():
        user = db.session.get(User, officer.user.id)
        referral = make_referral(user, db.session.get(Lot, dps["lot_1"]))
        publish(referral, user, now=NOW)
        referral_id = referral.id
    path = f"/officer/referrals/{referral_id}/withdraw"
    page = _main(officer.get(path))
    assert "Every invited provider is told by email" in page

    refused = _post(officer, path, {"reason": "   "})
    assert refused.status_code == 200 and "Enter the reason for withdrawing the referral" in _main(refused)
    assert _referral(app, referral_id).status is ReferralStatus.OPEN

    response = _post(officer, path, {"reason": "The child's school has found a place"})
    assert response.status_code == 302 and response.headers["Location"] == f"/officer/referrals/{referral_id}"
    withdrawn = _referral(app, referral_id)
    assert withdrawn.status is ReferralStatus.WITHDRAWN
    assert withdrawn.withdrawal_reason == "The child's school has found a place"
    with app.app_context():
        mails = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.subject.contains("has been withdrawn"))
        ).all()
        assert len(mails) == 2

    again = officer.post(path, data={"reason": "Twice", "version": "0", "csrf_token": csrf_token(officer)})
    assert again.status_code == 409 and "This referral has been withdrawn" in _text(again)


def test_a_draft_can_be_withdrawn_from_its_task_list(app, officer, dps):
    referral_id = _start(officer)
    draft = _main(officer.get(f"/officer/referrals/{referral_id}/draft"))
    assert f'href="/officer/referrals/{referral_id}/withdraw"' in draft
    page = _main(officer.get(f"/officer/referrals/{referral_id}/withdraw"))
    assert "no provider has seen it" in page
    assert (
        _post(officer, f"/officer/referrals/{referral_id}/withdraw", {"reason": "Started in error"}).status_code == 302
    )
    assert _referral(app, referral_id).status is ReferralStatus.WITHDRAWN


def test_an_unknown_referral_is_not_found(officer):
    for path in _draft_paths(999999)[:7]:
        assert officer.get(path).status_code == 404, path
    assert london_today(NOW) == TODAY


def test_whole_hours_are_shown_as_typed_on_every_page_of_the_draft(app, officer, dps):
    referral_id = _write_draft(officer, dps["lot_1"])
    base = f"/officer/referrals/{referral_id}/draft"
    response = _post(officer, f"{base}/provision", {**_provision(dps["lot_1"]), "hours_per_week": "10"})
    assert response.status_code == 302, _main(response)
    for path in (base, f"{base}/provision", f"/officer/referrals/{referral_id}/publish"):
        response = officer.get(path)
        assert response.status_code == 200, path
        page = _main(response)
        assert "1E+1" not in page and "10.0" not in page, path
    assert 'value="10"' in officer.get(f"{base}/provision").get_data(as_text=True)
