"""The read-only application page in the directory: officers read applications to join the DPS but cannot decide
them (only the manager decides), the manager's working notes stay out of it, drafts are the provider's own, and the
page runs the same number of statements whatever the number of lots. The provider page lists the applications."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from portal.extensions import db
from portal.models import Application, ApplicationStatus, LotOutcome, Role
from tests.factories import ProviderFactory, make_lots
from tests.factories_dps import admit, make_submitted_application
from tests.helpers import count_queries, csrf_token, start_session


def _text(response) -> str:
    return response.get_data(as_text=True)


def _client(app, user_factory, role, **fields):
    client = app.test_client()
    start_session(client, user_factory(role, **fields).email)
    return client


@pytest.fixture
def officer_client(app, user_factory):
    return _client(app, user_factory, Role.OFFICER)


def _application(app, *, lots: int = 2, name: str = "Bright Futures", **kwargs) -> dict:
    """A submitted application with one answered question per lot, and the manager's working notes on it so far. The
    provider is on the DPS already (applying for more lots), so officers may see it in the directory."""
    with app.app_context():
        provider = ProviderFactory(name=name, dsl_name="Dana Lead")
        admit(provider, make_lots(1)[0])
        application = make_submitted_application(provider=provider, lots=make_lots(lots), **kwargs)
        for answer in application.answers:
            answer.assessor_note = "Working note on an answer"
        for lot in application.lots:
            lot.notes = "Draft lot note"
        db.session.commit()
        return {"id": application.id, "provider": provider.id, "lots": [lot.lot_id for lot in application.lots]}


def _decide(app, application_id: int, manager_id: int) -> None:
    """Decided as the manager's decision leaves it: the first lot passed, the others failed with notes and a reason."""
    with app.app_context():
        application = db.session.get(Application, application_id)
        for n, lot in enumerate(application.lots):
            lot.outcome = LotOutcome.PASS if n == 0 else LotOutcome.FAIL
            lot.notes = f"Evidence checked for lot {n + 1}"
        application.status = ApplicationStatus.DECIDED
        application.decided_at = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
        application.decided_by_id = manager_id
        application.rejection_reason = "No safer recruitment evidence"
        db.session.commit()


def test_an_officer_reads_a_submitted_application_but_has_nothing_to_decide_with(app, officer_client):
    setting = _application(app)
    page = _text(officer_client.get(f"/directory/applications/{setting['id']}"))
    assert "Bright Futures" in page and "Dana Lead" in page
    assert "Lot 1: Lot title 1" in page and "Lot 2: Lot title 2" in page
    assert "Lot title 1 question 1" in page and "Our answer for Lot title 1, question 1" in page
    assert "Waiting for a decision" in page or "Overdue" in page
    assert "Decide application" not in page and "Save assessment" not in page
    assert f"/manager/applications/{setting['id']}" not in page  # no form (or link) to the manager's pages
    assert not re.search(r'name="(outcome|notes|note|rejection_reason|version)', page)
    # The manager's working notes are not for officers, and undecided lot notes are a draft.
    assert "Working note on an answer" not in page and "Draft lot note" not in page


def test_once_decided_the_officer_sees_each_lots_outcome_its_notes_and_the_reason(app, officer_client, user_factory):
    setting = _application(app)
    _decide(app, setting["id"], user_factory(Role.MANAGER, name="Morgan Manager").id)
    page = _text(officer_client.get(f"/directory/applications/{setting['id']}"))
    assert "Decided" in page and "by Morgan Manager" in page
    assert re.search(r"Outcome\s*</dt>\s*<dd[^>]*>\s*Admitted", page)
    assert re.search(r"Outcome\s*</dt>\s*<dd[^>]*>\s*Rejected", page)
    assert "Evidence checked for lot 1" in page and "Evidence checked for lot 2" in page
    assert "No safer recruitment evidence" in page
    assert "Working note on an answer" not in page


def test_an_officer_posting_to_the_managers_assessment_or_decision_is_refused(app, officer_client):
    setting = _application(app)
    token = csrf_token(officer_client)
    for action in ("assessment", "decide"):
        data = {"csrf_token": token, "version": "1", f"outcome_{setting['lots'][0]}": "pass"}
        response = officer_client.post(f"/manager/applications/{setting['id']}/{action}", data=data)
        assert response.status_code == 403, action
    with app.app_context():
        application = db.session.get(Application, setting["id"])
        assert application.status is ApplicationStatus.SUBMITTED
        assert {lot.outcome for lot in application.lots} == {LotOutcome.PENDING}


def test_a_provider_is_refused_the_page_even_for_its_own_application(app, user_factory):
    setting = _application(app)
    with app.app_context():
        from portal.models import Provider

        provider = db.session.get(Provider, setting["provider"])
    client = _client(app, user_factory, Role.PROVIDER, provider=provider)
    assert client.get(f"/directory/applications/{setting['id']}").status_code == 403


def test_a_draft_or_missing_application_is_not_found(app, officer_client, user_factory):
    setting = _application(app, status=ApplicationStatus.DRAFT)
    manager_client = _client(app, user_factory, Role.MANAGER)
    for client in (officer_client, manager_client):
        assert client.get(f"/directory/applications/{setting['id']}").status_code == 404
        assert client.get("/directory/applications/999999").status_code == 404


def test_the_manager_sees_the_same_read_only_page_with_a_link_to_the_assessment(app, user_factory):
    setting = _application(app)
    page = _text(_client(app, user_factory, Role.MANAGER).get(f"/directory/applications/{setting['id']}"))
    assert "Our answer for Lot title 1, question 1" in page
    assert f'href="/manager/applications/{setting["id"]}"' in page
    assert "Decide application" not in page and "Working note on an answer" not in page


def test_the_page_runs_the_same_statements_for_1_or_4_lots(app, officer_client):
    one = _application(app, lots=1, name="One Lot")
    four = _application(app, lots=4, name="Four Lots")
    with app.app_context():
        engine = db.engine
    officer_client.get(f"/directory/applications/{one['id']}")  # warm up anything loaded once per session
    with count_queries(engine) as for_one:
        assert "One Lot" in _text(officer_client.get(f"/directory/applications/{one['id']}"))
    with count_queries(engine) as for_four:
        assert "Lot 4: Lot title 4" in _text(officer_client.get(f"/directory/applications/{four['id']}"))
    assert for_four.count == for_one.count, for_four.statements


def test_the_provider_page_lists_submitted_and_decided_applications_newest_first(app, officer_client, user_factory):
    older = _application(app, submitted_on=date(2026, 1, 5))
    with app.app_context():
        from portal.models import Lot, Provider

        provider = db.session.get(Provider, older["provider"])
        lots = [db.session.get(Lot, lot_id) for lot_id in older["lots"]]
        newer = make_submitted_application(provider=provider, lots=lots[:1], submitted_on=date(2026, 3, 2)).id
        draft = make_submitted_application(provider=provider, lots=lots, status=ApplicationStatus.DRAFT).id
        admit(provider, lots[0])  # officers see providers admitted now or before
    _decide(app, older["id"], user_factory(Role.MANAGER).id)
    page = _text(officer_client.get(f"/directory/{older['provider']}"))
    links = re.findall(r'href="/directory/applications/(\d+)"', page)
    assert links == [str(newer), str(older["id"])]
    assert str(draft) not in links
    assert "Lot 2: Lot title 2: rejected" in page and "Waiting for a decision" in page


def test_officers_cannot_find_an_applicant_that_was_never_admitted_by_its_application(
    app, officer_client, user_factory
):
    """The directory hides providers never admitted from officers; their applications stay hidden too."""
    from portal.models import Application, ApplicationStatus, Provider

    with app.app_context():
        provider = Provider(name="Never Admitted Learning")
        db.session.add(provider)
        db.session.flush()
        application = Application(provider_id=provider.id, status=ApplicationStatus.SUBMITTED)
        db.session.add(application)
        db.session.commit()
        application_id = application.id
    assert officer_client.get(f"/directory/applications/{application_id}").status_code == 404
    manager = _client(app, user_factory, Role.MANAGER)
    assert manager.get(f"/directory/applications/{application_id}").status_code == 200
