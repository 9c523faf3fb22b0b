"""Demo data for placements: the 2026/27 term dates, a Designated Safeguarding Lead for each council service, and four
placements made from awarded referrals, each with a different safeguarding set-up, started 5 to 10 weeks ago, with
attendance marked for every expected past session (mostly present, a few I/M/O/N; one placement under 90%):

1. Brookfield, the child on its roll (the provider is responsible): the oldest, with a progress report and a review.
2. Colne Valley (unregistered), supplementary support commissioned by SEND (the service is responsible): attendance
   under 90%, its review overdue.
3. Brookfield, the child on the home school's roll and the school commissioning (the school is responsible, with its
   written confirmation of the provider's staff checks): an open concern, and today's marks not yet recorded (so
   ``flask attendance alerts`` has something to do).
4. Brookfield, ended last week: back to the home school.

The children are fictional. Rows are written directly, as demo_calloff does for offers. Deterministic: absences
fall on every n-th expected session, no randomness. Idempotent: nothing is added once any placement exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.clock import LONDON, london_today
from portal.extensions import db
from portal.models import (
    Aim,
    AlertKind,
    AttendanceAlert,
    AttendanceMark,
    Child,
    Commissioner,
    Concern,
    CouncilService,
    Destination,
    ExclusionStatus,
    Gender,
    HalfTerm,
    Invitation,
    Lot,
    Need,
    Offer,
    OfferStatus,
    OnRoll,
    OnRollStatus,
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
    Site,
    User,
)
from portal.services import attendance, review_schedule, safeguarding
from portal.services.attendance_codes import PRESENT_BY_SESSION, UNEXPLAINED
from portal.services.demo_calloff import AIMS, _upn
from portal.services.placements import ALL_SESSIONS

ACADEMIC_YEAR = "2026/27"
# A typical English 2026/27 school year (Easter Sunday is 28 March 2027).
HALF_TERMS = [
    (1, date(2026, 9, 2), date(2026, 10, 23)),
    (2, date(2026, 11, 2), date(2026, 12, 18)),
    (3, date(2027, 1, 5), date(2027, 2, 12)),
    (4, date(2027, 2, 22), date(2027, 3, 26)),
    (5, date(2027, 4, 12), date(2027, 5, 28)),
    (6, date(2027, 6, 7), date(2027, 7, 21)),
]
SERVICE_DSLS = {
    "SEND": ("Priya Shah", "SEND safeguarding lead", "send.dsl@council.example", "01895 556001"),
    "Inclusion": ("Tom Reilly", "Inclusion safeguarding lead", "inclusion.dsl@council.example", "01895 556002"),
    "Virtual School": ("Grace Mensah", "Virtual School head", "virtual.dsl@council.example", "01895 556003"),
    "Medical Needs": ("Owen Price", "Medical needs safeguarding lead", "medical.dsl@council.example", "01895 556004"),
    "Children Missing Education": (
        "Hannah Cole",
        "Children missing education lead",
        "cme.dsl@council.example",
        "01895 556005",
    ),
    "Post-16": ("Luis Romero", "Post-16 safeguarding lead", "post16.dsl@council.example", "01895 556006"),
}
OFFICER_EMAIL = "send.officer@council.example"
MORNINGS = " ".join(key for key in ALL_SESSIONS if key.endswith("-am"))
# A session is marked once its register is taken: mornings from 9:30, afternoons from 13:30 (London).
REGISTER_TAKEN = {"am": time(9, 30), "pm": time(13, 30)}
ABSENCE_CODES = ["I", "M", "O", "N"]


@dataclass(frozen=True)
class Plan:
    """One demo placement."""

    first_name: str
    last_name: str
    born: date
    upn_digits: str
    home_school: str
    provider: str
    lot: int
    weeks_ago: int
    hours: Decimal
    sessions: str
    expected: str
    rate: Decimal
    on_roll: OnRoll
    role: ProvisionRole
    commissioner: Commissioner
    # One expected session in this many is missed (in turn I, M, O, N): 5 gives 80% attendance.
    absent_every: int
    profile: str
    needs: tuple[Need, ...]


PLANS = [
    Plan(
        first_name="Morgan",
        last_name="Tate",
        born=date(2011, 3, 14),
        upn_digits="301234567893",
        home_school="",
        provider="Brookfield Learning Centre",
        lot=1,
        weeks_ago=10,
        hours=Decimal("25.0"),
        sessions="Monday to Friday, 9am to 3pm",
        expected=" ".join(ALL_SESSIONS),
        rate=Decimal("145.00"),
        on_roll=OnRoll.PROVIDER,
        role=ProvisionRole.MAIN,
        commissioner=Commissioner.COUNCIL,
        absent_every=25,
        profile="Permanently excluded in Year 9; responds well to a calm, structured day and practical work.",
        needs=(Need.EXCLUSION, Need.SEMH),
    ),
    Plan(
        first_name="Alex",
        last_name="Nowak",
        born=date(2012, 7, 2),
        upn_digits="301234567894",
        home_school="Hayes Park School",
        provider="Colne Valley Tutors",
        lot=3,
        weeks_ago=8,
        hours=Decimal("12.5"),
        sessions="Monday to Friday mornings, 9:30am to 12pm",
        expected=MORNINGS,
        rate=Decimal("95.00"),
        on_roll=OnRoll.HOME_SCHOOL,
        role=ProvisionRole.SUPPLEMENTARY,
        commissioner=Commissioner.COUNCIL,
        absent_every=5,
        profile="Anxious about school after a long illness; tutoring at home and in the library to rebuild routine.",
        needs=(Need.ANXIETY_EBSA, Need.MEDICAL),
    ),
    Plan(
        first_name="Sam",
        last_name="Iqbal",
        born=date(2012, 11, 20),
        upn_digits="301234567895",
        home_school="Ruislip High School",
        provider="Brookfield Learning Centre",
        lot=2,
        weeks_ago=5,
        hours=Decimal("20.0"),
        sessions="Monday to Friday, 9:30am to 2:30pm",
        expected=" ".join(ALL_SESSIONS),
        rate=Decimal("120.00"),
        on_roll=OnRoll.HOME_SCHOOL,
        role=ProvisionRole.MAIN,
        commissioner=Commissioner.SCHOOL,
        absent_every=17,
        profile="At risk of exclusion; the school is funding a term of small-group provision with a plan to return.",
        needs=(Need.SEMH,),
    ),
    Plan(
        first_name="Jamie",
        last_name="Clarke",
        born=date(2011, 9, 8),
        upn_digits="301234567896",
        home_school="Harlington Park School",
        provider="Brookfield Learning Centre",
        lot=2,
        weeks_ago=10,
        hours=Decimal("15.0"),
        sessions="Monday to Friday mornings",
        expected=MORNINGS,
        rate=Decimal("110.00"),
        on_roll=OnRoll.PROVIDER,
        role=ProvisionRole.MAIN,
        commissioner=Commissioner.COUNCIL,
        absent_every=20,
        profile="Struggled with transition to secondary; a short placement to rebuild confidence before returning.",
        needs=(Need.ANXIETY_EBSA,),
    ),
]


def seed(now: datetime) -> None:
    """Add the demo placements (with the term dates and the services' DSLs) if there are none yet."""
    _seed_term_dates()
    _seed_service_dsls()
    db.session.flush()
    if db.session.scalar(sa.select(sa.exists().where(Placement.id.is_not(None)))):
        return
    officer = db.session.scalar(sa.select(User).where(User.email == OFFICER_EMAIL))
    if officer is None:
        return
    today = london_today(now)
    lots = {lot.number: lot for lot in db.session.scalars(sa.select(Lot))}
    providers = {p.name: p for p in db.session.scalars(sa.select(Provider))}
    if not lots or any(plan.provider not in providers or plan.lot not in lots for plan in PLANS):
        return
    first_day = today - timedelta(weeks=12)
    days = [first_day + timedelta(days=n) for n in range((today - first_day).days + 1)]
    calendar = attendance.term_calendar(first_day, today)
    made = []
    for plan in PLANS:
        provider = providers[plan.provider]
        provider_user = db.session.scalar(
            sa.select(User).where(User.provider_id == provider.id).order_by(User.id).limit(1)
        )
        if provider_user is None:
            return
        made.append(_placement(plan, officer, provider, provider_user, lots[plan.lot], today, now))
    db.session.flush()
    oldest, _supplementary, school, ended = made
    ended_on = today - timedelta(days=7)
    for placement, plan in zip(made, PLANS, strict=True):
        last_day = ended_on if placement is ended else today
        _attendance(placement, days, calendar, last_day, now, plan.absent_every, skip_today=placement is school)
    _review_history(oldest, officer)
    _concern(school, now)
    _end(ended, officer, ended_on)
    db.session.flush()


# ---- Reference data -------------------------------------------------------------------------------------------


def _seed_term_dates() -> None:
    if db.session.scalar(sa.select(sa.exists().where(HalfTerm.academic_year == ACADEMIC_YEAR))):
        return
    for position, starts_on, ends_on in HALF_TERMS:
        db.session.add(HalfTerm(academic_year=ACADEMIC_YEAR, position=position, starts_on=starts_on, ends_on=ends_on))


def _seed_service_dsls() -> None:
    for service in db.session.scalars(sa.select(CouncilService)):
        if service.dsl_name or service.name not in SERVICE_DSLS:
            continue
        service.dsl_name, service.dsl_role, service.dsl_email, service.dsl_phone = SERVICE_DSLS[service.name]


# ---- The placements -------------------------------------------------------------------------------------------


def _child(plan: Plan, officer: User) -> Child:
    child = Child(
        first_name=plan.first_name,
        last_name=plan.last_name,
        date_of_birth=plan.born,
        upn=_upn(plan.upn_digits),
        gender=Gender.NOT_KNOWN,
        home_school=plan.home_school,
        on_roll_status=OnRollStatus.HOME_SCHOOL if plan.home_school else OnRollStatus.NOT_ON_ROLL,
        ehc_plan=False,
        looked_after=False,
        exclusion_status=ExclusionStatus.PERMANENTLY_EXCLUDED if Need.EXCLUSION in plan.needs else ExclusionStatus.NONE,
        exclusion_date=date(2026, 6, 15) if Need.EXCLUSION in plan.needs else None,
        created_by_id=officer.id,
    )
    db.session.add(child)
    return child


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _placement(
    plan: Plan, officer: User, provider: Provider, provider_user: User, lot: Lot, today: date, now: datetime
) -> Placement:
    start = _monday(today - timedelta(weeks=plan.weeks_ago))
    awarded_at = datetime.combine(start - timedelta(days=10), time(11), tzinfo=UTC)
    duration_weeks = 12
    referral = Referral(
        child=_child(plan, officer),
        service_id=officer.service_id,
        lot_id=lot.id,
        officer_id=officer.id,
        status=ReferralStatus.AWARDED,
        hours_per_week=plan.hours,
        sessions=plan.sessions,
        start_date=start,
        duration_weeks=duration_weeks,
        location="Within 30 minutes of home by bus",
        travel_needs="Travels independently by bus",
        reintegration_criteria="Attends 90% of sessions for six weeks and manages a full morning in class",
        profile=plan.profile,
        round=1,
        published_at=awarded_at - timedelta(days=14),
        deadline=awarded_at - timedelta(days=2),
        awarded_at=awarded_at,
        awarded_by_id=officer.id,
        award_rationale="The best value for money: meets every aim at a fair price.",
        created_at=awarded_at - timedelta(days=21),
    )
    referral.needs = [ReferralNeed(need=need) for need in plan.needs]
    referral.aims = [
        Aim(position=n, description=d, baseline=b, target=t, measure=m) for n, (d, b, t, m) in enumerate(AIMS, start=1)
    ]
    db.session.add(referral)
    db.session.flush()
    db.session.add(
        Invitation(
            referral_id=referral.id,
            round=1,
            provider_id=provider.id,
            invited_at=referral.published_at,
            viewed_at=referral.published_at + timedelta(hours=3),
        )
    )
    units = Decimal(5)
    total = plan.rate * units * duration_weeks
    offer = Offer(
        referral_id=referral.id,
        round=1,
        provider_id=provider.id,
        status=OfferStatus.AWARDED,
        submitted_by_id=provider_user.id,
        submitted_at=referral.published_at + timedelta(days=4),
        start_date=start,
        hours_per_week=plan.hours,
        sessions=plan.sessions,
        location=f"{provider.name}, main site",
        staffing_ratio="1:4",
        transport="Travel training for the first fortnight",
        delivery_and_staffing="A qualified teacher and a key worker; small groups of up to six",
        safeguarding="DSL on site every day; staff hold enhanced DBS checks; daily attendance calls home",
        rate_type=RateType.DAY,
        rate=plan.rate,
        units_per_week=units,
        total=total,
    )
    db.session.add(offer)
    db.session.flush()
    decided = safeguarding.responsibility(plan.on_roll, plan.role, plan.commissioner)
    school = {}
    if plan.on_roll in {OnRoll.HOME_SCHOOL, OnRoll.OTHER_SCHOOL}:
        school["school_name"] = plan.home_school
    if decided.needs_staff_checks_confirmation:
        school.update(
            school_dsl_name="Helen Marsh",
            school_dsl_email="dsl@ruislip-high.example",
            school_dsl_phone="01895 630000",
            staff_checks_confirmed_on=start - timedelta(days=3),
            staff_checks_reference="Letter from Brookfield's head of centre confirming enhanced DBS checks, on file",
        )
    placement = Placement(
        referral_id=referral.id,
        offer_id=offer.id,
        child_id=referral.child_id,
        provider_id=provider.id,
        service_id=referral.service_id,
        lot_id=lot.id,
        officer_id=officer.id,
        created_by_id=officer.id,
        created_at=awarded_at + timedelta(days=2),
        start_date=start,
        planned_end_date=start + timedelta(weeks=duration_weeks) - timedelta(days=3),
        hours_per_week=plan.hours,
        sessions=plan.sessions,
        expected_sessions=plan.expected,
        full_time=plan.hours >= 25,
        rate_type=RateType.DAY,
        rate=plan.rate,
        units_per_week=units,
        total_cost=total,
        reintegration_criteria=referral.reintegration_criteria,
        ehc_plan_reference="",
        next_review_due=review_schedule.default_next_review(start),
        on_roll=plan.on_roll,
        provision_role=plan.role,
        commissioner=plan.commissioner,
        responsible_party=decided.party,
        responsibility_confirmed_by_id=officer.id,
        responsibility_confirmed_at=awarded_at + timedelta(days=2),
        **school,
    )
    site = db.session.scalar(sa.select(Site).where(Site.provider_id == provider.id).order_by(Site.id).limit(1))
    if site is not None:
        placement.sites = [PlacementSite(site_id=site.id)]
    db.session.add(placement)
    return placement


def _attendance(
    placement: Placement,
    days: list[date],
    calendar: attendance.TermCalendar,
    last_day: date,
    now: datetime,
    absent_every: int,
    *,
    skip_today: bool,
) -> None:
    """A mark for every expected session from the start to ``last_day``; today's only once its register is taken
    (and none today when ``skip_today``). An unexplained absence raised its alert that day."""
    local_now = now.astimezone(LONDON)
    today = local_now.date()
    provider_user_id = placement.offer.submitted_by_id
    alerted: set[date] = set()
    sessions = 0
    for day in days:
        if day > last_day:
            continue
        # Term time, weekdays but bank holidays, from the start: as the attendance grid and alerts expect.
        for session in sorted(attendance.expected(placement, day, calendar)):
            if day == today and (skip_today or local_now.time() < REGISTER_TAKEN[session]):
                continue
            sessions += 1
            absent = sessions % absent_every == 0
            code = ABSENCE_CODES[(sessions // absent_every) % 4] if absent else PRESENT_BY_SESSION[session]
            recorded = datetime.combine(day, REGISTER_TAKEN[session], tzinfo=LONDON).astimezone(UTC)
            # Now and then a session is recorded the next day (the SLA's "recorded the same day" KPI counts these).
            late = sessions % 23 == 0 and day < today
            db.session.add(
                AttendanceMark(
                    placement_id=placement.id,
                    day=day,
                    session=session,
                    code=code,
                    recorded_by_id=provider_user_id,
                    recorded_at=recorded + timedelta(days=1) if late else recorded,
                    recorded_same_day=not late,
                )
            )
            if code in UNEXPLAINED and day not in alerted:
                # One alert a day and kind (the table is unique on them).
                alerted.add(day)
                db.session.add(
                    AttendanceAlert(placement_id=placement.id, day=day, kind=AlertKind.ABSENCE, raised_at=recorded)
                )


def _review_history(placement: Placement, officer: User) -> None:
    """The oldest placement's first progress report and review; its next review is then due from that review."""
    due = placement.next_review_due
    aims = placement.referral.aims
    report = ProgressReport(
        placement_id=placement.id,
        review_due_on=due,
        submitted_at=datetime.combine(review_schedule.report_due_on(due), time(15), tzinfo=UTC),
        submitted_by_id=placement.offer.submitted_by_id,
        child_view="I like the woodwork sessions and my key worker. Maths is still hard but I do it now.",
    )
    ratings = [ProgressRating.ON_TARGET, ProgressRating.BEHIND]
    report.aims = [
        ReportAim(
            aim_id=aim.id,
            rating=rating,
            evidence="Weekly attendance returns and the key worker's log: steady improvement since the start.",
        )
        for aim, rating in zip(aims, ratings, strict=False)
    ]
    db.session.add(report)
    db.session.flush()
    next_review = review_schedule.default_next_review(due)
    review = Review(
        placement_id=placement.id,
        held_on=due,
        due_on=due,
        report_id=report.id,
        recorded_by_id=officer.id,
        recorded_at=datetime.combine(due, time(16), tzinfo=UTC),
        next_steps="Keep the full timetable; begin two taster mornings a week at a mainstream school next half term.",
        readiness=Readiness.SOON,
        next_review_on=next_review,
    )
    review.aims = [
        ReviewAim(aim_id=aim.id, rating=rating, note="Agreed with the provider's report.")
        for aim, rating in zip(aims, ratings, strict=False)
    ]
    db.session.add(review)
    placement.next_review_due = next_review


def _concern(placement: Placement, now: datetime) -> None:
    db.session.add(
        Concern(
            placement_id=placement.id,
            raised_by_id=placement.offer.submitted_by_id,
            raised_at=now - timedelta(days=2),
            summary="Said an older young person is pressuring them to carry things",
            details="At lunch the child told their key worker that an older young person near the bus stop has asked "
            "them to carry a bag for money. No injuries seen. The key worker wrote down what was said.",
        )
    )


def _end(placement: Placement, officer: User, ended_on: date) -> None:
    placement.status = PlacementStatus.ENDED
    placement.ended_on = ended_on
    placement.end_reason = "Met the reintegration criteria: attended 95% of sessions for six weeks."
    placement.destination = Destination.HOME_SCHOOL
    placement.ended_by_id = officer.id
    placement.ended_at = datetime.combine(ended_on, time(16), tzinfo=UTC)
