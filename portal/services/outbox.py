"""Delivering the mail outbox: `flask outbox send` calls send_due().

Rows are written by portal.services.mail in the same transaction as the change that caused them. Here each due
message is claimed (a conditional UPDATE, committed) before it is sent, so two workers never send the same one; it
is marked sent, or its failure recorded with a retry time, and committed at once. A message is never deleted.

Delivery is at least once: a worker that dies after the SMTP server accepted a message but before it committed
``sent_at`` leaves the claim to expire, and the message is sent again (with the same Message-ID) after CLAIM_FOR.

When the SMTP server cannot be reached (or refuses the connection, STARTTLS or the login), the failure is recorded
against the message being sent and the run stops: the other messages are left as they were, for the next run.
An error about one message (a refused recipient, say) counts against that message only and the run goes on.

A message fails for good (``failed_at``, never tried again by the worker) when the server's answer about it is
permanent (5xx: an unknown recipient, say) or it cannot be written as an email, and when a try fails once
GIVE_UP_AFTER has passed since it was written. The managers see those messages (``undelivered``), and one may ask
for a message to be tried again (``try_again``).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import load_only

from portal.extensions import db
from portal.formatting import london_datetime
from portal.models import OutboxMessage, User
from portal.models.base import utcnow
from portal.pagination import Page, paginate
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import IllegalTransition, NotFound

# How long a worker owns a message it has claimed; a crashed worker's claim runs out after this.
CLAIM_FOR = timedelta(minutes=5)
# Retry after 1, 2, 4, 8 ... minutes, never more than an hour.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(minutes=60)
# A message still unsent this long after it was written is given up at its next failed try.
GIVE_UP_AFTER = timedelta(days=3)
SMTP_TIMEOUT_SECONDS = 30
MAX_ERROR_LENGTH = 300
PER_PAGE = 25


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0  # tries that failed in this run (those given up included)
    given_up: int = 0  # of those, the messages failed for good: never tried again unless a manager asks
    waiting: int = 0  # messages still unsent after the run and still to be tried (given up ones not included)
    stopped_early: bool = False  # the SMTP server could not be reached; the run ended at the first failure


class _Unreachable(Exception):
    """Connecting, STARTTLS or logging in failed: no message can be sent in this run."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next try, after ``attempts`` failed ones (1 -> 1 minute, 2 -> 2, 3 -> 4 ..., at most 60)."""
    if attempts < 1:
        return timedelta(0)
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LONGEST_RETRY)


def due_message_ids(now: datetime, limit: int) -> list[int]:
    """Unsent messages whose time has come and that no live worker holds, oldest first."""
    return list(
        db.session.scalars(
            sa.select(OutboxMessage.id)
            .where(_is_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
    )


def _is_due(now: datetime):
    return sa.and_(
        _is_waiting(),
        OutboxMessage.next_attempt_at <= now,
        sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def claim(message_id: int, now: datetime) -> bool:
    """Take the message for this worker until now + CLAIM_FOR. Commits. False if another worker holds it or it is no
    longer due: the UPDATE's condition is checked by the database, so of two racing workers only one gets rowcount 1."""
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _is_due(now))
        .values(claimed_until=now + CLAIM_FOR)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _mark_sent(message_id: int, now: datetime) -> None:
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(sent_at=now, claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _is_waiting():
    """Unsent and still to be tried (the first two columns of ix_outbox_messages_due)."""
    return sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))


def _is_undelivered():
    """Given up (a failed message is never sent, so this too is one range of ix_outbox_messages_due)."""
    return sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_not(None))


def is_permanent(error: BaseException) -> bool:
    """Whether a failure to send a message means it can never be sent: the server answered about this message with a
    5xx code (every refused recipient's, for a refusal of recipients, or the content's), or the message cannot be
    written as an email (ValueError: a header it cannot carry), which no later try changes. A 4xx answer, a broken
    connection or a timeout is temporary; a refused sender is the setup's fault and ends the run (_Connection.send)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(_is_5xx(code) for code in codes)
    if isinstance(error, smtplib.SMTPDataError):
        return _is_5xx(error.smtp_code)
    return isinstance(error, ValueError)


def _is_5xx(code) -> bool:
    return isinstance(code, int) and 500 <= code <= 599


def _mark_failed(message_id: int, now: datetime, error_text: str, *, permanent: bool) -> bool:
    """Record a failed try. Returns True when the message is given up: the failure is permanent, or GIVE_UP_AFTER
    has passed since the message was written; otherwise it is tried again after retry_delay."""
    message = db.session.get(OutboxMessage, message_id)
    attempts = message.attempts + 1
    message.attempts = attempts
    message.last_error = error_text
    message.next_attempt_at = now + retry_delay(attempts)
    message.claimed_until = None
    given_up = permanent or now - message.created_at >= GIVE_UP_AFTER
    if given_up:
        message.failed_at = now
    db.session.commit()
    return given_up


def pending_count() -> int:
    """Messages still to be sent: unsent and not given up."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(_is_waiting()))


def build_email(message: OutboxMessage, config: Mapping) -> EmailMessage:
    sender = config["MAIL_FROM"]
    domain = sender.rpartition("@")[2] or "localhost"
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # The same id on every try, so a receiving system can spot the rare duplicate (delivery is at least once).
    email["Message-ID"] = f"<outbox-{message.id}.{int(message.created_at.timestamp())}@{domain}>"
    email.set_content(message.body)
    return email


def _error_text(error: BaseException, config: Mapping) -> str:
    """The error's class and message, on one line, cut short, with the SMTP password blanked should a server echo it."""
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    if config.get("MAIL_PASSWORD"):
        text = text.replace(config["MAIL_PASSWORD"], "[hidden]")
    return text[:MAX_ERROR_LENGTH]


class _Connection:
    """One SMTP connection per run, opened at the first message and opened again after a broken one."""

    def __init__(self, config: Mapping):
        self.config = config
        self.smtp: smtplib.SMTP | None = None

    def send(self, email: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.send_message(email)
        except smtplib.SMTPSenderRefused as error:
            # Our own MAIL_FROM refused: a fault of the setup, the same for every message, not of this one. Like an
            # unreachable server it ends the run, as a temporary failure of the message being sent.
            self.close()
            raise _Unreachable(error) from error
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
            # The server answered about this message; the connection is still good, unless the answer was 421
            # (closing), after which smtplib has closed it: the next message opens a new one.
            if self.smtp.sock is None:
                self.smtp = None
            raise
        except (smtplib.SMTPException, OSError):
            self.close()  # broken or in an unknown state: the next message opens a new one
            raise

    def _open(self) -> smtplib.SMTP:
        config = self.config
        try:
            smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=SMTP_TIMEOUT_SECONDS)
        except (smtplib.SMTPException, OSError) as error:
            raise _Unreachable(error) from error
        try:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        except (smtplib.SMTPException, OSError) as error:
            _close_quietly(smtp)
            raise _Unreachable(error) from error
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            _close_quietly(self.smtp)
            self.smtp = None


def _close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _log_email(email: EmailMessage) -> None:
    current_app.logger.info(
        "Email (MAIL_TO_LOG, not sent)\nTo: %s\nSubject: %s\n\n%s", email["To"], email["Subject"], email.get_content()
    )


def send_due(config: Mapping, now: datetime | None = None, limit: int = 100) -> SendReport:
    """Send up to ``limit`` due messages, committing after each. Needs an app context (it uses db.session).

    ``now`` fixes the clock for the whole run (tests); by default each step reads the real time.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    report = SendReport()
    connection = _Connection(config)
    try:
        for message_id in due_message_ids(clock(), limit):
            if not claim(message_id, clock()):
                continue  # another worker has it
            message = db.session.get(OutboxMessage, message_id)
            try:
                email = build_email(message, config)
                if config.get("MAIL_TO_LOG"):
                    _log_email(email)
                else:
                    connection.send(email)
            except _Unreachable as unreachable:
                _record_failure(message_id, clock(), unreachable.error, config, report, permanent=False)
                report.stopped_early = True
                break
            except (smtplib.SMTPException, OSError, ValueError) as error:  # ValueError: a header email cannot carry
                _record_failure(message_id, clock(), error, config, report, permanent=is_permanent(error))
                continue
            _mark_sent(message_id, clock())
            report.sent += 1
    finally:
        connection.close()
        db.session.rollback()
    report.waiting = pending_count()
    return report


def _record_failure(
    message_id: int, now: datetime, error: BaseException, config: Mapping, report: SendReport, *, permanent: bool
) -> None:
    text = _error_text(error, config)
    db.session.rollback()
    given_up = _mark_failed(message_id, now, text, permanent=permanent)
    report.failed += 1
    if given_up:
        report.given_up += 1
        current_app.logger.error("Email %s not sent, given up (see the undelivered mail page): %s", message_id, text)
    else:
        current_app.logger.warning("Email %s not sent (will retry): %s", message_id, text)


# --- Mail that could not be delivered (the managers' undelivered mail page) ---------------------------------------


def undelivered_count() -> int:
    """How many messages were given up (one COUNT over an index range, for the banner on the manager's home)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(_is_undelivered()))


def undelivered(page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The given-up messages, the latest given up first, a page at a time: a COUNT and one SELECT. The body is never
    read (it may name a child): reading it from a listed message raises instead of loading it."""
    statement = (
        sa.select(OutboxMessage)
        .options(
            load_only(
                OutboxMessage.id,
                OutboxMessage.to_address,
                OutboxMessage.subject,
                OutboxMessage.created_at,
                OutboxMessage.attempts,
                OutboxMessage.last_error,
                OutboxMessage.failed_at,
                raiseload=True,
            )
        )
        .where(_is_undelivered())
        .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id.desc())
    )
    return paginate(statement, page=page, per_page=per_page)


def _make_due_again(now: datetime, *where) -> int:
    """Given-up messages (those of ``where`` too) due at once with their attempts back at 0: one conditional UPDATE,
    so a message sent or tried again meanwhile is left alone. Returns how many."""
    return db.session.execute(
        sa.update(OutboxMessage)
        .where(_is_undelivered(), *where)
        .values(failed_at=None, next_attempt_at=now, attempts=0, claimed_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def try_again(by: User, message_id: int, *, now: datetime, ip: str | None) -> OutboxMessage:
    """A manager asks for a given-up message to be sent again: it is due at once, its attempts start again at 0, and
    the next run of the worker sends it (a permanent refusal, or any failed try once GIVE_UP_AFTER has passed since
    it was written, gives it up again). Audited; the route commits. Of two managers asking at once, one changes it (a
    conditional UPDATE); the other is told it is no longer given up (IllegalTransition), as is anyone asking about
    a message that was sent or is waiting."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("No email has that number")
    attempts, error = message.attempts, message.last_error
    if _make_due_again(now, OutboxMessage.id == message_id) != 1:
        db.session.rollback()
        message = db.session.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound("No email has that number")
        if message.sent_at is not None:
            raise IllegalTransition(
                f"The email to {message.to_address} was sent on {london_datetime(message.sent_at)}: "
                "there is nothing to try again."
            )
        raise IllegalTransition(
            f"The email to {message.to_address} has been tried again already: it is waiting to be sent."
        )
    audit.record(
        Events.EMAIL_TRIED_AGAIN,
        actor=by,
        ip=ip,
        subject=message,
        to=message.to_address,
        attempts=attempts,
        error=error,
    )
    return message


def try_all_again(by: User, *, now: datetime, ip: str | None) -> int:
    """Every given-up message tried again at once, as try_again does one: for when a fault of the portal's own mail
    setup (a relay that refuses every recipient with 5xx) gave many up. One conditional UPDATE, so a message
    sent or tried again meanwhile is left alone; audited with how many. Returns how many; the route commits."""
    changed = _make_due_again(now)
    if changed:
        audit.record(Events.EMAILS_ALL_TRIED_AGAIN, actor=by, ip=ip, count=changed)
    return changed
