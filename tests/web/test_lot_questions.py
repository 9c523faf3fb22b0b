"""The manager's lots and their questions through the test client: add, edit, move, retire, the required documents,
and the audit trail of every change."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    ApplicationStatus,
    AuditEvent,
    DocumentType,
    LotDocumentRequirement,
    LotQuestion,
    Role,
)
from portal.services.audit import Events
from tests.factories import LotQuestionFactory, make_lots
from tests.factories_dps import make_submitted_application
from tests.helpers import count_queries, csrf_token, sign_in, start_session


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER)
    client = app.test_client()
    start_session(client, manager.email)
    return client


@pytest.fixture
def lot(app):
    """Lot 1 with three questions asked, in order; (lot id, [question ids])."""
    with app.app_context():
        [made] = make_lots(1)
        questions = [
            LotQuestionFactory(lot_id=made.id, position=n, text=f"Question {name}")
            for n, name in enumerate(["A", "B", "C"], start=1)
        ]
        return made.id, [q.id for q in questions]


def _text(response) -> str:
    return response.get_data(as_text=True)


def _post(client, path, data, page):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def _asked(app, lot_id) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(LotQuestion.text)
                .where(LotQuestion.lot_id == lot_id, LotQuestion.retired_at.is_(None))
                .order_by(LotQuestion.position, LotQuestion.id)
            )
        )


def _changes(app) -> list[str]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.LOT_QUESTIONS_CHANGED).order_by(AuditEvent.id)
        ).all()
        return [event.details["change"] for event in events]


def test_the_lots_page_lists_lots_with_their_counts(app, manager_client, lot):
    page = _text(manager_client.get("/manager/lots"))
    row = re.search(r"<tr[^>]*>\s*<td[^>]*><a[^>]*>Lot 1: Lot title 1</a>.*?</tr>", page, re.S).group(0)
    numbers = re.findall(r'govuk-table__cell--numeric">(\d+)<', row)
    assert numbers == ["3", "0", "0"]
    assert f'href="/manager/lots/{lot[0]}/questions"' in page


def test_the_lots_page_runs_the_same_statements_for_few_or_many_lots(app, manager_client):
    with app.app_context():
        engine = db.engine
        make_lots(2)
    with count_queries(engine) as few:
        manager_client.get("/manager/lots")
    with app.app_context():
        make_lots(20)
    with count_queries(engine) as many:
        page = _text(manager_client.get("/manager/lots"))
    assert page.count("Lot title 20") == 1
    assert many.count == few.count, many.statements


def test_adding_a_question_puts_it_last_and_is_audited(app, manager_client, lot):
    lot_id, _ = lot
    path = f"/manager/lots/{lot_id}/questions"
    response = _post(manager_client, path, {"text": "Question D", "guidance": "Give an example"}, path)
    assert response.status_code == 302
    assert "Question added" in _text(manager_client.get(response.headers["Location"]))
    assert _asked(app, lot_id) == ["Question A", "Question B", "Question C", "Question D"]
    assert _changes(app) == ["question added"]


def test_a_question_needs_its_text_and_the_page_keeps_the_guidance_typed(app, manager_client, lot):
    lot_id, _ = lot
    path = f"/manager/lots/{lot_id}/questions"
    response = _post(manager_client, path, {"text": "  ", "guidance": "Typed guidance"}, path)
    page = _text(response)
    assert response.status_code == 200 and "govuk-error-summary" in page
    assert re.search(r'id="text-error".*?Enter the question', page, re.S)
    assert "Typed guidance" in page
    assert _changes(app) == []


def test_moving_questions_up_and_down(app, manager_client, lot):
    lot_id, (a, b, c) = lot
    page = f"/manager/lots/{lot_id}/questions"
    response = _post(manager_client, f"/manager/lots/{lot_id}/questions/{c}/move", {"direction": "up"}, page)
    assert response.status_code == 302
    assert _asked(app, lot_id) == ["Question A", "Question C", "Question B"]
    _post(manager_client, f"/manager/lots/{lot_id}/questions/{a}/move", {"direction": "down"}, page)
    assert _asked(app, lot_id) == ["Question C", "Question A", "Question B"]
    # The first question cannot go further up: a message, and nothing changes.
    response = _post(manager_client, f"/manager/lots/{lot_id}/questions/{c}/move", {"direction": "up"}, page)
    assert "first already" in _text(manager_client.get(response.headers["Location"]))
    assert _asked(app, lot_id) == ["Question C", "Question A", "Question B"]
    assert _changes(app) == ["question moved up", "question moved down"]


def test_retiring_a_question_keeps_it_and_its_answers(app, manager_client, lot):
    lot_id, (a, b, c) = lot
    with app.app_context():
        from portal.models import ApplicationAnswer, Lot

        application = make_submitted_application(lots=[db.session.get(Lot, lot_id)], questions_per_lot=0)
        db.session.add(ApplicationAnswer(application_id=application.id, question_id=b, answer="Our answer to B"))
        db.session.commit()
        application_id = application.id
    page = f"/manager/lots/{lot_id}/questions"
    response = _post(manager_client, f"/manager/lots/{lot_id}/questions/{b}/retire", {}, page)
    assert response.status_code == 302
    listing = _text(manager_client.get(page))
    assert "Question retired" in listing and "Retired questions" in listing
    assert _asked(app, lot_id) == ["Question A", "Question C"]
    with app.app_context():
        question = db.session.get(LotQuestion, b)
        assert question is not None and question.retired_at is not None
    assert "Our answer to B" in _text(manager_client.get(f"/manager/applications/{application_id}"))
    assert _changes(app) == ["question retired"]


def test_editing_a_question_and_its_wording_is_fixed_once_answered(app, manager_client, lot):
    lot_id, (a, b, _) = lot
    edit = f"/manager/lots/{lot_id}/questions/{a}/edit"
    assert "Question A" in _text(manager_client.get(edit))
    response = _post(manager_client, edit, {"text": "Question A, reworded", "guidance": "New guidance"}, edit)
    assert response.status_code == 302
    assert _asked(app, lot_id)[0] == "Question A, reworded"

    with app.app_context():
        from portal.models import ApplicationAnswer, Lot

        application = make_submitted_application(
            lots=[db.session.get(Lot, lot_id)], questions_per_lot=0, status=ApplicationStatus.SUBMITTED
        )
        db.session.add(ApplicationAnswer(application_id=application.id, question_id=b, answer="Answered"))
        db.session.commit()
    edit_b = f"/manager/lots/{lot_id}/questions/{b}/edit"
    assert "only its guidance can change" in _text(manager_client.get(edit_b))
    response = _post(manager_client, edit_b, {"text": "Question B, reworded", "guidance": ""}, edit_b)
    page = _text(response)
    assert response.status_code == 200
    assert re.search(r'id="text-error".*?its wording cannot change', page, re.S)
    assert "Question B, reworded" in page  # what was typed is kept
    response = _post(manager_client, edit_b, {"text": "Question B", "guidance": "Clearer guidance"}, edit_b)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(LotQuestion, b).guidance == "Clearer guidance"
    assert _changes(app) == ["question edited", "question edited"]


def test_choosing_the_documents_a_lot_requires(app, manager_client, lot):
    lot_id, _ = lot
    with app.app_context():
        types = {t.code: t.id for t in db.session.scalars(sa.select(DocumentType))}
    page = f"/manager/lots/{lot_id}/questions"
    listing = _text(manager_client.get(page))
    assert "Public liability insurance" in listing and 'name="document_types"' in listing
    chosen = [types["public-liability"], types["safeguarding-policy"]]
    response = _post(manager_client, f"/manager/lots/{lot_id}/documents", {"document_types": chosen}, page)
    assert response.status_code == 302

    def required():
        with app.app_context():
            return set(
                db.session.scalars(
                    sa.select(LotDocumentRequirement.document_type_id).where(LotDocumentRequirement.lot_id == lot_id)
                )
            )

    assert required() == set(chosen)
    listing = _text(manager_client.get(page))
    assert re.search(
        rf'value="{types["public-liability"]}"[^>]*checked|checked[^>]*value="{types["public-liability"]}"', listing
    )

    _post(manager_client, f"/manager/lots/{lot_id}/documents", {"document_types": [types["safeguarding-policy"]]}, page)
    assert required() == {types["safeguarding-policy"]}
    response = _post(manager_client, f"/manager/lots/{lot_id}/documents", {"document_types": ["999999"]}, page)
    assert response.status_code == 200 and "govuk-error-summary" in _text(response)
    assert required() == {types["safeguarding-policy"]}
    assert _changes(app) == ["required documents changed", "required documents changed"]


def test_a_question_of_another_lot_is_not_found(app, manager_client, lot):
    _, (a, _, _) = lot
    with app.app_context():
        [other] = make_lots(1)
        other_id = other.id
    assert manager_client.get(f"/manager/lots/{other_id}/questions/{a}/edit").status_code == 404
    page = f"/manager/lots/{other_id}/questions"
    response = _post(manager_client, f"/manager/lots/{other_id}/questions/{a}/retire", {}, page)
    assert response.status_code == 404
    assert manager_client.get("/manager/lots/999999/questions").status_code == 404


def test_an_edit_made_on_a_stale_page_is_refused_and_what_was_typed_is_kept(app, user_factory):
    """Two managers edit the same question: the second save, made from the page as it was, changes nothing."""
    with app.app_context():
        [lot] = make_lots(1)
        question = LotQuestionFactory(lot_id=lot.id, text="How do you keep children safe?")
        lot_id, question_id = lot.id, question.id
    path = f"/manager/lots/{lot_id}/questions/{question_id}/edit"
    first, second = app.test_client(), app.test_client()
    sign_in(first, user_factory("manager").email)
    sign_in(second, user_factory("manager").email)

    def seen_on(client):
        return re.search(r'name="seen" type="hidden" value="([0-9a-f]+)"', client.get(path).get_data(as_text=True))[1]

    seen = seen_on(second)  # the second manager opens the page first
    saved = first.post(path, data={"text": "How do you keep children safe online?", "guidance": "",
                                   "seen": seen_on(first), "csrf_token": csrf_token(first)})
    assert saved.status_code == 302

    stale = second.post(path, data={"text": "How do you keep children safe at school?", "guidance": "",
                                    "seen": seen, "csrf_token": csrf_token(second)})
    body = stale.get_data(as_text=True)
    assert "Another manager changed this question while you were editing it" in body
    assert "How do you keep children safe at school?" in body  # what was typed is kept
    assert "How do you keep children safe online?" in body  # and what is saved now is shown
    with app.app_context():
        assert db.session.get(LotQuestion, question_id).text == "How do you keep children safe online?"


def test_required_documents_saved_from_a_stale_page_are_refused(app, user_factory):
    """Two managers change the lot's required documents: the second save, from the page as it was, changes nothing."""
    with app.app_context():
        [lot] = make_lots(1)
        types = {t.code: t.id for t in db.session.scalars(sa.select(DocumentType))}
        lot_id = lot.id
    path = f"/manager/lots/{lot_id}/questions"
    first, second = app.test_client(), app.test_client()
    sign_in(first, user_factory("manager").email)
    sign_in(second, user_factory("manager").email)

    def seen_on(client):
        return re.search(r'name="seen" type="hidden" value="([0-9,]*)"', client.get(path).get_data(as_text=True))[1]

    stale_seen = seen_on(second)
    post_path = f"/manager/lots/{lot_id}/documents"
    saved = first.post(post_path, data={"document_types": [types["public-liability"]], "seen": seen_on(first),
                                        "csrf_token": csrf_token(first)})
    assert saved.status_code == 302

    stale = second.post(post_path, data={"document_types": [types["safeguarding-policy"]], "seen": stale_seen,
                                         "csrf_token": csrf_token(second)})
    body = stale.get_data(as_text=True)
    assert "Another manager changed the required documents while you were choosing" in body
    assert "saved now are Public liability insurance" in body
    with app.app_context():
        required = db.session.scalars(
            sa.select(LotDocumentRequirement.document_type_id).where(LotDocumentRequirement.lot_id == lot_id)
        ).all()
        assert required == [types["public-liability"]]
