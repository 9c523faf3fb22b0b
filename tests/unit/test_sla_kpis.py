"""KPI performance: each KPI of an SLA worked out from seeded placements, marks, reports and reviews, against numbers
worked out by hand; what does not count (another provider, a lot outside the SLA, before the SLA's start, after today
or its end); the rounding; a bounded number of queries; the partial; and the "recorded the same day" flag that
attendance sets on every save."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import current_app, render_template

from portal.extensions import db
from portal.models import (
    AttendanceMark,
    KpiKind,
    Placement,
    ProgressRating,
    ProgressReport,
    Readiness,
    Review,
    ReviewAim,
    Sla,
    SlaLot,
    SlaStatus,
    User,
)
from portal.services import attendance, sla_kpis, slas
from portal.services.sla_kpis import KpiResult
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_child
from tests.factories_placements import Awarded, awarded_referral, make_placement
from tests.factories_slas import make_sla
from tests.helpers import count_queries

SLA_START = date(2027, 1, 18)  # a Monday, the week after the placements start (11 January 2027)
TODAY = date(2027, 3, 26)  # a Friday
WEEK_1 = [SLA_START + timedelta(days=n) for n in range(5)]  # 18 to 22 January
WEEK_2 = [SLA_START + timedelta(days=7 + n) for n in range(5)]  # 25 to 29 January
BEFORE_START = [date(2027, 1, 11) + timedelta(days=n) for n in range(5)]  # 11 to 15 January


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# ---- Building the data ----------------------------------------------------------------------------------------------

_children = iter(range(1, 10_000))


def placement_for(provider, lot, officer, provider_user=None, **fields) -> tuple[Awarded, Placement]:
    """A placement of the provider in the lot (a child of its own)."""
    child = make_child(officer, upn=f"K{next(_children):012d}")
    awarded = awarded_referral(officer=officer, lot=lot, provider=provider, provider_user=provider_user, child=child)
    return awarded, make_placement(awarded, **fields)


def sla_for(provider, lots, *, starts_on: date = SLA_START) -> Sla:
    """The provider's approved SLA covering exactly these lots from ``starts_on`` (made, or the one admission made)."""
    sla = slas.approved(provider.id)
    if sla is None:
        return make_sla(provider, lots, starts_on=starts_on)
    sla.starts_on = starts_on
    sla.lots = [SlaLot(lot_id=lot.id, max_day_rate=Decimal("500.00")) for lot in lots]
    db.session.commit()
    db.session.refresh(sla)
    return sla


def add_marks(placement: Placement, days: list[date], codes: list[str], late: set[int] = frozenset()) -> None:
    """Marks for the days' sessions in order (am, pm), with ``codes`` in that order; the positions in ``late`` were
    saved on a later day."""
    sessions = [(day, session) for day in days for session in ("am", "pm")]
    assert len(codes) <= len(sessions)
    for n, ((day, session), code) in enumerate(zip(sessions, codes, strict=False)):
        db.session.add(
            AttendanceMark(
                placement_id=placement.id,
                day=day,
                session=session,
                code=code,
                recorded_by_id=placement.created_by_id,
                recorded_at=at(day + timedelta(days=1 if n in late else 0), 10),
                recorded_same_day=n not in late,
            )
        )
    db.session.commit()


def add_report(placement: Placement, review_due_on: date, submitted_at: datetime) -> ProgressReport:
    report = ProgressReport(
        placement_id=placement.id,
        review_due_on=review_due_on,
        submitted_at=submitted_at,
        submitted_by_id=placement.created_by_id,
        child_view="I like it here.",
    )
    db.session.add(report)
    db.session.commit()
    return report


def add_review(
    placement: Placement,
    held_on: date,
    ratings: list[ProgressRating],
    *,
    due_on: date | None = None,
    report: ProgressReport | None = None,
) -> Review:
    aims = placement.referral.aims
    review = Review(
        placement_id=placement.id,
        held_on=held_on,
        due_on=due_on or held_on,
        report_id=report.id if report else None,
        recorded_by_id=placement.officer_id,
        next_steps="Keep going.",
        readiness=Readiness.NOT_YET,
        next_review_on=held_on + timedelta(weeks=6),
    )
    review.aims = [ReviewAim(aim_id=aim.id, rating=rating) for aim, rating in zip(aims, ratings, strict=True)]
    db.session.add(review)
    db.session.commit()
    return review


def by_kind(results: list[KpiResult]) -> dict[KpiKind, KpiResult]:
    return {result.kind: result for result in results}


def figures(result: KpiResult) -> tuple:
    return result.numerator, result.denominator, result.actual, result.met


# ---- The hand-worked example ----------------------------------------------------------------------------------------

ON, AHEAD, BEHIND = ProgressRating.ON_TARGET, ProgressRating.AHEAD, ProgressRating.BEHIND


@pytest.fixture
def seeded(app_context):
    """Provider P's approved SLA (lot 1, from 18 January 2027) and two placements in lot 1, A and B; P's placement C
    in lot 2 (outside the SLA); provider Q's placement D in lot 1. What must not count is given numbers that would
    show if it did."""
    lot, other_lot = make_lot(1), make_lot(2)
    provider = eligible_provider(lot, "Provider P")
    officer = make_user("officer")
    a_awarded, a = placement_for(provider, lot, officer, next_review_due=date(2027, 4, 5))
    _, b = placement_for(provider, lot, officer, a_awarded.provider_user, next_review_due=date(2027, 3, 22))
    _, c = placement_for(provider, other_lot, officer, a_awarded.provider_user, next_review_due=date(2027, 3, 22))
    other_provider = eligible_provider(lot, "Provider Q")
    _, d = placement_for(other_provider, lot, officer, next_review_due=date(2027, 3, 22))
    sla = sla_for(provider, [lot])

    # Marks in the period: 20, 3 saved late (17 the same day); 2 X (not possible), so 18 possible, 15 attended
    # (3 absent: I, O, M).
    add_marks(a, WEEK_1, ["/", "\\", "/", "\\", "I", "X", "/", "\\", "/", "\\"], late={2, 7})
    add_marks(b, WEEK_2, ["/", "\\", "O", "\\", "/", "X", "/", "M", "/", "\\"], late={9})
    # Not counted: before the SLA's start, after today, outside the SLA's lots, another provider's.
    add_marks(a, BEFORE_START, ["O"] * 10, late=set(range(10)))
    add_marks(b, [TODAY + timedelta(days=3)], ["O", "O"], late={0, 1})
    add_marks(c, WEEK_1, ["O"] * 10, late=set(range(10)))
    add_marks(d, WEEK_2, ["O"] * 10, late=set(range(10)))

    # Reports: 3 cycles due in the period and passed, 2 on time (66.7%).
    #  A, review 22 February: report due 15 February, submitted at 23:30 that day (GMT): on time.
    report_a = add_report(a, date(2027, 2, 22), at(date(2027, 2, 15), 23, 30))
    #  B, review 15 February: report due 8 February, submitted that day: on time.
    report_b = add_report(b, date(2027, 2, 15), at(date(2027, 2, 8), 12))
    #  B's current cycle, review 22 March: report due 15 March, none submitted by today: late.
    # Not counted: A's report for 5 April (due 29 March, not passed yet) already in; C's and D's late reports; a
    # report due before the SLA started (review 20 January, due 13 January).
    add_report(a, date(2027, 4, 5), at(date(2027, 3, 25), 9))
    add_report(c, date(2027, 2, 22), at(date(2027, 3, 1), 9))
    add_report(d, date(2027, 2, 22), at(date(2027, 3, 1), 9))
    add_report(a, date(2027, 1, 20), at(date(2027, 1, 19), 9))

    # Reviews: A's latest (22 February) rates 1 of 2 on or ahead; B's (15 February) 2 of 2: 3 of 4 (75.0%).
    # A's earlier review (20 January, due before the SLA's report window) and the other placements' do not count.
    add_review(a, date(2027, 1, 20), [AHEAD, AHEAD])
    add_review(a, date(2027, 2, 22), [ON, BEHIND], report=report_a)
    add_review(b, date(2027, 2, 15), [AHEAD, AHEAD], report=report_b)
    add_review(c, date(2027, 2, 22), [BEHIND, BEHIND])
    add_review(d, date(2027, 2, 22), [BEHIND, BEHIND])
    # A review before the SLA's start (after A's placement started) is not A's latest in the period either way.
    add_review(b, date(2027, 1, 15), [BEHIND, BEHIND], due_on=date(2027, 1, 15))
    return sla


def test_each_kpi_against_hand_worked_numbers(seeded):
    results = sla_kpis.performance(seeded, TODAY)
    assert [r.kind for r in results] == [kpi.kind for kpi in seeded.kpis]
    found = by_kind(results)
    assert figures(found[KpiKind.ATTENDANCE_SAME_DAY]) == (17, 20, Decimal("85.0"), False)
    assert figures(found[KpiKind.ATTENDANCE_RATE]) == (15, 18, Decimal("83.3"), False)
    assert figures(found[KpiKind.REPORTS_ON_TIME]) == (2, 3, Decimal("66.7"), False)
    assert figures(found[KpiKind.PROGRESS]) == (3, 4, Decimal("75.0"), True)
    assert [found[kind].target for kind in slas.DEFAULT_KPIS] == list(slas.DEFAULT_KPIS.values())
    assert found[KpiKind.ATTENDANCE_SAME_DAY].explanation == "17 of 20 sessions recorded the same day"
    assert found[KpiKind.ATTENDANCE_RATE].explanation == "15 of 18 possible sessions attended"
    assert found[KpiKind.REPORTS_ON_TIME].explanation == "2 of 3 progress reports submitted on time"
    assert found[KpiKind.PROGRESS].explanation == "3 of 4 aims on or ahead of target at the latest review"


def test_the_period_ends_with_a_terminated_sla(seeded):
    """Terminated on 19 January: only the marks of 18 and 19 January count (A: 4 marks, 1 late; 1 absent of 4);
    no report fell due; the reviews of 20 January and later are after its end."""
    seeded.status = SlaStatus.TERMINATED
    seeded.terminated_on = date(2027, 1, 19)
    db.session.commit()
    found = by_kind(sla_kpis.performance(seeded, TODAY))
    assert figures(found[KpiKind.ATTENDANCE_SAME_DAY]) == (3, 4, Decimal("75.0"), False)
    assert figures(found[KpiKind.ATTENDANCE_RATE]) == (4, 4, Decimal("100.0"), True)
    assert figures(found[KpiKind.REPORTS_ON_TIME]) == (0, 0, None, None)
    assert found[KpiKind.REPORTS_ON_TIME].explanation == "No progress reports due yet"
    assert figures(found[KpiKind.PROGRESS]) == (0, 0, None, None)


def test_a_review_held_with_no_report_counts_as_a_late_report(seeded):
    placement = db.session.scalar(sa.select(Placement).where(Placement.next_review_due == date(2027, 4, 5)))
    add_review(placement, date(2027, 3, 1), [ON, ON], due_on=date(2027, 3, 1))  # report was due 22 February
    found = by_kind(sla_kpis.performance(seeded, TODAY))
    assert figures(found[KpiKind.REPORTS_ON_TIME]) == (2, 4, Decimal("50.0"), False)
    # It is now A's latest review: 2 of 2 on target, with B's 2 of 2.
    assert figures(found[KpiKind.PROGRESS]) == (4, 4, Decimal("100.0"), True)


def test_a_report_counts_once_its_due_date_has_passed(seeded):
    """B's overdue report for 22 March is late whenever it comes; A's early one (due 29 March) counts from 30 March."""
    b = db.session.scalar(sa.select(Placement).where(Placement.next_review_due == date(2027, 3, 22)).limit(1))
    add_report(b, date(2027, 3, 22), at(TODAY, 9))
    assert figures(by_kind(sla_kpis.performance(seeded, TODAY))[KpiKind.REPORTS_ON_TIME])[:2] == (2, 3)
    later = date(2027, 3, 30)
    assert figures(by_kind(sla_kpis.performance(seeded, later))[KpiKind.REPORTS_ON_TIME])[:2] == (3, 4)
    assert figures(by_kind(sla_kpis.performance(seeded, date(2027, 3, 29)))[KpiKind.REPORTS_ON_TIME])[:2] == (2, 3)


def test_a_report_submitted_after_midnight_london_time_is_late(app_context):
    """Summer time: 23:30 UTC on the due date is 00:30 the next day in London."""
    lot = make_lot(1)
    provider = eligible_provider(lot, "Provider P")
    _, placement = placement_for(provider, lot, make_user("officer"), next_review_due=date(2027, 7, 19))
    sla = sla_for(provider, [lot], starts_on=date(2027, 1, 4))
    add_report(placement, date(2027, 6, 21), at(date(2027, 6, 14), 22, 59))  # 23:59 BST on the due date
    add_report(placement, date(2027, 7, 5), at(date(2027, 6, 28), 23, 30))  # 00:30 BST the day after
    found = by_kind(sla_kpis.performance(sla, date(2027, 7, 9)))
    assert figures(found[KpiKind.REPORTS_ON_TIME]) == (1, 2, Decimal("50.0"), False)


# ---- Nothing to count -----------------------------------------------------------------------------------------------


def test_an_sla_with_no_placements_has_no_figures(app_context):
    lot = make_lot(1)
    provider = eligible_provider(lot, "Provider P")
    sla = sla_for(provider, [lot])
    results = sla_kpis.performance(sla, TODAY)
    assert len(results) == 4
    assert {(r.actual, r.met, r.explanation) for r in results} == {(None, None, "No placements yet")}


def test_an_sla_not_started_has_no_figures(seeded):
    results = sla_kpis.performance(seeded, SLA_START - timedelta(days=1))
    assert {(r.numerator, r.denominator, r.actual) for r in results} == {(0, 0, None)}
    assert {r.explanation for r in results} == {"The SLA starts on 18 January 2027"}


# ---- The arithmetic -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "actual", "met"),
    [
        (2, 3, Decimal("66.7"), False),
        (1, 3, Decimal("33.3"), False),
        (1, 16, Decimal("6.3"), False),  # 6.25, half up
        (19, 20, Decimal("95.0"), True),  # exactly the target is met
        (189, 199, Decimal("95.0"), True),  # 94.97..., rounded to the target
        (1889, 1990, Decimal("94.9"), False),  # 94.924...
        (20, 20, Decimal("100.0"), True),
        (0, 5, Decimal("0.0"), False),
        (0, 0, None, None),
    ],
)
def test_the_actual_is_a_percentage_to_one_place_rounded_half_up(numerator, denominator, actual, met):
    result = KpiResult(KpiKind.ATTENDANCE_SAME_DAY, Decimal("95.00"), numerator, denominator)
    assert result.actual == actual
    assert result.met is met


# ---- Queries --------------------------------------------------------------------------------------------------------


def test_a_fixed_number_of_queries_whatever_the_number_of_placements(seeded):
    def queries() -> int:
        db.session.expire_all()
        sla = db.session.get(Sla, seeded.id)
        _ = sla.kpis, sla.lots, sla.arrangement
        with count_queries(db.engine) as counter:
            sla_kpis.performance(sla, TODAY)
        return len(counter.statements)

    few = queries()
    assert few <= 6
    provider = db.session.get(Sla, seeded.id).provider
    lot = db.session.get(Sla, seeded.id).lots[0].lot
    officer_id = db.session.scalar(sa.select(Placement.officer_id).limit(1))
    officer = db.session.get(User, officer_id)
    for _ in range(4):
        _, more = placement_for(provider, lot, officer, next_review_due=date(2027, 3, 22))
        add_marks(more, WEEK_2, ["/", "\\", "O"], late={1})
        report = add_report(more, date(2027, 2, 15), at(date(2027, 2, 9), 9))
        add_review(more, date(2027, 2, 15), [ON, AHEAD], report=report)
    assert queries() == few
    found = by_kind(sla_kpis.performance(db.session.get(Sla, seeded.id), TODAY))
    assert figures(found[KpiKind.ATTENDANCE_SAME_DAY])[:2] == (17 + 8, 20 + 12)
    assert figures(found[KpiKind.REPORTS_ON_TIME])[:2] == (2, 3 + 8)
    assert figures(found[KpiKind.PROGRESS])[:2] == (3 + 8, 4 + 8)


# ---- The partial ----------------------------------------------------------------------------------------------------


def render(kpis: list[KpiResult]) -> str:
    with current_app.test_request_context():
        return render_template("slas/partials/sla_kpis.html", kpis=kpis)


def test_the_partial_shows_each_kpi_with_its_tag(seeded):
    html = render(sla_kpis.performance(seeded, TODAY))
    assert "KPI performance so far" in html
    assert "85.0%" in html and "83.3%" in html and "66.7%" in html and "75.0%" in html
    assert "17 of 20 sessions recorded the same day" in html
    assert html.count("govuk-tag--red") == 3 and html.count("Below target") == 3
    assert html.count("govuk-tag--green") == 1 and "Met" in html
    assert "How the KPIs are worked out" in html and "<details" in html
    assert 'scope="col"' in html and 'scope="row"' in html


def test_the_partial_with_no_data(app_context):
    lot = make_lot(1)
    sla = sla_for(eligible_provider(lot, "Provider P"), [lot])
    html = render(sla_kpis.performance(sla, TODAY))
    assert html.count("No data yet") == 4 and "No placements yet" in html
    assert "Met<" not in html and "Below target" not in html


# ---- The same-day flag ----------------------------------------------------------------------------------------------


def same_day(placement_id: int) -> dict[tuple[date, str], bool]:
    rows = db.session.execute(
        sa.select(AttendanceMark.day, AttendanceMark.session, AttendanceMark.recorded_same_day).where(
            AttendanceMark.placement_id == placement_id
        )
    )
    return {(row.day, row.session): row.recorded_same_day for row in rows}


def test_recording_sets_the_same_day_flag_and_the_last_save_decides(app_context):
    lot = make_lot(1)
    provider = eligible_provider(lot, "Provider P")
    awarded, placement = placement_for(provider, lot, make_user("officer"))
    user, monday = awarded.provider_user, date(2027, 1, 11)
    attendance.record(placement.id, user, monday, "am", "/", now=at(monday, 9))
    attendance.record(placement.id, user, monday, "pm", "\\", now=at(monday + timedelta(days=1), 9))
    db.session.commit()
    assert same_day(placement.id) == {(monday, "am"): True, (monday, "pm"): False}
    # A correction the next day: no longer recorded the same day. Corrected again on the day (late evening): it is.
    attendance.record(placement.id, user, monday, "am", "I", now=at(monday + timedelta(days=1), 8))
    tuesday = monday + timedelta(days=1)
    attendance.record(placement.id, user, tuesday, "am", "/", now=at(tuesday, 23, 59))
    db.session.commit()
    assert same_day(placement.id) == {(monday, "am"): False, (monday, "pm"): False, (tuesday, "am"): True}


def test_the_same_day_is_the_london_day(app_context):
    """Summer time (from 28 March 2027): 23:30 UTC on the 28th is 00:30 on Monday 29 March in London."""
    lot = make_lot(1)
    provider = eligible_provider(lot, "Provider P")
    awarded, placement = placement_for(provider, lot, make_user("officer"))
    user, monday = awarded.provider_user, date(2027, 3, 29)
    attendance.record(placement.id, user, monday, "am", "/", now=at(date(2027, 3, 28), 23, 30))
    attendance.record(placement.id, user, monday, "pm", "\\", now=at(monday, 23, 30))
    db.session.commit()
    assert same_day(placement.id) == {(monday, "am"): True, (monday, "pm"): False}


def test_marking_a_day_present_and_the_week_form_set_the_flag(app_context):
    lot = make_lot(1)
    provider = eligible_provider(lot, "Provider P")
    awarded, placement = placement_for(provider, lot, make_user("officer"))
    user, monday = awarded.provider_user, date(2027, 1, 11)
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    assert attendance.mark_day_present(placement.id, user, monday, now=at(monday, 9)) == 2
    assert attendance.mark_day_present(placement.id, user, tuesday, now=at(wednesday, 9)) == 2
    attendance.save_week(
        placement.id,
        user,
        monday,
        {(monday, "am"): "M", (wednesday, "am"): "/", (wednesday, "pm"): "\\"},
        now=at(wednesday, 16),
    )
    db.session.commit()
    assert same_day(placement.id) == {
        (monday, "am"): False,  # corrected on Wednesday
        (monday, "pm"): True,
        (tuesday, "am"): False,
        (tuesday, "pm"): False,
        (wednesday, "am"): True,
        (wednesday, "pm"): True,
    }
