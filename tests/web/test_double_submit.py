"""No duplicates from double submits (issue 10, point 2): every form that creates something carries a single-use
token, and sending the same form twice makes one record; the second send is sent to what the first one made.

Each case draws the form as a browser would (its hidden inputs, the token among them, read from the page), then
sends it twice. A test lists the routes marked single-submit from the app and fails for any without a case here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from portal import clock
from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    Application,
    Arrangement,
    Complaint,
    ComplianceDocument,
    Concern,
    ErasureRequest,
    FormSubmission,
    LotQuestion,
    OffDpsRequest,
    Offer,
    PerformanceMeeting,
    Placement,
    ProgressReport,
    Referral,
    Review,
    Site,
    Sla,
    SlaStatus,
    SlaTemplate,
    Suspension,
    User,
)
from portal.services import applications, children
from portal.submissions import ALREADY_SENT, ALREADY_SENT_ELSEWHERE, TOKEN_FIELD
from tests.factories import AdmissionFactory, ProviderFactory, make_lot, make_lots, make_user
from tests.factories_calloff import eligible_provider, offer_fields, published_call_off
from tests.factories_dps import document_type, make_provider
from tests.factories_placements import awarded_referral, placed
from tests.factories_slas import make_sla, make_template
from tests.helpers import start_session
from tests.web.test_placement_form_web import _form as placement_form

FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S)
INPUT = re.compile(r"<input\b[^>]*>")
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
PDF = b"%PDF-1.4\n%%EOF\n"
UPN_REST = "987654321098"


@dataclass
class Case:
    """A create form: who fills it in, the page it is on, what they type, and the table it adds a row to."""

    email: str
    page: str
    typed: dict = field(default_factory=dict)
    model: type = None
    files: Callable[[], dict] | None = None  # fresh file objects for each send


def _child_form() -> dict:
    upn = children.upn_check_letter("A" + UPN_REST) + UPN_REST
    return {
        "first_name": "Ada",
        "last_name": "Okonkwo",
        "date_of_birth": ["20", "5", "2012"],
        "upn": upn,
        "gender": "female",
        "home_school": "Brookfield High",
        "on_roll_status": "on roll at home school",
        "ehc_plan": "no",
        "looked_after": "yes",
        "exclusion_status": "at risk of exclusion",
    }


def _boxes(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


# ---- The cases: each builds what its form needs (in an app context) and says how to fill it in ----------------------


def referral_case(freeze) -> Case:
    freeze(datetime(2026, 11, 2, 10, tzinfo=UTC))
    officer = make_user("officer")
    return Case(officer.email, "/officer/referrals/new", _child_form(), Referral)


def offer_case(freeze) -> Case:
    call = published_call_off()
    start = london_today() + timedelta(days=40)
    typed = offer_fields([aim.id for aim in call.referral.aims], start)
    page = f"/provider/opportunities/{call.referral.id}/offer"
    return Case(call.provider_users[0].email, page, typed, Offer)


def placement_case(freeze) -> Case:
    awarded = awarded_referral()
    service = awarded.referral.service
    service.dsl_name, service.dsl_email = "Sam Service", "sam.service@council.example"
    db.session.commit()
    site = db.session.scalars(sa.select(Site).where(Site.provider_id == awarded.provider.id).order_by(Site.id)).first()
    # The placement form's usual answers (the provider holds safeguarding responsibility); the version comes from the
    # drawn page.
    typed = placement_form({"version": "", "site": site.id})
    del typed["version"]
    page = f"/officer/referrals/{awarded.referral.id}/placement"
    return Case(awarded.officer.email, page, typed, Placement)


def application_case(freeze) -> Case:
    make_lot(1)
    user = make_user("provider")
    return Case(user.email, "/provider/application", {}, Application)


def site_case(freeze) -> Case:
    make_lot(1)
    user = make_user("provider")
    applications.start_application(user.provider)
    typed = {"name": "Main site", "address": "1 Road", "postcode": "ub8 1uw"}
    return Case(user.email, "/provider/application/sites", typed, Site)


def invitation_case(freeze) -> Case:
    ProviderFactory(name="Acme Learning")
    manager = make_user("manager")
    typed = {"email": "pat@acme.example", "name": "Pat Provider", "role": "provider", "provider": "Acme Learning"}
    return Case(manager.email, "/manager/users/invite", typed, User)


def colleague_case(freeze) -> Case:
    user = make_user("provider")
    typed = {"email": "kim@colleague.example", "name": "Kim Colleague"}
    return Case(user.email, "/provider/colleagues/invite", typed, User)


def concern_case(freeze) -> Case:
    freeze(datetime(2027, 2, 10, 10, tzinfo=UTC))
    awarded, placement = placed()
    typed = {"summary": "Disclosure at break time", "details": "Told staff something at break", "action_taken": ""}
    page = f"/placements/{placement.id}/concerns/new"
    return Case(awarded.provider_user.email, page, typed, Concern)


def report_case(freeze) -> Case:
    freeze(datetime(2027, 2, 10, 10, tzinfo=UTC))
    awarded, placement = placed()
    typed = {"child_view": "I like the farm days"}
    for aim in placement.referral.aims:
        typed[f"rating_{aim.id}"] = "on target"
        typed[f"evidence_{aim.id}"] = f"Evidence for {aim.id}"
    page = f"/placements/{placement.id}/reports/new"
    return Case(awarded.provider_user.email, page, typed, ProgressReport)


def review_case(freeze) -> Case:
    freeze(datetime(2027, 2, 10, 10, tzinfo=UTC))
    awarded, placement = placed()
    typed = {
        "held_on": ["9", "2", "2027"],
        "next_steps": "Two afternoons a week at the home school",
        "readiness": "ready to return within a term",
        "next_review_on": ["24", "3", "2027"],
    }
    for aim in placement.referral.aims:
        typed[f"rating_{aim.id}"] = "ahead of target"
        typed[f"note_{aim.id}"] = "Good progress"
    page = f"/placements/{placement.id}/reviews/new"
    return Case(awarded.officer.email, page, typed, Review)


def document_case(freeze) -> Case:
    user = make_user("provider")
    kind = document_type("public-liability")
    typed = {"expires_on": _boxes(date.today() + timedelta(days=365))}
    page = f"/provider/documents/{kind.id}"

    def files() -> dict:
        return {"file": (io.BytesIO(PDF), "Insurance.pdf")}

    return Case(user.email, page, typed, ComplianceDocument, files)


def _accountability(freeze):
    freeze(datetime(2027, 3, 26, 12, tzinfo=UTC))
    provider = eligible_provider(make_lot(1), "Alpha AP")
    return provider, make_user("manager")


def meeting_case(freeze) -> Case:
    provider, manager = _accountability(freeze)
    typed = {"held_on": ["20", "3", "2027"], "notes": "Agreed a plan"}
    page = f"/manager/providers/{provider.id}/performance-meetings/new"
    return Case(manager.email, page, typed, PerformanceMeeting)


def complaint_case(freeze) -> Case:
    provider, manager = _accountability(freeze)
    typed = {"received_on": ["1", "3", "2027"], "summary": "Reports late", "upheld": "undecided", "placement": ""}
    page = f"/manager/providers/{provider.id}/complaints/new"
    return Case(manager.email, page, typed, Complaint)


def erasure_case(freeze) -> Case:
    from tests.unit.test_retention import NOW, build_child

    freeze(NOW)
    child = build_child(make_user("officer"), make_lot(1), ended_on=date(2027, 3, 10), full=True)
    manager = make_user("manager")
    page = f"/manager/retention/children/{child.id}/erasure"
    return Case(manager.email, page, {"reason": "Past the period"}, ErasureRequest)


def suspension_case(freeze) -> Case:
    lots = make_lots(2)
    provider = ProviderFactory(name="Harbour Learning", dsl_name="Dana Lead")
    for lot in lots:
        AdmissionFactory(provider_id=provider.id, lot_id=lot.id, admitted_on=date(2025, 1, 6))
    make_sla(provider, lots)
    starts = london_today() + timedelta(days=2)
    typed = {
        "scope": str(lots[0].id),
        "reason": "Safeguarding concern",
        "starts_on": _boxes(starts),
        "ends_on": _boxes(starts + timedelta(days=13)),
    }
    manager = make_user("manager")
    return Case(manager.email, f"/manager/providers/{provider.id}/suspend", typed, Suspension)


def off_dps_case(freeze) -> Case:
    call = published_call_off()
    freeze(call.referral.deadline + timedelta(minutes=1))
    page = f"/officer/referrals/{call.referral.id}/off-dps"
    return Case(call.officer.email, page, {"reason": "No provider offered"}, OffDpsRequest)


def lot_question_case(freeze) -> Case:
    [lot] = make_lots(1)
    manager = make_user("manager")
    typed = {"text": "How do you keep children safe?", "guidance": ""}
    return Case(manager.email, f"/manager/lots/{lot.id}/questions", typed, LotQuestion)


def sla_terms_case(freeze) -> Case:
    make_template()
    manager = make_user("manager")
    return Case(manager.email, "/manager/sla-terms", {}, SlaTemplate)


def sla_variation_case(freeze) -> Case:
    make_template()
    sla = make_sla(ProviderFactory(name="Bright Futures"), make_lots(2), status=SlaStatus.APPROVED)
    manager = make_user("manager")
    return Case(manager.email, f"/slas/{sla.id}", {}, Sla)


def successor_case(freeze) -> Case:
    freeze(datetime(2026, 11, 25, 12, tzinfo=UTC))
    lot = make_lot(1)
    provider = make_provider("Alpha AP")
    AdmissionFactory(provider_id=provider.id, lot_id=lot.id, admitted_on=date(2025, 1, 6))
    manager = make_user("manager")
    typed = {
        "name": "AP dynamic market",
        "regime": "PA2023 dynamic market",
        "start_date": ["1", "9", "2027"],
        "end_date": ["31", "8", "2031"],
    }
    return Case(manager.email, "/manager/arrangement/successor/new", typed, Arrangement)


# What each form makes: the endpoint that draws and takes it, and the case that builds it.
CASES = {
    "referral draft": ("officer.new_referral", referral_case),
    "offer": ("provider.make_offer", offer_case),
    "placement": ("officer.new_placement", placement_case),
    "application": ("provider.start_application", application_case),
    "application site": ("provider.application_sites", site_case),
    "user invitation": ("manager.invite_user", invitation_case),
    "colleague invitation": ("provider.invite_colleague", colleague_case),
    "concern": ("placements.new_concern", concern_case),
    "progress report": ("placements.new_report", report_case),
    "review": ("placements.new_review", review_case),
    "document upload": ("provider.upload_document", document_case),
    "performance meeting": ("manager.new_performance_meeting", meeting_case),
    "complaint": ("manager.new_complaint", complaint_case),
    "erasure request": ("manager.propose_erasure", erasure_case),
    "suspension": ("manager.suspend_provider", suspension_case),
    "off-DPS request": ("officer.request_off_dps", off_dps_case),
    "lot question": ("manager.lot_questions", lot_question_case),
    "SLA terms version": ("manager.new_sla_terms", sla_terms_case),
    "SLA variation": ("manager.vary_sla", sla_variation_case),
    "successor arrangement": ("manager.new_successor", successor_case),
}


# ---- Helpers -------------------------------------------------------------------------------------------------------


@pytest.fixture
def freeze(monkeypatch):
    def to(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return to


def build(app, name: str, freeze) -> Case:
    with app.app_context():
        return CASES[name][1](freeze)


def signed_in(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


def drawn_form(client, page: str) -> tuple[str, dict]:
    """The create form on the page, as a browser has it: where it is sent and its hidden inputs (the CSRF token, the
    single-use token, a version ...)."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    forms = [form for form in FORM.findall(response.get_data(as_text=True)) if f'name="{TOKEN_FIELD}"' in form]
    assert forms, f"no form with a {TOKEN_FIELD} on {page}"
    form = forms[0]
    opening = dict(ATTRIBUTE.findall(form[: form.index(">") + 1]))
    hidden = {}
    for tag in INPUT.findall(form):
        attributes = dict(ATTRIBUTE.findall(tag))
        if attributes.get("type") == "hidden" and "name" in attributes:
            hidden[attributes["name"]] = unescape(attributes.get("value", ""))
    return unescape(opening.get("action") or page), hidden


def send(client, case: Case, action: str, fields: dict):
    data = {**fields, **case.typed, **(case.files() if case.files else {})}
    return client.post(action, data=data, content_type="multipart/form-data" if case.files else None)


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def flashed(client, location: str) -> str:
    return unescape(client.get(location).get_data(as_text=True))


# ---- The tests -----------------------------------------------------------------------------------------------------


def test_every_single_submit_route_has_a_case_here(app):
    marked = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, "single_submit_form", None)}
    assert marked == {endpoint for endpoint, _ in CASES.values()}


@pytest.mark.parametrize("name", list(CASES))
def test_a_form_sent_twice_makes_one_record_and_the_repeat_goes_to_it(app, freeze, name):
    case = build(app, name, freeze)
    client = signed_in(app, case.email)
    action, hidden = drawn_form(client, case.page)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", hidden[TOKEN_FIELD])
    before = rows(app, case.model)

    first = send(client, case, action, hidden)
    assert first.status_code == 302, (first.status_code, first.get_data(as_text=True)[:2000])
    assert rows(app, case.model) == before + 1

    again = send(client, case, action, hidden)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert rows(app, case.model) == before + 1
    assert ALREADY_SENT in flashed(client, again.headers["Location"])
    with app.app_context():
        claimed = db.session.get(FormSubmission, hidden[TOKEN_FIELD])
        assert claimed.location == first.headers["Location"]


@pytest.mark.parametrize("name", list(CASES))
def test_a_made_up_token_is_refused_and_makes_nothing(app, freeze, name):
    case = build(app, name, freeze)
    client = signed_in(app, case.email)
    action, hidden = drawn_form(client, case.page)
    before = rows(app, case.model)
    for made_up in ("", "1' OR '1'='1", hidden[TOKEN_FIELD][:-1], hidden[TOKEN_FIELD] + "A", "é" * 43):
        refused = send(client, case, action, {**hidden, TOKEN_FIELD: made_up})
        assert refused.status_code == 400
        assert "Your form could not be sent" in refused.get_data(as_text=True)
    assert rows(app, case.model) == before


def test_a_send_without_any_token_is_taken_unguarded(app, freeze):
    """A page drawn before tokens existed (or a script) still works; a browser's double click always has a token."""
    case = build(app, "concern", freeze)
    client = signed_in(app, case.email)
    action, hidden = drawn_form(client, case.page)
    without = {key: value for key, value in hidden.items() if key != TOKEN_FIELD}
    assert send(client, case, action, without).status_code == 302
    assert rows(app, Concern) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FormSubmission)) == 0


def test_a_refused_send_does_not_use_up_the_token(app, freeze):
    """The claim is in the transaction of the insert: a send refused by the form's checks claims nothing."""
    case = build(app, "concern", freeze)
    client = signed_in(app, case.email)
    action, hidden = drawn_form(client, case.page)
    refused = client.post(action, data={**hidden, **case.typed, "summary": ""})
    assert refused.status_code == 200 and "There is a problem" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(FormSubmission, hidden[TOKEN_FIELD]) is None
    assert send(client, case, action, hidden).status_code == 302
    assert rows(app, Concern) == 1


def test_a_token_someone_else_sent_does_not_lead_to_their_record(app, freeze):
    case = build(app, "referral draft", freeze)
    client = signed_in(app, case.email)
    action, hidden = drawn_form(client, case.page)
    assert send(client, case, action, hidden).status_code == 302
    with app.app_context():
        other = make_user("officer", email="other.officer@council.example").email
    someone = signed_in(app, other)
    _, theirs = drawn_form(someone, case.page)
    repeat = send(someone, case, action, {**theirs, TOKEN_FIELD: hidden[TOKEN_FIELD]})
    assert repeat.status_code == 303 and repeat.headers["Location"] == "/"
    page = unescape(someone.get("/", follow_redirects=True).get_data(as_text=True))
    assert ALREADY_SENT_ELSEWHERE in page and "/officer/referrals/" not in repeat.headers["Location"]
    assert rows(app, Referral) == 1


def test_each_drawing_of_a_form_has_a_new_token(app, freeze):
    case = build(app, "concern", freeze)
    client = signed_in(app, case.email)
    tokens = {drawn_form(client, case.page)[1][TOKEN_FIELD] for _ in range(3)}
    assert len(tokens) == 3


def test_claims_older_than_a_week_are_forgotten_by_the_daily_command(app, runner):
    """`flask forms forget-tokens` keeps the table small; a week is far past a sign-in session, so no form that old
    can be sent again."""
    now = datetime.now(UTC)
    ages = {"a" * 43: timedelta(days=8), "b" * 43: timedelta(days=7, minutes=1), "c" * 43: timedelta(days=6, hours=23)}
    with app.app_context():
        for token, age in ages.items():
            db.session.add(FormSubmission(token=token, form="concern", location="/", created_at=now - age))
        db.session.commit()
    result = runner.invoke(args=["forms", "forget-tokens"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 form tokens older than 7 days deleted"
    with app.app_context():
        assert list(db.session.scalars(sa.select(FormSubmission.token))) == ["c" * 43]

    result = runner.invoke(args=["forms", "forget-tokens", "--days", "1"])
    assert result.output.strip() == "1 form token older than 1 day deleted"
