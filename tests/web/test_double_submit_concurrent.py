"""Ten sends of one form at the same moment (issue 10, point 2): one officer with the referral form open in ten
windows, the same single-use token in each, all sent together from ten threads. Exactly one draft referral is made;
every other send is told the form was already sent and goes to that draft. Runs on SQLite and on PostgreSQL
(TEST_DATABASE_URL), where the losers' claims wait on the winner's uncommitted row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Child, FormSubmission, Referral
from portal.services.audit import Events
from portal.submissions import ALREADY_SENT, TOKEN_FIELD
from tests.factories import make_user
from tests.helpers import all_at_once, csrf_token, sign_in
from tests.web.test_double_submit import _child_form, drawn_form

SENDS = 10


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 2, 10, tzinfo=UTC))


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_ten_sends_of_one_form_at_once_make_one_referral(app):
    with app.app_context():
        email = make_user("officer").email
    # Ten windows: ten sessions of the same officer, each with its own CSRF token, all with the token of one drawing.
    clients = []
    for _ in range(SENDS):
        client = app.test_client()
        sign_in(client, email)
        clients.append(client)
    action, hidden = drawn_form(clients[0], "/officer/referrals/new")
    forms = [{**hidden, "csrf_token": csrf_token(client), **_child_form()} for client in clients]

    responses = all_at_once(SENDS, lambda n: clients[n].post(action, data=forms[n]))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [302] + [303] * (SENDS - 1), statuses
    with app.app_context():
        referral_id = db.session.scalar(sa.select(Referral.id))
    draft = f"/officer/referrals/{referral_id}/draft"
    assert {response.headers["Location"] for response in responses} == {draft}
    assert _count(app, Referral) == 1 and _count(app, Child) == 1
    assert _count(app, AuditEvent, AuditEvent.event == Events.REFERRAL_CREATED) == 1
    assert _count(app, FormSubmission, FormSubmission.token == hidden[TOKEN_FIELD]) == 1
    # Each repeat says why nothing new was made, on the draft's page.
    repeat = next(n for n, response in enumerate(responses) if response.status_code == 303)
    assert ALREADY_SENT in clients[repeat].get(draft).get_data(as_text=True)
