"""The audit trail. A service records an event in the same transaction as the change it describes; the caller
commits. Never pass a secret (password, code, token) in details."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from portal.clock import london_day_start
from portal.extensions import db
from portal.models import AuditEvent, User
from portal.pagination import Page, paginate
from portal.services import audit_chain  # noqa: F401  (chains every event as it is written)


class Events:
    """Every kind of event, as stored and as shown on the audit page."""

    SUCCESSOR_ARRANGEMENT_SET_UP = "successor arrangement set up"
    ADMISSIONS_RECONFIRMED = "admissions reconfirmed"
    SIGN_IN_SUCCEEDED = "sign-in succeeded"
    SIGN_IN_FAILED = "sign-in failed"
    ACCOUNT_LOCKED = "account locked"
    SIGNED_OUT = "signed out"
    SIGNED_OUT_EVERYWHERE = "signed out everywhere"
    SESSION_EXPIRED = "session expired"
    TWO_FACTOR_SET_UP = "two-factor set up"
    TWO_FACTOR_TURNED_OFF = "two-factor turned off"
    TWO_FACTOR_FAILED = "two-factor code refused"
    RECOVERY_CODE_USED = "recovery code used"
    RECOVERY_CODES_REPLACED = "recovery codes replaced"
    PASSWORD_CHANGED = "password changed"
    PASSWORD_RESET_REQUESTED = "password reset requested"
    PASSWORD_RESET = "password reset"
    EMAIL_CHANGED = "email changed"
    USER_INVITED = "user invited"
    INVITATION_RESENT = "invitation resent"
    INVITATION_ACCEPTED = "invitation accepted"
    USER_DEACTIVATED = "user deactivated"
    USER_REACTIVATED = "user reactivated"
    ACCESS_REFUSED = "access refused"
    # A manager asked for an email the outbox had given up to be sent again (portal.services.outbox.try_again).
    EMAIL_TRIED_AGAIN = "undelivered email tried again"
    # ... or every given-up email at once (portal.services.outbox.try_all_again), after a fault of the mail setup.
    EMAILS_ALL_TRIED_AGAIN = "undelivered emails all tried again"
    # Joining the DPS.
    PROVIDER_REGISTERED = "provider registered"
    # Someone tried to register with an address that has an account: nothing is made, the page looks the same.
    REGISTRATION_EMAIL_IN_USE = "registration with an email already in use"
    APPLICATION_SUBMITTED = "application submitted"
    APPLICATION_DECIDED = "application decided"
    PROVIDER_ADMITTED = "provider admitted to lot"
    APPLICATION_LOT_REJECTED = "application rejected for lot"
    DOCUMENT_UPLOADED = "compliance document uploaded"
    DOCUMENT_DOWNLOADED = "compliance document downloaded"
    PROVIDER_SUSPENDED = "provider suspended"
    SUSPENSION_LIFTED = "suspension lifted"
    PROVIDER_REMOVED_FROM_LOT = "provider removed from lot"
    LOT_QUESTIONS_CHANGED = "lot questions changed"
    # The call-off.
    CHILD_RECORDED = "child recorded"
    CHILD_UPDATED = "child details changed"
    CHILD_RECORD_VIEWED = "child record viewed"
    # A list of placements showing the names of the children on one page: one event for the page.
    CHILD_RECORDS_LISTED = "child records listed"
    REFERRAL_CREATED = "referral created"
    REFERRAL_UPDATED = "referral draft saved"
    REFERRAL_PUBLISHED = "referral published"
    REFERRAL_REPUBLISHED = "referral republished"
    REFERRAL_WITHDRAWN = "referral withdrawn"
    OFFER_SUBMITTED = "offer made"
    OFFER_REVISED = "offer revised"
    OFFER_WITHDRAWN = "offer withdrawn"
    INVITATION_DECLINED = "invitation declined"
    OFFER_SCORED = "offer scored"
    OFFER_AWARDED = "offer awarded"
    OFF_DPS_REQUESTED = "off-DPS commissioning requested"
    OFF_DPS_APPROVED = "off-DPS commissioning approved"
    OFF_DPS_REFUSED = "off-DPS commissioning refused"
    # Setting up a placement (portal.services.placement_setup).
    PLACEMENT_CREATED = "placement set up"
    PLACEMENT_VARIED = "placement varied"
    PLACEMENT_ENDED = "placement ended"
    # Reviews, term dates and safeguarding concerns.
    PROGRESS_REPORT_SUBMITTED = "progress report submitted"
    REVIEW_RECORDED = "review recorded"
    CONCERN_RAISED = "safeguarding concern raised"
    CONCERN_CLOSED = "safeguarding concern closed"
    TERM_DATES_SET = "term dates set"
    SERVICE_DSL_CHANGED = "service safeguarding lead changed"
    # The SLA workflow (portal.services.sla_workflow).
    SLA_EDITED = "sla draft edited"
    SLA_SENT = "sla sent to provider"
    SLA_ACCEPTED = "sla accepted by provider"
    SLA_RETURNED = "sla returned with comments"
    SLA_APPROVED = "sla approved"
    SLA_VARIED = "sla varied"
    SLA_TERMINATED = "sla terminated"
    # Admission drafts an SLA (or a variation) covering the lots admitted to (portal.services.decisions).
    SLA_CREATED = "sla drafted"
    # The SLA terms (portal.services.sla_terms).
    SLA_TERMS_CHANGED = "sla terms changed"
    SLA_TERMS_VERSION_CREATED = "sla terms version created"
    SLA_LOTS_ADDED = "lots added to sla on admission"
    # Oversight: the quarter's call-off awards downloaded as OCDS award notices (portal.services.ocds).
    AWARD_NOTICES_EXPORTED = "award notices exported"
    # Provider accountability (portal.services.accountability).
    PERFORMANCE_MEETING_RECORDED = "performance meeting recorded"
    COMPLAINT_RECORDED = "complaint recorded"
    # Data retention (portal.services.retention): erasing a child's personal data, and the subject access export.
    ERASURE_REQUESTED = "erasure proposed"
    ERASURE_APPROVED = "erasure approved and carried out"
    ERASURE_REFUSED = "erasure refused"
    SUBJECT_ACCESS_EXPORTED = "subject access export"

    @classmethod
    def all(cls) -> list[str]:
        return sorted(value for name, value in vars(cls).items() if name.isupper())


def record(
    event: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    ip: str | None = None,
    subject=None,
    reason: str = "",
    **details,
) -> AuditEvent:
    """Add an audit event to the session. ``subject`` is the model instance the event is about, if any."""
    entry = AuditEvent(
        event=event,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label if actor_label is not None else (actor.email if actor is not None else ""),
        ip_address=ip,
        subject_type=subject.__tablename__ if subject is not None else None,
        subject_id=subject.id if subject is not None else None,
        reason=reason,
        details=details,
    )
    db.session.add(entry)
    return entry


# --- Reading the trail (the manager's audit page) ---------------------------------------------------------------

# Keys whose values are never shown, even if a caller broke the rule above and stored one.
SECRET_KEY_PARTS = ("password", "secret", "token", "code", "totp", "hash")


def search_events(
    *,
    event: str | None = None,
    actor: str | None = None,
    record: RecordRef | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Audit events, newest first. ``actor`` matches, case-insensitively, part of the label recorded with the event
    or of the actor's current email; ``record`` (see ``parse_record``) the events about that record; the dates are
    Europe/London calendar days, both included. A page past the end is the last page. Two statements: a count and
    the rows (the actor is joined in the same SELECT)."""
    statement = events_statement(event=event, actor=actor, record=record, date_from=date_from, date_to=date_to)
    statement = statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    return paginate(statement, page=page, per_page=per_page)


def events_statement(
    *,
    event: str | None = None,
    actor: str | None = None,
    record: RecordRef | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> sa.Select:
    """The SELECT of the events matching the filters of ``search_events``, unordered (the page and the CSV share
    it)."""
    conditions = []
    if record is not None:
        conditions.append(record_condition(record))
    if event:
        conditions.append(AuditEvent.event == event)
    if actor and actor.strip():
        text = actor.strip().lower()
        current_email_matches = sa.select(User.id).where(sa.func.lower(User.email).contains(text, autoescape=True))
        conditions.append(
            sa.or_(
                sa.func.lower(AuditEvent.actor_label).contains(text, autoescape=True),
                AuditEvent.actor_id.in_(current_email_matches),
            )
        )
    if date_from is not None:
        conditions.append(AuditEvent.occurred_at >= london_day_start(date_from))
    if date_to is not None:
        conditions.append(AuditEvent.occurred_at < london_day_start(date_to + timedelta(days=1)))
    return sa.select(AuditEvent).where(*conditions)


# --- Finding the events about one record ------------------------------------------------------------------------

# References shown in the portal: R00012 is referral 12, P00012 placement 12.
REFERENCE_PREFIXES = {"R": "referrals", "P": "placements"}
_REFERENCE = re.compile(r"^([A-Za-z])0*(\d{1,9})$")
_TYPE_AND_ID = re.compile(r"^([A-Za-z][A-Za-z_ -]*?)[\s#:]*0*(\d{1,9})$")


@dataclass(frozen=True)
class RecordRef:
    """A record named in the audit search: a table (the subject type stored with events) and an id."""

    subject_type: str
    subject_id: int

    @property
    def singular(self) -> str:
        return _singular(self.subject_type)


def _singular(table: str) -> str:
    if table == "children":
        return "child"
    if table.endswith("ies"):
        return table[:-3] + "y"
    return table[:-1] if table.endswith("s") else table


def parse_record(text: str) -> RecordRef:
    """A record as the manager types it: a reference (R00012 for referral 12, P00012 for placement 12), or a kind
    and an id ("placements 12", "placement 12", "child 7", "provider 3"; the kind is a table name or its singular,
    spaces for underscores). Raises ValueError for anything else."""
    text = text.strip()
    match = _REFERENCE.match(text)
    if match and match.group(1).upper() in REFERENCE_PREFIXES:
        return RecordRef(REFERENCE_PREFIXES[match.group(1).upper()], int(match.group(2)))
    match = _TYPE_AND_ID.match(text)
    if not match:
        raise ValueError(text)
    kind = re.sub(r"[\s-]+", "_", match.group(1).strip().lower())
    for table in db.metadata.tables:
        if kind in (table, _singular(table)):
            return RecordRef(table, int(match.group(2)))
    raise ValueError(text)


def record_condition(record: RecordRef):
    """Events about the record: its own events (subject), events naming it in their details (``referral_id``: 12,
    as a view of a child's record names the referral it was read through), and, for a child, the lists that showed
    the child (the ``child_ids`` of "child records listed"). On PostgreSQL the details are matched by jsonb
    containment, which the GIN index ix_audit_events_details serves (migration 0012); SQLite reads them in place."""
    named = {f"{record.singular}_id": record.subject_id}
    listed = {"child_ids": [record.subject_id]}
    if db.session.get_bind().dialect.name == "postgresql":
        details = sa.cast(AuditEvent.details, JSONB)

        def contains(fragment: dict):
            return details.op("@>")(sa.cast(sa.literal(json.dumps(fragment)), JSONB))

        names_it, lists_it = contains(named), contains(listed)
    else:
        names_it = AuditEvent.details[f"{record.singular}_id"].as_integer() == record.subject_id
        lists_it = sa.text(
            "EXISTS (SELECT 1 FROM json_each(audit_events.details, '$.child_ids') AS listed "
            "WHERE listed.value = :listed_child_id)"
        ).bindparams(listed_child_id=record.subject_id)
    conditions = [
        sa.and_(AuditEvent.subject_type == record.subject_type, AuditEvent.subject_id == record.subject_id),
        names_it,
    ]
    if record.subject_type == "children":
        conditions.append(sa.and_(AuditEvent.event == Events.CHILD_RECORDS_LISTED, lists_it))
    return sa.or_(*conditions)


def shown_details(entry: AuditEvent) -> list[tuple[str, str]]:
    """An event's details as (label, value) lines for people to read, with anything secret-looking hidden."""
    return shown_details_of(entry.details)


def shown_details_of(details: dict | None) -> list[tuple[str, str]]:
    """``shown_details`` of a details dict (the CSV reads columns, not events)."""
    lines = []
    for key, value in sorted((details or {}).items()):
        label = str(key).replace("_", " ").capitalize()
        hidden = any(part in str(key).lower() for part in SECRET_KEY_PARTS)
        lines.append((label, "[hidden]" if hidden else str(value)))
    return lines
