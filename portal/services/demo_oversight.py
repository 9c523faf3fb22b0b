"""Demo data across a full academic year, so the manager's oversight dashboard shows meaningful figures.

Over the previous academic year (from 1 September last year) to today, plus the summer term before it: about 60
referrals from the three demo officers' services across the lots, published and awarded through the months (some with
no offer: withdrawn, or off-DPS when no provider in the lot could take them), about 35 placements from the awards with
different safeguarding set-ups, attendance marked for every expected past session (85-97% a placement, a few
unexplained absences), progress reports and reviews every six weeks with ratings, placements ended with their
destinations, a few concerns (most closed), the decided applications dated through the year (one decided late), a
past suspension, a complaint and a performance meeting.

Rows are written directly with the models (marks in bulk), not through the services: no emails or notifications.
The children are fictional. Deterministic (``random.Random(2026)``), and idempotent: nothing is added once the first
demo child of this module exists. It runs after the other demo seeds (it needs their providers, SLAs and officers).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.clock import LONDON, london_today
from portal.extensions import db
from portal.models import (
    Admission,
    Aim,
    AlertKind,
    Application,
    ApplicationStatus,
    AttendanceAlert,
    AttendanceMark,
    Child,
    Commissioner,
    Complaint,
    Concern,
    ConcernStatus,
    Destination,
    ExclusionStatus,
    Gender,
    HalfTerm,
    Invitation,
    Lot,
    Need,
    OffDpsRequest,
    OffDpsStatus,
    Offer,
    OfferStatus,
    OnRoll,
    OnRollStatus,
    PerformanceMeeting,
    Placement,
    PlacementSite,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Provider,
    ProvisionRole,
    RateType,
    Readiness,
    Referral,
    ReferralNeed,
    ReferralStatus,
    ReportAim,
    Review,
    ReviewAim,
    Role,
    Site,
    Sla,
    Suspension,
    User,
)
from portal.services import attendance, review_schedule, safeguarding
from portal.services.attendance_codes import PRESENT_BY_SESSION, UNEXPLAINED
from portal.services.demo_calloff import AIMS, _upn
from portal.services.placements import ALL_SESSIONS
from portal.services.working_days import add_working_days, decision_due_on

SEED = 2026
REFERRALS = 60
# The demo children's UPNs are 4026 followed by their number: the first one marks the demo as seeded.
UPN_PREFIX = "4026"
OFFICER_EMAILS = (
    "send.officer@council.example",
    "inclusion.officer@council.example",
    "virtual.school@council.example",
)
MANAGER_EMAIL = "manager@council.example"
# How often each lot is asked for (lot 4 has no provider with an SLA in force in the demo: those go off-DPS).
LOT_WEIGHTS = {1: 30, 2: 35, 3: 25, 4: 10}
FIRST_NAMES = [
    "Aiden", "Amara", "Bella", "Caleb", "Chloe", "Darius", "Ellie", "Ethan", "Freya", "Harvey", "Isla", "Jayden",
    "Kacper", "Layla", "Leon", "Maya", "Mohammed", "Nia", "Oscar", "Poppy", "Reece", "Ruby", "Tyler", "Zara",
]  # fmt: skip
LAST_NAMES = [
    "Adeyemi", "Bennett", "Carter", "Dhillon", "Evans", "Fraser", "Gill", "Hughes", "Khan", "Lewandowski", "Morris",
    "Nguyen", "O'Brien", "Patel", "Quinn", "Robinson", "Singh", "Thompson", "Walsh", "Young",
]  # fmt: skip
SCHOOLS = [
    "Harlington Park School",
    "Ruislip High School",
    "Hayes Park School",
    "Uxbridge Vale Academy",
    "Northwood Green School",
]
PROFILES = [
    "Finds a full timetable overwhelming; calmer in small groups with a trusted adult.",
    "Permanently excluded after repeated incidents; enjoys practical and outdoor work.",
    "Has missed most of the last term through anxiety; wants to sit GCSE English and maths.",
    "Long-term medical needs; needs a flexible timetable and a quiet space.",
    "At risk of exclusion; the school wants a term of small-group work and a plan back.",
    "Not on any school's roll since moving to the borough; needs a full-time place quickly.",
]
NEEDS = [
    (Need.SEMH,),
    (Need.EXCLUSION, Need.SEMH),
    (Need.ANXIETY_EBSA,),
    (Need.MEDICAL, Need.ANXIETY_EBSA),
    (Need.AUTISM, Need.SLCN),
    (Need.LEARNING,),
]
# (on roll with, role, commissioner): the safeguarding set-ups, in turn.
SET_UPS = [
    (OnRoll.PROVIDER, ProvisionRole.MAIN, Commissioner.COUNCIL),
    (OnRoll.HOME_SCHOOL, ProvisionRole.MAIN, Commissioner.SCHOOL),
    (OnRoll.HOME_SCHOOL, ProvisionRole.SUPPLEMENTARY, Commissioner.COUNCIL),
    (OnRoll.NONE, ProvisionRole.MAIN, Commissioner.COUNCIL),
    (OnRoll.HOME_SCHOOL, ProvisionRole.MAIN, Commissioner.COUNCIL),
]
# The destinations of the ended placements, in turn: mostly back to a school.
DESTINATIONS = [
    Destination.HOME_SCHOOL,
    Destination.HOME_SCHOOL,
    Destination.FURTHER_EDUCATION,
    Destination.NEW_MAINSTREAM,
    Destination.HOME_SCHOOL,
    Destination.NOT_IN_EDUCATION,
    Destination.SPECIAL_SCHOOL,
    Destination.HOME_SCHOOL,
    Destination.OTHER,
    Destination.HOME_SCHOOL,
    Destination.FURTHER_EDUCATION,
    Destination.HOME_SCHOOL,
]
END_REASONS = {
    Destination.HOME_SCHOOL: "Met the reintegration criteria and returned to the home school.",
    Destination.NEW_MAINSTREAM: "A managed move to a new mainstream school, with a phased start.",
    Destination.SPECIAL_SCHOOL: "The EHC plan now names a special school, which has a place.",
    Destination.FURTHER_EDUCATION: "Left at the end of Year 11 for a college course.",
    Destination.EMPLOYMENT: "Started an apprenticeship.",
    Destination.NOT_IN_EDUCATION: "Stopped attending after turning 16; referred to the post-16 team.",
    Destination.OTHER: "Moved out of the borough with the family.",
}
MORNINGS = " ".join(key for key in ALL_SESSIONS if key.endswith("-am"))
TIMETABLES = [
    # hours, sessions text, expected sessions, rate
    (Decimal("25.0"), "Monday to Friday, 9am to 3pm", " ".join(ALL_SESSIONS), (130, 160)),
    (Decimal("15.0"), "Monday to Friday mornings", MORNINGS, (85, 120)),
    (Decimal("20.0"), "Monday to Friday, 9:30am to 2:30pm", " ".join(ALL_SESSIONS), (110, 140)),
]
REGISTER_TAKEN = {"am": time(9, 30), "pm": time(13, 30)}
ABSENCES = ["I", "I", "I", "M", "M", "C", "O", "N"]
RATINGS = [ProgressRating.NO_PROGRESS, ProgressRating.BEHIND, ProgressRating.ON_TARGET, ProgressRating.AHEAD]


@dataclass
class _Context:
    rng: random.Random
    now: datetime
    today: date
    officers: list[User]
    manager: User | None
    lots: dict[int, Lot]
    provider_users: dict[int, User]
    # lot id -> [(provider, admitted on, no offers after)]
    suppliers: dict[int, list[tuple[Provider, date, date]]]
    sites: dict[int, int]


def seeded() -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(Child.upn == _upn(f"{UPN_PREFIX}{1:08d}")))))


def academic_year_start(today: date) -> date:
    return date(today.year if today.month >= 9 else today.year - 1, 9, 1)


def window_start(today: date) -> date:
    """The first day of the summer term before the previous academic year (mid-April)."""
    return date(academic_year_start(today).year - 1, 4, 14)


def seed(now: datetime) -> None:
    """Seed the year (see the module's docstring), unless it is seeded already or the other demos are missing."""
    if seeded():
        return
    today = london_today(now)
    officers = [db.session.scalar(sa.select(User).where(User.email == email)) for email in OFFICER_EMAILS]
    lots = {lot.number: lot for lot in db.session.scalars(sa.select(Lot))}
    if any(officer is None for officer in officers) or not lots:
        return
    rng = random.Random(SEED)
    start = window_start(today)
    _seed_term_dates(start, today)
    db.session.flush()
    _date_applications(start, today)
    context = _Context(
        rng=rng,
        now=now,
        today=today,
        officers=officers,
        manager=db.session.scalar(sa.select(User).where(User.email == MANAGER_EMAIL)),
        lots=lots,
        provider_users=_provider_users(),
        suppliers=_suppliers(today),
        sites={site.provider_id: site.id for site in db.session.scalars(sa.select(Site).order_by(Site.id.desc()))},
    )
    # Through the months, a little busier lately; the last few still open for offers.
    span = (today - timedelta(days=6) - (start + timedelta(days=7))).days
    placements: list[Placement] = []
    for number in range(1, REFERRALS + 1):
        share = ((number - 1) / (REFERRALS - 1)) ** 0.65
        created = start + timedelta(days=7 + int(span * share) + rng.randint(0, 3))
        placement = _referral(context, number, created)
        if placement is not None:
            placements.append(placement)
    db.session.flush()
    calendar = attendance.term_calendar(start, today)
    marks: list[dict] = []
    alerts: list[dict] = []
    ended = 0
    for placement in placements:
        if placement.planned_end_date < today:
            _end(placement, DESTINATIONS[ended % len(DESTINATIONS)], context)
            ended += 1
        _attendance(placement, calendar, context, marks, alerts)
        _reviews(placement, context)
    if marks:
        db.session.execute(sa.insert(AttendanceMark), marks)
    if alerts:
        db.session.execute(sa.insert(AttendanceAlert), alerts)
    _concerns(placements, context)
    _market(context, start)
    db.session.flush()


# ---- Reference data -------------------------------------------------------------------------------------------


def typical_half_terms(first_year: int) -> list[tuple[int, date, date]]:
    """Typical English term dates for the academic year starting in September of ``first_year``."""
    second = first_year + 1
    return [
        (1, date(first_year, 9, 3), date(first_year, 10, 23)),
        (2, date(first_year, 11, 3), date(first_year, 12, 19)),
        (3, date(second, 1, 5), date(second, 2, 13)),
        (4, date(second, 2, 23), date(second, 3, 27)),
        (5, date(second, 4, 13), date(second, 5, 22)),
        (6, date(second, 6, 1), date(second, 7, 21)),
    ]


def _seed_term_dates(start: date, today: date) -> None:
    for first_year in range(start.year - 1, today.year + 1):
        year = f"{first_year}/{str(first_year + 1)[2:]}"
        if not date(first_year, 9, 1) <= today + timedelta(days=366) or date(first_year + 1, 8, 31) < start:
            continue
        if db.session.scalar(sa.select(sa.exists().where(HalfTerm.academic_year == year))):
            continue
        for position, starts_on, ends_on in typical_half_terms(first_year):
            db.session.add(HalfTerm(academic_year=year, position=position, starts_on=starts_on, ends_on=ends_on))


def _provider_users() -> dict[int, User]:
    found: dict[int, User] = {}
    for user in db.session.scalars(sa.select(User).where(User.role == Role.PROVIDER).order_by(User.id)):
        found.setdefault(user.provider_id, user)
    return found


def _suppliers(today: date) -> dict[int, list[tuple[Provider, date, date]]]:
    """The providers who could be invited to each lot, from when, and until when: admitted to the lot with an SLA
    that was approved (a terminated SLA or a suspension ends it a month before)."""
    approved = {
        sla.provider_id: sla
        for sla in db.session.scalars(sa.select(Sla).where(Sla.approved_at.is_not(None)).order_by(Sla.number))
    }
    suspended = {
        s.provider_id: s.starts_on
        for s in db.session.scalars(sa.select(Suspension).where(Suspension.lifted_at.is_(None)))
        if s.ends_on is None or s.ends_on >= today
    }
    found: dict[int, list[tuple[Provider, date, date]]] = {}
    for admission in db.session.scalars(sa.select(Admission).order_by(Admission.provider_id, Admission.lot_id)):
        sla = approved.get(admission.provider_id)
        if sla is None or admission.removed_on is not None:
            continue
        until = min(
            (d for d in (sla.terminated_on, suspended.get(admission.provider_id)) if d is not None), default=today
        )
        if until < today:
            until -= timedelta(days=30)
        provider = db.session.get(Provider, admission.provider_id)
        found.setdefault(admission.lot_id, []).append((provider, admission.admitted_on, until))
    return found


def _date_applications(start: date, today: date) -> None:
    """Date the demo's decided applications through the year (the DPS demo decides them all today): most decided
    within 10 working days, the last one late. Admissions start on the day of the decision."""
    decided = db.session.scalars(
        sa.select(Application).where(Application.status == ApplicationStatus.DECIDED).order_by(Application.id)
    ).all()
    plan = [(-40, 6), (-30, 8), (-25, 9), (20, 5), (150, 14), (200, 7)]
    for application, (offset, working_days) in zip(decided, plan, strict=False):
        submitted_on = start + timedelta(days=offset)
        decided_on = add_working_days(submitted_on, working_days)
        if decided_on >= today:
            continue
        application.submitted_at = datetime.combine(submitted_on, time(10), tzinfo=UTC)
        application.decision_due_on = decision_due_on(submitted_on)
        application.decided_at = datetime.combine(decided_on, time(15), tzinfo=UTC)
        for admission in db.session.scalars(sa.select(Admission).where(Admission.application_id == application.id)):
            admission.admitted_on = decided_on


# ---- Referrals and placements ---------------------------------------------------------------------------------


def _child(context: _Context, number: int, officer: User, lot_number: int, created: date) -> Child:
    rng = context.rng
    age = rng.randint(16, 17) if lot_number == 4 else rng.randint(9, 15)
    born = date(created.year - age, rng.randint(1, 12), rng.randint(1, 28))
    school = rng.choice(SCHOOLS) if rng.random() < 0.8 else ""
    excluded = rng.random() < 0.2
    child = Child(
        first_name=rng.choice(FIRST_NAMES),
        last_name=rng.choice(LAST_NAMES),
        date_of_birth=born,
        upn=_upn(f"{UPN_PREFIX}{number:08d}"),
        gender=Gender.NOT_KNOWN,
        home_school=school,
        on_roll_status=OnRollStatus.HOME_SCHOOL if school else OnRollStatus.NOT_ON_ROLL,
        ehc_plan=rng.random() < 0.3,
        looked_after=rng.random() < 0.1,
        exclusion_status=ExclusionStatus.PERMANENTLY_EXCLUDED if excluded else ExclusionStatus.NONE,
        exclusion_date=created - timedelta(days=rng.randint(10, 60)) if excluded else None,
        created_by_id=officer.id,
        created_at=_at(created, 9),
    )
    db.session.add(child)
    return child


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LONDON).astimezone(UTC)


def _monday_after(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def _referral(context: _Context, number: int, created: date) -> Placement | None:
    rng, today = context.rng, context.today
    officer = context.officers[number % len(context.officers)]
    lot_number = rng.choices(list(LOT_WEIGHTS), weights=list(LOT_WEIGHTS.values()))[0]
    lot = context.lots.get(lot_number) or next(iter(context.lots.values()))
    hours, sessions, expected, (low, high) = TIMETABLES[number % len(TIMETABLES)]
    published = created + timedelta(days=rng.randint(1, 4))
    deadline = published + timedelta(days=10)
    duration = rng.choice([12, 26, 39, 52, 76])
    referral = Referral(
        child=_child(context, number, officer, lot_number, created),
        service_id=officer.service_id,
        lot_id=lot.id,
        officer_id=officer.id,
        status=ReferralStatus.OPEN,
        hours_per_week=hours,
        sessions=sessions,
        start_date=_monday_after(deadline + timedelta(days=7)),
        duration_weeks=duration,
        location="Within 30 minutes of home by bus",
        travel_needs="Travels independently by bus" if rng.random() < 0.6 else "Needs a taxi with an escort",
        reintegration_criteria="Attends 90% of sessions for six weeks and manages a full morning in class",
        profile=rng.choice(PROFILES),
        round=1,
        published_at=_at(published, 10),
        deadline=_at(deadline, 12),
        created_at=_at(created, 9),
        updated_at=_at(published, 10),
    )
    referral.needs = [ReferralNeed(need=need) for need in rng.choice(NEEDS)]
    referral.aims = [
        Aim(position=n, description=d, baseline=b, target=t, measure=m) for n, (d, b, t, m) in enumerate(AIMS, start=1)
    ]
    db.session.add(referral)
    db.session.flush()

    eligible = [
        (provider, admitted, until)
        for provider, admitted, until in context.suppliers.get(lot.id, [])
        if admitted <= published <= until and provider.id in context.provider_users
    ]
    for provider, _, _ in eligible:
        db.session.add(
            Invitation(
                referral_id=referral.id,
                round=1,
                provider_id=provider.id,
                invited_at=referral.published_at,
                viewed_at=referral.published_at + timedelta(hours=rng.randint(2, 48)),
            )
        )
    if deadline >= today:
        return None  # still open for offers
    offering = [p for p, _, _ in eligible if rng.random() < 0.85] if rng.random() > 0.12 else []
    if not offering:
        _no_offers(referral, context, deadline, lot_number)
        return None
    offers = []
    for provider in offering:
        rate = Decimal(rng.randint(low, high)) + Decimal("0.00")
        units = Decimal(5)
        offers.append(
            Offer(
                referral_id=referral.id,
                round=1,
                provider_id=provider.id,
                status=OfferStatus.SUBMITTED,
                submitted_by_id=context.provider_users[provider.id].id,
                submitted_at=_at(published + timedelta(days=rng.randint(2, 9)), 14),
                start_date=referral.start_date,
                hours_per_week=hours,
                sessions=sessions,
                location=f"{provider.name}, main site",
                staffing_ratio=rng.choice(["1:1", "1:2", "1:4", "1:6"]),
                transport="Travel training for the first fortnight",
                delivery_and_staffing="A qualified teacher and a key worker; small groups of up to six",
                safeguarding="DSL on site every day; staff hold enhanced DBS checks; daily attendance calls home",
                rate_type=RateType.DAY,
                rate=rate,
                units_per_week=units,
                total=rate * units * duration,
            )
        )
    db.session.add_all(offers)
    awarded_on = deadline + timedelta(days=rng.randint(1, 6))
    if awarded_on >= today:
        return None  # being evaluated
    if rng.random() < 0.2:
        referral.status = ReferralStatus.WITHDRAWN
        referral.withdrawn_at = _at(awarded_on, 11)
        referral.withdrawal_reason = "The child's school found a place in its own inclusion unit."
        return None
    winner = rng.choice(offers)
    for offer in offers:
        offer.status = OfferStatus.AWARDED if offer is winner else OfferStatus.UNSUCCESSFUL
    referral.status = ReferralStatus.AWARDED
    referral.awarded_at = _at(awarded_on, 11)
    referral.awarded_by_id = officer.id
    referral.award_rationale = "The best value for money: meets every aim at a fair price."
    referral.updated_at = referral.awarded_at
    db.session.flush()
    return _placement(context, referral, winner, number, awarded_on, expected)


def _no_offers(referral: Referral, context: _Context, deadline: date, lot_number: int) -> None:
    decided = deadline + timedelta(days=3)
    if decided >= context.today:
        return
    if lot_number == 4 or context.rng.random() < 0.5:
        referral.status = ReferralStatus.OFF_DPS
        db.session.add(
            OffDpsRequest(
                referral_id=referral.id,
                status=OffDpsStatus.APPROVED,
                reason="No provider on the DPS offered; a local college can meet the need directly.",
                requested_by_id=referral.officer_id,
                requested_at=_at(deadline + timedelta(days=1), 10),
                decided_by_id=context.manager.id if context.manager else None,
                decided_at=_at(decided, 10),
                decision_note="Approved: no offer was received through the DPS.",
            )
        )
    else:
        referral.status = ReferralStatus.WITHDRAWN
        referral.withdrawn_at = _at(decided, 10)
        referral.withdrawal_reason = "No offers were received; the service arranged tuition at home instead."
    referral.updated_at = _at(decided, 10)


def _placement(
    context: _Context, referral: Referral, offer: Offer, number: int, awarded_on: date, expected: str
) -> Placement:
    on_roll, role, commissioner = SET_UPS[number % len(SET_UPS)]
    if not referral.child.home_school and on_roll is OnRoll.HOME_SCHOOL:
        on_roll, role, commissioner = SET_UPS[0]
    decided = safeguarding.responsibility(on_roll, role, commissioner)
    school: dict = {}
    if on_roll is OnRoll.HOME_SCHOOL:
        school["school_name"] = referral.child.home_school
    if decided.needs_staff_checks_confirmation:
        school.update(
            school_dsl_name="Helen Marsh",
            school_dsl_email="dsl@school.example",
            school_dsl_phone="01895 630000",
            staff_checks_confirmed_on=referral.start_date - timedelta(days=3),
            staff_checks_reference="Letter from the provider's head of centre confirming enhanced DBS checks, on file",
        )
    start = referral.start_date
    placement = Placement(
        referral_id=referral.id,
        offer_id=offer.id,
        child_id=referral.child_id,
        provider_id=offer.provider_id,
        service_id=referral.service_id,
        lot_id=referral.lot_id,
        officer_id=referral.officer_id,
        created_by_id=referral.officer_id,
        created_at=_at(awarded_on + timedelta(days=2), 12),
        start_date=start,
        planned_end_date=start + timedelta(weeks=referral.duration_weeks) - timedelta(days=3),
        hours_per_week=offer.hours_per_week,
        sessions=offer.sessions,
        expected_sessions=expected,
        full_time=offer.hours_per_week >= 25,
        rate_type=offer.rate_type,
        rate=offer.rate,
        units_per_week=offer.units_per_week,
        total_cost=offer.total,
        reintegration_criteria=referral.reintegration_criteria,
        next_review_due=review_schedule.default_next_review(start),
        on_roll=on_roll,
        provision_role=role,
        commissioner=commissioner,
        responsible_party=decided.party,
        responsibility_confirmed_by_id=referral.officer_id,
        responsibility_confirmed_at=_at(awarded_on + timedelta(days=2), 12),
        **school,
    )
    site = context.sites.get(offer.provider_id)
    if site is not None:
        placement.sites = [PlacementSite(site_id=site)]
    db.session.add(placement)
    placement.referral = referral
    placement.offer = offer
    return placement


def _end(placement: Placement, destination: Destination, context: _Context) -> None:
    ended_on = placement.planned_end_date
    if destination is Destination.NOT_IN_EDUCATION:
        ended_on -= timedelta(weeks=3)
    placement.status = PlacementStatus.ENDED
    placement.ended_on = ended_on
    placement.end_reason = END_REASONS[destination]
    placement.destination = destination
    placement.ended_by_id = placement.officer_id
    placement.ended_at = _at(ended_on, 16)


# ---- What happened during the placements ----------------------------------------------------------------------


def _attendance(
    placement: Placement, calendar: attendance.TermCalendar, context: _Context, marks: list, alerts: list
) -> None:
    """A mark for every expected session from the start to yesterday (or the end): present 85-97% of the time."""
    rng = context.rng
    present = rng.uniform(0.85, 0.97)
    recorder = placement.offer.submitted_by_id
    last = min(placement.ended_on or placement.planned_end_date, context.today - timedelta(days=1))
    day = placement.start_date
    alerted: set[date] = set()
    while day <= last:
        for session in sorted(attendance.expected(placement, day, calendar)):
            code = PRESENT_BY_SESSION[session] if rng.random() < present else rng.choice(ABSENCES)
            recorded = datetime.combine(day, REGISTER_TAKEN[session], tzinfo=LONDON).astimezone(UTC)
            late = rng.random() < 0.04
            marks.append(
                {
                    "placement_id": placement.id,
                    "day": day,
                    "session": session,
                    "code": code,
                    "recorded_by_id": recorder,
                    "recorded_at": recorded + timedelta(days=1) if late else recorded,
                    "recorded_same_day": not late,
                }
            )
            if code in UNEXPLAINED and day not in alerted:
                alerted.add(day)
                alerts.append(
                    {"placement_id": placement.id, "day": day, "kind": AlertKind.ABSENCE, "raised_at": recorded}
                )
        day += timedelta(days=1)


def _reviews(placement: Placement, context: _Context) -> None:
    """A progress report and a review every six weeks, ratings improving as the placement goes on. A few active
    placements have their latest review overdue."""
    rng, today = context.rng, context.today
    last = placement.ended_on or today
    due = placement.next_review_due
    skip_last = placement.status is PlacementStatus.ACTIVE and rng.random() < 0.25
    step = 0
    while due < last:
        if skip_last and review_schedule.default_next_review(due) >= today:
            break  # this one is overdue
        step += 1
        report_at = review_schedule.report_due_on(due) + timedelta(days=rng.choice([0, 0, 0, 1, 3]))
        ratings = [RATINGS[min(3, max(0, rng.randint(0, 2) + (step > 1) - (rng.random() < 0.2)))] for _ in AIMS]
        report = ProgressReport(
            placement_id=placement.id,
            review_due_on=due,
            submitted_at=_at(report_at, 15),
            submitted_by_id=placement.offer.submitted_by_id,
            child_view="I get on with my key worker and I like the practical lessons.",
        )
        report.aims = [
            ReportAim(aim_id=aim.id, rating=rating, evidence="Attendance returns and the key worker's weekly log.")
            for aim, rating in zip(placement.referral.aims, ratings, strict=False)
        ]
        db.session.add(report)
        db.session.flush()
        next_review = review_schedule.default_next_review(due)
        review = Review(
            placement_id=placement.id,
            held_on=due,
            due_on=due,
            report_id=report.id,
            recorded_by_id=placement.officer_id,
            recorded_at=_at(due, 16),
            next_steps="Keep the timetable; agree the next steps for a return with the family and the school.",
            readiness=rng.choice([Readiness.NOT_YET, Readiness.SOON, Readiness.SOON, Readiness.READY]),
            next_review_on=next_review,
        )
        review.aims = [
            ReviewAim(aim_id=aim.id, rating=rating, note="Agreed with the provider's report.")
            for aim, rating in zip(placement.referral.aims, ratings, strict=False)
        ]
        db.session.add(review)
        due = next_review
    placement.next_review_due = due


def _concerns(placements: list[Placement], context: _Context) -> None:
    """Five concerns: three closed, two still open on active placements."""
    rng = context.rng
    active = [p for p in placements if p.status is PlacementStatus.ACTIVE and p.start_date < context.today]
    ended = [p for p in placements if p.status is PlacementStatus.ENDED]
    closer = context.manager.id if context.manager else None
    for placement in ended[:3]:
        raised = placement.start_date + timedelta(days=rng.randint(10, 40))
        db.session.add(
            Concern(
                placement_id=placement.id,
                status=ConcernStatus.CLOSED,
                raised_by_id=placement.offer.submitted_by_id,
                raised_at=_at(raised, 13),
                summary="Came in with a bruise on the arm and would not say how it happened",
                details="The key worker noticed a bruise at lunch; the child said they fell off a bike at the weekend.",
                action_taken="Spoke to the parent the same day; the account matched. Logged with the DSL.",
                closed_by_id=closer or placement.officer_id,
                closed_at=_at(raised + timedelta(days=5), 11),
                outcome="No further action: the explanation was consistent and no other signs were seen.",
            )
        )
    for placement in active[-2:]:
        db.session.add(
            Concern(
                placement_id=placement.id,
                raised_by_id=placement.offer.submitted_by_id,
                raised_at=context.now - timedelta(days=rng.randint(1, 6)),
                summary="Missed three afternoons and was seen in town with older young people",
                details="The family could not say where the child was on three afternoons this week.",
            )
        )


def _market(context: _Context, start: date) -> None:
    """A past suspension (lifted), a complaint and a performance meeting about the same provider."""
    providers = [p for entries in context.suppliers.values() for p, _, _ in entries]
    if not providers:
        return
    provider = sorted({p.id: p for p in providers}.values(), key=lambda p: p.name)[min(1, len(providers) - 1)]
    manager_id = context.manager.id if context.manager else None
    suspended_on = start + timedelta(days=230)
    if suspended_on + timedelta(days=21) < context.today:
        db.session.add(
            Suspension(
                provider_id=provider.id,
                lot_id=None,
                starts_on=suspended_on,
                ends_on=suspended_on + timedelta(days=28),
                reason="Attendance returns missing for a month; suspended until they are brought up to date.",
                created_by_id=manager_id,
                created_at=_at(suspended_on, 10),
                lifted_at=_at(suspended_on + timedelta(days=14), 10),
                lifted_by_id=manager_id,
                lift_reason="Every missing return has been recorded and checked.",
            )
        )
    if manager_id is None:
        return
    complaint_on = start + timedelta(days=215)
    if complaint_on < context.today:
        db.session.add(
            Complaint(
                provider_id=provider.id,
                received_on=complaint_on,
                summary="A parent complained that attendance calls home were not made for a week.",
                upheld=True,
                recorded_by_id=manager_id,
                recorded_at=_at(complaint_on, 12),
            )
        )
        db.session.add(
            PerformanceMeeting(
                provider_id=provider.id,
                held_on=complaint_on + timedelta(days=10),
                notes="Agreed an action plan: attendance recorded the same day, calls home before 10am.",
                recorded_by_id=manager_id,
                recorded_at=_at(complaint_on + timedelta(days=10), 16),
            )
        )
