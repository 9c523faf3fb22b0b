"""Safeguarding concerns about a child in a placement, and the council services' Designated Safeguarding Leads.

Who sees a concern: the manager; the placement's officer; the person who raised it; and the responsible party's
DSL (the active user whose email is the DSL's, compared without case). Nobody else: not the provider's other users,
not the service's other officers. Who raises one: the provider's users and the service's officers, on an active or
an ended placement. Who closes one: the officer, the DSL or the manager.

A concern is sent at once to the placement's officer and to the DSL (their account if they have one, otherwise an
email to the DSL's address). When the responsible party has no DSL email recorded, the managers are told instead, so
a concern never reaches only the officer. Messages give the placement's reference and where to read the concern in
the portal: never the child's name or what the concern says.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Concern, ConcernStatus, CouncilService, Placement, Role, User
from portal.pagination import Page, paginate
from portal.services import audit, placements, safeguarding
from portal.services.accounts import normalise_email
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.mail import active_users, managers, notify, queue_email
from portal.services.placements import reference

SUMMARY_MAX = 200
TEXT_MAX = 5000
PER_PAGE = 25


def concern_path(placement_id: int, concern_id: int) -> str:
    return f"/placements/{placement_id}/concerns/{concern_id}"


# --- Who -------------------------------------------------------------------------------------------------------------


def dsl_email(placement: Placement) -> str:
    return (safeguarding.placement_contact(placement).dsl_email or "").strip().lower()


def is_dsl(placement: Placement, user: User) -> bool:
    """The user is the responsible party's Designated Safeguarding Lead."""
    email = dsl_email(placement)
    return bool(email) and user.active and user.email.lower() == email


def sees_all(placement: Placement, user: User) -> bool:
    """Sees every concern of the placement (and whether one is open): the manager, its officer and the DSL."""
    return user.role is Role.MANAGER or user.id == placement.officer_id or is_dsl(placement, user)


def may_see(concern: Concern, placement: Placement, user: User) -> bool:
    return concern.placement_id == placement.id and (sees_all(placement, user) or concern.raised_by_id == user.id)


def may_raise(placement: Placement, user: User) -> bool:
    return placements.may_record(placement, user) or placements.may_manage(placement, user)


def may_close(concern: Concern, placement: Placement, user: User) -> bool:
    return concern.placement_id == placement.id and sees_all(placement, user)


def placement_for_concerns(placement_id: int, user: User) -> Placement:
    """The placement, for its concerns: anyone who may see the placement, and its DSL (who may belong elsewhere).
    NotFound otherwise."""
    try:
        return placements.get_placement(placement_id, user)
    except NotFound:
        placement = db.session.get(Placement, placement_id)
        if placement is None or not is_dsl(placement, user):
            raise
        return placement


def _visible(placement: Placement, user: User) -> sa.Select:
    statement = (
        sa.select(Concern)
        .options(joinedload(Concern.raised_by).lazyload("*"))
        .where(Concern.placement_id == placement.id)
        .order_by(Concern.raised_at.desc(), Concern.id.desc())
    )
    if not sees_all(placement, user):
        statement = statement.where(Concern.raised_by_id == user.id)
    return statement


def visible_concerns(placement: Placement, user: User) -> list[Concern]:
    """The concerns this user may see, newest first (for most users of a placement, none)."""
    return list(db.session.scalars(_visible(placement, user)).unique())


def visible_page(placement: Placement, user: User, page: int = 1) -> Page:
    return paginate(_visible(placement, user), page=page, per_page=PER_PAGE)


def get_concern(placement: Placement, concern_id: int, user: User) -> Concern:
    found = db.session.scalar(
        sa.select(Concern)
        .options(joinedload(Concern.raised_by).lazyload("*"))
        .where(Concern.id == concern_id, Concern.placement_id == placement.id)
    )
    if found is None or not may_see(found, placement, user):
        raise NotFound("There is no such concern")
    return found


def open_counts(placement_ids: list[int]) -> dict[int, int]:
    """How many open concerns each placement has (for a caseload's flags): one query."""
    if not placement_ids:
        return {}
    rows = db.session.execute(
        sa.select(Concern.placement_id, sa.func.count())
        .where(Concern.placement_id.in_(placement_ids), Concern.status == ConcernStatus.OPEN)
        .group_by(Concern.placement_id)
    ).all()
    return {placement_id: count for placement_id, count in rows}


# --- Raising and closing ---------------------------------------------------------------------------------------------


def _text(value: str | None) -> str:
    return (value or "").strip()


def raise_concern(
    placement_id: int,
    by: User,
    *,
    summary: str | None,
    details: str | None,
    action_taken: str | None = "",
    now: datetime,
    ip: str | None = None,
) -> Concern:
    placement = placements.get_placement(placement_id, by)
    if not may_raise(placement, by):
        raise NotAllowed(
            f"Only {placement.provider.name} and officers in {placement.service.name} can raise a concern here"
        )
    summary_text, details_text, action_text = _text(summary), _text(details), _text(action_taken)
    errors: dict[str, str] = {}
    if not summary_text:
        errors["summary"] = "Enter a summary of the concern"
    elif len(summary_text) > SUMMARY_MAX:
        errors["summary"] = f"The summary must be {SUMMARY_MAX} characters or fewer"
    if not details_text:
        errors["details"] = "Enter what happened, or what you saw or were told"
    elif len(details_text) > TEXT_MAX:
        errors["details"] = f"The details must be {TEXT_MAX} characters or fewer"
    if len(action_text) > TEXT_MAX:
        errors["action_taken"] = f"The action taken must be {TEXT_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)

    concern = Concern(
        placement_id=placement.id,
        status=ConcernStatus.OPEN,
        raised_by_id=by.id,
        raised_at=now,
        summary=summary_text,
        details=details_text,
        action_taken=action_text,
    )
    db.session.add(concern)
    db.session.flush()
    audit.record(Events.CONCERN_RAISED, actor=by, ip=ip, subject=concern, placement_id=placement.id)
    _send(placement, concern, by)
    return concern


def _send(placement: Placement, concern: Concern, by: User) -> None:
    """At once: the officer and the DSL (or, with no DSL recorded, the managers). Never the child or the text."""
    ref = reference(placement)
    contact = safeguarding.placement_contact(placement)
    path = concern_path(placement.id, concern.id)
    subject = f"Safeguarding concern raised on placement {ref}"
    body = (
        f"A safeguarding concern was raised on placement {ref} ({placement.provider.name}) by {by.name}. Read it and "
        f"act on it now: sign in to the portal and go to {path}\n\n"
        "For the child's safety, this message does not say what the concern is."
    )
    told: set[int] = {by.id}
    officer = db.session.get(User, placement.officer_id)
    if officer is not None and officer.active and officer.id not in told:
        notify(officer, subject, body)
        told.add(officer.id)
    email = dsl_email(placement)
    if email:
        accounts = active_users(sa.func.lower(User.email) == email)
        if accounts:
            for user in accounts:
                if user.id not in told:
                    notify(user, subject, body)
                    told.add(user.id)
        else:
            officer_contact = f"{officer.name} ({officer.email})" if officer is not None else "the council's officer"
            queue_email(
                email,
                subject,
                f"A safeguarding concern was raised on placement {ref} with {placement.provider.name}, for which "
                f"{contact.organisation} holds safeguarding responsibility and you are named as its Designated "
                f"Safeguarding Lead.\n\nFor the child's safety, this message does not say what the concern is. "
                f"Contact {officer_contact} now for the details.",
            )
    else:
        for user in managers():
            if user.id not in told:
                notify(
                    user,
                    subject,
                    body + f"\n\n{contact.organisation} holds safeguarding responsibility but has no Designated "
                    "Safeguarding Lead email recorded, so you are told instead.",
                )
                told.add(user.id)


def close_concern(
    placement_id: int,
    concern_id: int,
    by: User,
    *,
    outcome: str | None,
    now: datetime,
    ip: str | None = None,
) -> Concern:
    placement = placement_for_concerns(placement_id, by)
    concern = get_concern(placement, concern_id, by)
    if not may_close(concern, placement, by):
        raise NotAllowed("Only the officer, the Designated Safeguarding Lead or the manager can close a concern")
    if concern.status is not ConcernStatus.OPEN:
        raise IllegalTransition("This concern is already closed")
    text = _text(outcome)
    if not text:
        raise DomainError("Enter the outcome: what was done and why the concern can be closed", field="outcome")
    if len(text) > TEXT_MAX:
        raise DomainError(f"The outcome must be {TEXT_MAX} characters or fewer", field="outcome")
    concern.status = ConcernStatus.CLOSED
    concern.outcome = text
    concern.closed_by_id = by.id
    concern.closed_at = now
    db.session.flush()
    audit.record(Events.CONCERN_CLOSED, actor=by, ip=ip, subject=concern, placement_id=placement.id)
    return concern


# --- The council services' DSLs --------------------------------------------------------------------------------------

DSL_NAME_MAX = 200
DSL_PHONE_MAX = 40


def services_statement() -> sa.Select:
    """The council services by name, as the manager's list shows them."""
    return sa.select(CouncilService).order_by(CouncilService.name)


def services_page(page: int = 1) -> Page:
    return paginate(services_statement(), page=page, per_page=PER_PAGE)


def get_service(service_id: int) -> CouncilService:
    found = db.session.get(CouncilService, service_id)
    if found is None:
        raise NotFound("There is no such service")
    return found


def dsl_fingerprint(service: CouncilService) -> str:
    text = "\n".join((service.dsl_name, service.dsl_role, service.dsl_email, service.dsl_phone))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def set_service_dsl(
    service_id: int,
    by: User,
    *,
    dsl_name: str | None,
    dsl_role: str | None,
    dsl_email: str | None,
    dsl_phone: str | None,
    seen: str,
    ip: str | None = None,
) -> CouncilService:
    """The service's Designated Safeguarding Lead (the manager sets it). ``seen`` is the fingerprint of what the form
    showed: a save over someone else's change is a Conflict."""
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the manager sets a service's safeguarding lead")
    service = get_service(service_id)
    if seen != dsl_fingerprint(service):
        raise Conflict(
            f"Someone else changed {service.name}'s safeguarding lead while you had it open. Nothing you sent was "
            "saved: the page now shows it as it is. Check it, then make your change again."
        )
    name, role, phone, email_text = _text(dsl_name), _text(dsl_role), _text(dsl_phone), _text(dsl_email)
    errors: dict[str, str] = {}
    if not name:
        errors["dsl_name"] = "Enter the Designated Safeguarding Lead's name"
    elif len(name) > DSL_NAME_MAX:
        errors["dsl_name"] = f"The name must be {DSL_NAME_MAX} characters or fewer"
    if len(role) > DSL_NAME_MAX:
        errors["dsl_role"] = f"The role must be {DSL_NAME_MAX} characters or fewer"
    email = ""
    if not email_text:
        errors["dsl_email"] = "Enter the Designated Safeguarding Lead's email address"
    elif len(email_text) > 254:
        errors["dsl_email"] = "The email address must be 254 characters or fewer"
    else:
        try:
            email = normalise_email(email_text)
        except DomainError as error:
            errors["dsl_email"] = error.message
    if not phone:
        errors["dsl_phone"] = "Enter the Designated Safeguarding Lead's phone number"
    elif len(phone) > DSL_PHONE_MAX:
        errors["dsl_phone"] = f"The phone number must be {DSL_PHONE_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)
    before = {"dsl_name": service.dsl_name, "dsl_email": service.dsl_email}
    service.dsl_name, service.dsl_role, service.dsl_email, service.dsl_phone = name, role, email, phone
    db.session.flush()
    audit.record(
        Events.SERVICE_DSL_CHANGED,
        actor=by,
        ip=ip,
        subject=service,
        service=service.name,
        old_name=before["dsl_name"],
        old_email=before["dsl_email"],
        new_name=name,
        new_email=email,
    )
    return service
