"""The manager's oversight dashboard: every figure for a period, lot, commissioning service and provider.

Each figure is an aggregate worked out in SQL (or, for medians and per-placement prices, in Python from one column
query), so the number of statements is the same whatever the amount of data. The definitions (``DEFINITIONS``) are
shown on the page under "How this is worked out" and in the CSV download.

Periods are London calendar days, both ends included. A timestamp (published, awarded, decided) counts in the period
when its London date does. A placement counts in a period by the date that figure names: "starting in the period" by
its start date, "ended" by its end date; so a placement that started before the period and runs through it adds
nothing to spend committed, but its attendance marks inside the period count towards the attendance rate and spend to
date (marks are counted by their own day).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from portal.clock import LONDON
from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    AttendanceMark,
    Concern,
    ConcernStatus,
    Destination,
    HalfTerm,
    Invitation,
    Lot,
    Offer,
    OfferStatus,
    Placement,
    PlacementStatus,
    ProgressRating,
    Provider,
    Referral,
    ReferralStatus,
    Review,
    ReviewAim,
    Suspension,
)
from portal.models.dps import lot_label
from portal.models.referrals import RateType
from portal.services import cache
from portal.services.attendance_codes import attended_sum, possible_sum
from portal.services.errors import FieldErrors

PENNY = Decimal("0.01")
TOP_PROVIDERS = 15


# ---- Periods -------------------------------------------------------------------------------------------------------


class PeriodKind:
    TERM = "term"
    YEAR = "year"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    label: str

    @property
    def utc_range(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: London midnight at the start, London midnight after the last day."""
        begin = datetime.combine(self.start, time(), tzinfo=LONDON).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(), tzinfo=LONDON).astimezone(UTC)
        return begin, after

    def months(self) -> list[date]:
        """The first day of each calendar month the period touches."""
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


def academic_year(today: date) -> Period:
    """The academic year (1 September to 31 August) containing today."""
    first = today.year if today.month >= 9 else today.year - 1
    return Period(date(first, 9, 1), date(first + 1, 8, 31), f"academic year {first}/{str(first + 1)[-2:]}")


def this_term(today: date) -> Period | None:
    """The term (autumn: half terms 1-2, spring: 3-4, summer: 5-6) containing today, from the manager's term dates;
    in a holiday between terms, the term that ended last. None when no term dates cover today."""
    half_terms = list(db.session.scalars(sa.select(HalfTerm).order_by(HalfTerm.starts_on)))
    terms: dict[tuple[str, int], list[HalfTerm]] = {}
    for half in half_terms:
        terms.setdefault((half.academic_year, (half.position - 1) // 2), []).append(half)
    best = None
    for (year, index), halves in terms.items():
        start, end = min(h.starts_on for h in halves), max(h.ends_on for h in halves)
        name = ("Autumn", "Spring", "Summer")[index]
        period = Period(start, end, f"{name} term {year}")
        if start <= today <= end:
            return period
        if start <= today and (best is None or start > best.start):
            best = period
    return best


def resolve_period(kind: str, today: date, start: date | None = None, end: date | None = None) -> Period:
    """The period the filters ask for. Raises FieldErrors for a custom period without both dates or ending first."""
    if kind == PeriodKind.CUSTOM:
        errors = {}
        if start is None:
            errors["start"] = "Enter the first day of the period"
        if end is None:
            errors["end"] = "Enter the last day of the period"
        if start and end and end < start:
            errors["end"] = "The last day must be the same as or after the first day"
        if start and end and (end - start).days > 366 * 5:
            errors["end"] = "The period must be 5 years or shorter"
        if errors:
            raise FieldErrors(errors)
        return Period(start, end, f"{start:%-d %B %Y} to {end:%-d %B %Y}")
    if kind == PeriodKind.TERM:
        return this_term(today) or academic_year(today)
    return academic_year(today)


@dataclass(frozen=True)
class Filters:
    period: Period
    lot_id: int | None = None
    service_id: int | None = None
    provider_id: int | None = None


# ---- Figures -------------------------------------------------------------------------------------------------------

DEFINITIONS: dict[str, tuple[str, str]] = {
    "referrals_made": (
        "Referrals made",
        "Referrals published (sent to providers) in the period. With a provider chosen: referrals that provider was "
        "invited to.",
    ),
    "offers_per_referral": (
        "Offers per referral",
        "For referrals whose current round closed (its deadline passed) in the period: the live offers (submitted, "
        "awarded or unsuccessful, not withdrawn) in that round, divided by the number of those referrals.",
    ),
    "with_offer": (
        "Referrals with at least one offer",
        "Of the referrals whose round closed in the period, the share with one or more live offers.",
    ),
    "without_offer": (
        "Referrals with no offer",
        "Of the referrals whose round closed in the period, the share with no live offer.",
    ),
    "days_to_award": (
        "Median days from referral to award",
        "For referrals awarded in the period: the median of the calendar days (London dates) from publication to "
        "award. With an even number of referrals, the mean of the middle two.",
    ),
    "days_to_start": (
        "Median days from award to start",
        "For placements starting in the period: the median of the calendar days from the referral's award (London "
        "date) to the placement's start date.",
    ),
    "spend_committed": (
        "Spend committed",
        "The sum of the agreed total cost of placements starting in the period. A placement that started before "
        "the period is not counted, even if it runs into it.",
    ),
    "spend_to_date": (
        "Spend to date",
        "Attended sessions in the period (up to today) multiplied by each placement's price per session: a day rate "
        "counts half the rate a session (a day is two sessions), a session rate is the rate, and an hourly rate is "
        "the rate times the hours a week divided by the sessions expected a week. Rounded to the penny per "
        "placement.",
    ),
    "attendance_rate": (
        "Attendance rate",
        "Attendance marks in the period whose code means present or an approved educational activity, divided by "
        "the marks that were possible sessions (DfE codes; codes for sessions not counted are left out).",
    ),
    "progress": (
        "Aims on or ahead of target",
        "For each placement's latest review held in the period: the share of its aims rated on target or ahead of "
        "target, over all aims rated at those reviews.",
    ),
    "ended": (
        "Placements ended",
        "Placements whose end date is in the period, by destination.",
    ),
    "reintegration_rate": (
        "Reintegration rate",
        "Of the placements ended in the period, the share whose destination is a school (back to the home school, "
        "a new mainstream school or a special school).",
    ),
    "open_concerns": (
        "Open safeguarding concerns",
        "Safeguarding concerns open today (whatever the period), counted only.",
    ),
    "overdue_reviews": (
        "Overdue reviews",
        "Active placements whose next review was due before today (whatever the period).",
    ),
    "providers_admitted": (
        "Providers admitted",
        "Providers admitted to a lot on the last day of the period (admitted on or before it, not removed by then), "
        "per lot. A provider in two lots counts in each.",
    ),
    "new_applications": (
        "New applications",
        "Applications to join the DPS submitted in the period.",
    ),
    "decided_in_time": (
        "Applications decided within 10 working days",
        "Of the applications decided in the period, the share decided on or before their due date (10 working "
        "days after submission; weekends and England and Wales bank holidays do not count).",
    ),
    "suspensions": (
        "Suspensions started",
        "Provider suspensions (from one lot or all) whose first day is in the period, lifted or not.",
    ),
    "small_voluntary": (
        "Small and voluntary-sector providers",
        "Of the providers admitted to any lot (chosen lot only, if one is chosen) on the last day of the period, "
        "the share that are a small business or in the voluntary sector.",
    ),
}


@dataclass(frozen=True)
class LotLabel:
    """A lot as the figures name it: plain values, so cached figures hold no database rows."""

    id: int
    number: int
    label: str


@dataclass
class Dashboard:
    filters: Filters
    today: date
    referrals_made: int = 0
    closed_referrals: int = 0
    live_offers: int = 0
    referrals_with_offer: int = 0
    days_to_award: list[int] = field(default_factory=list)
    days_to_start: list[int] = field(default_factory=list)
    placements_started: int = 0
    spend_committed: Decimal = Decimal("0.00")
    spend_to_date: Decimal = Decimal("0.00")
    attended: int = 0
    possible: int = 0
    aims_rated: int = 0
    aims_on_or_ahead: int = 0
    ended_by_destination: dict[Destination, int] = field(default_factory=dict)
    open_concerns: int = 0
    overdue_reviews: int = 0
    providers_per_lot: list[tuple[LotLabel, int]] = field(default_factory=list)
    admitted_providers: int = 0
    small_or_voluntary: int = 0
    new_applications: int = 0
    decided: int = 0
    decided_in_time: int = 0
    suspensions: int = 0
    referrals_by_month: list[tuple[date, int]] = field(default_factory=list)
    placements_by_month: list[tuple[date, int]] = field(default_factory=list)
    attendance_by_provider: list[tuple[str, int, int]] = field(default_factory=list)  # name, attended, possible

    # -- derived figures (None when there is nothing to divide by) --

    @property
    def offers_per_referral(self) -> float | None:
        return self.live_offers / self.closed_referrals if self.closed_referrals else None

    @property
    def share_with_offer(self) -> float | None:
        return self.referrals_with_offer / self.closed_referrals if self.closed_referrals else None

    @property
    def share_without_offer(self) -> float | None:
        if not self.closed_referrals:
            return None
        return (self.closed_referrals - self.referrals_with_offer) / self.closed_referrals

    @property
    def median_days_to_award(self) -> float | None:
        return median(self.days_to_award)

    @property
    def median_days_to_start(self) -> float | None:
        return median(self.days_to_start)

    @property
    def attendance_rate(self) -> float | None:
        return self.attended / self.possible if self.possible else None

    @property
    def progress_rate(self) -> float | None:
        return self.aims_on_or_ahead / self.aims_rated if self.aims_rated else None

    @property
    def ended(self) -> int:
        return sum(self.ended_by_destination.values())

    @property
    def reintegrated(self) -> int:
        return sum(n for d, n in self.ended_by_destination.items() if d.is_reintegration)

    @property
    def reintegration_rate(self) -> float | None:
        return self.reintegrated / self.ended if self.ended else None

    @property
    def share_decided_in_time(self) -> float | None:
        return self.decided_in_time / self.decided if self.decided else None

    @property
    def share_small_or_voluntary(self) -> float | None:
        return self.small_or_voluntary / self.admitted_providers if self.admitted_providers else None

    def rows(self) -> list[tuple[str, str, str]]:
        """(name, value as shown, definition) for every figure: the CSV download."""
        values = {
            "referrals_made": str(self.referrals_made),
            "offers_per_referral": number(self.offers_per_referral),
            "with_offer": percent(self.share_with_offer),
            "without_offer": percent(self.share_without_offer),
            "days_to_award": number(self.median_days_to_award),
            "days_to_start": number(self.median_days_to_start),
            "spend_committed": f"£{self.spend_committed:,.2f}",
            "spend_to_date": f"£{self.spend_to_date:,.2f}",
            "attendance_rate": percent(self.attendance_rate),
            "progress": percent(self.progress_rate),
            "ended": str(self.ended),
            "reintegration_rate": percent(self.reintegration_rate),
            "open_concerns": str(self.open_concerns),
            "overdue_reviews": str(self.overdue_reviews),
            "providers_admitted": str(self.admitted_providers),
            "new_applications": str(self.new_applications),
            "decided_in_time": percent(self.share_decided_in_time),
            "suspensions": str(self.suspensions),
            "small_voluntary": percent(self.share_small_or_voluntary),
        }
        rows = [(DEFINITIONS[key][0], values[key], DEFINITIONS[key][1]) for key in DEFINITIONS]
        rows += [(f"Placements ended: {d.value}", str(n), DEFINITIONS["ended"][1]) for d, n in self.destinations()]
        rows += [
            (f"Providers admitted: {lot.label}", str(n), DEFINITIONS["providers_admitted"][1])
            for lot, n in self.providers_per_lot
        ]
        return rows

    def destinations(self) -> list[tuple[Destination, int]]:
        """Every destination in its order, with how many placements ended there (zeros included)."""
        return [(d, self.ended_by_destination.get(d, 0)) for d in Destination]


def median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def number(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}"


def percent(value: float | None) -> str:
    return "none" if value is None else f"{value * 100:.0f}%"


def _london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def price_per_session(rate_type: RateType, rate: Decimal, hours_per_week: Decimal, expected_sessions: str) -> Decimal:
    """What one attended session costs (see DEFINITIONS["spend_to_date"])."""
    rate_type = RateType(rate_type)
    if rate_type is RateType.DAY:
        return rate / 2
    if rate_type is RateType.SESSION:
        return rate
    sessions = len(expected_sessions.split()) or 1
    return rate * hours_per_week / sessions


def dashboard(filters: Filters, today: date) -> Dashboard:
    """Every figure for the filters. The aggregates come from the cache (portal.services.cache: computed again after
    any commit that changes what they count); the safeguarding figures, open concerns and overdue reviews, are read
    live every time. One statement on a cache hit, 10 on a miss, whatever the data."""
    figures = cache.cached(f"oversight:{filters!r}:{today.isoformat()}", lambda: _aggregates(filters, today))
    result = dataclasses.replace(figures)
    result.open_concerns, result.overdue_reviews = _live_counts(filters, today)
    return result


def _placement_filters(filters: Filters, query):
    if filters.lot_id:
        query = query.where(Placement.lot_id == filters.lot_id)
    if filters.service_id:
        query = query.where(Placement.service_id == filters.service_id)
    if filters.provider_id:
        query = query.where(Placement.provider_id == filters.provider_id)
    return query


def _live_counts(filters: Filters, today: date) -> tuple[int, int]:
    """Open safeguarding concerns and overdue reviews today (whatever the period), in one statement: never cached."""
    open_concerns = _placement_filters(
        filters,
        sa.select(sa.func.count(Concern.id))
        .join(Placement, Placement.id == Concern.placement_id)
        .where(Concern.status == ConcernStatus.OPEN),
    ).scalar_subquery()
    overdue_reviews = _placement_filters(
        filters,
        sa.select(sa.func.count(Placement.id)).where(
            Placement.status == PlacementStatus.ACTIVE, Placement.next_review_due < today
        ),
    ).scalar_subquery()
    counts = db.session.execute(sa.select(open_concerns, overdue_reviews)).one()
    return tuple(counts)


def _aggregates(filters: Filters, today: date) -> Dashboard:
    """The figures that may be cached: every one but open concerns and overdue reviews."""
    period = filters.period
    begin, after = period.utc_range
    result = Dashboard(filters=filters, today=today)

    def referral_filters(query):
        if filters.lot_id:
            query = query.where(Referral.lot_id == filters.lot_id)
        if filters.service_id:
            query = query.where(Referral.service_id == filters.service_id)
        if filters.provider_id:
            query = query.where(
                sa.exists().where(Invitation.referral_id == Referral.id, Invitation.provider_id == filters.provider_id)
            )
        return query

    # Referrals made (and by month).
    published = list(
        db.session.scalars(
            referral_filters(
                sa.select(Referral.published_at).where(Referral.published_at >= begin, Referral.published_at < after)
            )
        )
    )
    result.referrals_made = len(published)
    result.referrals_by_month = _by_month(period, [_london_date(p) for p in published])

    # Offers per referral: live offers in the current round of referrals whose round closed in the period.
    live = sa.func.count(Offer.id)
    per_referral = (
        referral_filters(
            sa.select(Referral.id, live.label("offers"))
            .outerjoin(
                Offer,
                sa.and_(
                    Offer.referral_id == Referral.id,
                    Offer.round == Referral.round,
                    Offer.status != OfferStatus.WITHDRAWN,
                ),
            )
            .where(
                Referral.status != ReferralStatus.DRAFT,
                Referral.deadline >= begin,
                Referral.deadline < after,
            )
        )
        .group_by(Referral.id)
        .subquery()
    )
    # Read with the market's counts at the end, in one statement.
    offer_counts = sa.select(
        sa.func.count().label("closed"),
        sa.func.coalesce(sa.func.sum(per_referral.c.offers), 0).label("offers"),
        sa.func.coalesce(sa.func.sum(sa.case((per_referral.c.offers > 0, 1), else_=0)), 0).label("with_offer"),
    ).subquery()

    # Days from referral to award.
    awarded = db.session.execute(
        referral_filters(
            sa.select(Referral.published_at, Referral.awarded_at).where(
                Referral.awarded_at >= begin, Referral.awarded_at < after, Referral.published_at.is_not(None)
            )
        )
    ).all()
    result.days_to_award = [(_london_date(a) - _london_date(p)).days for p, a in awarded]

    # Placements starting in the period: award to start, spend committed, by month.
    starting = db.session.execute(
        _placement_filters(
            filters,
            sa.select(Placement.start_date, Placement.total_cost, Referral.awarded_at)
            .join(Referral, Referral.id == Placement.referral_id)
            .where(Placement.start_date >= period.start, Placement.start_date <= period.end)
        )
    ).all()
    result.placements_started = len(starting)
    result.spend_committed = sum((Decimal(cost) for _, cost, _ in starting), Decimal("0.00")).quantize(PENNY)
    result.days_to_start = [(start - _london_date(at)).days for start, _, at in starting if at is not None]
    result.placements_by_month = _by_month(period, [start for start, _, _ in starting])

    # Attendance: marks in the period (up to today for spend), the rate, spend to date, and by provider; one row per
    # placement (its price depends on its own rate), added up by provider here.
    last_day = min(period.end, today)
    marks = _placement_filters(
        filters,
        sa.select(
            Placement.rate_type,
            Placement.rate,
            Placement.hours_per_week,
            Placement.expected_sessions,
            Provider.id.label("provider_id"),
            Provider.name.label("provider_name"),
            attended_sum(AttendanceMark.code).label("attended"),
            possible_sum(AttendanceMark.code).label("possible"),
        )
        .select_from(Placement)
        .join(AttendanceMark, AttendanceMark.placement_id == Placement.id)
        .join(Provider, Provider.id == Placement.provider_id)
        .where(AttendanceMark.day >= period.start, AttendanceMark.day <= last_day)
    ).group_by(Placement.id, Provider.id, Provider.name)
    spend = Decimal("0.00")
    by_provider: dict[int, list] = {}
    for row in db.session.execute(marks):
        attended, possible = int(row.attended or 0), int(row.possible or 0)
        result.attended += attended
        result.possible += possible
        price = price_per_session(row.rate_type, row.rate, row.hours_per_week, row.expected_sessions)
        spend += (price * attended).quantize(PENNY, rounding=ROUND_HALF_UP)
        totals = by_provider.setdefault(row.provider_id, [row.provider_name, 0, 0])
        totals[1] += attended
        totals[2] += possible
    result.spend_to_date = spend
    rows = [(name, a, p) for name, a, p in by_provider.values() if p]
    rows.sort(key=lambda r: (-r[2], r[0]))
    result.attendance_by_provider = rows[:TOP_PROVIDERS]

    # Progress against aims at each placement's latest review in the period.
    ranked = _placement_filters(
        filters,
        sa.select(
            Review.id.label("review_id"),
            sa.func.row_number()
            .over(partition_by=Review.placement_id, order_by=(Review.held_on.desc(), Review.id.desc()))
            .label("rank"),
        )
        .join(Placement, Placement.id == Review.placement_id)
        .where(Review.held_on >= period.start, Review.held_on <= period.end)
    ).subquery()
    on_or_ahead = [r.value for r in ProgressRating if r.on_or_ahead]
    rated, good = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((ReviewAim.rating.in_(on_or_ahead), 1), else_=0)))
        .select_from(ReviewAim)
        .join(ranked, ranked.c.review_id == ReviewAim.review_id)
        .where(ranked.c.rank == 1)
    ).one()
    result.aims_rated, result.aims_on_or_ahead = rated, int(good or 0)

    # Placements ended by destination.
    ended = _placement_filters(
        filters,
        sa.select(Placement.destination, sa.func.count())
        .where(Placement.ended_on >= period.start, Placement.ended_on <= period.end)
        .group_by(Placement.destination)
    )
    result.ended_by_destination = {Destination(d): n for d, n in db.session.execute(ended) if d is not None}

    # The market.
    admitted = sa.and_(
        Admission.admitted_on <= period.end,
        sa.or_(Admission.removed_on.is_(None), Admission.removed_on > period.end),
    )

    def market_filters(query, lot_column, provider_column):
        if filters.lot_id:
            query = query.where(lot_column == filters.lot_id)
        if filters.provider_id:
            query = query.where(provider_column == filters.provider_id)
        return query

    per_lot = (
        market_filters(
            sa.select(Admission.lot_id, sa.func.count(sa.distinct(Admission.provider_id)).label("providers")).where(
                admitted
            ),
            Admission.lot_id,
            Admission.provider_id,
        )
        .group_by(Admission.lot_id)
        .subquery()
    )
    lots = db.session.execute(
        sa.select(Lot.id, Lot.number, Lot.title, sa.func.coalesce(per_lot.c.providers, 0))
        .outerjoin(per_lot, per_lot.c.lot_id == Lot.id)
        .where(Lot.id == filters.lot_id if filters.lot_id else sa.true())
        .order_by(Lot.arrangement_id, Lot.number)
    )
    result.providers_per_lot = [
        (LotLabel(ident, number, lot_label(number, title)), providers) for ident, number, title, providers in lots
    ]
    admitted_ids = market_filters(
        sa.select(Admission.provider_id).where(admitted), Admission.lot_id, Admission.provider_id
    )
    market = (
        sa.select(
            sa.func.count().label("admitted"),
            sa.func.sum(sa.case((sa.or_(Provider.small_business, Provider.voluntary_sector), 1), else_=0)).label(
                "small"
            ),
        )
        .where(Provider.id.in_(admitted_ids))
        .subquery()
    )

    def application_filters(query):
        if filters.provider_id:
            query = query.where(Application.provider_id == filters.provider_id)
        if filters.lot_id:
            from portal.models import ApplicationLot

            query = query.where(
                sa.exists().where(
                    ApplicationLot.application_id == Application.id, ApplicationLot.lot_id == filters.lot_id
                )
            )
        return query

    new_applications = application_filters(
        sa.select(sa.func.count(Application.id)).where(
            Application.submitted_at >= begin, Application.submitted_at < after
        )
    ).scalar_subquery()
    decided = db.session.execute(
        application_filters(
            sa.select(Application.decided_at, Application.decision_due_on).where(
                Application.decided_at >= begin, Application.decided_at < after
            )
        )
    ).all()
    result.decided = len(decided)
    result.decided_in_time = sum(1 for at, due in decided if due is not None and _london_date(at) <= due)

    suspensions = market_filters(
        sa.select(sa.func.count(Suspension.id)).where(
            Suspension.starts_on >= period.start, Suspension.starts_on <= period.end
        ),
        Suspension.lot_id,
        Suspension.provider_id,
    ).scalar_subquery()

    # The single-row counts, in one statement (each subquery is one row: joined on true, no cartesian growth).
    counts = db.session.execute(
        sa.select(
            offer_counts.c.closed,
            offer_counts.c.offers,
            offer_counts.c.with_offer,
            market.c.admitted,
            market.c.small,
            new_applications.label("new_applications"),
            suspensions.label("suspensions"),
        ).select_from(offer_counts.join(market, sa.true()))
    ).one()
    result.closed_referrals, result.live_offers = counts.closed, int(counts.offers)
    result.referrals_with_offer = int(counts.with_offer)
    result.admitted_providers, result.small_or_voluntary = counts.admitted, int(counts.small or 0)
    result.new_applications, result.suspensions = counts.new_applications, counts.suspensions
    return result


def _by_month(period: Period, days: list[date]) -> list[tuple[date, int]]:
    counts = Counter(day.replace(day=1) for day in days)
    return [(month, counts.get(month, 0)) for month in period.months()]


__all__ = [
    "DEFINITIONS",
    "Dashboard",
    "Filters",
    "Period",
    "PeriodKind",
    "academic_year",
    "dashboard",
    "median",
    "price_per_session",
    "resolve_period",
    "this_term",
]
