"""Safeguarding concerns through the test client: raising one as a plain form (sent at once, with no child
identifiers), who sees it (404 for everyone else), the list, closing it (409 when already closed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Concern, ConcernStatus, Notification, OutboxMessage
from tests.factories import make_user
from tests.factories_calloff import CHILD_IDENTIFIERS
from tests.factories_placements import placed
from tests.helpers import count_queries, csrf_token, start_session

NOW = datetime(2027, 2, 10, 10, tzinfo=UTC)
DETAILS = "Told staff at break that an adult at home hit them"


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def world(app):
    with app.app_context():
        awarded, placement = placed()
        officer = awarded.officer
        return {
            "placement": placement.id,
            "officer": officer.email,
            "other_officer": make_user("officer", service=officer.service).email,
            "raiser": awarded.provider_user.email,
            "colleague": make_user("provider", provider=awarded.provider).email,
            "dsl": make_user("provider", provider=awarded.provider, email="dsl@placing-provider.example").email,
            "manager": make_user("manager").email,
            "stranger": make_user("provider").email,
        }


def _client(app, email):
    client = app.test_client()
    start_session(client, email)
    return client


def _raise(app, world, who="raiser", **fields) -> int:
    client = _client(app, world[who])
    data = {
        "csrf_token": csrf_token(client),
        "summary": "Disclosure at break time",
        "details": DETAILS,
        "action_taken": "",
    }
    data.update(fields)
    response = client.post(f"/placements/{world['placement']}/concerns/new", data=data)
    assert response.status_code == 302, _text(response)
    with app.app_context():
        concern_id = db.session.scalar(sa.select(sa.func.max(Concern.id)))
    assert response.headers["Location"] == f"/placements/{world['placement']}/concerns/{concern_id}"
    return concern_id


def test_a_raised_concern_is_sent_at_once_to_the_officer_and_the_dsl(app, world):
    concern_id = _raise(app, world)
    with app.app_context():
        mails = db.session.scalars(sa.select(OutboxMessage)).all()
        assert {m.to_address for m in mails} == {world["officer"], world["dsl"]}
        notes = db.session.scalars(sa.select(Notification)).all()
        assert len(notes) == 2
        for message in [*mails, *notes]:
            assert f"/placements/{world['placement']}/concerns/{concern_id}" in message.body
            for identifier in (*CHILD_IDENTIFIERS, DETAILS):
                assert identifier not in message.subject + message.body


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("officer", 200),
        ("raiser", 200),
        ("dsl", 200),
        ("manager", 200),
        ("other_officer", 404),
        ("colleague", 404),
        ("stranger", 404),
    ],
)
def test_who_sees_a_concern(app, world, who, status):
    concern_id = _raise(app, world)
    client = _client(app, world[who])
    response = client.get(f"/placements/{world['placement']}/concerns/{concern_id}")
    assert response.status_code == status
    listed = client.get(f"/placements/{world['placement']}/concerns")
    if status == 200:
        assert DETAILS in _text(response)
        assert "Disclosure at break time" in _text(listed)
    else:
        assert DETAILS not in _text(response)
        assert "Disclosure at break time" not in _text(listed)
        assert listed.status_code == (404 if who == "stranger" else 200)


def test_anyone_who_may_raise_sees_the_link_even_with_no_concerns_to_see(app, world):
    _raise(app, world)
    page = _client(app, world["colleague"]).get(f"/placements/{world['placement']}/concerns")
    assert page.status_code == 200
    assert "Raise a concern" in _text(page)
    assert "There are no concerns you can see" in _text(page)
    assert "Raise a concern" not in _text(
        _client(app, world["manager"]).get(f"/placements/{world['placement']}/concerns")
    )


def test_a_concern_with_missing_answers_is_shown_again_with_the_errors(app, world):
    client = _client(app, world["raiser"])
    response = client.post(
        f"/placements/{world['placement']}/concerns/new",
        data={"csrf_token": csrf_token(client), "summary": "x" * 201, "details": "", "action_taken": "Typed action"},
    )
    assert response.status_code == 200
    body = _text(response)
    assert "The summary must be 200 characters or fewer" in body
    assert "Typed action" in body
    blank = client.post(
        f"/placements/{world['placement']}/concerns/new",
        data={"csrf_token": csrf_token(client), "summary": "", "details": "", "action_taken": ""},
    )
    assert "Enter a summary of the concern" in _text(blank)
    assert "Enter what happened" in _text(blank)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Concern)) == 0


def test_the_manager_and_strangers_do_not_raise(app, world):
    assert _client(app, world["manager"]).get(f"/placements/{world['placement']}/concerns/new").status_code == 403
    assert _client(app, world["stranger"]).get(f"/placements/{world['placement']}/concerns/new").status_code == 404


def test_closing_a_concern(app, world):
    concern_id = _raise(app, world)
    url = f"/placements/{world['placement']}/concerns/{concern_id}/close"
    raiser = _client(app, world["raiser"])
    assert "Close the concern" not in _text(raiser.get(f"/placements/{world['placement']}/concerns/{concern_id}"))
    assert raiser.post(url, data={"csrf_token": csrf_token(raiser), "outcome": "Done"}).status_code == 403
    colleague = _client(app, world["colleague"])
    assert colleague.post(url, data={"csrf_token": csrf_token(colleague), "outcome": "Done"}).status_code == 404
    officer = _client(app, world["officer"])
    empty = officer.post(url, data={"csrf_token": csrf_token(officer), "outcome": ""})
    assert empty.status_code == 200 and "Enter the outcome" in _text(empty)
    done = officer.post(url, data={"csrf_token": csrf_token(officer), "outcome": "Referred to MASH"})
    assert done.status_code == 302
    with app.app_context():
        concern = db.session.get(Concern, concern_id)
        assert concern.status is ConcernStatus.CLOSED and concern.outcome == "Referred to MASH"
    manager = _client(app, world["manager"])
    again = manager.post(url, data={"csrf_token": csrf_token(manager), "outcome": "Again"})
    assert again.status_code == 409 and "already closed" in _text(again)
    with app.app_context():
        assert db.session.get(Concern, concern_id).outcome == "Referred to MASH"


def test_the_concerns_list_runs_the_same_statements_whatever_the_number_of_concerns(app, world):
    _raise(app, world)
    manager = _client(app, world["manager"])
    url = f"/placements/{world['placement']}/concerns"
    manager.get(url)
    with app.app_context(), count_queries(db.engine) as one:
        assert manager.get(url).status_code == 200
    for who in ("raiser", "colleague", "officer", "other_officer"):
        _raise(app, world, who=who)
    with app.app_context(), count_queries(db.engine) as five:
        assert manager.get(url).status_code == 200
    assert five.count == one.count
