"""The mail outbox, delivered to a real SMTP server on loopback (aiosmtpd): nothing about SMTP is mocked."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import Notification, OutboxMessage, Role, User
from portal.models.base import utcnow
from portal.services import mail, outbox
from tests.smtp_server import PASSWORD, USERNAME, free_port


def queue(app, count=1, to="person{i}@example.org") -> list[int]:
    with app.app_context():
        messages = [
            mail.queue_email(to.format(i=i), f"Subject {i}", f"Hello {i},\n\nThe body of message {i}.")
            for i in range(count)
        ]
        db.session.commit()
        return [message.id for message in messages]


def send(app, config, **kwargs) -> outbox.SendReport:
    with app.app_context():
        return outbox.send_due(config, **kwargs)


def down_config(app) -> dict:
    """Mail settings pointing at a loopback port where nothing listens."""
    return {**app.config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port(), "MAIL_TO_LOG": False}


def test_a_queued_message_is_delivered_with_its_headers_and_marked_sent(app, fetch, smtp_server):
    [message_id] = queue(app, to="sam@example.org")
    config = smtp_server.mail_config(app, MAIL_FROM="ap@hillingdon.example")

    report = send(app, config)

    assert (report.sent, report.failed, report.waiting) == (1, 0, 0)
    [received] = smtp_server.received
    assert received.rcpt_tos == ["sam@example.org"]
    assert received.mail_from == "ap@hillingdon.example"
    email = received.message
    assert email["To"] == "sam@example.org"
    assert email["From"] == "ap@hillingdon.example"
    assert email["Subject"] == "Subject 0"
    assert email.get_content().replace("\r\n", "\n") == "Hello 0,\n\nThe body of message 0.\n"
    assert email["Message-ID"].startswith(f"<outbox-{message_id}.") and email["Message-ID"].endswith("@hillingdon.example>")
    row = fetch(OutboxMessage, message_id)
    assert abs(parsedate_to_datetime(email["Date"]) - row.created_at) < timedelta(seconds=1)
    assert row.sent_at is not None and row.claimed_until is None
    assert (row.attempts, row.last_error) == (0, None)


def test_the_message_is_written_in_the_same_transaction_as_the_change_that_caused_it(app, user_factory):
    user_id = user_factory(Role.OFFICER, name="Before").id
    with app.app_context():
        user = db.session.get(User, user_id)
        user.name = "After"
        mail.notify(user, "Your name was changed", "It is now After.")
        db.session.flush()
        db.session.rollback()
    with app.app_context():
        assert db.session.get(User, user_id).name == "Before"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0

        user = db.session.get(User, user_id)
        user.name = "After"
        mail.notify(user, "Your name was changed", "It is now After.", portal_body="Your name is now After.")
        email = user.email
        db.session.commit()
    with app.app_context():
        [message] = db.session.scalars(sa.select(OutboxMessage)).all()
        [notification] = db.session.scalars(sa.select(Notification)).all()
        assert (message.to_address, message.body) == (email, "It is now After.")
        assert (notification.user_id, notification.body) == (user_id, "Your name is now After.")


def test_when_smtp_is_down_the_message_waits_and_is_sent_once_when_it_is_back(app, fetch, smtp_server):
    [message_id] = queue(app)
    now = utcnow()

    report = send(app, down_config(app), now=now)

    assert (report.sent, report.failed, report.waiting) == (0, 1, 1)
    row = fetch(OutboxMessage, message_id)
    assert row.sent_at is None and row.claimed_until is None
    assert row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at == now + timedelta(minutes=1)

    config = smtp_server.mail_config(app)
    assert send(app, config, now=now + timedelta(seconds=30)).sent == 0  # not yet due
    assert smtp_server.received == []

    with time_machine.travel(now + timedelta(seconds=61)):
        report = send(app, config)  # the real clock, moved on
        assert (report.sent, report.failed, report.waiting) == (1, 0, 0)
        assert send(app, config).sent == 0
    assert len(smtp_server.received) == 1
    row = fetch(OutboxMessage, message_id)
    assert row.sent_at is not None and row.attempts == 1


def test_an_unreachable_server_ends_the_run_and_leaves_the_other_messages_untouched(app, fetch):
    first, *others = queue(app, 3)

    report = send(app, down_config(app))

    assert (report.sent, report.failed, report.waiting, report.stopped_early) == (0, 1, 3, True)
    assert fetch(OutboxMessage, first).attempts == 1
    assert [fetch(OutboxMessage, i).attempts for i in others] == [0, 0]


def test_a_refused_sender_ends_the_run_gives_nothing_up_and_all_go_once_it_is_put_right(app, fetch, smtp_server):
    """MAIL_FROM refused for good (553) is our setup's fault: were it counted against each message, one run would give
    up every message it tried."""
    first, *others = queue(app, 3)
    smtp_server.handler.sender_answer = "553 5.7.1 Sender address rejected: not owned by user"

    report = send(app, smtp_server.mail_config(app))

    assert (report.sent, report.failed, report.given_up, report.waiting, report.stopped_early) == (0, 1, 0, 3, True)
    assert fetch(OutboxMessage, first).failed_at is None and "553" in fetch(OutboxMessage, first).last_error
    assert [fetch(OutboxMessage, i).attempts for i in others] == [0, 0]

    smtp_server.handler.sender_answer = None  # MAIL_FROM put right
    report = send(app, smtp_server.mail_config(app), now=utcnow() + outbox.retry_delay(1))
    assert (report.sent, report.waiting) == (3, 0)


def test_running_send_twice_never_sends_a_message_twice(app, smtp_server):
    queue(app, 3)
    config = smtp_server.mail_config(app)

    assert send(app, config).sent == 3
    assert send(app, config).sent == 0

    assert sorted(r.message["Subject"] for r in smtp_server.received) == ["Subject 0", "Subject 1", "Subject 2"]


def test_one_connection_serves_the_whole_run(app, smtp_server):
    queue(app, 4)
    send(app, smtp_server.mail_config(app))
    assert len({r.peer for r in smtp_server.received}) == 1


def test_a_claimed_message_is_not_claimed_again_until_the_claim_runs_out(app, fetch, smtp_server):
    [message_id] = queue(app)
    now = utcnow()
    with app.app_context():
        assert outbox.claim(message_id, now) is True
    with app.app_context():  # a second worker, its own session
        assert outbox.claim(message_id, now) is False
        assert outbox.claim(message_id, now + outbox.CLAIM_FOR - timedelta(seconds=1)) is False
    config = smtp_server.mail_config(app)
    assert send(app, config, now=now + timedelta(minutes=1)).sent == 0  # the first worker still holds it

    # The first worker died without sending: once its claim runs out, the message goes (at least once).
    assert send(app, config, now=now + outbox.CLAIM_FOR + timedelta(seconds=1)).sent == 1
    assert len(smtp_server.received) == 1
    assert fetch(OutboxMessage, message_id).sent_at is not None


def test_two_workers_racing_never_both_send_a_message(app, smtp_server):
    ids = queue(app, 30)
    config = smtp_server.mail_config(app)
    start = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            with app.app_context():
                start.wait()
                reports.append(outbox.send_due(config))
        except Exception as error:  # surfaced by the assertions below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(report.sent for report in reports) == 30
    message_ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert len(message_ids) == 30 and len(set(message_ids)) == 30
    assert {int(mid.split("-")[1].split(".")[0]) for mid in message_ids} == set(ids)


def test_mail_to_log_writes_the_message_to_the_log_and_marks_it_sent(app, fetch, smtp_server, caplog):
    [message_id] = queue(app, to="pat@example.org")
    caplog.set_level("INFO", logger=app.logger.name)

    report = send(app, smtp_server.mail_config(app, MAIL_TO_LOG=True))

    assert report.sent == 1
    assert smtp_server.received == []  # logged, not sent
    [record] = [r for r in caplog.records if r.levelname == "INFO" and "MAIL_TO_LOG" in r.getMessage()]
    text = record.getMessage()
    assert "To: pat@example.org" in text and "Subject: Subject 0" in text and "The body of message 0." in text
    assert fetch(OutboxMessage, message_id).sent_at is not None


def test_the_retry_delay_doubles_from_a_minute_and_stops_at_an_hour(app, fetch):
    assert [outbox.retry_delay(n).total_seconds() / 60 for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert outbox.retry_delay(1000) == timedelta(minutes=60)

    [message_id] = queue(app)
    config = down_config(app)
    now = utcnow()
    waits = []
    for _ in range(8):
        assert send(app, config, now=now).failed == 1
        row = fetch(OutboxMessage, message_id)
        waits.append((row.next_attempt_at - now).total_seconds() / 60)
        now = row.next_attempt_at
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert row.attempts == 8 and row.sent_at is None  # never dropped


def test_a_refused_recipient_fails_that_message_only_and_the_run_goes_on(app, fetch, smtp_server):
    smtp_server.handler.refuse.add("person0@example.org")
    refused, delivered = queue(app, 2)

    report = send(app, smtp_server.mail_config(app))

    assert (report.sent, report.failed, report.stopped_early) == (1, 1, False)
    assert [r.rcpt_tos for r in smtp_server.received] == [["person1@example.org"]]
    row = fetch(OutboxMessage, refused)
    assert row.attempts == 1 and "SMTPRecipientsRefused" in row.last_error and row.sent_at is None
    delivered_row = fetch(OutboxMessage, delivered)
    assert delivered_row.sent_at is not None and delivered_row.failed_at is None


def test_a_message_with_a_header_email_cannot_carry_fails_without_stopping_the_run(app, fetch, smtp_server):
    with app.app_context():
        bad = mail.queue_email("someone@example.org", "Line one\nBcc: victim@example.org", "Body")
        db.session.commit()
        bad_id = bad.id
    queue(app)

    report = send(app, smtp_server.mail_config(app))

    assert (report.sent, report.failed, report.given_up) == (1, 1, 1)  # no later try could write it either
    bad_row = fetch(OutboxMessage, bad_id)
    assert "ValueError" in bad_row.last_error and bad_row.failed_at is not None
    assert all("victim@example.org" not in r.rcpt_tos for r in smtp_server.received)


def test_login_uses_the_configured_username_and_password(app, fetch, smtp_server_with_login):
    [message_id] = queue(app)
    config = smtp_server_with_login.mail_config(app, MAIL_USERNAME=USERNAME, MAIL_PASSWORD=PASSWORD)

    assert send(app, config).sent == 1
    [received] = smtp_server_with_login.received
    assert received.login == USERNAME.encode()


def test_a_failed_login_is_recorded_without_the_password(app, fetch, smtp_server_with_login):
    [message_id] = queue(app)
    wrong = "wrong-password-do-not-log"
    config = smtp_server_with_login.mail_config(app, MAIL_USERNAME=USERNAME, MAIL_PASSWORD=wrong)

    report = send(app, config)

    assert (report.sent, report.failed) == (0, 1)
    row = fetch(OutboxMessage, message_id)
    assert "SMTPAuthenticationError" in row.last_error
    assert wrong not in row.last_error and USERNAME not in row.last_error
    assert smtp_server_with_login.received == []


def test_use_tls_never_falls_back_to_plain_text(app, fetch, smtp_server):
    [message_id] = queue(app)

    report = send(app, smtp_server.mail_config(app, MAIL_USE_TLS=True))  # this server offers no STARTTLS

    assert report.failed == 1
    assert smtp_server.received == []
    assert "STARTTLS" in fetch(OutboxMessage, message_id).last_error


@pytest.mark.parametrize("attempts", [0, -1])
def test_no_wait_before_a_first_attempt(attempts):
    assert outbox.retry_delay(attempts) == timedelta(0)


# ---- Giving up: a permanent refusal at once, a temporary failure once 3 days have passed ------------------------


def test_a_permanent_refusal_gives_the_message_up_at_once_and_no_later_run_tries_it(app, fetch, smtp_server):
    smtp_server.handler.refuse.add("nobody@example.org")
    [refused] = queue(app, to="nobody@example.org")
    config = smtp_server.mail_config(app)
    now = utcnow()

    report = send(app, config, now=now)

    assert (report.sent, report.failed, report.given_up, report.waiting) == (0, 1, 1, 0)
    row = fetch(OutboxMessage, refused)
    assert row.failed_at == now and row.sent_at is None and row.claimed_until is None
    assert row.attempts == 1 and "550" in row.last_error and "No such mailbox here" in row.last_error

    smtp_server.handler.refuse.clear()  # even a server that would now accept it is not asked again
    for later in (timedelta(minutes=2), timedelta(hours=2), timedelta(days=4)):
        report = send(app, config, now=now + later)
        assert (report.sent, report.failed, report.given_up, report.waiting) == (0, 0, 0, 0)
    assert smtp_server.handler.asked == ["nobody@example.org"]  # asked about once, at the first run
    assert smtp_server.received == []
    row = fetch(OutboxMessage, refused)
    assert (row.attempts, row.failed_at) == (1, now)


def test_a_temporary_refusal_is_retried_and_given_up_at_the_first_failure_3_days_after_it_was_written(
    app, fetch, smtp_server
):
    smtp_server.handler.answers["busy@example.org"] = "450 4.2.1 Mailbox busy, try again later"
    [message_id] = queue(app, to="busy@example.org")
    config = smtp_server.mail_config(app)
    row = fetch(OutboxMessage, message_id)
    written, first = row.created_at, row.next_attempt_at

    report = send(app, config, now=first)
    assert (report.sent, report.failed, report.given_up, report.waiting) == (0, 1, 0, 1)
    row = fetch(OutboxMessage, message_id)
    assert row.failed_at is None and "450" in row.last_error
    assert row.next_attempt_at == first + timedelta(minutes=1)

    # Still trying a minute before the 3 days are up.
    almost = written + outbox.GIVE_UP_AFTER - timedelta(minutes=1)
    report = send(app, config, now=almost)
    assert (report.failed, report.given_up, report.waiting) == (1, 0, 1)
    assert fetch(OutboxMessage, message_id).failed_at is None

    # Due again 2 minutes later (its second failure), when 3 days have passed: that failure gives it up.
    assert send(app, config, now=almost + timedelta(minutes=1)).failed == 0  # not due yet
    due = fetch(OutboxMessage, message_id).next_attempt_at
    assert due == almost + timedelta(minutes=2) and due - written > outbox.GIVE_UP_AFTER
    report = send(app, config, now=due)
    assert (report.sent, report.failed, report.given_up, report.waiting) == (0, 1, 1, 0)
    row = fetch(OutboxMessage, message_id)
    assert row.failed_at == due and row.attempts == 3

    del smtp_server.handler.answers["busy@example.org"]
    assert send(app, config, now=due + timedelta(hours=2)).sent == 0
    assert smtp_server.handler.asked == ["busy@example.org"] * 3


def test_an_unreachable_server_gives_up_a_message_3_days_old_at_its_next_try(app, fetch):
    [message_id] = queue(app)
    written = fetch(OutboxMessage, message_id).created_at

    report = send(app, down_config(app), now=written + outbox.GIVE_UP_AFTER)

    assert (report.failed, report.given_up, report.waiting, report.stopped_early) == (1, 1, 0, True)
    assert "ConnectionRefusedError" in fetch(OutboxMessage, message_id).last_error


def test_a_given_up_message_is_neither_due_nor_claimed(app, fetch, smtp_server):
    smtp_server.handler.refuse.add("nobody@example.org")
    [refused] = queue(app, to="nobody@example.org")
    now = utcnow()
    assert send(app, smtp_server.mail_config(app), now=now).given_up == 1
    [waiting] = queue(app)  # written after the run: unsent, due

    later = now + timedelta(days=1)
    with app.app_context():
        assert outbox.due_message_ids(later, 100) == [waiting]
        assert outbox.claim(refused, later) is False
        assert outbox.pending_count() == 1
        assert outbox.undelivered_count() == 1
    row = fetch(OutboxMessage, refused)
    assert row.claimed_until is None and row.failed_at == now


def test_a_421_answer_closes_the_connection_and_the_next_message_goes_on_a_new_one(app, fetch, smtp_server):
    smtp_server.handler.answers["person0@example.org"] = "421 4.3.2 Service shutting down"
    closing, delivered = queue(app, 2)

    report = send(app, smtp_server.mail_config(app))

    assert (report.sent, report.failed, report.given_up) == (1, 1, 0)  # 421 is temporary
    assert fetch(OutboxMessage, closing).failed_at is None and "421" in fetch(OutboxMessage, closing).last_error
    assert fetch(OutboxMessage, delivered).sent_at is not None


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"5.1.1 unknown")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (553, b"5.1.3 bad"), "b@example.org": (554, b"no")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"unknown"), "b@example.org": (450, b"busy")}), False),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"4.2.1 busy")}), False),
        (smtplib.SMTPRecipientsRefused({}), False),
        # Our sender refused is a fault of the setup, not of the message (send_due ends the run on it).
        (smtplib.SMTPSenderRefused(553, b"5.7.1 sender refused", "ap@example.org"), False),
        (smtplib.SMTPSenderRefused(451, b"4.3.0 try later", "ap@example.org"), False),
        (smtplib.SMTPDataError(554, b"5.6.0 message refused"), True),
        (smtplib.SMTPDataError(452, b"4.3.1 out of space"), False),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), False),  # about the login, not the message
        (TimeoutError("timed out"), False),
        (ConnectionRefusedError(111, "Connection refused"), False),
        (ValueError("Header values may not contain linefeed or carriage return characters"), True),
    ],
)
def test_only_a_5xx_answer_about_the_message_or_an_unwritable_message_is_permanent(error, permanent):
    assert outbox.is_permanent(error) is permanent
