"""Offers: the provider's side of a call-off. The opportunities feed, what a provider may see of one referral, making,
revising and withdrawing an offer or declining the invitation, the check of an offer's total, and the provider's
outcome once the call-off is over.

A provider only ever sees referrals it was invited to (in any round): every query here is filtered by its provider id,
and a referral it was not invited to does not exist for it (NotFound, never NotAllowed). Nothing here reads the
child's identity: the referral carries the anonymised profile, and the awarded provider reads the child through
portal.services.children.read_child, which audits each read.

Functions take plain arguments, the acting user and ``now`` (the server clock), add to the session and never commit:
the caller commits, or rolls back on a DomainError.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload, lazyload
from sqlalchemy.orm import join as orm_join
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import london_today
from portal.extensions import db
from portal.formatting import london_datetime, money, quantity
from portal.models import (
    AimResponse,
    Invitation,
    Lot,
    Offer,
    OfferStatus,
    RateType,
    Referral,
    ReferralStatus,
    SlaLot,
    User,
)
from portal.pagination import Page, paginate
from portal.services import audit, referrals, scoring, slas
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotFound
from portal.services.mail import notify

PER_PAGE = 25
CENT = Decimal("0.01")
MONEY_MAX = Decimal("1000000")
TEXT_MAX = 5000
REASON_MAX = 2000
HOURS_MAX = Decimal(40)
# How many days, sessions or hours a week an offer may price.
UNITS_MAX = {RateType.DAY: Decimal(7), RateType.SESSION: Decimal(14), RateType.HOUR: Decimal(40)}
# An offer that is in: made, and not withdrawn (awarded and unsuccessful offers were in when the call-off ended).
LIVE = frozenset({OfferStatus.SUBMITTED, OfferStatus.AWARDED, OfferStatus.UNSUCCESSFUL})

CONFLICT = (
    "Someone at your organisation changed this offer while you had it open. Nothing you sent was saved: what you "
    "typed is below, and so is the offer as it is saved now. Check both, then send your offer again."
)


# --- The provider's response and outcome --------------------------------------------------------------------------


class Response(enum.StrEnum):
    """What the provider has done with an invitation (in the round it was last invited to)."""

    INVITED = "invited"
    VIEWED = "viewed"
    OFFERED = "offered"
    WITHDRAWN = "offer withdrawn"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return self.value.capitalize()


def response_state(invitation: Invitation, offer_status: OfferStatus | None) -> Response:
    if offer_status in LIVE:
        return Response.OFFERED
    if invitation.declined_at is not None:
        return Response.DECLINED
    if offer_status is OfferStatus.WITHDRAWN:
        return Response.WITHDRAWN
    if invitation.viewed_at is not None:
        return Response.VIEWED
    return Response.INVITED


class Outcome(enum.StrEnum):
    """How a referral stands for one provider."""

    OPEN = "open for offers"
    AWAITING_DECISION = "awaiting decision"
    AWARDED_TO_YOU = "awarded to you"
    NOT_SUCCESSFUL = "not successful"
    AWARDED_ELSEWHERE = "awarded to another provider"
    WITHDRAWN = "withdrawn"
    CLOSED_WITHOUT_AWARD = "closed without award"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return {
            Outcome.OPEN: "govuk-tag--blue",
            Outcome.AWAITING_DECISION: "govuk-tag--yellow",
            Outcome.AWARDED_TO_YOU: "govuk-tag--green",
            Outcome.NOT_SUCCESSFUL: "govuk-tag--red",
        }.get(self, "govuk-tag--grey")


def outcome_for(referral: Referral, invited_round: int, offer_status: OfferStatus | None, now: datetime) -> Outcome:
    """The outcome for a provider last invited to ``invited_round``, whose offer in that round has this status."""
    if referral.status is ReferralStatus.WITHDRAWN:
        return Outcome.WITHDRAWN
    if referral.status is ReferralStatus.OFF_DPS:
        return Outcome.CLOSED_WITHOUT_AWARD
    if offer_status is OfferStatus.AWARDED:
        return Outcome.AWARDED_TO_YOU
    if referral.status is ReferralStatus.AWARDED:
        competed = invited_round == referral.round and offer_status in LIVE
        return Outcome.NOT_SUCCESSFUL if competed else Outcome.AWARDED_ELSEWHERE
    if invited_round < referral.round:
        # Published again in a round this provider was not invited to: its round closed without an award.
        return Outcome.CLOSED_WITHOUT_AWARD
    if referral.deadline is not None and now < referral.deadline:
        return Outcome.OPEN
    return Outcome.AWAITING_DECISION


# --- The feed -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedRow:
    referral: Referral
    invitation: Invitation  # the provider's invitation to the latest round it was invited to
    offer_status: OfferStatus | None
    response: Response
    outcome: Outcome


def _latest_round(provider_id: int):
    """SQL: the latest round of the referral this provider was invited to."""
    mine = aliased(Invitation)
    return (
        sa.select(sa.func.max(mine.round))
        .where(mine.referral_id == Referral.id, mine.provider_id == provider_id)
        .correlate(Referral)
        .scalar_subquery()
    )


def _open_for_offers(now: datetime):
    """SQL: open, before its deadline, and the provider's invitation is to the current round."""
    return sa.and_(
        Referral.status == ReferralStatus.OPEN,
        Referral.deadline > now,
        Invitation.round == Referral.round,
    )


def feed(provider_id: int, *, now: datetime, closed: bool = False, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The referrals this provider is invited to and may make an offer on now (or, ``closed``, those it was invited
    to that have closed), newest invitation first. Two statements whatever the page holds: the count, and one SELECT
    joining the referral, its lot and needs, the provider's latest invitation and its offer in that round."""
    statement = feed_statement(provider_id, now=now, closed=closed).options(joinedload(Referral.needs))
    result = paginate(statement, page=page, per_page=per_page, rows=True)
    return replace(
        result,
        items=[
            FeedRow(
                referral=referral,
                invitation=invitation,
                offer_status=status,
                response=response_state(invitation, status),
                outcome=outcome_for(referral, invitation.round, status, now),
            )
            for referral, invitation, status in result.items
        ],
    )


def feed_statement(provider_id: int, *, now: datetime, closed: bool = False) -> sa.Select:
    """The feed's SELECT of (Referral, Invitation, the provider's offer status), in its order, with the lot joined
    (the caller chooses how the needs are loaded: joined for a page, ``selectinload`` for a CSV read in batches)."""
    # Open for offers needs an invitation to the current round, which is then the latest one: no search for it.
    round_invited = Invitation.round == (Referral.round if not closed else _latest_round(provider_id))
    invited = sa.and_(Invitation.referral_id == Referral.id, Invitation.provider_id == provider_id, round_invited)
    own_offer = sa.and_(
        Offer.referral_id == Referral.id, Offer.round == Invitation.round, Offer.provider_id == provider_id
    )
    statement = (
        sa.select(Referral, Invitation, Offer.status)
        .select_from(orm_join(Referral, Invitation, invited).outerjoin(Offer, own_offer))
        # The lot and needs in the same SELECT; the aims are not shown in the feed, so not loaded.
        .options(joinedload(Referral.lot), lazyload(Referral.aims))
        .where(sa.not_(_open_for_offers(now)) if closed else _open_for_offers(now))
        .order_by(Invitation.invited_at.desc(), Referral.id.desc())
    )
    return statement


# --- One referral, as the provider sees it --------------------------------------------------------------------------


@dataclass
class Opportunity:
    referral: Referral
    invitation: Invitation  # to the latest round this provider was invited to
    offer: Offer | None  # the provider's offer in that round
    outcome: Outcome
    response: Response
    # Why offers cannot be made, changed or withdrawn now ("" while they can).
    closed_message: str
    # The provider's own scores (never anyone else's), once it has been told it was not successful.
    result: scoring.Result | None = None

    @property
    def open(self) -> bool:
        return not self.closed_message

    @property
    def live_offer(self) -> Offer | None:
        return self.offer if self.offer is not None and self.offer.status in LIVE else None

    @property
    def criteria(self) -> list[scoring.Criterion]:
        return scoring.criteria(self.referral)


def _closed_message(referral: Referral, invitation: Invitation, now: datetime) -> str:
    if referral.status is ReferralStatus.AWARDED:
        return "This referral has been awarded: offers can no longer be made, changed or withdrawn."
    if referral.status is ReferralStatus.WITHDRAWN:
        return "The council has withdrawn this referral: offers can no longer be made, changed or withdrawn."
    if referral.status is ReferralStatus.OFF_DPS:
        return (
            "The council is commissioning this provision off the DPS: offers can no longer be made, changed or "
            "withdrawn."
        )
    if invitation.round != referral.round:
        return (
            "The council has published this referral again, in a new round you were not invited to: you cannot "
            "make, change or withdraw an offer."
        )
    if referrals.offers_open(referral, now):
        return ""
    if referral.deadline is None:
        return "This referral is not open for offers."
    return (
        f"Offers closed at {london_datetime(referral.deadline)}: offers can no longer be made, changed or "
        "withdrawn, and the invitation can no longer be declined."
    )


def _find(referral_id: int, provider_id: int | None) -> tuple[Referral, Invitation]:
    """The referral with the provider's latest invitation to it; NotFound if it was never invited."""
    if provider_id is None:
        raise NotFound("There is no such referral")
    row = db.session.execute(
        sa.select(Referral, Invitation)
        .join(
            Invitation,
            sa.and_(
                Invitation.referral_id == Referral.id,
                Invitation.provider_id == provider_id,
                Invitation.round == _latest_round(provider_id),
            ),
        )
        .where(Referral.id == referral_id)
        .options(joinedload(Referral.lot))
    ).first()
    if row is None:
        raise NotFound("There is no such referral")
    return row[0], row[1]


def _own_offer(referral: Referral, provider_id: int, round_: int) -> Offer | None:
    return db.session.scalar(
        sa.select(Offer).where(
            Offer.referral_id == referral.id, Offer.round == round_, Offer.provider_id == provider_id
        )
    )


def opportunity(referral_id: int, provider_id: int | None, *, now: datetime) -> Opportunity:
    """What this provider may see of one referral: the anonymised profile, its own invitation and offer, whether it
    may act now, its outcome, and its own scores once it was not successful."""
    referral, invitation = _find(referral_id, provider_id)
    offer = _own_offer(referral, provider_id, invitation.round)
    status = offer.status if offer is not None else None
    found = Opportunity(
        referral=referral,
        invitation=invitation,
        offer=offer,
        outcome=outcome_for(referral, invitation.round, status, now),
        response=response_state(invitation, status),
        closed_message=_closed_message(referral, invitation, now),
    )
    if found.outcome is Outcome.NOT_SUCCESSFUL:
        found.result = own_result(referral, offer)
    return found


def own_result(referral: Referral, offer: Offer) -> scoring.Result | None:
    """The provider's own row of the ranked table (the price score needs every offer's total; only this provider's
    row leaves here)."""
    in_round = db.session.scalars(
        sa.select(Offer).where(
            Offer.referral_id == referral.id,
            Offer.round == referral.round,
            Offer.status.in_(sorted(LIVE)),
        )
    ).all()
    for result in scoring.rank(referral, in_round):
        if result.offer.id == offer.id:
            return result
    return None


def mark_viewed(found: Opportunity, now: datetime) -> None:
    """The first view of an invitation is recorded (the officer sees "viewed")."""
    if found.invitation.viewed_at is None:
        found.invitation.viewed_at = now


def _for_change(referral_id: int, by: User, now: datetime) -> Opportunity:
    # On PostgreSQL the referral's row is locked until commit, so an offer and an award never interleave: an award
    # in progress makes this wait and then see the referral awarded (SQLite writes one at a time anyway).
    db.session.execute(
        sa.select(Referral)
        .where(Referral.id == referral_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = opportunity(referral_id, by.provider_id, now=now)
    if not found.open:
        raise IllegalTransition(found.closed_message)
    return found


# --- Money and numbers ---------------------------------------------------------------------------------------------


_MONEY = re.compile(r"(-?)£?(-?)(\d+(?:\.\d*)?|\.\d+)")
_NUMBER = re.compile(r"(-?)(\d+(?:\.\d*)?|\.\d+)")


def parse_money(text: str | None, *, name: str, field: str) -> Decimal:
    """An amount in pounds, as typed ("£1,234.50", "120"): more than £0, at most £1,000,000, whole pence."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "")
    if not cleaned:
        raise DomainError(f"Enter the {name}", field=field)
    match = _MONEY.fullmatch(cleaned)
    if match is None:
        raise DomainError(f"The {name} must be an amount in pounds, like 120 or 120.50", field=field)
    try:
        value = Decimal(match.group(3))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise DomainError(f"The {name} must be an amount in pounds, like 120 or 120.50", field=field) from None
    if match.group(1) or match.group(2) or value <= 0:
        raise DomainError(f"The {name} must be more than £0", field=field)
    # The maximum first: quantize() raises InvalidOperation on an amount too long for the decimal context.
    if value > MONEY_MAX:
        raise DomainError(f"The {name} must be {money(MONEY_MAX)} or less", field=field)
    if value != value.quantize(CENT):
        raise DomainError(f"The {name} must be in pounds and pence, with no more than 2 decimal places", field=field)
    return value.quantize(CENT)


def parse_quantity(text: str | None, *, name: str, field: str, maximum: Decimal) -> Decimal:
    """A quantity a week (hours, days, sessions): more than 0, at most ``maximum``, to one decimal place."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise DomainError(f"Enter {name}", field=field)
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        raise DomainError(f"{name.capitalize()} must be a number, like 5 or 2.5", field=field)
    value = Decimal(match.group(2))
    if match.group(1) or value <= 0:
        raise DomainError(f"{name.capitalize()} must be more than 0", field=field)
    if value > maximum:  # before quantize(), which raises on a number too long for the decimal context
        raise DomainError(f"{name.capitalize()} must be {quantity(maximum)} or fewer", field=field)
    if value != value.quantize(Decimal("0.1")):
        raise DomainError(f"{name.capitalize()} can have no more than 1 decimal place, like 2.5", field=field)
    return value.quantize(Decimal("0.1"))


def expected_total(rate: Decimal, units_per_week: Decimal, weeks: int) -> Decimal:
    """The rate x how many a week x the referral's weeks, to the penny."""
    return (rate * units_per_week * weeks).quantize(CENT, rounding=ROUND_HALF_UP)


def total_working(rate_type: RateType, rate: Decimal, units_per_week: Decimal, weeks: int) -> str:
    """ "£120.00 a day x 5 days a week x 12 weeks" """
    per = "an hour" if rate_type is RateType.HOUR else f"a {rate_type.value}"
    units = rate_type.unit if units_per_week != 1 else rate_type.value
    return f"{money(rate)} {per} x {quantity(units_per_week)} {units} a week x {weeks} week{'s' if weeks != 1 else ''}"


def check_total(rate_type: RateType, rate: Decimal, units_per_week: Decimal, weeks: int, total: Decimal) -> None:
    """Refuse a total that is not the rate x how many a week x the weeks, saying the right figure and how."""
    expected = expected_total(rate, units_per_week, weeks)
    working = total_working(rate_type, rate, units_per_week, weeks)
    if expected > MONEY_MAX:
        raise DomainError(
            f"The total would be {money(expected)} ({working}), more than the {money(MONEY_MAX)} an offer can be",
            field="total",
        )
    if total != expected:
        raise DomainError(f"The total should be {money(expected)}: {working}", field="total")


def check_rate_cap(terms: SlaLot, rate_type: RateType, rate: Decimal, lot: Lot) -> None:
    """Refuse a rate over the most the provider's SLA allows for this kind of rate in the lot, naming the cap. A rate
    exactly at the cap is allowed."""
    cap = slas.rate_cap(terms, rate_type)
    if cap is not None and rate > cap:
        kind = rate_type.label[0].lower() + rate_type.label[1:]
        raise DomainError(f"The most your SLA allows for {kind} in Lot {lot.number} is {money(cap)}", field="rate")


def sla_terms_for_offer(provider_id: int, lot: Lot, today: date) -> SlaLot:
    """The lot's terms in the provider's SLA in force today; without one, the provider may not offer in the lot
    (IllegalTransition: the page says why, HTTP 409)."""
    terms = slas.sla_lot_in_force(provider_id, lot.id, today)
    if terms is None:
        raise IllegalTransition(
            f"Your organisation has no service level agreement in force for {lot.label}, so it cannot make offers in it."
        )
    return terms


# --- Making, revising and withdrawing an offer; declining -------------------------------------------------------------


def aim_field(aim_id: int) -> str:
    """The form field (and error key) of the response to one aim."""
    return f"aim_{aim_id}"


@dataclass(frozen=True)
class OfferDetails:
    """An offer as typed: text, except the start date (the form reads the day, month and year)."""

    aim_responses: dict[int, str]
    start_date: date | None
    hours_per_week: str
    sessions: str
    location: str
    staffing_ratio: str
    transport: str
    delivery_and_staffing: str
    safeguarding: str
    rate_type: str | None
    rate: str
    units_per_week: str
    total: str


_RATIO = re.compile(r"(\d{1,2})\s*:\s*(\d{1,2})")


def _checked(
    referral: Referral, details: OfferDetails, now: datetime, terms: SlaLot | None = None
) -> tuple[dict, dict[int, str]]:
    """The offer's values ready to store, or FieldErrors naming every field that is wrong (in the form's order).
    ``terms``: the lot's rate caps in the provider's SLA in force, which the rate may not exceed."""
    errors: dict[str, str] = {}
    values: dict = {}
    responses: dict[int, str] = {}

    def attempt(field: str, work):
        try:
            return work()
        except DomainError as error:
            errors.setdefault(error.field or field, error.message)
            return None

    for aim in referral.aims:
        text = (details.aim_responses.get(aim.id) or "").strip()
        if not text:
            errors[aim_field(aim.id)] = f"Say how you will meet aim {aim.position}"
        elif len(text) > TEXT_MAX:
            errors[aim_field(aim.id)] = f"Your answer for aim {aim.position} must be {TEXT_MAX:,} characters or fewer"
        else:
            responses[aim.id] = text

    if details.start_date is None:
        errors["start_date"] = "Enter the date you can start"
    elif details.start_date < london_today(now):
        errors["start_date"] = "The start date must be today or in the future"
    else:
        values["start_date"] = details.start_date
    values["hours_per_week"] = attempt(
        "hours_per_week",
        lambda: parse_quantity(
            details.hours_per_week, name="the hours a week", field="hours_per_week", maximum=HOURS_MAX
        ),
    )

    values["sessions"] = _text(details.sessions, "sessions", "the sessions", 200, errors)
    values["location"] = _text(details.location, "location", "the location", 500, errors)
    ratio = (details.staffing_ratio or "").strip()
    match = _RATIO.fullmatch(ratio)
    if not ratio:
        errors["staffing_ratio"] = "Enter the staffing ratio, staff to children, like 1:2"
    elif match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        errors["staffing_ratio"] = "Enter the staffing ratio as staff to children, like 1:2"
    else:
        values["staffing_ratio"] = f"{int(match.group(1))}:{int(match.group(2))}"
    for field, what in (
        ("transport", "how the child will get there (or that no transport is needed)"),
        ("delivery_and_staffing", "how you will deliver and staff the provision"),
        ("safeguarding", "your safeguarding arrangements"),
    ):
        values[field] = _text(getattr(details, field), field, what, TEXT_MAX, errors)

    rate_type = None
    try:
        rate_type = RateType(details.rate_type or "")
    except ValueError:
        errors["rate_type"] = "Select whether you charge a day rate, a session rate or an hourly rate"
    values["rate_type"] = rate_type
    values["rate"] = attempt("rate", lambda: parse_money(details.rate, name="rate", field="rate"))
    if terms is not None and rate_type and values["rate"]:
        attempt("rate", lambda: check_rate_cap(terms, rate_type, values["rate"], referral.lot))
    units_name = f"how many {rate_type.unit} a week" if rate_type else "how many days, sessions or hours a week"
    values["units_per_week"] = attempt(
        "units_per_week",
        lambda: parse_quantity(
            details.units_per_week,
            name=units_name,
            field="units_per_week",
            maximum=UNITS_MAX[rate_type] if rate_type else max(UNITS_MAX.values()),
        ),
    )
    values["total"] = attempt("total", lambda: parse_money(details.total, name="total", field="total"))
    if rate_type and values["rate"] and values["units_per_week"] and values["total"]:
        attempt(
            "total",
            lambda: check_total(
                rate_type, values["rate"], values["units_per_week"], referral.duration_weeks or 0, values["total"]
            ),
        )
    if errors:
        raise FieldErrors(errors)
    return values, responses


def _text(value: str | None, field: str, what: str, limit: int, errors: dict[str, str]) -> str | None:
    text = (value or "").strip()
    if not text:
        errors[field] = f"Enter {what}"
        return None
    if len(text) > limit:
        errors[field] = f"{what[0].upper()}{what[1:]} must be {limit:,} characters or fewer"
        return None
    return text


def _check_version(offer: Offer | None, version: int | None) -> None:
    """The form says which version of the offer it was drawn from (None: there was no offer, or it was withdrawn).
    A live offer may only be changed from the version that is saved now."""
    if offer is None:
        return
    live = offer.status in LIVE
    if (live or version is not None) and version != offer.version:
        raise Conflict(CONFLICT)


def _flush() -> None:
    """Write now (for the audit's subject id), turning a colleague's concurrent change into a Conflict."""
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError):
        raise Conflict(CONFLICT) from None


def make_offer(
    referral_id: int,
    by: User,
    *,
    details: OfferDetails,
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> Offer:
    """Make an offer, revise the live one (its scores go: they judged the old text), or make a withdrawn one again.
    An earlier decline in the round is cleared. The officer is told when an offer comes in, not when it is revised.
    Only with an SLA in force for the referral's lot today, at a rate no higher than the SLA's cap for it."""
    found = _for_change(referral_id, by, now)
    referral, invitation, offer = found.referral, found.invitation, found.offer
    _check_version(offer, version)
    terms = sla_terms_for_offer(by.provider_id, referral.lot, london_today(now))
    values, responses = _checked(referral, details, now, terms)

    revising = offer is not None and offer.status in LIVE
    if offer is None:
        offer = Offer(
            referral_id=referral.id,
            round=referral.round,
            provider_id=by.provider_id,
            status=OfferStatus.SUBMITTED,
            submitted_at=now,
            submitted_by_id=by.id,
            **values,
        )
        offer.aim_responses = [AimResponse(aim_id=aim_id, response=text) for aim_id, text in responses.items()]
        db.session.add(offer)
    else:
        for name, value in values.items():
            setattr(offer, name, value)
        existing = {response.aim_id: response for response in offer.aim_responses}
        for aim_id, text in responses.items():
            if aim_id in existing:
                existing[aim_id].response = text
            else:
                offer.aim_responses.append(AimResponse(aim_id=aim_id, response=text))
        scored = bool(offer.scores)
        offer.scores.clear()
        if revising:
            offer.revised_at = now
        else:
            offer.status = OfferStatus.SUBMITTED
            offer.submitted_at = now
            offer.submitted_by_id = by.id
            offer.withdrawn_at = None
            offer.revised_at = None
    invitation.declined_at = None
    invitation.decline_reason = ""
    if invitation.viewed_at is None:
        invitation.viewed_at = now
    _flush()
    audit.record(
        Events.OFFER_REVISED if revising else Events.OFFER_SUBMITTED,
        actor=by,
        ip=ip,
        subject=offer,
        referral=referrals.reference(referral),
        round=referral.round,
        rate=f"{money(offer.rate)} a {offer.rate_type.value}",
        total=money(offer.total),
    )
    if not revising:
        _tell_officer(referral, by)
    elif scored:
        _tell_officer(referral, by, rescore=True)
    return offer


def _tell_officer(referral: Referral, by: User, *, rescore: bool = False) -> None:
    """A new offer, or a revision of one the officer had scored (its scores are gone). Names the provider and the
    reference only."""
    ref = referrals.reference(referral)
    provider = by.provider.name
    if rescore:
        subject = f"Offer revised for referral {ref}: score it again"
        news = f"{provider} has revised its offer for referral {ref}. The scores you gave it were for the old offer, so they have been cleared: read it again and score it."
    else:
        subject, news = f"New offer for referral {ref}", f"{provider} has made an offer for referral {ref}."
    notify(
        referral.officer,
        subject,
        f"Dear {referral.officer.name},\n\n{news}\n\nSee the offers: {referrals.link(f'/officer/referrals/{referral.id}')}",
    )


def withdraw_offer(referral_id: int, by: User, *, version: int | None, now: datetime, ip: str | None = None) -> Offer:
    found = _for_change(referral_id, by, now)
    offer = found.live_offer
    if offer is None:
        raise IllegalTransition("You have no offer in for this referral, so there is nothing to withdraw.")
    _check_version(offer, version)
    offer.status = OfferStatus.WITHDRAWN
    offer.withdrawn_at = now
    _flush()
    audit.record(
        Events.OFFER_WITHDRAWN,
        actor=by,
        ip=ip,
        subject=offer,
        referral=referrals.reference(found.referral),
        round=found.referral.round,
    )
    return offer


def decline(referral_id: int, by: User, *, reason: str, now: datetime, ip: str | None = None) -> Invitation:
    """Decline the invitation, with the reason (kept as market intelligence). Not while an offer is in."""
    found = _for_change(referral_id, by, now)
    if found.live_offer is not None:
        raise IllegalTransition("You have an offer in for this referral: withdraw your offer first, then decline.")
    if found.invitation.declined_at is not None:
        raise IllegalTransition("You have declined this referral already.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter the reason you are declining", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX:,} characters or fewer", field="reason")
    invitation = found.invitation
    invitation.declined_at = now
    invitation.decline_reason = reason
    if invitation.viewed_at is None:
        invitation.viewed_at = now
    audit.record(
        Events.INVITATION_DECLINED,
        actor=by,
        ip=ip,
        subject=invitation,
        reason=reason,
        referral=referrals.reference(found.referral),
        round=found.referral.round,
    )
    return invitation
