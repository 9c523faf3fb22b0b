"""The SLA workflow: the manager edits a draft (rates per lot, KPI targets) and sends it; the provider's own users
accept it (a signatory's name and role; the time, user and IP are kept) or return it with comments; the manager
approves it (the approved version before it is superseded) or returns it; an approved SLA is varied (a new draft
version: the old one stays exactly as it was) or terminated (a date and a reason). The approval queue.

Every change takes the acting user, the ``version`` of the SLA the page showed (a stale one is a Conflict), ``now``
and the IP address; each checks the transition table (portal.services.slas.ensure_transition), writes an audit
event and tells the other side through the outbox. Nothing here commits: the route does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, lazyload, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.formatting import long_date
from portal.models import Arrangement, KpiKind, Provider, Role, Sla, SlaComment, SlaStatus, User
from portal.pagination import Page, paginate
from portal.services import audit, mail, offers, slas
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.referrals import link

COMMENT_MAX = 2000
SIGNATORY_MAX = 200
REASON_MAX = 2000
PER_PAGE = 25
RATE_KINDS = {"day": "day", "session": "session", "hour": "hourly"}


# ---- Field names (the forms use the same ones, so FieldErrors land next to their fields) --------------------------


def rate_field(lot_id: int, kind: str) -> str:
    return f"lot_{lot_id}_{kind}"


def kpi_field(kind: KpiKind) -> str:
    return f"kpi_{kind.name.lower()}"


# ---- Reading ---------------------------------------------------------------------------------------------------------


def get_sla(sla_id: int) -> Sla:
    found = db.session.get(Sla, sla_id)
    if found is None:
        raise NotFound("There is no such SLA")
    return found


def check_version(sla: Sla, version: int | None) -> None:
    if version is None or version != sla.version:
        raise Conflict(
            f"Someone else changed this SLA while you had it open: it is now {sla.status.value}. Nothing you sent was "
            "saved: the page now shows the SLA as it is. Check it, then make your change again."
        )


def _ensure(sla: Sla, new: SlaStatus, by: User, version: int | None) -> None:
    """The transition table and who may make it, then the version. A change the SLA's status now refuses, sent from
    a stale page, is refused as stale: someone else changed it meanwhile, and the message says to what."""
    try:
        slas.ensure_transition(sla, new, by)
    except (IllegalTransition, NotAllowed) as refused:
        # Not allowed in the status it has now (a provider returning what it accepted meanwhile) is stale too; a
        # user who may not see the SLA at all is never told more.
        sees = by.role is Role.MANAGER or (by.role is Role.PROVIDER and by.provider_id == sla.provider_id)
        if isinstance(refused, IllegalTransition) or sees:
            check_version(sla, version)
        raise
    check_version(sla, version)


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            "Someone else changed this SLA at the same moment. Nothing you sent was saved: look at it again."
        ) from None


def _label(sla: Sla) -> str:
    return f"the SLA of {sla.provider.name} (version {sla.number})"


def _sla_link(sla: Sla) -> str:
    return link(f"/slas/{sla.id}")


# ---- Editing a draft -------------------------------------------------------------------------------------------------


def _not_editable(sla: Sla) -> IllegalTransition:
    if sla.status in {SlaStatus.SENT, SlaStatus.ACCEPTED}:
        return IllegalTransition(
            f"This SLA is {sla.status.value}: it cannot be edited. Return it to draft with comments first (an "
            "accepted SLA cannot be edited, only returned or approved and then varied)."
        )
    if sla.status is SlaStatus.APPROVED:
        return IllegalTransition("An approved SLA cannot be edited, only varied: vary it to make a new version.")
    return IllegalTransition(f"This SLA is {sla.status.value}: it cannot be edited.")


def parse_rate(text: str, what: str, field: str) -> Decimal | None:
    """A maximum rate as typed, read as an offer's money is (portal.services.offers.parse_money), or None if blank: a
    lot need not have every kind of rate."""
    if not (text or "").strip():
        return None
    return offers.parse_money(text, name=what, field=field)


def parse_target(text: str, what: str) -> Decimal:
    cleaned = (text or "").strip().removesuffix("%").strip()
    if not cleaned:
        raise ValueError(f"Enter the target for {what}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"The target for {what} must be a number from 0 to 100") from None
    if not value.is_finite() or value < 0 or value > 100:
        raise ValueError(f"The target for {what} must be a number from 0 to 100")
    if value.as_tuple().exponent < -2:
        raise ValueError(f"The target for {what} must have no more than 2 decimal places")
    return value.quantize(Decimal("0.01"))


def update_draft(
    sla_id: int,
    by: User,
    *,
    rates: dict[int, tuple[str, str, str]],
    kpi_targets: dict[KpiKind, str],
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> Sla:
    """Save a draft's maximum rates (per lot: day, session and hour, as typed; blank leaves it empty) and KPI targets
    (0 to 100). Only the manager, only a draft."""
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only a manager can edit an SLA")
    sla = get_sla(sla_id)
    if sla.status not in slas.EDITABLE:
        raise _not_editable(sla)
    check_version(sla, version)
    errors: dict[str, str] = {}
    new_rates: dict[int, tuple[Decimal | None, ...]] = {}
    for sla_lot in sla.lots:
        typed = rates.get(sla_lot.lot_id, ("", "", ""))
        values = []
        for (kind, word), text in zip(RATE_KINDS.items(), typed, strict=True):
            field = rate_field(sla_lot.lot_id, kind)
            try:
                values.append(parse_rate(text, f"maximum {word} rate for {sla_lot.lot.label}", field))
            except DomainError as error:
                errors[field] = error.message
                values.append(None)
        new_rates[sla_lot.lot_id] = tuple(values)
    new_targets: dict[KpiKind, Decimal] = {}
    for kpi in sla.kpis:
        try:
            new_targets[kpi.kind] = parse_target(kpi_targets.get(kpi.kind, ""), kpi.kind.value)
        except ValueError as error:
            errors[kpi_field(kpi.kind)] = str(error)
    if errors:
        raise FieldErrors(errors)
    changes = {}
    for sla_lot in sla.lots:
        day, session, hour = new_rates[sla_lot.lot_id]
        before = (sla_lot.max_day_rate, sla_lot.max_session_rate, sla_lot.max_hour_rate)
        if before != (day, session, hour):
            changes[sla_lot.lot.label] = " / ".join("" if v is None else f"{v:.2f}" for v in (day, session, hour))
        sla_lot.max_day_rate, sla_lot.max_session_rate, sla_lot.max_hour_rate = day, session, hour
    for kpi in sla.kpis:
        if kpi.target != new_targets[kpi.kind]:
            changes[kpi.kind.value] = f"{new_targets[kpi.kind]:.2f}"
        kpi.target = new_targets[kpi.kind]
    # The rates and targets are rows of their own: the SLA's version moves on too, so a page open elsewhere is stale.
    flag_modified(sla, "checksum")
    _flush()
    audit.record(Events.SLA_EDITED, actor=by, ip=ip, subject=sla, sla_number=sla.number, changes=changes)
    return sla


# ---- Sending -----------------------------------------------------------------------------------------------------


def missing_for_sending(sla: Sla) -> dict[str, str]:
    """What must be filled in before the SLA can be sent, keyed by the edit form's field names."""
    missing: dict[str, str] = {}
    for sla_lot in sla.lots:
        for kind, word in RATE_KINDS.items():
            if getattr(sla_lot, f"max_{kind}_rate") is None:
                missing[rate_field(sla_lot.lot_id, kind)] = f"Enter the maximum {word} rate for {sla_lot.lot.label}"
    have = {kpi.kind for kpi in sla.kpis}
    for kind in KpiKind:
        if kind not in have:
            missing[kpi_field(kind)] = f"Enter the target for {kind.value}"
    return missing


def send(sla_id: int, by: User, *, version: int | None, now: datetime, ip: str | None = None) -> Sla:
    """DRAFT → SENT: every lot's three rates and every KPI target are needed. The checksum of what is sent is kept;
    the provider's users are told."""
    sla = get_sla(sla_id)
    _ensure(sla, SlaStatus.SENT, by, version)
    if not sla.lots:
        raise DomainError("This SLA covers no lots: it cannot be sent")
    missing = missing_for_sending(sla)
    if missing:
        raise FieldErrors(missing)
    sla.status = SlaStatus.SENT
    sla.sent_at = now
    sla.sent_by_id = by.id
    sla.checksum = slas.checksum(sla)
    _flush()
    audit.record(Events.SLA_SENT, actor=by, ip=ip, subject=sla, sla_number=sla.number, checksum=sla.checksum)
    subject = f"Your service level agreement (version {sla.number}) is ready for you to accept"
    body = (
        f"The council has sent {sla.provider.name} its service level agreement, version {sla.number}, for the rest of "
        "the DPS term. Read it, then accept it by giving the name and role of the person signing, or return it with "
        f"comments.\n\n{_sla_link(sla)}"
    )
    for user in mail.provider_users([sla.provider_id]):
        mail.notify(user, subject, f"Dear {user.name},\n\n{body}")
    return sla


# ---- Accepting ------------------------------------------------------------------------------------------------------


def accept(
    sla_id: int,
    by: User,
    *,
    signatory_name: str,
    signatory_role: str,
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> Sla:
    """SENT → ACCEPTED by a user of the SLA's provider, signed by a named person in a role. The content must be what
    was sent (its checksum)."""
    sla = get_sla(sla_id)
    _ensure(sla, SlaStatus.ACCEPTED, by, version)
    name, role = (signatory_name or "").strip(), (signatory_role or "").strip()
    errors = {}
    if not name:
        errors["signatory_name"] = "Enter the name of the person accepting the SLA"
    elif len(name) > SIGNATORY_MAX:
        errors["signatory_name"] = f"The name must be {SIGNATORY_MAX} characters or fewer"
    if not role:
        errors["signatory_role"] = "Enter the role of the person accepting the SLA"
    elif len(role) > SIGNATORY_MAX:
        errors["signatory_role"] = f"The role must be {SIGNATORY_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)
    if not slas.integrity(sla).intact:
        raise Conflict(
            "This SLA is not the same as when it was sent, so it cannot be accepted. Nothing was saved: ask the "
            "council to send it again."
        )
    sla.status = SlaStatus.ACCEPTED
    sla.accepted_at = now
    sla.accepted_by_id = by.id
    sla.accepted_ip = (ip or "")[:45]
    sla.signatory_name, sla.signatory_role = name, role
    _flush()
    audit.record(
        Events.SLA_ACCEPTED,
        actor=by,
        ip=ip,
        subject=sla,
        sla_number=sla.number,
        signatory_name=name,
        signatory_role=role,
        checksum=sla.checksum,
    )
    subject = f"{sla.provider.name} accepted its SLA (version {sla.number}): it is waiting for your approval"
    body = (
        f"{name} ({role}) accepted {_label(sla)} for {sla.provider.name}. Approve it or return it with comments from "
        f"the approval queue.\n\n{link('/manager/slas')}\n{_sla_link(sla)}"
    )
    for user in mail.managers():
        mail.notify(user, subject, f"Dear {user.name},\n\n{body}")
    return sla


# ---- Returning with comments ------------------------------------------------------------------------------------------


def return_with_comments(
    sla_id: int, by: User, *, comment: str, version: int | None, now: datetime, ip: str | None = None
) -> Sla:
    """Back to draft with comments: a sent SLA by its provider's users, an accepted one by the manager. The checksum
    and any acceptance are cleared; the other side is told."""
    sla = get_sla(sla_id)
    _ensure(sla, SlaStatus.DRAFT, by, version)
    text = (comment or "").strip()
    if not text:
        raise DomainError("Enter your comments: say what should change", field="comment")
    if len(text) > COMMENT_MAX:
        raise DomainError(f"The comments must be {COMMENT_MAX} characters or fewer", field="comment")
    returned_from = sla.status
    sla.comments.append(SlaComment(by_id=by.id, at=now, returned_from=returned_from, comment=text))
    sla.status = SlaStatus.DRAFT
    sla.checksum = ""
    sla.accepted_at = None
    sla.accepted_by_id = None
    sla.accepted_ip = ""
    sla.signatory_name = sla.signatory_role = ""
    _flush()
    audit.record(
        Events.SLA_RETURNED,
        actor=by,
        ip=ip,
        subject=sla,
        reason=text,
        sla_number=sla.number,
        returned_from=returned_from.value,
    )
    if by.role is Role.PROVIDER:
        subject = f"{sla.provider.name} returned its SLA (version {sla.number}) with comments"
        body = f"{by.name} of {sla.provider.name} returned {_label(sla)} to draft. Their comments:\n\n{text}"
        recipients = mail.managers()
    else:
        subject = f"Your SLA (version {sla.number}) has been returned with comments"
        body = (
            f"The council returned your SLA (version {sla.number}) to draft. It will be sent to you again once it "
            f"has been changed. The council's comments:\n\n{text}"
        )
        recipients = mail.provider_users([sla.provider_id])
    for user in recipients:
        mail.notify(user, subject, f"Dear {user.name},\n\n{body}\n\n{_sla_link(sla)}")
    return sla


# ---- Approving ------------------------------------------------------------------------------------------------------


def approve(sla_id: int, by: User, *, version: int | None, now: datetime, ip: str | None = None) -> Sla:
    """ACCEPTED → APPROVED by the manager. The provider's approved version before it (if any) is superseded in the
    same transaction; the provider is told."""
    sla = get_sla(sla_id)
    _ensure(sla, SlaStatus.APPROVED, by, version)
    if not slas.integrity(sla).intact:
        raise Conflict("This SLA is not the same as what the provider accepted. Nothing was saved: return it to draft.")
    before = slas.approved(sla.provider_id)
    if before is not None and before.id != sla.id:
        # First, and flushed: one approved version per provider (a partial unique index).
        before.status = SlaStatus.SUPERSEDED
        before.superseded_at = now
        _flush()
    sla.status = SlaStatus.APPROVED
    sla.approved_at = now
    sla.approved_by_id = by.id
    _flush()
    audit.record(
        Events.SLA_APPROVED,
        actor=by,
        ip=ip,
        subject=sla,
        sla_number=sla.number,
        superseded_sla_id=before.id if before is not None else None,
    )
    subject = f"Your SLA (version {sla.number}) has been approved"
    body = (
        f"The council approved the service level agreement of {sla.provider.name}, version {sla.number}. It runs until "
        f"{long_date(slas.ends_on(sla))}."
    )
    if before is not None:
        body += f" It replaces version {before.number}."
    for user in mail.provider_users([sla.provider_id]):
        mail.notify(user, subject, f"Dear {user.name},\n\n{body}\n\n{_sla_link(sla)}")
    return sla


class VersionInProgress(IllegalTransition):
    """A variation refused because another version is being worked on (``sla_id``: that one, to link to)."""

    def __init__(self, working: Sla):
        super().__init__(
            f"Version {working.number} of this provider's SLA is already being worked on ({working.status.value}): "
            "change that one instead."
        )
        self.sla_id = working.id


# ---- Varying --------------------------------------------------------------------------------------------------------


def vary(sla_id: int, by: User, *, now: datetime, ip: str | None = None) -> Sla:
    """A new draft version of an approved SLA (its lots, rates and KPIs copied). The approved one stays as it is
    until the new version is approved. Refused while another version is being worked on."""
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only a manager can vary an SLA")
    sla = get_sla(sla_id)
    if sla.status is not SlaStatus.APPROVED:
        raise IllegalTransition(f"Only an approved SLA can be varied: this one is {sla.status.value}")
    working = slas.in_progress(sla.provider_id)
    if working is not None:
        raise VersionInProgress(working)
    draft = slas.new_version(sla.provider, sla.lot_ids, by=by, starts_on=sla.starts_on)
    _flush()
    audit.record(Events.SLA_VARIED, actor=by, ip=ip, subject=draft, sla_number=draft.number, varies_sla_id=sla.id)
    return draft


# ---- Terminating ----------------------------------------------------------------------------------------------------


def terminate(
    sla_id: int,
    by: User,
    *,
    terminated_on: date | None,
    reason: str,
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> Sla:
    """APPROVED → TERMINATED by the manager, from a day within the term, with a reason; the provider is told."""
    sla = get_sla(sla_id)
    _ensure(sla, SlaStatus.TERMINATED, by, version)
    text = (reason or "").strip()
    errors = {}
    end = slas.ends_on(sla)
    if terminated_on is None:
        errors["terminated_on"] = "Enter the last day of the SLA"
    elif terminated_on < sla.starts_on:
        errors["terminated_on"] = f"The last day must be on or after the SLA's start, {long_date(sla.starts_on)}"
    elif terminated_on > end:
        errors["terminated_on"] = f"The last day must be on or before the end of the term, {long_date(end)}"
    if not text:
        errors["reason"] = "Enter why the SLA is being terminated"
    elif len(text) > REASON_MAX:
        errors["reason"] = f"The reason must be {REASON_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)
    sla.status = SlaStatus.TERMINATED
    sla.terminated_on = terminated_on
    sla.terminated_at = now
    sla.terminated_by_id = by.id
    sla.termination_reason = text
    _flush()
    audit.record(
        Events.SLA_TERMINATED,
        actor=by,
        ip=ip,
        subject=sla,
        reason=text,
        sla_number=sla.number,
        terminated_on=terminated_on.isoformat(),
    )
    subject = f"Your SLA (version {sla.number}) is terminated from {long_date(terminated_on)}"
    body = (
        f"The council has terminated the service level agreement of {sla.provider.name}, version {sla.number}. Its last "
        f"day is {long_date(terminated_on)}. The reason:\n\n{text}"
    )
    for user in mail.provider_users([sla.provider_id]):
        mail.notify(user, subject, f"Dear {user.name},\n\n{body}\n\n{_sla_link(sla)}")
    return sla


# ---- The approval queue and the lists -----------------------------------------------------------------------------


class QueueTab(enum.StrEnum):
    AWAITING = "awaiting-approval"
    DRAFTS = "drafts"
    SENT = "sent"
    IN_FORCE = "in-force"
    EXPIRING = "expiring"
    ALL = "all"

    @property
    def label(self) -> str:
        return {
            "awaiting-approval": "Awaiting approval",
            "drafts": "Drafts",
            "sent": "Sent to providers",
            "in-force": "In force",
            "expiring": "Expiring within 90 days",
            "all": "All",
        }[self.value]


@dataclass(frozen=True)
class QueueRow:
    sla: Sla
    ends_on: date
    expiring: bool
    display_status: str


def _expiring_condition(today: date):
    end = slas.legal_end_sql(Arrangement)
    return sa.and_(Sla.status == SlaStatus.APPROVED, end >= today, end <= today + slas.EXPIRY_WARNING)


def _queue_statement(tab: QueueTab, today: date) -> sa.Select:
    statement = (
        sa.select(Sla)
        .join(Provider, Provider.id == Sla.provider_id)
        .join(Arrangement, Arrangement.id == Sla.arrangement_id)
        .options(
            contains_eager(Sla.provider),
            contains_eager(Sla.arrangement),
            # The lots (with each lot, joined): one more SELECT for the whole page. KPIs and comments are not shown.
            selectinload(Sla.lots),
            lazyload(Sla.kpis),
            lazyload(Sla.comments),
        )
    )
    by_provider = (Provider.name, Provider.id, Sla.number.desc())
    if tab is QueueTab.AWAITING:
        return statement.where(Sla.status == SlaStatus.ACCEPTED).order_by(Sla.accepted_at, Sla.id)
    if tab is QueueTab.DRAFTS:
        return statement.where(Sla.status == SlaStatus.DRAFT).order_by(Sla.created_at, Sla.id)
    if tab is QueueTab.SENT:
        return statement.where(Sla.status == SlaStatus.SENT).order_by(Sla.sent_at, Sla.id)
    if tab is QueueTab.IN_FORCE:
        return statement.where(Sla.status == SlaStatus.APPROVED).order_by(*by_provider)
    if tab is QueueTab.EXPIRING:
        return statement.where(_expiring_condition(today)).order_by(slas.legal_end_sql(Arrangement), *by_provider)
    return statement.order_by(*by_provider)


def queue_statement(tab: QueueTab | str, today: date) -> sa.Select:
    """The SELECT of one tab of the manager's SLAs, in the list's order (the list pages it; the CSV reads it all)."""
    return _queue_statement(QueueTab(tab), today)


def row_for(sla: Sla, today: date) -> QueueRow:
    return QueueRow(
        sla=sla,
        ends_on=slas.ends_on(sla),
        expiring=slas.expiring_soon(sla, today),
        display_status=slas.display_status(sla, today),
    )


def queue(tab: QueueTab, page: int, today: date, *, per_page: int = PER_PAGE) -> Page:
    """One page of the manager's SLAs on a tab: the count, one SELECT (provider and arrangement joined) and one for
    the page's lots, whatever the number of rows."""
    result = paginate(_queue_statement(QueueTab(tab), today), page=page, per_page=per_page)
    return Page(
        items=[row_for(sla, today) for sla in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
    )


def expiring_count(today: date) -> int:
    """How many approved SLAs end within 90 days (EXPIRY_WARNING)."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Sla)
            .join(Arrangement, Arrangement.id == Sla.arrangement_id)
            .where(_expiring_condition(today))
        )
        or 0
    )


def provider_slas(provider_id: int, page: int, today: date, *, per_page: int = PER_PAGE) -> Page:
    """A provider's versions, newest first."""
    statement = (
        sa.select(Sla)
        .join(Provider, Provider.id == Sla.provider_id)
        .join(Arrangement, Arrangement.id == Sla.arrangement_id)
        .where(Sla.provider_id == provider_id)
        .options(
            contains_eager(Sla.provider),
            contains_eager(Sla.arrangement),
            selectinload(Sla.lots),
            lazyload(Sla.kpis),
            lazyload(Sla.comments),
        )
        .order_by(Sla.number.desc())
    )
    result = paginate(statement, page=page, per_page=per_page)
    return Page(
        items=[row_for(sla, today) for sla in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
    )


def waiting_for_acceptance(provider_id: int) -> Sla | None:
    return db.session.scalar(
        sa.select(Sla).where(Sla.provider_id == provider_id, Sla.status == SlaStatus.SENT).limit(1)
    )
