"""The audit trail. A service records an event in the same transaction as the change it describes; the caller
commits. Never pass a secret (password, code, token) in details."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from portal.clock import london_day_start
from portal.extensions import db
from portal.models import AuditEvent, User
from portal.pagination import Page, paginate


class Events:
    """Every kind of event, as stored and as shown on the audit page."""

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
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Audit events, newest first. ``actor`` matches, case-insensitively, part of the label recorded with the event
    or of the actor's current email; the dates are Europe/London calendar days, both included. A page past the end
    is the last page. Two statements: a count and the rows (the actor is joined in the same SELECT)."""
    conditions = []
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

    statement = sa.select(AuditEvent).where(*conditions).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    return paginate(statement, page=page, per_page=per_page)


def shown_details(entry: AuditEvent) -> list[tuple[str, str]]:
    """An event's details as (label, value) lines for people to read, with anything secret-looking hidden."""
    lines = []
    for key, value in sorted((entry.details or {}).items()):
        label = str(key).replace("_", " ").capitalize()
        hidden = any(part in str(key).lower() for part in SECRET_KEY_PARTS)
        lines.append((label, "[hidden]" if hidden else str(value)))
    return lines
