"""Service level agreements: the rules every part of the portal shares.

- The workflow (``TRANSITIONS``): draft → sent to provider → accepted by provider → approved (in force from its start,
  until the arrangement's legal end or a termination). Sent and accepted SLAs can go back to draft with comments
  (the provider returns a sent one, the manager an accepted one). Approving a variation supersedes the version before.
- The term: from admission to the arrangement's legal end date, read from the arrangement every time (so when the
  arrangement's end moves, every SLA's end moves with it, and none can run past it).
- In force (``in_force``): approved (or terminated with a termination day still to come), started, not past its end,
  and covering the lot. Eligibility and the rate caps read it.
- A checksum of the SLA as sent proves a version never changes afterwards.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload, selectinload

from portal.extensions import db
from portal.models import (
    PA2023_DPS_CUTOFF,
    Arrangement,
    KpiKind,
    Lot,
    Provider,
    RateType,
    Regime,
    Role,
    Sla,
    SlaComment,
    SlaKpi,
    SlaLot,
    SlaStatus,
    SlaTemplate,
    User,
)
from portal.services.errors import IllegalTransition, NotAllowed, NotFound

# The KPIs every new SLA starts with, and their targets (per cent). The manager may change a draft's targets.
DEFAULT_KPIS: dict[KpiKind, Decimal] = {
    KpiKind.ATTENDANCE_SAME_DAY: Decimal("95"),
    KpiKind.REPORTS_ON_TIME: Decimal("90"),
    KpiKind.ATTENDANCE_RATE: Decimal("90"),
    KpiKind.PROGRESS: Decimal("70"),
}
# An SLA ending within this many days is flagged to the manager.
EXPIRY_WARNING = timedelta(days=90)

IN_PROGRESS = frozenset({SlaStatus.DRAFT, SlaStatus.SENT, SlaStatus.ACCEPTED})
# Only these can be edited; anything later is varied (a new version).
EDITABLE = frozenset({SlaStatus.DRAFT})

# (from, to): who may make the change. Superseding is done by approving the next version, never by hand.
TRANSITIONS: dict[tuple[SlaStatus, SlaStatus], Role] = {
    (SlaStatus.DRAFT, SlaStatus.SENT): Role.MANAGER,
    (SlaStatus.SENT, SlaStatus.ACCEPTED): Role.PROVIDER,
    (SlaStatus.SENT, SlaStatus.DRAFT): Role.PROVIDER,
    (SlaStatus.ACCEPTED, SlaStatus.APPROVED): Role.MANAGER,
    (SlaStatus.ACCEPTED, SlaStatus.DRAFT): Role.MANAGER,
    (SlaStatus.APPROVED, SlaStatus.TERMINATED): Role.MANAGER,
}


def ensure_transition(sla: Sla, new: SlaStatus, by: User) -> None:
    """Refuse a change the table does not allow (IllegalTransition, 409) or that this user may not make (NotAllowed,
    403): a provider acts only on its own SLAs."""
    role = TRANSITIONS.get((sla.status, new))
    if role is None:
        raise IllegalTransition(f"An SLA that is {sla.status.value} cannot become {new.value}")
    if by.role is not role or (role is Role.PROVIDER and by.provider_id != sla.provider_id):
        who = "the provider's own users" if role is Role.PROVIDER else "a manager"
        raise NotAllowed(f"Only {who} can make an SLA {new.value}")


def visible_sla(sla_id: int, user: User) -> Sla:
    """The SLA with what its pages show loaded, if this user may see it: a manager any, a provider's users only their
    provider's, officers none (NotFound otherwise, so another provider's SLA is never confirmed to exist)."""
    statement = (
        sa.select(Sla)
        .where(Sla.id == sla_id)
        .options(
            joinedload(Sla.provider),
            joinedload(Sla.arrangement),
            joinedload(Sla.template).selectinload(SlaTemplate.sections),
            selectinload(Sla.comments).joinedload(SlaComment.by),
        )
    )
    if user.role is Role.PROVIDER and user.provider_id is not None:
        statement = statement.where(Sla.provider_id == user.provider_id)
    elif user.role is not Role.MANAGER:
        raise NotFound("There is no such SLA")
    found = db.session.scalars(statement).unique().first()
    if found is None:
        raise NotFound("There is no such SLA")
    return found


# --- The term ---------------------------------------------------------------------------------------------------------


def legal_end_sql(arrangement=Arrangement) -> sa.ColumnElement:
    """SQL for Arrangement.legal_end_date: its end date, or the PA 2023 cut-off for a PCR 2015 DPS ending later."""
    return sa.case(
        (
            sa.and_(arrangement.regime == Regime.PCR2015_DPS, arrangement.end_date > PA2023_DPS_CUTOFF),
            sa.literal(PA2023_DPS_CUTOFF, sa.Date),
        ),
        else_=arrangement.end_date,
    )


def ends_on(sla: Sla) -> date:
    """The last day of the SLA's term: the arrangement's legal end, or the termination day if earlier."""
    end = sla.arrangement.legal_end_date
    if sla.status is SlaStatus.TERMINATED and sla.terminated_on is not None:
        return min(end, sla.terminated_on)
    return end


def display_status(sla: Sla, today: date) -> str:
    """What people read: an approved SLA is "approved" before its start, "active" in its term, "expired" after."""
    if sla.status is SlaStatus.APPROVED:
        if today < sla.starts_on:
            return "approved"
        return "active" if today <= ends_on(sla) else "expired"
    if sla.status is SlaStatus.TERMINATED and sla.terminated_on is not None and today <= sla.terminated_on:
        return "active (terminating)"
    return sla.status.value


def expiring_soon(sla: Sla, today: date) -> bool:
    return sla.status is SlaStatus.APPROVED and today <= ends_on(sla) <= today + EXPIRY_WARNING


# --- In force: eligibility and the rate caps --------------------------------------------------------------------------


def _covers(lot_id, on_date: date, arrangement) -> sa.ColumnElement:
    """SQL: the SlaLot covers the lot on the date: the lot itself, until the SLA's arrangement's legal end, or the lot
    it was carried over from (a successor arrangement's lot, portal.services.arrangements), until the successor's
    legal end: a signed SLA keeps covering its lots once carried over, and is never edited."""
    carried = aliased(Lot)
    successor = aliased(Arrangement)
    carried_cover = (
        sa.select(carried.id)
        .join(successor, successor.id == carried.arrangement_id)
        .where(carried.id == lot_id, carried.carried_from_id == SlaLot.lot_id, legal_end_sql(successor) >= on_date)
        .exists()
    )
    return sa.or_(sa.and_(SlaLot.lot_id == lot_id, legal_end_sql(arrangement) >= on_date), carried_cover)


def in_force(provider_id, lot_id, on_date: date) -> sa.ColumnElement:
    """SQL: the provider has an SLA in force on the date covering the lot (``provider_id`` and ``lot_id`` may be
    columns, for correlated use in eligibility's queries)."""
    arrangement = aliased(Arrangement)
    return (
        sa.select(sa.literal(1))
        .select_from(Sla)
        .join(SlaLot, SlaLot.sla_id == Sla.id)
        .join(arrangement, arrangement.id == Sla.arrangement_id)
        .where(
            Sla.provider_id == provider_id,
            _covers(lot_id, on_date, arrangement),
            Sla.starts_on <= on_date,
            sa.or_(
                Sla.status == SlaStatus.APPROVED,
                sa.and_(Sla.status == SlaStatus.TERMINATED, Sla.terminated_on >= on_date),
            ),
        )
        .exists()
    )


def sla_lot_in_force(provider_id: int, lot_id: int, on_date: date) -> SlaLot | None:
    """The lot's terms (its rate caps) in the provider's SLA in force on the date, if there is one."""
    arrangement = aliased(Arrangement)
    return db.session.scalar(
        sa.select(SlaLot)
        .join(Sla, Sla.id == SlaLot.sla_id)
        .join(arrangement, arrangement.id == Sla.arrangement_id)
        .where(
            Sla.provider_id == provider_id,
            _covers(lot_id, on_date, arrangement),
            Sla.starts_on <= on_date,
            sa.or_(
                Sla.status == SlaStatus.APPROVED,
                sa.and_(Sla.status == SlaStatus.TERMINATED, Sla.terminated_on >= on_date),
            ),
        )
    )


def rate_cap(terms: SlaLot, rate_type: RateType) -> Decimal | None:
    return {
        RateType.DAY: terms.max_day_rate,
        RateType.SESSION: terms.max_session_rate,
        RateType.HOUR: terms.max_hour_rate,
    }[rate_type]


# --- Made on admission --------------------------------------------------------------------------------------------------


def current_template() -> SlaTemplate | None:
    """The latest version of the terms."""
    return db.session.scalar(sa.select(SlaTemplate).order_by(SlaTemplate.number.desc()).limit(1))


def in_progress(provider_id: int) -> Sla | None:
    return db.session.scalar(
        sa.select(Sla).where(Sla.provider_id == provider_id, Sla.status.in_(sorted(IN_PROGRESS))).limit(1)
    )


def approved(provider_id: int) -> Sla | None:
    return db.session.scalar(sa.select(Sla).where(Sla.provider_id == provider_id, Sla.status == SlaStatus.APPROVED))


def _next_number(provider_id: int) -> int:
    return (db.session.scalar(sa.select(sa.func.max(Sla.number)).where(Sla.provider_id == provider_id)) or 0) + 1


def new_version(provider: Provider, lot_ids: set[int], *, by: User | None, starts_on: date) -> Sla:
    """A draft: a copy of the approved version (its lots, rates and KPIs) with the lots added, or a first SLA."""
    template = current_template()
    if template is None:
        raise IllegalTransition("There are no SLA terms yet: the manager must write the first version of the terms")
    base = approved(provider.id)
    lots = {lot.id: lot for lot in db.session.scalars(sa.select(Lot).where(Lot.id.in_(sorted(lot_ids))))}
    arrangement_id = base.arrangement_id if base else next(iter(lots.values())).arrangement_id
    sla = Sla(
        provider_id=provider.id,
        number=_next_number(provider.id),
        previous_id=base.id if base else None,
        template_id=template.id,
        arrangement_id=arrangement_id,
        status=SlaStatus.DRAFT,
        starts_on=base.starts_on if base else starts_on,
        created_by_id=by.id if by else None,
    )
    if base is not None:
        sla.lots = [
            SlaLot(
                lot_id=old.lot_id,
                max_day_rate=old.max_day_rate,
                max_session_rate=old.max_session_rate,
                max_hour_rate=old.max_hour_rate,
            )
            for old in base.lots
        ]
        sla.kpis = [SlaKpi(kind=old.kind, target=old.target) for old in base.kpis]
    else:
        sla.kpis = [SlaKpi(kind=kind, target=target) for kind, target in DEFAULT_KPIS.items()]
    have = {lot.lot_id for lot in sla.lots}
    sla.lots += [SlaLot(lot_id=lot_id) for lot_id in sorted(lot_ids - have)]
    db.session.add(sla)
    return sla


def on_admission(provider: Provider, lot_ids: set[int], *, by: User | None, today: date) -> Sla | None:
    """A provider was admitted to these lots: they go into the SLA being worked on (back to draft if it had been sent
    or accepted, since what the provider agreed to has changed), or into a new version (a variation of the approved
    one, or the first SLA). Nothing changes when an SLA in force or in progress already covers them all."""
    working = in_progress(provider.id)
    if working is not None:
        missing = lot_ids - working.lot_ids
        if missing:
            working.lots += [SlaLot(lot_id=lot_id) for lot_id in sorted(missing)]
            if working.status is not SlaStatus.DRAFT:
                working.status = SlaStatus.DRAFT
                working.checksum = ""
        return working
    base = approved(provider.id)
    if base is not None and lot_ids <= base.lot_ids:
        return None
    return new_version(provider, lot_ids, by=by, starts_on=today)


# --- What was agreed, as a checksum --------------------------------------------------------------------------------------


def canonical(sla: Sla) -> str:
    """The SLA's content as one stable text: the terms, the lots and rates, the KPIs, the provider and the start."""

    def money(value: Decimal | None) -> str | None:
        return None if value is None else f"{value:.2f}"

    content = {
        "provider": sla.provider.name,
        "number": sla.number,
        "starts_on": sla.starts_on.isoformat(),
        "arrangement": sla.arrangement.name,
        "terms": {
            "number": sla.template.number,
            "title": sla.template.title,
            "sections": [[s.position, s.heading, s.body] for s in sla.template.sections],
        },
        "lots": [
            [lot.lot.label, money(lot.max_day_rate), money(lot.max_session_rate), money(lot.max_hour_rate)]
            for lot in sla.lots
        ],
        "kpis": [[kpi.kind.value, f"{kpi.target:.2f}"] for kpi in sla.kpis],
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def checksum(sla: Sla) -> str:
    return hashlib.sha256(canonical(sla).encode()).hexdigest()


@dataclass(frozen=True)
class Integrity:
    stored: str
    now: str

    @property
    def intact(self) -> bool:
        return bool(self.stored) and self.stored == self.now


def integrity(sla: Sla) -> Integrity:
    """The checksum taken when it was sent, against the SLA as it reads now."""
    return Integrity(stored=sla.checksum, now=checksum(sla))
