"""The manager's requests to commission off the DPS, through the test client: the queue (pending first, a decided
tab, pagination and its statement budget), approving and refusing as plain forms, and a decision the referral's
stage no longer allows (409)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import (
    AuditEvent,
    OffDpsRequest,
    OffDpsStatus,
    OutboxMessage,
    Referral,
    ReferralStatus,
    Role,
    User,
)
from portal.services import evaluation
from portal.services.audit import Events
from tests.factories import make_user
from tests.factories_calloff import CHILD_IDENTIFIERS, make_referral, publish, published_call_off
from tests.helpers import count_queries, csrf_token, sign_in, start_session


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER, name="Morgan Manager", email="morgan@council.example")
    client = app.test_client()
    start_session(client, manager.email)
    client.user = manager
    return client


def _requests(app, count: int, *, reason: str = "No provider offered") -> dict:
    """``count`` referrals past their deadline, each with a pending request to commission it off the DPS; ids only.
    The referrals are in one lot and (but the first) share the first one's child."""
    with app.app_context():
        call = published_call_off(providers=2)
        officer = call.officer
        made = [call.referral]
        for _ in range(count - 1):
            referral = make_referral(officer, call.lot, child=call.referral.child)
            publish(referral, officer)
            made.append(referral)
        moment = max(r.deadline for r in made) + timedelta(minutes=1)
        requests = []
        for n, referral in enumerate(made):
            request = evaluation.request_off_dps(
                referral.id,
                officer,
                version=referral.version,
                reason=f"{reason} (number {n + 1})",
                now=moment - timedelta(seconds=count - n),
            )
            db.session.commit()
            requests.append(request.id)
        return {
            "referrals": [r.id for r in made],
            "requests": requests,
            "officer_email": officer.email,
            "provider_emails": [u.email for u in call.provider_users],
            "moment": moment,
        }


@pytest.fixture
def frozen(monkeypatch):
    def freeze(moment):
        monkeypatch.setattr(clock, "now", lambda: moment)

    return freeze


def test_the_queue_lists_pending_requests_oldest_first_with_a_decided_tab(app, manager_client, frozen):
    setting = _requests(app, 3)
    frozen(setting["moment"])
    with app.app_context():
        manager = db.session.get(User, manager_client.user.id)
        evaluation.decide_off_dps(
            setting["requests"][1], manager, approve=False, note="Try again first", now=setting["moment"]
        )
        db.session.commit()

    page = _text(manager_client.get("/manager/off-dps"))
    assert "2 requests waiting for a decision" in page
    references = re.findall(r'href="/manager/off-dps/\d+">(R\d{5})<', page)
    assert references == [f"R{setting['referrals'][0]:05d}", f"R{setting['referrals'][2]:05d}"]
    assert "No provider offered (number 1)" in page and "Lot 1:" in page and "Service" in page
    assert "Off-DPS requests" in page  # the navigation
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in page

    decided = _text(manager_client.get("/manager/off-dps?show=decided"))
    assert "1 request decided" in decided and ">Refused</strong>" in decided
    assert "by Morgan Manager" in decided and f"R{setting['referrals'][1]:05d}" in decided


def test_the_queue_paginates_and_runs_the_same_statements_with_2_and_30_requests(app, manager_client):
    few = _requests(app, 2)
    with app.app_context():
        engine = db.engine
    manager_client.get("/manager/off-dps")  # warm up
    with count_queries(engine) as small:
        page = _text(manager_client.get("/manager/off-dps"))
    assert "2 requests waiting" in page
    with app.app_context():
        referral = db.session.get(Referral, few["referrals"][0])
        officer = db.session.scalar(sa.select(User).where(User.email == few["officer_email"]))
        for n in range(28):
            more = make_referral(officer, referral.lot, child=referral.child)
            publish(more, officer)
            made = evaluation.request_off_dps(
                more.id, officer, version=more.version, reason=f"More {n}", now=more.deadline + timedelta(seconds=1)
            )
            db.session.commit()
            del made
    with count_queries(engine) as large:
        page = _text(manager_client.get("/manager/off-dps"))
    assert "30 requests waiting" in page and "Showing 1 to 25 of 30" in page
    assert large.count == small.count, "\n".join(large.statements)
    second = _text(manager_client.get("/manager/off-dps?page=2"))
    assert "Showing 26 to 30 of 30" in second and second.count('href="/manager/off-dps/') == 5


def test_approving_commissions_the_referral_off_the_dps_and_tells_everyone(app, manager_client, frozen):
    setting = _requests(app, 1)
    frozen(setting["moment"])
    path = f"/manager/off-dps/{setting['requests'][0]}"
    page = _text(manager_client.get(path))
    assert "No provider offered (number 1)" in page and ">Evaluating</strong>" in page
    response = manager_client.post(path, data={"csrf_token": csrf_token(manager_client), "decision": "approve"})
    assert response.status_code == 302 and response.headers["Location"] == "/manager/off-dps"
    assert "is commissioned off the DPS" in _text(manager_client.get("/manager/off-dps"))
    with app.app_context():
        assert db.session.get(Referral, setting["referrals"][0]).status is ReferralStatus.OFF_DPS
        assert db.session.get(OffDpsRequest, setting["requests"][0]).status is OffDpsStatus.APPROVED
        for email in setting["provider_emails"]:
            told = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == email)).all()
            assert any("closed without an award" in m.body for m in told)
        officer_mail = db.session.scalars(
            sa.select(OutboxMessage.subject).where(OutboxMessage.to_address == setting["officer_email"])
        ).all()
        assert any(subject.startswith("Approved") for subject in officer_mail)
        assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.event == Events.OFF_DPS_APPROVED))
    # Decided: no form any more, and a second decision is refused.
    page = _text(manager_client.get(path))
    assert "Approved" in page and 'name="decision"' not in page
    again = manager_client.post(
        path, data={"csrf_token": csrf_token(manager_client), "decision": "refuse", "note": "x"}
    )
    assert again.status_code == 409 and "cannot be decided again" in _text(again)


def test_refusing_needs_a_note_next_to_the_field_and_tells_the_officer(app, manager_client, frozen):
    setting = _requests(app, 1)
    frozen(setting["moment"])
    path = f"/manager/off-dps/{setting['requests'][0]}"
    response = manager_client.post(path, data={"csrf_token": csrf_token(manager_client), "decision": "refuse"})
    page = _text(response)
    assert response.status_code == 200 and "There is a problem" in page
    assert "Enter why you are refusing the request" in page
    assert re.search(r'value="refuse"\s+checked', page) or re.search(r'checked[^>]*value="refuse"', page)
    response = manager_client.post(path, data={"csrf_token": csrf_token(manager_client)})
    assert "Choose whether to approve or refuse" in _text(response)

    response = manager_client.post(
        path, data={"csrf_token": csrf_token(manager_client), "decision": "refuse", "note": "Republish it first"}
    )
    assert response.status_code == 302
    with app.app_context():
        request = db.session.get(OffDpsRequest, setting["requests"][0])
        assert request.status is OffDpsStatus.REFUSED and request.decision_note == "Republish it first"
        assert db.session.get(Referral, setting["referrals"][0]).status is ReferralStatus.OPEN
        told = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.to_address == setting["officer_email"])
        ).all()
        assert any(m.subject.startswith("Refused") and "Republish it first" in m.body for m in told)


def test_approving_once_the_referral_is_no_longer_being_evaluated_is_409(app, manager_client, frozen):
    setting = _requests(app, 1)
    frozen(setting["moment"])
    with app.app_context():
        referral = db.session.get(Referral, setting["referrals"][0])
        referral.status = ReferralStatus.WITHDRAWN
        db.session.commit()
    path = f"/manager/off-dps/{setting['requests'][0]}"
    response = manager_client.post(path, data={"csrf_token": csrf_token(manager_client), "decision": "approve"})
    assert response.status_code == 409
    assert "You cannot decide off-DPS this referral now. This referral has been withdrawn." in _text(response)
    with app.app_context():
        assert db.session.get(OffDpsRequest, setting["requests"][0]).status is OffDpsStatus.PENDING


def test_only_the_manager_may_see_or_decide_requests(app):
    setting = _requests(app, 1)
    path = f"/manager/off-dps/{setting['requests'][0]}"
    with app.app_context():
        make_user(Role.OFFICER, email="olu@council.example")
    for email in ("olu@council.example", setting["provider_emails"][0], setting["officer_email"]):
        client = app.test_client()
        sign_in(client, email)
        assert client.get("/manager/off-dps").status_code == 403
        assert client.get(path).status_code == 403
        assert client.post(path, data={"csrf_token": csrf_token(client), "decision": "approve"}).status_code == 403
    assert app.test_client().get("/manager/off-dps").status_code == 302  # to sign in
    with app.app_context():
        assert db.session.get(OffDpsRequest, setting["requests"][0]).status is OffDpsStatus.PENDING
    assert app.test_client().get(path).status_code == 302


def test_an_unknown_request_is_404(manager_client):
    assert manager_client.get("/manager/off-dps/424242").status_code == 404
