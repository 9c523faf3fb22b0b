"""Referrals: the stages a referral goes through, who may act on it, publishing it to every eligible provider in its
lot (and again, in a new round), withdrawing it, and the lists officers and the manager work from.

A referral's stored status is draft, open, awarded, withdrawn or off-DPS. "Evaluating" is derived: an open referral
is evaluating once its deadline has passed, or earlier once every invited provider has made an offer or declined.
It is derived in Python (``stage_of``) and in SQL (``stage_column``) from the same rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, undefer

from portal.clock import LONDON, london_today
from portal.extensions import db
from portal.formatting import london_datetime, long_date
from portal.models import (
    Child,
    Invitation,
    Lot,
    Offer,
    OfferStatus,
    Provider,
    Referral,
    ReferralStatus,
    Role,
    User,
)
from portal.pagination import Page, paginate
from portal.services import audit, children
from portal.services.audit import Events
from portal.services.eligibility import eligible_providers
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.mail import notify, provider_users

PER_PAGE = 25
DEFAULT_DEADLINE_DAYS = 10
# Offers close at 5pm London time on the deadline day.
DEADLINE_TIME = time(17, 0)
DEFAULT_QUALITY_WEIGHT = 70
REASON_MAX = 2000


class Stage(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    EVALUATING = "evaluating"
    AWARDED = "awarded"
    WITHDRAWN = "withdrawn"
    OFF_DPS = "off-DPS"

    @property
    def label(self) -> str:
        return {"off-DPS": "Commissioned off the DPS"}.get(self.value, self.value.capitalize())


# --- The stage, in SQL and in Python ------------------------------------------------------------------------------


def awaiting_answers():
    """SQL: the referral's current round has an invited provider that has neither a live offer nor declined."""
    live_offer = sa.exists().where(
        Offer.referral_id == Invitation.referral_id,
        Offer.round == Invitation.round,
        Offer.provider_id == Invitation.provider_id,
        Offer.status == OfferStatus.SUBMITTED,
    )
    return sa.exists().where(
        Invitation.referral_id == Referral.id,
        Invitation.round == Referral.round,
        Invitation.declined_at.is_(None),
        ~live_offer,
    )


def _evaluating(now: datetime):
    return sa.and_(Referral.status == ReferralStatus.OPEN, sa.or_(Referral.deadline <= now, ~awaiting_answers()))


def stage_column(now: datetime):
    """SQL: the referral's stage as a string column, for lists that show many referrals in one SELECT."""
    return sa.case((_evaluating(now), Stage.EVALUATING.value), else_=Referral.status).label("stage")


def stage_condition(stage: Stage, now: datetime):
    """SQL: referrals in this stage now."""
    if stage is Stage.EVALUATING:
        return _evaluating(now)
    if stage is Stage.OPEN:
        return sa.and_(Referral.status == ReferralStatus.OPEN, sa.not_(_evaluating(now)))
    return Referral.status == ReferralStatus(stage.value)


def stage_of(referral: Referral, now: datetime, *, awaiting: bool | None = None) -> Stage:
    """``awaiting``: whether awaiting_answers() holds, when the caller has worked it out from rows it read already
    (the live view); otherwise one SELECT asks the database."""
    if referral.status is not ReferralStatus.OPEN:
        return Stage(referral.status.value)
    if referral.deadline is not None and now >= referral.deadline:
        return Stage.EVALUATING
    waiting = awaiting
    if waiting is None:
        waiting = db.session.scalar(
            sa.select(awaiting_answers()).select_from(Referral).where(Referral.id == referral.id)
        )
    return Stage.OPEN if waiting else Stage.EVALUATING


def offers_open(referral: Referral, now: datetime) -> bool:
    """Whether providers may make, revise or withdraw offers: published, not ended, and before the deadline."""
    return referral.status is ReferralStatus.OPEN and referral.deadline is not None and now < referral.deadline


# --- What may be done in which stage ------------------------------------------------------------------------------


class Action(enum.StrEnum):
    EDIT = "edit"
    PUBLISH = "publish"
    WITHDRAW = "withdraw"
    REPUBLISH = "republish"
    SCORE = "score"
    AWARD = "award"
    REQUEST_OFF_DPS = "request off-DPS"
    DECIDE_OFF_DPS = "decide off-DPS"


ALLOWED_STAGES: dict[Action, frozenset[Stage]] = {
    Action.EDIT: frozenset({Stage.DRAFT}),
    Action.PUBLISH: frozenset({Stage.DRAFT}),
    Action.WITHDRAW: frozenset({Stage.DRAFT, Stage.OPEN, Stage.EVALUATING}),
    Action.REPUBLISH: frozenset({Stage.EVALUATING}),
    Action.SCORE: frozenset({Stage.EVALUATING}),
    Action.AWARD: frozenset({Stage.EVALUATING}),
    Action.REQUEST_OFF_DPS: frozenset({Stage.EVALUATING}),
    Action.DECIDE_OFF_DPS: frozenset({Stage.EVALUATING}),
}

_WHY_NOT: dict[Stage, str] = {
    Stage.DRAFT: "This referral has not been published yet.",
    Stage.OPEN: "Offers are still coming in: this opens at the deadline, or once every invited provider has made "
    "an offer or declined.",
    Stage.EVALUATING: "The deadline for offers has passed (or every provider has answered), so the referral can no "
    "longer be changed or published.",
    Stage.AWARDED: "This referral has been awarded already.",
    Stage.WITHDRAWN: "This referral has been withdrawn.",
    Stage.OFF_DPS: "This referral is being commissioned off the DPS.",
}


def ensure_stage(referral: Referral, action: Action, now: datetime) -> Stage:
    """Raise IllegalTransition, with a message saying why, unless the action is allowed in the referral's stage."""
    stage = stage_of(referral, now)
    if stage not in ALLOWED_STAGES[action]:
        raise IllegalTransition(f"You cannot {action.value} this referral now. {_WHY_NOT[stage]}")
    return stage


def may_act(referral: Referral, user: User) -> bool:
    """Officers act on the referrals of their own service; other officers and the manager only read them."""
    return user.role is Role.OFFICER and user.service_id == referral.service_id


def ensure_may_act(referral: Referral, user: User) -> None:
    if not may_act(referral, user):
        raise NotAllowed(f"Only officers in {referral.service.name} can change this referral")


def check_version(referral: Referral, version: int | None) -> None:
    if version is None or version != referral.version:
        raise Conflict(
            "Someone else changed this referral while you had it open. Nothing you sent was saved: the page now "
            "shows the referral as it is. Check it, then make your change again."
        )


def get_referral(referral_id: int, *, with_child: bool = False) -> Referral:
    """The referral with its lot, service, needs, aims and its placement's id in one SELECT; ``with_child`` joins the
    child's record too, for a page that shows it (children.read_child then finds it loaded, and still records the
    read)."""
    options = [
        undefer(Referral.placement_id),
        joinedload(Referral.lot),
        joinedload(Referral.service),
        joinedload(Referral.needs),
        joinedload(Referral.aims),
    ]
    if with_child:
        options.append(joinedload(Referral.child))
    referral = db.session.get(Referral, referral_id, options=options)
    if referral is None:
        raise NotFound("There is no such referral")
    return referral


# --- Publishing ----------------------------------------------------------------------------------------------------


def deadline_at(day: date) -> datetime:
    """The moment offers close on a deadline day (5pm London time), in UTC."""
    return datetime.combine(day, DEADLINE_TIME, tzinfo=LONDON).astimezone(UTC)


def default_deadline(today: date) -> date:
    return today + timedelta(days=DEFAULT_DEADLINE_DAYS)


def missing_parts(referral: Referral) -> dict[str, str]:
    """What must be filled in before the referral can be published, by field, with the message to show."""
    missing: dict[str, str] = {}
    if referral.lot_id is None:
        missing["lot"] = "Choose the lot"
    if referral.hours_per_week is None:
        missing["hours_per_week"] = "Enter the hours per week"
    if referral.start_date is None:
        missing["start_date"] = "Enter the start date"
    if referral.duration_weeks is None:
        missing["duration_weeks"] = "Enter how many weeks the provision is for"
    if not referral.aims:
        missing["aims"] = "Add at least one aim, with its baseline, target and how it will be measured"
    if not referral.needs:
        missing["needs"] = "Choose the child's needs that providers will see"
    if referral.area is None:
        missing["area"] = "Choose the area providers will see"
    if not (referral.profile or "").strip():
        missing["profile"] = "Write the anonymised profile providers will see"
    if not (referral.reintegration_criteria or "").strip():
        missing["reintegration_criteria"] = "Say what would show the child is ready to return"
    return missing


@dataclass(frozen=True)
class PublishTerms:
    deadline_date: date | None
    deadline_reason: str = ""
    quality_weight: int | None = DEFAULT_QUALITY_WEIGHT
    # The officer has read the identity-leak warnings and confirms the profile does not identify the child.
    leaks_checked: bool = False


def _check_deadline(deadline_date: date | None, reason: str, now: datetime) -> datetime:
    today = london_today(now)
    if deadline_date is None:
        raise DomainError("Enter the deadline for offers", field="deadline")
    closes = deadline_at(deadline_date)
    if closes <= now:
        raise DomainError(
            f"The deadline must be in the future: offers close at 5pm on the day, and it is past "
            f"{'5pm today' if deadline_date == today else 'that day'}",
            field="deadline",
        )
    if deadline_date < default_deadline(today) and not reason.strip():
        raise DomainError(
            f"Give the reason for a deadline shorter than {DEFAULT_DEADLINE_DAYS} days (for example, provision is "
            "needed from the sixth day of a permanent exclusion)",
            field="deadline_reason",
        )
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX} characters or fewer", field="deadline_reason")
    return closes


@dataclass(frozen=True)
class Published:
    referral: Referral
    invited: list[Provider]


def publish(
    referral_id: int, by: User, *, version: int | None, terms: PublishTerms, now: datetime, ip: str | None = None
) -> Published:
    """Fix the criteria and the deadline, and invite every provider eligible in the lot today. The caller commits."""
    referral = get_referral(referral_id)
    ensure_may_act(referral, by)
    check_version(referral, version)
    ensure_stage(referral, Action.PUBLISH, now)
    missing = missing_parts(referral)
    if missing:
        raise FieldErrors(missing)
    if children.profile_leaks(referral) and not terms.leaks_checked:
        raise DomainError(
            "The profile or aims may identify the child. Remove what identifies them, or confirm you have checked "
            "and it does not",
            field="leaks_checked",
        )
    weight = terms.quality_weight
    if weight is None or not 0 <= weight <= 100:
        raise DomainError("Enter the quality weighting as a whole number from 0 to 100", field="quality_weight")
    closes = _check_deadline(terms.deadline_date, terms.deadline_reason, now)

    child = db.session.get(Child, referral.child_id)
    today = london_today(now)
    referral.quality_weight = weight
    referral.profile_age = children.age_on(child.date_of_birth, today)
    referral.profile_year_group = children.year_group(child.date_of_birth, today)
    referral.published_at = now
    invited = _open_round(referral, closes, terms.deadline_reason.strip(), now)
    audit.record(
        Events.REFERRAL_PUBLISHED,
        actor=by,
        ip=ip,
        subject=referral,
        lot=referral.lot.label,
        deadline=london_datetime(closes),
        quality_weight=weight,
        invited=len(invited),
        reason=terms.deadline_reason.strip(),
    )
    return Published(referral=referral, invited=invited)


def republish(
    referral_id: int,
    by: User,
    *,
    version: int | None,
    deadline_date: date | None,
    deadline_reason: str = "",
    now: datetime,
    ip: str | None = None,
) -> Published:
    """A new round: the same profile and criteria, a new deadline, and invitations to every provider eligible today
    (which may differ from last time). Earlier rounds' offers and invitations are kept for the record."""
    referral = get_referral(referral_id)
    ensure_may_act(referral, by)
    check_version(referral, version)
    ensure_stage(referral, Action.REPUBLISH, now)
    closes = _check_deadline(deadline_date, deadline_reason, now)
    invited = _open_round(referral, closes, deadline_reason.strip(), now)
    audit.record(
        Events.REFERRAL_REPUBLISHED,
        actor=by,
        ip=ip,
        subject=referral,
        round=referral.round,
        deadline=london_datetime(closes),
        invited=len(invited),
        reason=deadline_reason.strip(),
    )
    return Published(referral=referral, invited=invited)


def _open_round(referral: Referral, closes: datetime, reason: str, now: datetime) -> list[Provider]:
    referral.status = ReferralStatus.OPEN
    referral.round += 1
    referral.deadline = closes
    referral.deadline_reason = reason
    providers = eligible_providers(referral.lot, london_today(now))
    for provider in providers:
        db.session.add(
            Invitation(referral_id=referral.id, round=referral.round, provider_id=provider.id, invited_at=now)
        )
    _tell_invited(referral, [p.id for p in providers])
    return providers


def link(path: str) -> str:
    return f"{current_app.config['BASE_URL']}{path}"


def _tell_invited(referral: Referral, provider_ids: list[int]) -> None:
    """The invitation names the lot, the reference and the deadline: never anything about the child."""
    subject = f"New referral {reference(referral)} in {referral.lot.label}"
    body = (
        f"A new referral, {reference(referral)}, is open for offers in {referral.lot.label}.\n\n"
        f"Offers close at {london_datetime(referral.deadline)}.\n\n"
        f"Sign in to read the anonymised profile and make an offer or decline: "
        f"{link(f'/provider/opportunities/{referral.id}')}"
    )
    for user in provider_users(provider_ids):
        notify(user, subject, f"Dear {user.name},\n\n{body}")


def invited_providers(referral: Referral) -> list[int]:
    """The ids of the providers invited to the referral's current round."""
    return list(
        db.session.scalars(
            sa.select(Invitation.provider_id).where(
                Invitation.referral_id == referral.id, Invitation.round == referral.round
            )
        )
    )


def reference(referral: Referral) -> str:
    """The reference providers and officers quote: it says nothing about the child."""
    return f"R{referral.id:05d}"


# --- Withdrawing ---------------------------------------------------------------------------------------------------


def withdraw(
    referral_id: int, by: User, *, version: int | None, reason: str, now: datetime, ip: str | None = None
) -> Referral:
    referral = get_referral(referral_id)
    ensure_may_act(referral, by)
    check_version(referral, version)
    stage = ensure_stage(referral, Action.WITHDRAW, now)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter the reason for withdrawing the referral", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX} characters or fewer", field="reason")
    referral.status = ReferralStatus.WITHDRAWN
    referral.withdrawn_at = now
    referral.withdrawal_reason = reason
    audit.record(Events.REFERRAL_WITHDRAWN, actor=by, ip=ip, subject=referral, reason=reason, stage=stage.value)
    if stage is not Stage.DRAFT:
        invited = invited_providers(referral)
        subject = f"Referral {reference(referral)} has been withdrawn"
        body = (
            f"The council has withdrawn referral {reference(referral)} in {referral.lot.label}. No placement will be "
            f"awarded for it, and any offer you made will not be considered.\n\nThe reason:\n{reason}"
        )
        for user in provider_users(invited):
            notify(user, subject, f"Dear {user.name},\n\n{body}")
    return referral


# --- Lists ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralFilters:
    stage: Stage | None = None
    service_id: int | None = None
    lot_id: int | None = None
    officer_id: int | None = None


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    child: Child
    stage: Stage
    offers: int
    invited: int


def search(filters: ReferralFilters, *, now: datetime, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Referrals, newest first, with the child, lot, service and officer joined and the stage and counts of the
    current round computed in the same SELECT: two statements (the count and the page) whatever the page holds."""
    result = paginate(search_statement(filters, now=now), page=page, per_page=per_page, rows=True)
    return replace(
        result,
        items=[
            ReferralRow(referral=row[0], child=row[1], stage=Stage(row[2]), offers=row[3], invited=row[4])
            for row in result.items
        ],
    )


def search_statement(filters: ReferralFilters, *, now: datetime) -> sa.Select:
    """The list's SELECT (referral, child, stage, offers, invited), for a page of it or a CSV of all of it."""
    offers = (
        sa.select(sa.func.count(Offer.id))
        .where(Offer.referral_id == Referral.id, Offer.round == Referral.round, Offer.status != OfferStatus.WITHDRAWN)
        .scalar_subquery()
    )
    invited = (
        sa.select(sa.func.count(Invitation.id))
        .where(Invitation.referral_id == Referral.id, Invitation.round == Referral.round)
        .scalar_subquery()
    )
    conditions = []
    if filters.stage is not None:
        conditions.append(stage_condition(filters.stage, now))
    if filters.service_id is not None:
        conditions.append(Referral.service_id == filters.service_id)
    if filters.lot_id is not None:
        conditions.append(Referral.lot_id == filters.lot_id)
    if filters.officer_id is not None:
        conditions.append(Referral.officer_id == filters.officer_id)
    statement = (
        sa.select(Referral, Child, stage_column(now), offers.label("offers"), invited.label("invited"))
        .join(Child, Child.id == Referral.child_id)
        .options(joinedload(Referral.lot), joinedload(Referral.service), joinedload(Referral.officer))
        .where(*conditions)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    )
    return statement


def all_lots() -> list[Lot]:
    """The lots a new call-off may use today: the current arrangements' (a predecessor's lots drop out once its
    successor has started; portal.services.arrangements)."""
    from portal import clock
    from portal.services import arrangements

    return arrangements.current_lots(london_today(clock.now()))


def every_lot() -> list[Lot]:
    """Every lot, past arrangements' too (for filtering lists that hold history)."""
    return list(db.session.scalars(sa.select(Lot).options(joinedload(Lot.arrangement)).order_by(Lot.number)))


def filter_choices() -> dict[str, list]:
    """The services, lots and officers the list filters offer (three small SELECTs)."""
    from portal.models import CouncilService

    return {
        "services": list(db.session.scalars(sa.select(CouncilService).order_by(CouncilService.name))),
        "lots": every_lot(),
        "officers": list(db.session.scalars(sa.select(User).where(User.role == Role.OFFICER).order_by(User.name))),
    }


def describe_deadline(referral: Referral, now: datetime) -> str:
    """ "Closes in 3 days (5pm on 4 December 2026)", for countdowns."""
    if referral.deadline is None:
        return ""
    if now >= referral.deadline:
        return f"Closed at {london_datetime(referral.deadline)}"
    left = referral.deadline - now
    day = referral.deadline.astimezone(LONDON).date()
    when = f"5pm on {long_date(day)}"
    if left < timedelta(hours=1):
        minutes = max(1, int(left.total_seconds() // 60))
        return f"Closes in {minutes} minute{'s' if minutes != 1 else ''} ({when})"
    if day == london_today(now):
        return f"Closes today at 5pm ({long_date(day)})"
    days = (day - london_today(now)).days
    return f"Closes in {days} day{'s' if days != 1 else ''} ({when})"
