"""The manager's decision queue and assessment page through the test client: the clock, the order, the statement
budget, assessing and deciding without JavaScript, two managers deciding at once, and who may see any of it."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from portal.blueprints.manager import applications as applications_view
from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationStatus,
    AuditEvent,
    ComplianceDocument,
    DocumentType,
    LotOutcome,
    OutboxMessage,
    Role,
    Site,
)
from portal.services.audit import Events
from tests.factories import ProviderFactory, make_lots, make_user
from tests.factories_dps import make_submitted_application
from tests.helpers import count_queries, csrf_token, sign_in, start_session

TODAY = date(2027, 1, 8)  # a Friday
VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d+)"')


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(applications_view, "today", lambda: TODAY)


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER, name="Morgan Manager", email="morgan@council.example")
    client = app.test_client()
    start_session(client, manager.email)
    client.user = manager
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _version(page: str) -> str:
    match = VERSION.search(page)
    assert match, "no version field on the page"
    return match.group(1)


def _setting(app, *, lots: int = 2, provider_name: str = "Bright Futures", submitted_on=date(2026, 12, 18)):
    """A submitted application (one answered question per lot) and the provider's one user; ids only."""
    with app.app_context():
        made = make_lots(lots)
        provider = ProviderFactory(name=provider_name, dsl_name="Dana Lead", summary="Small-group SEMH provision")
        db.session.add(
            Site(provider_id=provider.id, name="Main site", address="1 High Street, Uxbridge", postcode="UB8 1AA")
        )
        db.session.commit()
        slug = re.sub(r"[^a-z]+", "", provider_name.lower().split()[0])
        make_user(Role.PROVIDER, provider=provider, email=f"pat@{slug}.example")
        application = make_submitted_application(provider=provider, lots=made, submitted_on=submitted_on)
        return {
            "application": application.id,
            "provider": provider.id,
            "lots": [lot.id for lot in made],
            "labels": [lot.label for lot in made],
            "questions": [answer.question_id for answer in application.answers],
        }


def _form(setting, *, outcomes, reason="", version, page_token):
    data = {"csrf_token": page_token, "version": version, "rejection_reason": reason}
    for lot_id, outcome in zip(setting["lots"], outcomes, strict=True):
        data[f"outcome_{lot_id}"] = outcome
        data[f"notes_{lot_id}"] = f"Notes for lot {lot_id}"
    for question_id in setting["questions"]:
        data[f"note_{question_id}"] = f"Note on {question_id}"
    return data


def _page_and_token(client, setting):
    path = f"/manager/applications/{setting['application']}"
    page = _text(client.get(path))
    return page, _version(page), csrf_token(client, path)


def _count(app, model, *conditions) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


# ---- The queue -----------------------------------------------------------------------------------------------------


def test_the_queue_shows_each_application_with_its_clock_and_overdue_ones_first(app, manager_client):
    # Submitted Friday 18 December 2026: due Wednesday 6 January 2027 (Christmas, New Year and weekends skipped),
    # so on Friday 8 January it is overdue by 2 working days.
    _setting(app, provider_name="Late Learning", submitted_on=date(2026, 12, 18))
    _setting(app, provider_name="Early Steps", submitted_on=date(2027, 1, 7))  # due 21 January: 9 working days left
    _setting(app, provider_name="Middle Way", submitted_on=date(2026, 12, 29))  # due 13 January: 3 working days left
    page = _text(manager_client.get("/manager/applications"))

    assert "3 applications waiting for a decision" in page
    names = re.findall(r'href="/manager/applications/\d+">([^<]+)</a>', page)
    assert names == ["Late Learning", "Middle Way", "Early Steps"]
    late = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Late Learning</a>.*?</tr>", page, re.S).group(0)
    assert "6 January 2027" in late
    assert '<strong class="govuk-tag govuk-tag--red">Overdue by 2 working days</strong>' in late
    assert "Lot 1: Lot title 1" in late and "Lot 2: Lot title 2" in late
    assert "18 December 2026" in late
    middle = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Middle Way</a>.*?</tr>", page, re.S).group(0)
    assert "3 working days left" in middle and "13 January 2027" in middle and "govuk-tag--red" not in middle
    assert "9 working days left" in page
    assert 'href="/manager/applications"' in page and ">Applications<" in page  # in the manager's navigation


def test_the_decided_tab_lists_decided_applications_only(app, manager_client):
    setting = _setting(app, provider_name="Decided Provider")
    _setting(app, provider_name="Still Waiting")
    with app.app_context():
        application = db.session.get(Application, setting["application"])
        application.status = ApplicationStatus.DECIDED
        application.decided_at = application.submitted_at
        application.lots[0].outcome = LotOutcome.PASS
        application.lots[1].outcome = LotOutcome.FAIL
        db.session.commit()
    waiting = _text(manager_client.get("/manager/applications"))
    assert "Still Waiting" in waiting and "Decided Provider" not in waiting
    decided = _text(manager_client.get("/manager/applications?show=decided"))
    assert "1 application decided" in decided
    assert "Decided Provider" in decided and "Still Waiting" not in decided
    row = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Decided Provider</a>.*?</tr>", decided, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert "Lot 1: Lot title 1" in cells[1] and "Lot 2: Lot title 2" in cells[2]


def _many(app, count: int) -> None:
    with app.app_context():
        lots = make_lots(2)
        for _ in range(count):
            make_submitted_application(lots=lots, questions_per_lot=0)


def test_the_queue_runs_the_same_statements_for_3_or_30_applications(app, manager_client):
    with app.app_context():
        engine = db.engine
    _many(app, 3)
    with count_queries(engine) as three:
        assert "3 applications waiting" in _text(manager_client.get("/manager/applications"))
    _many(app, 27)
    with count_queries(engine) as thirty:
        page = _text(manager_client.get("/manager/applications"))
    assert "30 applications waiting" in page
    assert len(re.findall(r'href="/manager/applications/\d+"', page)) == 25  # a full page
    assert thirty.count == three.count, thirty.statements
    selects = [s for s in thirty.statements if "applications" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, selects  # one COUNT and one SELECT of the rows (provider and lots joined)
    unwanted = ("provider_needs", "sites", "application_answers", "arrangements")
    assert not [s for s in thirty.statements if any(f"FROM {table}" in s for table in unwanted)]


def test_htmx_page_links_get_only_the_results(app, manager_client):
    _many(app, 26)
    headers = {"HX-Request": "true", "HX-Target": "application-results"}
    partial = _text(manager_client.get("/manager/applications?page=2", headers=headers))
    assert "<html" not in partial and 'id="application-results"' in partial
    assert len(re.findall(r'href="/manager/applications/\d+"', partial)) == 1
    assert "<html" in _text(manager_client.get("/manager/applications?page=2"))


# ---- The assessment page -------------------------------------------------------------------------------------------


def test_the_assessment_page_shows_profile_answers_documents_and_the_choices(app, manager_client):
    setting = _setting(app)
    with app.app_context():
        insurance = db.session.scalar(sa.select(DocumentType).where(DocumentType.code == "public-liability"))
        document = ComplianceDocument(
            provider_id=setting["provider"],
            document_type_id=insurance.id,
            filename="insurance.pdf",
            content_type="application/pdf",
            size_bytes=10,
            sha256="0" * 64,
            content=b"%PDF-1.4\n",
            expires_on=date(2027, 3, 31),
        )
        db.session.add(document)
        db.session.commit()
        document_id = document.id
    page = _text(manager_client.get(f"/manager/applications/{setting['application']}"))
    assert "Bright Futures" in page and "Dana Lead" in page and "Small-group SEMH provision" in page
    assert "1 High Street, Uxbridge" in page
    assert "Lot title 1 question 1" in page and "Our answer for Lot title 1, question 1" in page
    assert f'href="/documents/{document_id}"' in page and "insurance.pdf" in page and "31 March 2027" in page
    assert re.search(r"<legend[^>]*>\s*Outcome for Lot 1: Lot title 1\s*</legend>", page)
    assert f'name="outcome_{setting["lots"][0]}"' in page and f'name="note_{setting["questions"][0]}"' in page
    assert "Overdue by 2 working days" in page
    assert 'formaction="/manager/applications/%d/decide"' % setting["application"] in page


def test_a_draft_or_missing_application_is_not_found(app, manager_client):
    with app.app_context():
        lots = make_lots(1)
        draft = make_submitted_application(lots=lots, status=ApplicationStatus.DRAFT)
        draft_id = draft.id
    assert manager_client.get(f"/manager/applications/{draft_id}").status_code == 404
    assert manager_client.get("/manager/applications/999999").status_code == 404


def test_saving_an_assessment_without_javascript_keeps_it_for_later(app, manager_client):
    setting = _setting(app)
    _, version, token = _page_and_token(manager_client, setting)
    data = _form(setting, outcomes=["pass", "pending"], version=version, page_token=token)
    response = manager_client.post(f"/manager/applications/{setting['application']}/assessment", data=data)
    assert response.status_code == 302
    page = _text(manager_client.get(response.headers["Location"]))
    assert "Assessment saved" in page
    assert f"Notes for lot {setting['lots'][0]}" in page
    with app.app_context():
        application = db.session.get(Application, setting["application"])
        assert [lot.outcome for lot in application.lots] == [LotOutcome.PASS, LotOutcome.PENDING]
        assert application.status is ApplicationStatus.SUBMITTED


def test_deciding_admits_passed_lots_rejects_failed_ones_and_tells_the_provider(app, manager_client):
    setting = _setting(app)
    _, version, token = _page_and_token(manager_client, setting)
    data = _form(
        setting, outcomes=["pass", "fail"], reason="No safer recruitment evidence", version=version, page_token=token
    )
    response = manager_client.post(f"/manager/applications/{setting['application']}/decide", data=data)
    assert response.status_code == 302
    page = _text(manager_client.get(response.headers["Location"]))
    assert "Application decided: Bright Futures admitted to 1 lot and rejected for 1 lot" in page
    assert "No safer recruitment evidence" in page and "A decision cannot be changed" in page
    assert 'name="outcome_' not in page  # read-only now
    with app.app_context():
        admissions = db.session.scalars(sa.select(Admission)).all()
        assert [(a.lot_id, a.admitted_on, a.application_id) for a in admissions] == [
            (setting["lots"][0], TODAY, setting["application"])
        ]
        [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
        assert mail.to_address == "pat@bright.example" and "No safer recruitment evidence" in mail.body
        events = db.session.scalars(sa.select(AuditEvent.event).order_by(AuditEvent.id)).all()
        assert Events.APPLICATION_DECIDED in events
        assert events.count(Events.PROVIDER_ADMITTED) == 1 and events.count(Events.APPLICATION_LOT_REJECTED) == 1


def test_a_refused_decision_shows_the_message_by_the_field_and_keeps_what_was_typed(app, manager_client):
    setting = _setting(app)
    _, version, token = _page_and_token(manager_client, setting)
    data = _form(setting, outcomes=["pass", "fail"], reason="", version=version, page_token=token)
    response = manager_client.post(f"/manager/applications/{setting['application']}/decide", data=data)
    page = _text(response)
    assert response.status_code == 200
    assert "govuk-error-summary" in page and "<title>Error:" in page
    assert re.search(
        r'id="rejection_reason-error".*?Enter the reason the application is rejected for Lot 2', page, re.S
    )
    assert f"Notes for lot {setting['lots'][1]}" in page  # typed notes kept
    assert re.search(r'value="fail"[^>]*checked|checked[^>]*value="fail"', page)
    assert _count(app, Admission) == 0

    data = _form(setting, outcomes=["pass", "pending"], version=version, page_token=token)
    page = _text(manager_client.post(f"/manager/applications/{setting['application']}/decide", data=data))
    assert f'id="outcome_{setting["lots"][1]}-error"' in page and "Assess every lot before deciding" in page
    assert _count(app, Application, Application.status == ApplicationStatus.DECIDED) == 0


def test_two_managers_deciding_at_once_the_second_gets_a_conflict_not_an_overwrite(app, user_factory):
    setting = _setting(app)
    clients = []
    for name in ("First Manager", "Second Manager"):
        manager = user_factory(Role.MANAGER, name=name)
        client = app.test_client()
        sign_in(client, manager.email)
        clients.append(client)
    first, second = clients
    _, first_version, first_token = _page_and_token(first, setting)
    _, second_version, second_token = _page_and_token(second, setting)
    assert first_version == second_version

    decide = f"/manager/applications/{setting['application']}/decide"
    response = first.post(
        decide, data=_form(setting, outcomes=["pass", "pass"], version=first_version, page_token=first_token)
    )
    assert response.status_code == 302
    response = second.post(
        decide,
        data=_form(
            setting,
            outcomes=["fail", "fail"],
            reason="Not good enough",
            version=second_version,
            page_token=second_token,
        ),
    )
    assert response.status_code == 409
    page = _text(response)
    assert "First Manager decided this application" in page and "Nothing you sent was saved" in page
    with app.app_context():
        application = db.session.get(Application, setting["application"])
        assert [lot.outcome for lot in application.lots] == [LotOutcome.PASS, LotOutcome.PASS]
        assert application.rejection_reason == ""
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Admission)) == 2
        decided = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.APPLICATION_DECIDED)).all()
        assert len(decided) == 1


def test_saving_over_someone_elses_assessment_is_a_conflict(app, user_factory, manager_client):
    setting = _setting(app)
    other = app.test_client()
    sign_in(other, user_factory(Role.MANAGER).email)
    _, version, token = _page_and_token(manager_client, setting)
    _, other_version, other_token = _page_and_token(other, setting)
    save = f"/manager/applications/{setting['application']}/assessment"
    assert (
        other.post(
            save, data=_form(setting, outcomes=["pass", "pass"], version=other_version, page_token=other_token)
        ).status_code
        == 302
    )
    response = manager_client.post(
        save, data=_form(setting, outcomes=["fail", "fail"], version=version, page_token=token)
    )
    assert response.status_code == 409
    page = _text(response)
    assert "Someone else changed this application" in page
    assert _version(page) != version  # the page now carries the latest version
    with app.app_context():
        application = db.session.get(Application, setting["application"])
        assert [lot.outcome for lot in application.lots] == [LotOutcome.PASS, LotOutcome.PASS]


# ---- Who may see it ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OFFICER, Role.PROVIDER], ids=lambda role: role.value)
def test_officers_and_providers_are_refused_every_manager_route(app, user_factory, role):
    setting = _setting(app)
    with app.app_context():
        from tests.factories import AdmissionFactory, SuspensionFactory

        admission = AdmissionFactory(provider_id=setting["provider"], lot_id=setting["lots"][0])
        suspension = SuspensionFactory(provider_id=setting["provider"])
        ids = {"admission": admission.id, "suspension": suspension.id}
    application, provider, lot, question = (
        setting["application"],
        setting["provider"],
        setting["lots"][0],
        setting["questions"][0],
    )
    gets = [
        "/manager/applications",
        f"/manager/applications/{application}",
        "/manager/providers",
        f"/manager/providers/{provider}",
        f"/manager/providers/{provider}/suspend",
        f"/manager/providers/{provider}/suspensions/{ids['suspension']}/lift",
        f"/manager/providers/{provider}/admissions/{ids['admission']}/remove",
        "/manager/lots",
        f"/manager/lots/{lot}/questions",
        f"/manager/lots/{lot}/questions/{question}/edit",
    ]
    posts = [
        f"/manager/applications/{application}/assessment",
        f"/manager/applications/{application}/decide",
        f"/manager/providers/{provider}/suspend",
        f"/manager/providers/{provider}/suspensions/{ids['suspension']}/lift",
        f"/manager/providers/{provider}/admissions/{ids['admission']}/remove",
        f"/manager/lots/{lot}/questions",
        f"/manager/lots/{lot}/questions/{question}/edit",
        f"/manager/lots/{lot}/questions/{question}/move",
        f"/manager/lots/{lot}/questions/{question}/retire",
        f"/manager/lots/{lot}/documents",
    ]
    client = app.test_client()
    sign_in(client, user_factory(role).email)
    token = csrf_token(client)
    for path in gets:
        assert client.get(path).status_code == 403, path
    for path in posts:
        response = client.post(path, data={"csrf_token": token, "reason": "x", "direction": "up", "version": "1"})
        assert response.status_code == 403, path
    assert _count(app, Application, Application.status == ApplicationStatus.DECIDED) == 0
