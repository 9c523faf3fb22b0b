"""Data retention through the test client: the report, proposing and approving an erasure as plain forms (errors
next to the fields, a decided proposal is a 409), the subject access page and JSON (audited), and manager only."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Child, ErasureRequest, ErasureStatus, Role
from portal.security import DOWNLOAD_CSP
from portal.services.audit import Events
from tests.factories import make_lot, make_user
from tests.factories_calloff import CHILD_FIRST_NAME
from tests.helpers import csrf_token, start_session
from tests.unit.test_retention import NOW, build_child


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def setup(app, user_factory, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    first = user_factory(Role.MANAGER, email="first@council.example")
    second = user_factory(Role.MANAGER, email="second@council.example")
    officer = user_factory(Role.OFFICER, email="officer@council.example")
    provider = user_factory(Role.PROVIDER, email="provider@provider.example")
    with app.app_context():
        child = build_child(make_user("officer"), make_lot(1), ended_on=date(2027, 3, 10), full=True)
        child_id = child.id
    return {"first": first, "second": second, "officer": officer, "provider": provider, "child_id": child_id}


def _client(app, user):
    client = app.test_client()
    start_session(client, user.email)
    return client


def test_only_the_manager_sees_retention(app, setup):
    child_id = setup["child_id"]
    with app.app_context():
        from portal.services import retention

        manager = db.session.get(type(setup["first"]), setup["first"].id)
        request_id = retention.propose_erasure(child_id, manager, reason="Past", now=NOW, ip=None).id
        db.session.commit()
    paths = [
        "/manager/retention",
        f"/manager/retention/children/{child_id}/erasure",
        f"/manager/retention/erasures/{request_id}",
        f"/manager/children/{child_id}/subject-access",
        f"/manager/children/{child_id}/subject-access.json",
    ]
    for role in ("officer", "provider"):
        client = _client(app, setup[role])
        for path in paths:
            assert client.get(path).status_code == 403, (role, path)
        token = csrf_token(client)
        response = client.post(paths[2], data={"csrf_token": token, "decision": "approve", "confirm": "y"})
        assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Child, child_id).first_name == CHILD_FIRST_NAME
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.event == Events.SUBJECT_ACCESS_EXPORTED)) == 0
        )


def test_propose_and_approve_through_the_forms(app, setup):
    child_id = setup["child_id"]
    first = _client(app, setup["first"])
    page = _text(first.get("/manager/retention"))
    assert f"Child {child_id}" in page and CHILD_FIRST_NAME not in page
    assert f"/manager/retention/children/{child_id}/erasure" in page

    path = f"/manager/retention/children/{child_id}/erasure"
    token = csrf_token(first, path)
    response = first.post(path, data={"csrf_token": token, "reason": ""})
    assert response.status_code == 200 and "Enter why the child" in _text(response)
    response = first.post(path, data={"csrf_token": token, "reason": "x" * 2001})
    assert response.status_code == 200 and "2000 characters or fewer" in _text(response)
    response = first.post(path, data={"csrf_token": token, "reason": "Past the period"})
    assert response.status_code == 302
    with app.app_context():
        request_id = db.session.scalar(sa.select(ErasureRequest.id).where(ErasureRequest.child_id == child_id))
    assert response.headers["Location"].endswith(f"/manager/retention/erasures/{request_id}")
    # A second proposal while one waits: 409, nothing saved.
    response = first.post(path, data={"csrf_token": token, "reason": "Again"})
    assert response.status_code == 409 and "already waiting" in _text(response)

    decide = f"/manager/retention/erasures/{request_id}"
    # The proposer cannot approve it.
    response = first.post(decide, data={"csrf_token": token, "decision": "approve", "confirm": "y"})
    assert response.status_code == 200 and "Another manager must approve" in _text(response)

    second = _client(app, setup["second"])
    token2 = csrf_token(second, decide)
    response = second.post(decide, data={"csrf_token": token2, "decision": "approve"})
    assert response.status_code == 200 and "cannot be restored" in _text(response) and "Confirm that" in _text(response)
    with app.app_context():
        assert db.session.get(Child, child_id).first_name == CHILD_FIRST_NAME
    response = second.post(decide, data={"csrf_token": token2, "decision": "approve", "confirm": "y"})
    assert response.status_code == 302
    with app.app_context():
        child = db.session.get(Child, child_id)
        assert child.first_name == "Erased" and child.erased_at is not None
        assert db.session.get(ErasureRequest, request_id).status is ErasureStatus.APPROVED
    # Deciding again: 409, nothing changed.
    response = second.post(decide, data={"csrf_token": token2, "decision": "refuse", "note": "Oops"})
    assert response.status_code == 409 and "already been decided" in _text(response)
    with app.app_context():
        assert db.session.get(ErasureRequest, request_id).decision_note == ""
    assert f"Child {child_id}" not in _text(second.get("/manager/retention"))


def test_refusing_through_the_form_needs_a_note(app, setup):
    child_id = setup["child_id"]
    client = _client(app, setup["first"])
    path = f"/manager/retention/children/{child_id}/erasure"
    token = csrf_token(client, path)
    client.post(path, data={"csrf_token": token, "reason": "Past the period"})
    with app.app_context():
        request_id = db.session.scalar(sa.select(ErasureRequest.id))
    decide = f"/manager/retention/erasures/{request_id}"
    response = client.post(decide, data={"csrf_token": token, "decision": "refuse", "note": ""})
    assert response.status_code == 200 and "Enter why the erasure is refused" in _text(response)
    response = client.post(decide, data={"csrf_token": token, "decision": "refuse", "note": "Needed for a tribunal"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ErasureRequest, request_id).status is ErasureStatus.REFUSED
        assert db.session.get(Child, child_id).first_name == CHILD_FIRST_NAME


def test_the_subject_access_page_and_json_are_audited(app, setup):
    child_id = setup["child_id"]
    client = _client(app, setup["first"])
    page = client.get(f"/manager/children/{child_id}/subject-access")
    assert page.status_code == 200
    assert CHILD_FIRST_NAME in _text(page) and "Bruise on arm" in _text(page)
    response = client.get(f"/manager/children/{child_id}/subject-access.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    data = response.get_json()
    assert data["child"]["first_name"] == CHILD_FIRST_NAME
    assert data["placements"][0]["attendance"]
    with app.app_context():
        formats = db.session.scalars(
            sa.select(AuditEvent.details).where(
                AuditEvent.event == Events.SUBJECT_ACCESS_EXPORTED, AuditEvent.subject_id == child_id
            )
        ).all()
    assert sorted(d["format"] for d in formats) == ["html", "json"]
    assert client.get("/manager/children/999999/subject-access").status_code == 404
