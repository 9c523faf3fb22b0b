"""Holding providers to account: suspending a provider (from one lot or all), lifting a suspension, removing a
provider from a lot; and what the manager's provider pages read.

A suspension stops new invitations between its dates; a removal ends the admission from that day. Neither touches
placements already made. Each change is audited and emailed to the provider's users in the same transaction.
Plain arguments in, domain errors out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, lazyload

from portal.extensions import db
from portal.formatting import long_date
from portal.models import Admission, Application, ApplicationStatus, Lot, Provider, Role, Suspension, User
from portal.models.base import utcnow
from portal.pagination import Page, paginate
from portal.services import audit, eligibility
from portal.services.audit import Events
from portal.services.errors import DomainError, NotFound
from portal.services.mail import notify, provider_users

PER_PAGE = 25
REASON_MAX = 2000


class NotAllowed(DomainError):
    """Only the commissioning manager suspends and removes providers (a route answers 403)."""


class SuspensionState(enum.StrEnum):
    SCHEDULED = "scheduled"
    IN_FORCE = "in force"
    ENDED = "ended"
    LIFTED = "lifted"


# What may be done to a suspension in each state. Anything not listed is refused.
ACTIONS: dict[str, frozenset[SuspensionState]] = {
    "lift": frozenset({SuspensionState.SCHEDULED, SuspensionState.IN_FORCE}),
}


def state_of(suspension: Suspension, today: date) -> SuspensionState:
    if suspension.lifted_at is not None:
        return SuspensionState.LIFTED
    if suspension.ends_on is not None and suspension.ends_on < today:
        return SuspensionState.ENDED
    if suspension.starts_on > today:
        return SuspensionState.SCHEDULED
    return SuspensionState.IN_FORCE


def _require_manager(by: User) -> None:
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only the commissioning manager can suspend or remove providers")


def _reason(text: str | None, field: str, missing: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise DomainError(missing, field=field)
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX} characters or fewer", field=field)
    return reason


# ---- Reading -------------------------------------------------------------------------------------------------------


def get_provider(provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("No provider has that number")
    return provider


@dataclass(frozen=True)
class ProviderRow:
    provider: Provider
    admissions: list  # eligibility.AdmissionStanding, in force today, in lot order

    @property
    def suspended_from(self) -> list[Lot]:
        return [standing.admission.lot for standing in self.admissions if standing.suspended]


def providers_page(*, today: date, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Providers by name, each with the lots it is admitted to today and whether it is suspended from them.
    Three statements whatever the number of rows: a COUNT, the providers, and their admissions in force."""
    statement = sa.select(Provider).options(lazyload("*")).order_by(sa.func.lower(Provider.name), Provider.id)
    result = paginate(statement, page=page, per_page=per_page)
    admissions = eligibility.admissions_in_force([provider.id for provider in result.items], today)
    return replace(result, items=[ProviderRow(p, admissions.get(p.id, [])) for p in result.items])


@dataclass(frozen=True)
class SuspensionRow:
    suspension: Suspension
    state: SuspensionState

    @property
    def may_lift(self) -> bool:
        return self.state in ACTIONS["lift"]


@dataclass(frozen=True)
class ProviderOverview:
    provider: Provider
    admissions: list[Admission]  # every admission, removed ones too, newest first
    standings: list  # eligibility.LotStanding for each lot admitted to today
    suspensions: list[SuspensionRow]  # newest first
    applications: list[Application]  # submitted and decided, newest first
    admitted_lots: list[Lot]  # in force today: what a new suspension can name


def overview(provider: Provider, today: date) -> ProviderOverview:
    admissions = list(
        db.session.scalars(
            sa.select(Admission)
            .where(Admission.provider_id == provider.id)
            .order_by(Admission.admitted_on.desc(), Admission.id.desc())
        )
    )
    in_force = sorted(
        (a for a in admissions if a.admitted_on <= today and (a.removed_on is None or a.removed_on > today)),
        key=lambda a: (a.lot.arrangement_id, a.lot.number),
    )
    suspensions = db.session.scalars(
        sa.select(Suspension)
        .where(Suspension.provider_id == provider.id)
        .order_by(Suspension.starts_on.desc(), Suspension.id.desc())
    ).all()
    applications = db.session.scalars(
        sa.select(Application)
        .options(lazyload(Application.answers))
        .where(Application.provider_id == provider.id, Application.status != ApplicationStatus.DRAFT)
        .order_by(Application.submitted_at.desc(), Application.id.desc())
    ).all()
    return ProviderOverview(
        provider=provider,
        admissions=admissions,
        standings=[eligibility.standing(provider, a.lot, today) for a in in_force],
        suspensions=[SuspensionRow(s, state_of(s, today)) for s in suspensions],
        applications=list(applications),
        admitted_lots=[a.lot for a in in_force],
    )


def get_suspension(provider: Provider, suspension_id: int) -> Suspension:
    """A suspension of this provider (never another's)."""
    suspension = db.session.scalar(
        sa.select(Suspension).where(Suspension.id == suspension_id, Suspension.provider_id == provider.id)
    )
    if suspension is None:
        raise NotFound("This provider has no suspension with that number")
    return suspension


def get_admission(provider: Provider, admission_id: int) -> Admission:
    """An admission of this provider (never another's)."""
    admission = db.session.scalar(
        sa.select(Admission).where(Admission.id == admission_id, Admission.provider_id == provider.id)
    )
    if admission is None:
        raise NotFound("This provider has no admission with that number")
    return admission


def _admitted_lots(provider_id: int, today: date) -> list[Lot]:
    return list(
        db.session.scalars(
            sa.select(Lot)
            .join(Admission, Admission.lot_id == Lot.id)
            .where(Admission.provider_id == provider_id, eligibility.admission_in_force(today))
            .order_by(Lot.arrangement_id, Lot.number)
        ).unique()
    )


# ---- Changing ------------------------------------------------------------------------------------------------------


def _tell(provider: Provider, subject: str, body: str) -> None:
    for user in provider_users([provider.id]):
        notify(user, subject, f"Dear {user.name},\n\n{body}")


def _change_once(row: Suspension | Admission, unset: InstrumentedAttribute, values: dict, taken: str) -> None:
    """Write ``values`` to the row only while its ``unset`` column is still empty, so two managers lifting (or
    removing) at once cannot both succeed and the trail records one change; the other is refused with ``taken``."""
    model = type(row)
    changed = db.session.execute(
        sa.update(model)
        .where(model.id == row.id, unset.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise DomainError(taken)
    db.session.refresh(row)


def _dates_text(starts_on: date, ends_on: date | None) -> str:
    if ends_on is None:
        return f"from {long_date(starts_on)} until further notice"
    return f"from {long_date(starts_on)} to {long_date(ends_on)}"


def suspend(
    provider_id: int,
    by: User,
    *,
    lot_id: int | None,
    reason: str,
    starts_on: date | None,
    ends_on: date | None,
    today: date,
    ip: str | None = None,
) -> Suspension:
    """Suspend the provider from one lot (``lot_id``) or from every lot (None) between the dates, both included; with
    no end date, until the suspension is lifted. No new invitations reach it meanwhile."""
    _require_manager(by)
    provider = get_provider(provider_id)
    admitted = {lot.id: lot for lot in _admitted_lots(provider.id, today)}
    if not admitted:
        raise DomainError(f"{provider.name} is not admitted to any lot, so there is nothing to suspend it from")
    if lot_id is not None and lot_id not in admitted:
        raise DomainError(
            f"{provider.name} is not admitted to that lot: choose one of its lots, or all lots", field="scope"
        )
    reason = _reason(reason, "reason", "Enter the reason for the suspension")
    if starts_on is None:
        raise DomainError("Enter the date the suspension starts", field="starts_on")
    if starts_on < today:
        raise DomainError("The suspension must start today or later", field="starts_on")
    if ends_on is not None and ends_on < starts_on:
        raise DomainError("The end date must be the same as or after the start date", field="ends_on")

    suspension = Suspension(
        provider_id=provider.id,
        lot_id=lot_id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        created_by_id=by.id,
    )
    db.session.add(suspension)
    db.session.flush()
    scope = admitted[lot_id].label if lot_id is not None else "all lots"
    audit.record(
        Events.PROVIDER_SUSPENDED,
        actor=by,
        ip=ip,
        subject=provider,
        reason=reason,
        suspension_id=suspension.id,
        lots=scope,
        starts_on=starts_on.isoformat(),
        ends_on=ends_on.isoformat() if ends_on else "until lifted",
    )
    _tell(
        provider,
        "Your organisation has been suspended from the dynamic purchasing system",
        f"{provider.name} is suspended from {scope} {_dates_text(starts_on, ends_on)}.\n\n"
        f"The reason:\n{reason}\n\n"
        "While the suspension lasts you will not be invited to new call-offs in "
        f"{'any lot' if lot_id is None else 'this lot'}. Placements already made are not affected.\n\n"
        "If you have a question, reply to the commissioning team.",
    )
    db.session.commit()
    return suspension


def lift(
    provider_id: int, suspension_id: int, by: User, *, reason: str, today: date, ip: str | None = None
) -> Suspension:
    """End a suspension now (a scheduled one never starts)."""
    _require_manager(by)
    provider = get_provider(provider_id)
    suspension = get_suspension(provider, suspension_id)
    state = state_of(suspension, today)
    if state not in ACTIONS["lift"]:
        if state is SuspensionState.ENDED:
            raise DomainError(f"This suspension ended on {long_date(suspension.ends_on)}: there is nothing to lift")
        raise DomainError("This suspension has been lifted already")
    reason = _reason(reason, "reason", "Enter the reason for lifting the suspension")
    _change_once(
        suspension,
        Suspension.lifted_at,
        {"lifted_at": utcnow(), "lifted_by_id": by.id, "lift_reason": reason},
        "Someone else lifted this suspension a moment ago",
    )
    scope = suspension.lot.label if suspension.lot is not None else "all lots"
    audit.record(
        Events.SUSPENSION_LIFTED,
        actor=by,
        ip=ip,
        subject=provider,
        reason=reason,
        suspension_id=suspension.id,
        lots=scope,
    )
    _tell(
        provider,
        "Your suspension from the dynamic purchasing system has been lifted",
        f"The suspension of {provider.name} from {scope} "
        f"({_dates_text(suspension.starts_on, suspension.ends_on)}) has been lifted.\n\n"
        f"The reason:\n{reason}\n\n"
        "You will be invited to new call-offs again, as long as your compliance documents are up to date.",
    )
    db.session.commit()
    return suspension


def remove_from_lot(
    provider_id: int, admission_id: int, by: User, *, reason: str, today: date, ip: str | None = None
) -> Admission:
    """End the provider's admission to a lot from today: no more invitations in it. To return it must apply again."""
    _require_manager(by)
    provider = get_provider(provider_id)
    admission = get_admission(provider, admission_id)
    if admission.removed_on is not None:
        raise DomainError(
            f"{provider.name} was removed from {admission.lot.label} on {long_date(admission.removed_on)}"
        )
    reason = _reason(reason, "reason", "Enter the reason for removing the provider from the lot")
    _change_once(
        admission,
        Admission.removed_on,
        {"removed_on": today, "removed_reason": reason, "removed_by_id": by.id},
        "Someone else removed the provider from this lot a moment ago",
    )
    audit.record(
        Events.PROVIDER_REMOVED_FROM_LOT,
        actor=by,
        ip=ip,
        subject=provider,
        reason=reason,
        admission_id=admission.id,
        lot=admission.lot.label,
        removed_on=today.isoformat(),
    )
    _tell(
        provider,
        "Your organisation has been removed from a lot of the dynamic purchasing system",
        f"{provider.name} is removed from {admission.lot.label} from {long_date(today)}.\n\n"
        f"The reason:\n{reason}\n\n"
        "You will not be invited to new call-offs in this lot. Placements already made are not affected. "
        "To join the lot again you would need to make a new application.\n\n"
        "If you have a question, reply to the commissioning team.",
    )
    db.session.commit()
    return admission


def suspension_lots(provider: Provider, today: date) -> list[Lot]:
    """The lots a new suspension can name: those the provider is admitted to today."""
    return _admitted_lots(provider.id, today)
