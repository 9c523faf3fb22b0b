"""The managers' undelivered mail page, "Try again" and the banner on the manager's home, through the test client.

The emails are given up as the worker gives them up: sent to a real SMTP server on loopback that refuses them
(tests/smtp_server.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Role
from portal.models.base import utcnow
from portal.services import mail, outbox
from portal.services.audit import Events
from tests.helpers import count_queries, csrf_token, start_session

PAGE = "/manager/mail/undelivered"
BODY = "Ada Lovelace (born 10 December 2012) did not arrive this morning."
BANNER = 'id="undelivered-mail-warning"'


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER, email="morgan@council.example")
    client = app.test_client()
    start_session(client, manager.email)
    client.manager = manager
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _queue(app, *addresses: str) -> list[int]:
    with app.app_context():
        messages = [mail.queue_email(to, f"Attendance alert for {to}", BODY) for to in addresses]
        db.session.commit()
        return [message.id for message in messages]


def _give_up(app, smtp_server, *addresses: str, later: timedelta = timedelta(0)) -> list[int]:
    """Queue an email to each address and run the worker (``later`` than now) against a server that refuses them for
    good (550)."""
    ids = _queue(app, *addresses)
    smtp_server.handler.refuse.update(addresses)
    with app.app_context():
        report = outbox.send_due(smtp_server.mail_config(app), now=utcnow() + later)
    assert report.given_up == len(addresses)
    return ids


def _send_all(app, smtp_server, now=None) -> outbox.SendReport:
    with app.app_context():
        return outbox.send_due(smtp_server.mail_config(app), now=now or utcnow())


def _try_again(client, message_id: int, page: str = PAGE):
    return client.post(f"{PAGE}/{message_id}/try-again", data={"csrf_token": csrf_token(client, page)})


# ---- The list ------------------------------------------------------------------------------------------------------


def test_the_page_lists_the_given_up_emails_latest_first_and_never_a_body(app, fetch, manager_client, smtp_server):
    [first] = _give_up(app, smtp_server, "gone@school.example")
    [second] = _give_up(app, smtp_server, "left@school.example", later=timedelta(minutes=5))
    [sent] = _queue(app, "sent@council.example")
    assert _send_all(app, smtp_server).sent == 1
    [waiting] = _queue(app, "waiting@council.example")  # unsent, still to be tried

    page = _text(manager_client.get(PAGE))

    assert "2 emails could not be delivered" in page
    assert page.index("left@school.example") < page.index("gone@school.example")  # the latest given up first
    assert "Attendance alert for gone@school.example" in page
    assert "550" in page and "No such mailbox here" in page  # the error
    assert "sent@council.example" not in page and "waiting@council.example" not in page
    assert "Ada Lovelace" not in page and "did not arrive" not in page  # the body may name a child
    assert len(re.findall(r"Try again<span", page)) == 2
    assert f'action="{PAGE}/{first}/try-again"' in page and f'action="{PAGE}/{second}/try-again"' in page
    assert fetch(OutboxMessage, sent).sent_at is not None and fetch(OutboxMessage, waiting).failed_at is None


def test_with_nothing_given_up_the_page_says_so(manager_client):
    page = _text(manager_client.get(PAGE))
    assert "Every email has been delivered or is still being tried" in page
    assert "Try again<span" not in page


def test_the_page_runs_the_same_statements_for_3_emails_and_for_30_over_two_pages(app, manager_client, smtp_server):
    with app.app_context():
        engine = db.engine
    _give_up(app, smtp_server, *(f"few{n}@school.example" for n in range(3)))
    manager_client.get(PAGE)  # warm up
    with count_queries(engine) as few:
        assert "3 emails could not be delivered" in _text(manager_client.get(PAGE))

    _give_up(app, smtp_server, *(f"many{n}@school.example" for n in range(27)))
    with count_queries(engine) as many:
        page = _text(manager_client.get(PAGE))
    assert "30 emails could not be delivered" in page and "page 1 of 2" in page
    assert len(re.findall(r"Try again<span", page)) == 25
    assert f'href="{PAGE}?page=2"' in page
    assert many.count == few.count, many.statements

    second = _text(manager_client.get(f"{PAGE}?page=2"))
    assert len(re.findall(r"Try again<span", second)) == 5
    assert "Ada Lovelace" not in page + second


@pytest.mark.parametrize("role", [Role.OFFICER, Role.PROVIDER])
def test_officers_and_providers_are_refused(app, user_factory, smtp_server, role):
    [message_id] = _give_up(app, smtp_server, "gone@school.example")
    client = app.test_client()
    start_session(client, user_factory(role).email)

    assert client.get(PAGE).status_code == 403
    assert _try_again(client, message_id, page="/account/").status_code == 403
    with app.app_context():
        assert db.session.get(OutboxMessage, message_id).failed_at is not None


# ---- Try again -----------------------------------------------------------------------------------------------------


def test_try_again_resets_the_email_is_audited_and_the_next_run_sends_it(app, fetch, manager_client, smtp_server):
    [message_id] = _give_up(app, smtp_server, "back@school.example")
    smtp_server.handler.refuse.clear()  # the address works again
    assert _send_all(app, smtp_server).sent == 0  # given up: the worker leaves it alone
    before = clock.now()

    response = _try_again(manager_client, message_id)

    assert response.status_code == 302 and response.headers["Location"] == PAGE
    page = _text(manager_client.get(PAGE))
    assert "The email to back@school.example will be sent again the next time the outbox runs." in page
    assert "govuk-notification-banner--success" in page
    row = fetch(OutboxMessage, message_id)
    assert row.failed_at is None and row.attempts == 0 and row.claimed_until is None and row.sent_at is None
    assert before <= row.next_attempt_at <= clock.now()
    assert "550" in row.last_error  # kept until it is sent

    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.EMAIL_TRIED_AGAIN)).all()
        assert (event.actor_id, event.subject_type, event.subject_id) == (
            manager_client.manager.id,
            "outbox_messages",
            message_id,
        )
        assert event.details["to"] == "back@school.example" and event.details["attempts"] == 1
        assert "550" in event.details["error"]
        assert BODY not in str(event.details)

    report = _send_all(app, smtp_server)
    assert (report.sent, report.failed, report.waiting) == (1, 0, 0)
    assert [r.rcpt_tos for r in smtp_server.received] == [["back@school.example"]]
    assert fetch(OutboxMessage, message_id).sent_at is not None
    assert "Every email has been delivered" in _text(manager_client.get(PAGE))


def test_try_again_from_page_2_returns_to_page_2(app, manager_client, smtp_server):
    ids = _give_up(app, smtp_server, *(f"many{n}@school.example" for n in range(26)))
    response = manager_client.post(
        f"{PAGE}/{ids[0]}/try-again?page=2", data={"csrf_token": csrf_token(manager_client, PAGE)}
    )
    assert response.status_code == 302 and response.headers["Location"] == f"{PAGE}?page=2"


def test_a_stale_try_again_says_why_and_changes_nothing(app, fetch, manager_client, smtp_server):
    [message_id] = _give_up(app, smtp_server, "back@school.example")
    smtp_server.handler.refuse.clear()
    assert _try_again(manager_client, message_id).status_code == 302

    # A second manager's page, loaded before the first one's click: the email is waiting to be sent.
    response = _try_again(manager_client, message_id)
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    page = _text(manager_client.get(PAGE))
    assert "The email to back@school.example has been tried again already: it is waiting to be sent." in page

    assert _send_all(app, smtp_server).sent == 1
    response = _try_again(manager_client, message_id)
    assert response.status_code == 302
    page = _text(manager_client.get(PAGE))
    assert "The email to back@school.example was sent on" in page and "there is nothing to try again" in page

    row = fetch(OutboxMessage, message_id)
    assert row.sent_at is not None and row.failed_at is None
    assert len(smtp_server.received) == 1
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.EMAIL_TRIED_AGAIN)).all()
        assert len(events) == 1  # only the try that changed something


def test_try_all_again_resets_every_given_up_email_in_one_press_and_the_next_run_sends_them(
    app, fetch, manager_client, smtp_server
):
    """A relay that refused every message (a fault of the mail setup, not of the addresses) gave many up."""
    given_up = _give_up(app, smtp_server, *(f"relay{n}@school.example" for n in range(3)))
    [waiting] = _queue(app, "waiting@council.example")
    smtp_server.handler.refuse.clear()  # the relay is put right
    assert "Try all 3 emails again" in _text(manager_client.get(PAGE))

    response = manager_client.post(f"{PAGE}/try-again", data={"csrf_token": csrf_token(manager_client, PAGE)})

    assert response.status_code == 302 and response.headers["Location"] == PAGE
    page = _text(manager_client.get(PAGE))
    assert "3 emails will be sent again the next time the outbox runs." in page
    assert "Every email has been delivered" in page
    for message_id in given_up:
        row = fetch(OutboxMessage, message_id)
        assert row.failed_at is None and row.attempts == 0 and row.sent_at is None
    assert fetch(OutboxMessage, waiting).attempts == 0  # waiting all along: untouched
    with app.app_context():
        [event] = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.EMAILS_ALL_TRIED_AGAIN)
        ).all()
        assert event.actor_id == manager_client.manager.id and event.details == {"count": 3}
    assert _send_all(app, smtp_server).sent == 4

    # Nothing left to try: said so, and not audited.
    manager_client.post(f"{PAGE}/try-again", data={"csrf_token": csrf_token(manager_client, PAGE)})
    assert "There was no undelivered email to try again." in _text(manager_client.get(PAGE))
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.event == Events.EMAILS_ALL_TRIED_AGAIN)) == 1
        )


def test_try_again_of_an_email_that_does_not_exist_is_404(manager_client):
    assert _try_again(manager_client, 999_999).status_code == 404


# ---- The banner on the manager's home ------------------------------------------------------------------------------


def test_the_home_shows_the_banner_only_when_an_email_was_given_up_with_one_count(app, manager_client, smtp_server):
    with app.app_context():
        engine = db.engine
    _queue(app, "waiting@council.example")  # waiting, not given up: no banner
    manager_client.get("/manager/")  # warm up
    with count_queries(engine) as without:
        home = _text(manager_client.get("/manager/"))
    assert BANNER not in home and not re.search(r"\d+ emails? could not be delivered", home)

    _give_up(app, smtp_server, "gone@school.example")
    home = _text(manager_client.get("/manager/"))
    assert BANNER in home
    assert f'<a class="govuk-notification-banner__link" href="{PAGE}">1 email could not be delivered</a>' in home

    _give_up(app, smtp_server, "left@school.example", "moved@school.example")
    with count_queries(engine) as with_three:
        home = _text(manager_client.get("/manager/"))
    assert f'href="{PAGE}">3 emails could not be delivered</a>' in home

    assert with_three.count == without.count, with_three.statements
    outbox_statements = [s for s in with_three.statements if "outbox_messages" in s]
    assert len(outbox_statements) == 1 and "count(" in outbox_statements[0].lower()
