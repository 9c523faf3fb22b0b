"""The arrangement's regime and term, the warnings before its legal end, and moving to a successor arrangement.

Which arrangement is current: one that has started and has no successor that has started (a successor is set up ahead
of its start day; until then new call-offs stay in the predecessor). New call-offs are offered only the lots of current
arrangements (``current_lots``, which ``referrals.all_lots`` returns).

Carrying over to a successor (``set_up_successor``):
- the lots: a new Lot in the successor for each lot of the predecessor, with the same number, title and description,
  ``carried_from_id`` naming the old lot; the old lot's live application questions and required documents are copied;
- the admitted providers: a new Admission in the new lot for each admission in force on the day of set-up, with
  ``carried_from_id`` naming the old admission, admitted from the successor's start, and ``reconfirmed_on`` empty. The
  provider must re-confirm (``reconfirm``) before it is eligible in the new lot (``eligibility._admitted``). Its
  approved SLA covering the old lot covers the carried lot too (``slas.in_force``), up to the successor's legal end:
  a signed SLA is never edited;
- the active placements stay exactly as they are, attached to the old lots: the history (referrals, offers,
  placements, attendance, reviews) stays with the old arrangement. They are listed as carried over on the arrangement
  page (``carried_over_placements``: the active placements in the predecessor's lots).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload

from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    Admission,
    Arrangement,
    Lot,
    LotDocumentRequirement,
    LotQuestion,
    Placement,
    PlacementStatus,
    Provider,
    Regime,
    Suspension,
    User,
)
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, NotFound

NAME_MAX = 200
SUCCESSOR_REGIMES = (Regime.PA2023_DYNAMIC_MARKET, Regime.PA2023_OPEN_FRAMEWORK)
# Months before the legal end at which the portal warns, most urgent first.
WARNING_MONTHS = (1, 6, 12)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier, when negative), clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- Which arrangement is current ------------------------------------------------------------------------------


def superseded(on_date: date, arrangement=Arrangement) -> sa.ColumnElement:
    """SQL: the arrangement has a successor that has started by the date."""
    successor = aliased(Arrangement)
    return (
        sa.select(successor.id)
        .where(successor.predecessor_id == arrangement.id, successor.start_date <= on_date)
        .exists()
    )


def current_arrangement(on_date: date) -> Arrangement | None:
    """The arrangement new call-offs go to: the latest started one with no started successor (or, when none has
    started yet, the first to start)."""
    started = db.session.scalar(
        sa.select(Arrangement)
        .where(Arrangement.start_date <= on_date, ~superseded(on_date))
        .order_by(Arrangement.start_date.desc(), Arrangement.id.desc())
        .limit(1)
    )
    if started is not None:
        return started
    return db.session.scalar(sa.select(Arrangement).order_by(Arrangement.start_date, Arrangement.id).limit(1))


def current_lots(on_date: date) -> list[Lot]:
    """The lots new call-offs may use on the date: those of every arrangement not superseded by a started successor,
    leaving out a successor that has not started yet (one SELECT, the arrangement joined)."""
    return list(
        db.session.scalars(
            sa.select(Lot)
            .join(Lot.arrangement)
            .where(
                ~superseded(on_date),
                sa.or_(Arrangement.predecessor_id.is_(None), Arrangement.start_date <= on_date),
            )
            .options(joinedload(Lot.arrangement))
            .order_by(Lot.number, Arrangement.start_date)
        )
    )


def successor_of(arrangement: Arrangement) -> Arrangement | None:
    return db.session.scalar(sa.select(Arrangement).where(Arrangement.predecessor_id == arrangement.id).limit(1))


# --- The legal end and its warnings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndWarning:
    months: int  # 12, 6 or 1: the threshold reached
    legal_end: date
    days_left: int
    arrangement_name: str

    @property
    def ahead(self) -> str:
        return "1 month" if self.months == 1 else f"{self.months} months"


def end_warning(arrangement: Arrangement | None, on_date: date) -> EndWarning | None:
    """The most urgent warning reached on the date (12 months, 6 months, 1 month before the legal end, and after it),
    or None: none before 12 months, and none once a successor is set up."""
    if arrangement is None or successor_of(arrangement) is not None:
        return None
    legal_end = arrangement.legal_end_date
    for months in WARNING_MONTHS:
        if on_date >= add_months(legal_end, -months):
            return EndWarning(
                months=months,
                legal_end=legal_end,
                days_left=(legal_end - on_date).days,
                arrangement_name=arrangement.name,
            )
    return None


def current_end_warning(now: datetime) -> EndWarning | None:
    """The warning for the current arrangement (for the banner on the manager's pages)."""
    today = london_today(now)
    return end_warning(current_arrangement(today), today)


@dataclass(frozen=True)
class ArrangementView:
    arrangement: Arrangement | None
    days_left: int | None
    warning: EndWarning | None
    predecessor: Arrangement | None
    successor: Arrangement | None
    carried_placements: int
    awaiting_reconfirmation: int


def overview(on_date: date) -> ArrangementView:
    """What the arrangement page shows."""
    arrangement = current_arrangement(on_date)
    if arrangement is None:
        return ArrangementView(None, None, None, None, None, 0, 0)
    predecessor = db.session.get(Arrangement, arrangement.predecessor_id) if arrangement.predecessor_id else None
    successor = successor_of(arrangement)
    carried_in = successor or arrangement  # the successor being moved to, or the one moved to already
    return ArrangementView(
        arrangement=arrangement,
        days_left=(arrangement.legal_end_date - on_date).days,
        warning=end_warning(arrangement, on_date),
        predecessor=predecessor,
        successor=successor,
        carried_placements=len(carried_over_placements(carried_in)),
        awaiting_reconfirmation=db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Admission)
            .join(Lot, Lot.id == Admission.lot_id)
            .where(
                Lot.arrangement_id == carried_in.id,
                Admission.carried_from_id.is_not(None),
                Admission.reconfirmed_on.is_(None),
                Admission.removed_on.is_(None),
            )
        )
        or 0,
    )


def carried_over_placements(arrangement: Arrangement) -> list[Placement]:
    """The active placements carried over into the arrangement: those in its predecessor's lots, left attached to
    them (by start date)."""
    if arrangement.predecessor_id is None:
        return []
    return list(
        db.session.scalars(
            sa.select(Placement)
            .join(Lot, Lot.id == Placement.lot_id)
            .where(Lot.arrangement_id == arrangement.predecessor_id, Placement.status == PlacementStatus.ACTIVE)
            .order_by(Placement.start_date, Placement.id)
        )
    )


# --- Setting up a successor ------------------------------------------------------------------------------------


@dataclass
class SuccessorDetails:
    name: str
    regime: Regime | str | None
    start_date: date | None
    end_date: date | None


def check_successor(details: SuccessorDetails, today: date) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = (details.name or "").strip()
    if not name:
        errors["name"] = "Enter the name of the successor arrangement"
    elif len(name) > NAME_MAX:
        errors["name"] = f"The name must be {NAME_MAX} characters or fewer"
    elif db.session.scalar(sa.select(Arrangement.id).where(Arrangement.name == name)) is not None:
        errors["name"] = "An arrangement already has this name"
    if details.regime not in {r.value for r in SUCCESSOR_REGIMES}:
        errors["regime"] = "Select a Procurement Act 2023 dynamic market or open framework"
    if details.start_date is None:
        errors["start_date"] = "Enter the start date"
    elif details.start_date <= today:
        errors["start_date"] = "The start date must be after today"
    if details.end_date is None:
        errors["end_date"] = "Enter the end date"
    elif details.start_date is not None and details.end_date <= details.start_date:
        errors["end_date"] = "The end date must be after the start date"
    return errors


def set_up_successor(
    predecessor_id: int, details: SuccessorDetails, by: User, *, now: datetime, ip: str | None = None
) -> Arrangement:
    """Create the successor of the arrangement and carry over its lots and admitted providers (see the module's
    docstring). Raises FieldErrors, NotFound, or Conflict when the arrangement already has a successor."""
    today = london_today(now)
    predecessor = db.session.get(Arrangement, predecessor_id, with_for_update=True)
    if predecessor is None:
        raise NotFound("No such arrangement")
    if successor_of(predecessor) is not None:
        raise Conflict(
            f"{predecessor.name} already has a successor arrangement: someone set it up while you had this page "
            "open. Nothing you sent was saved."
        )
    errors = check_successor(details, today)
    if errors:
        raise FieldErrors(errors)
    successor = Arrangement(
        name=details.name.strip(),
        regime=Regime(details.regime),
        start_date=details.start_date,
        end_date=details.end_date,
        predecessor_id=predecessor.id,
    )
    db.session.add(successor)
    db.session.flush()

    old_lots = list(db.session.scalars(sa.select(Lot).where(Lot.arrangement_id == predecessor.id)))
    new_lot_by_old: dict[int, Lot] = {}
    for old in old_lots:
        new = Lot(
            arrangement_id=successor.id,
            number=old.number,
            title=old.title,
            description=old.description,
            carried_from_id=old.id,
        )
        db.session.add(new)
        new_lot_by_old[old.id] = new
    db.session.flush()

    old_ids = list(new_lot_by_old)
    for question in db.session.scalars(
        sa.select(LotQuestion).where(LotQuestion.lot_id.in_(old_ids), LotQuestion.retired_at.is_(None))
    ):
        db.session.add(
            LotQuestion(
                lot_id=new_lot_by_old[question.lot_id].id,
                position=question.position,
                text=question.text,
                guidance=question.guidance,
            )
        )
    for requirement in db.session.scalars(
        sa.select(LotDocumentRequirement).where(LotDocumentRequirement.lot_id.in_(old_ids))
    ):
        db.session.add(
            LotDocumentRequirement(
                lot_id=new_lot_by_old[requirement.lot_id].id, document_type_id=requirement.document_type_id
            )
        )

    admissions = list(
        db.session.scalars(
            sa.select(Admission).where(
                Admission.lot_id.in_(old_ids),
                sa.or_(Admission.removed_on.is_(None), Admission.removed_on > today),
            )
        )
    )
    for old in admissions:
        db.session.add(
            Admission(
                provider_id=old.provider_id,
                lot_id=new_lot_by_old[old.lot_id].id,
                application_id=old.application_id,
                admitted_on=successor.start_date,
                carried_from_id=old.id,
                reconfirmed_on=None,
            )
        )
    # A suspension from one old lot, not lifted and not over, holds in the lot carried from it too.
    for old in db.session.scalars(
        sa.select(Suspension).where(
            Suspension.lot_id.in_(old_ids),
            Suspension.lifted_at.is_(None),
            sa.or_(Suspension.ends_on.is_(None), Suspension.ends_on >= today),
        )
    ):
        db.session.add(
            Suspension(
                provider_id=old.provider_id,
                lot_id=new_lot_by_old[old.lot_id].id,
                starts_on=old.starts_on,
                ends_on=old.ends_on,
                reason=old.reason,
                created_by_id=by.id,
            )
        )
    db.session.flush()
    audit.record(
        Events.SUCCESSOR_ARRANGEMENT_SET_UP,
        actor=by,
        ip=ip,
        subject=successor,
        predecessor_id=predecessor.id,
        regime=successor.regime.value,
        start_date=successor.start_date.isoformat(),
        end_date=successor.end_date.isoformat(),
        lots=len(old_lots),
        admissions=len(admissions),
    )
    return successor


# --- Providers re-confirming -----------------------------------------------------------------------------------


def awaiting_reconfirmation(provider_id: int) -> list[Admission]:
    """The provider's carried-over admissions it has not yet re-confirmed (lot and arrangement loaded)."""
    return list(
        db.session.scalars(
            sa.select(Admission)
            .join(Lot, Lot.id == Admission.lot_id)
            .where(
                Admission.provider_id == provider_id,
                Admission.carried_from_id.is_not(None),
                Admission.reconfirmed_on.is_(None),
                Admission.removed_on.is_(None),
            )
            .options(joinedload(Admission.lot).joinedload(Lot.arrangement))
            .order_by(Lot.arrangement_id, Lot.number)
        ).unique()
    )


def reconfirm(provider_id: int, by: User, *, now: datetime, ip: str | None = None) -> int:
    """The provider re-confirms its place in each carried-over lot: from today it counts for eligibility there.
    Returns how many admissions were re-confirmed (0 when none was waiting: nothing changes)."""
    if by.provider_id != provider_id:
        raise NotFound("No such provider")
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("No such provider")
    today = london_today(now)
    waiting = awaiting_reconfirmation(provider_id)
    for admission in waiting:
        admission.reconfirmed_on = today
    if waiting:
        audit.record(
            Events.ADMISSIONS_RECONFIRMED,
            actor=by,
            ip=ip,
            subject=provider,
            admission_ids=[admission.id for admission in waiting],
        )
    return len(waiting)
