"""Provider accountability: every figure of the table and of a provider's periods against hand-worked numbers (two
providers with known marks, reports, reviews, concerns, complaints and meetings); what does not count (outside the
period, a provider not admitted); sorting; the statement count; recording meetings and complaints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AttendanceMark,
    AuditEvent,
    Complaint,
    Concern,
    ConcernStatus,
    Destination,
    HalfTerm,
    PerformanceMeeting,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Readiness,
    Review,
    ReviewAim,
)
from portal.services import accountability
from portal.services.accountability import Share, Sort
from portal.services.audit import Events
from portal.services.errors import FieldErrors, NotAllowed
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_child
from tests.factories_dps import admit, make_provider, many_providers
from tests.factories_placements import awarded_referral, make_placement
from tests.helpers import count_queries

TODAY = date(2027, 3, 26)  # a Friday; the table's period is 27 March 2026 to 26 March 2027
ON, AHEAD, BEHIND, NONE = (
    ProgressRating.ON_TARGET,
    ProgressRating.AHEAD,
    ProgressRating.BEHIND,
    ProgressRating.NO_PROGRESS,
)

_children = iter(range(1, 10_000))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def placement_for(provider, lot, officer, provider_user=None, **fields):
    child = make_child(officer, upn=f"A{next(_children):012d}")
    awarded = awarded_referral(officer=officer, lot=lot, provider=provider, provider_user=provider_user, child=child)
    return awarded, make_placement(awarded, **fields)


def add_marks(placement, first_day: date, codes: list[str], late: set[int] = frozenset()) -> None:
    sessions = [(first_day + timedelta(days=n // 2), ("am", "pm")[n % 2]) for n in range(len(codes))]
    for n, ((day, session), code) in enumerate(zip(sessions, codes, strict=True)):
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


def add_report(placement, review_due_on: date, submitted_at: datetime) -> ProgressReport:
    report = ProgressReport(
        placement_id=placement.id,
        review_due_on=review_due_on,
        submitted_at=submitted_at,
        submitted_by_id=placement.created_by_id,
        child_view="Fine.",
    )
    db.session.add(report)
    db.session.commit()
    return report


def add_review(placement, held_on: date, ratings, *, due_on: date | None = None, report=None) -> Review:
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
    review.aims = [
        ReviewAim(aim_id=aim.id, rating=rating) for aim, rating in zip(placement.referral.aims, ratings, strict=True)
    ]
    db.session.add(review)
    db.session.commit()
    return review


def add_concern(placement, raised_at: datetime, status=ConcernStatus.OPEN) -> None:
    db.session.add(
        Concern(
            placement_id=placement.id,
            status=status,
            raised_by_id=placement.officer_id,
            raised_at=raised_at,
            summary="A concern",
            details="Details",
        )
    )
    db.session.commit()


def add_complaint(provider, manager, received_on: date, upheld) -> None:
    db.session.add(
        Complaint(
            provider_id=provider.id, received_on=received_on, summary="Late", upheld=upheld, recorded_by_id=manager.id
        )
    )
    db.session.commit()


@pytest.fixture
def seeded(app_context):
    """Providers P and Q (admitted to lot 1), S (admitted, nothing else) and R (removed before today: not shown).

    P: placements a and b (active, from 11 January 2027).
      marks: a 10 (8 present, 1 I, 1 X; 1 saved late), b 2 (O, O) -> 12 marks, 11 same day, 11 possible, 8 attended.
      reports: a's review due 22 Feb (report due 15 Feb, in on 15 Feb 10:00) on time, with its review held then;
        b's review due 8 Feb (report due 1 Feb, in 1 Feb 23:30 UTC = 23:30 London, GMT) on time, plus an earlier
        review of that cycle with no report (the cycle counts once); b's current cycle (review due 22 March, report
        due 15 March) has no report: late. -> 2 of 3.
      progress: a latest review [on, behind]; b latest (8 Feb) [ahead, on], an older one [behind, behind] ignored.
        -> 3 of 4.
      concerns: a one open, one closed. complaints: two in the period (one upheld, one undecided), one in 2025.
      meetings: 1 November 2026 and 1 March 2027 (the last), and none later.
    Q: placement d (active, from 1 June 2026), and an ended placement from 2025 (not in the period).
      marks: d 4 present, 2 saved late -> 4 marks, 2 same day, 4 possible, 4 attended.
      reports: review due 8 July 2026 (report due 1 July, in 1 July 23:30 UTC = 00:30 on 2 July London, BST) late;
        review due 9 September (report due 2 September, in 2 September 22:30 UTC = 23:30 London) on time. -> 1 of 2.
      progress: review held 8 July 2026 [no progress, on] -> 1 of 2. complaints: one not upheld. no concerns.
    """
    lot = make_lot(1)
    manager = make_user("manager")
    officer = make_user("officer")
    p = eligible_provider(lot, "Provider P")
    q = eligible_provider(lot, "Provider Q")
    s = eligible_provider(lot, "Provider S")
    r = make_provider("Provider R")
    admit(r, lot, removed_on=date(2027, 1, 1))

    a_awarded, a = placement_for(p, lot, officer, next_review_due=date(2027, 4, 5))
    _, b = placement_for(p, lot, officer, a_awarded.provider_user, next_review_due=date(2027, 3, 22))
    _, d = placement_for(
        q, lot, officer, start_date=date(2026, 6, 1), planned_end_date=date(2027, 7, 1),
        next_review_due=date(2027, 4, 19),
    )  # fmt: skip
    placement_for(
        q, lot, officer, start_date=date(2025, 1, 6), planned_end_date=date(2025, 3, 1),
        next_review_due=date(2025, 2, 1), status=PlacementStatus.ENDED, ended_on=date(2025, 3, 1),
        destination=Destination.HOME_SCHOOL, end_reason="Back to school",
    )  # fmt: skip
    _, r_placement = placement_for(r, lot, officer)
    add_marks(r_placement, date(2027, 1, 11), ["O", "O"])

    add_marks(a, date(2027, 1, 11), ["/", "\\", "/", "\\", "I", "X", "/", "\\", "/", "\\"], late={0})
    add_marks(b, date(2027, 1, 11), ["O", "O"])
    add_marks(d, date(2026, 6, 1), ["/", "\\", "/", "\\"], late={1, 2})
    add_marks(d, date(2026, 3, 2), ["O", "O"])  # before the table's period

    report_a = add_report(a, date(2027, 2, 22), at(date(2027, 2, 15), 10))
    add_review(a, date(2027, 2, 22), [ON, BEHIND], report=report_a)
    report_b = add_report(b, date(2027, 2, 8), at(date(2027, 2, 1), 23, 30))
    add_review(b, date(2027, 2, 1), [BEHIND, BEHIND], due_on=date(2027, 2, 8))
    add_review(b, date(2027, 2, 8), [AHEAD, ON], report=report_b)
    add_report(d, date(2026, 7, 8), at(date(2026, 7, 1), 23, 30))
    add_review(d, date(2026, 7, 8), [NONE, ON])
    add_report(d, date(2026, 9, 9), at(date(2026, 9, 2), 22, 30))

    add_concern(a, at(date(2027, 2, 1), 9))
    add_concern(a, at(date(2026, 11, 2), 9), status=ConcernStatus.CLOSED)
    add_complaint(p, manager, date(2027, 2, 10), True)
    add_complaint(p, manager, date(2027, 3, 1), None)
    add_complaint(p, manager, date(2025, 6, 1), True)
    add_complaint(q, manager, date(2026, 10, 5), False)
    for held_on in (date(2026, 11, 1), date(2027, 3, 1)):
        db.session.add(PerformanceMeeting(provider_id=p.id, held_on=held_on, notes="Met", recorded_by_id=manager.id))
    db.session.commit()
    return {"p": p, "q": q, "s": s, "r": r, "manager": manager, "officer": officer, "lot": lot, "b": b}


def rows(**kwargs) -> dict[str, accountability.Figures]:
    return {row.provider_name: row for row in accountability.table_page(today=TODAY, **kwargs).items}


def test_the_table_figures_match_the_hand_worked_numbers(seeded):
    table = rows()
    assert list(table) == ["Provider P", "Provider Q", "Provider S"]  # R's admission was removed
    p, q, s = table["Provider P"], table["Provider Q"], table["Provider S"]

    assert (p.active_placements, p.placements) == (2, 2)
    assert p.attendance == Share(8, 11) and p.attendance.percent == Decimal("72.7")
    assert p.same_day == Share(11, 12)
    assert p.reports_on_time == Share(2, 3) and p.reports_on_time.percent == Decimal("66.7")
    assert p.progress == Share(3, 4)
    assert (p.open_concerns, p.complaints, p.upheld, p.last_meeting) == (1, 2, 1, date(2027, 3, 1))

    assert (q.active_placements, q.placements) == (1, 1)
    assert q.attendance == Share(4, 4) and q.same_day == Share(2, 4)
    assert q.reports_on_time == Share(1, 2)  # the July report was in after midnight, London summer time
    assert q.progress == Share(1, 2)
    assert (q.open_concerns, q.complaints, q.upheld, q.last_meeting) == (0, 1, 0, None)

    assert (s.active_placements, s.placements, s.complaints) == (0, 0, 0)
    assert s.attendance.percent is None and s.reports_on_time == Share(0, 0)


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        (Sort.NAME, False, ["P", "Q", "S"]),
        (Sort.NAME, True, ["S", "Q", "P"]),
        (Sort.ATTENDANCE, False, ["P", "Q", "S"]),  # nothing counted comes last either way
        (Sort.ATTENDANCE, True, ["Q", "P", "S"]),
        (Sort.REPORTS, True, ["P", "Q", "S"]),
        (Sort.SAME_DAY, False, ["Q", "P", "S"]),
        (Sort.PROGRESS, False, ["Q", "P", "S"]),
        (Sort.ACTIVE, True, ["P", "Q", "S"]),
        (Sort.ACTIVE, False, ["S", "Q", "P"]),
        (Sort.COMPLAINTS, False, ["S", "Q", "P"]),
        (Sort.CONCERNS, True, ["P", "Q", "S"]),
        (Sort.MEETING, False, ["P", "Q", "S"]),
    ],
)
def test_sorting(seeded, sort, descending, expected):
    assert [name.removeprefix("Provider ") for name in rows(sort=sort, descending=descending)] == expected


def test_csv_rows_are_the_table_rows_in_order(seeded):
    csv_rows = list(accountability.table_rows(today=TODAY, sort=Sort.ATTENDANCE, descending=True))
    assert [row[0] for row in csv_rows] == ["Provider Q", "Provider P", "Provider S"]
    assert csv_rows[1][:6] == ["Provider P", 2, 2, Decimal("72.7"), 8, 11]
    assert len(csv_rows[0]) == len(accountability.CSV_HEADER)


def test_one_select_and_a_count_whatever_the_number_of_providers(app_context):
    lot = make_lot(1)
    many_providers(3, [lot])
    with count_queries(db.engine) as few:
        assert accountability.table_page(today=TODAY).total == 3
    many_providers(27, [lot], prefix="More provider")
    with count_queries(db.engine) as many:
        assert accountability.table_page(today=TODAY).total == 30
    assert few.count == many.count == 2


def test_periods_are_quarters_without_term_dates(seeded):
    view = accountability.performance(seeded["q"], TODAY)
    names = [period.name for period, _ in view.periods]
    assert names == [
        "October to December 2025",
        "January to March 2026",
        "April to June 2026",
        "July to September 2026",
        "October to December 2026",
        "January to March 2027",
    ]
    assert view.periods[-1][0].last == TODAY
    by_name = {period.name: figures for period, figures in view.periods}
    summer = by_name["July to September 2026"]
    assert summer.reports_on_time == Share(1, 2) and summer.progress == Share(1, 2)
    assert by_name["April to June 2026"].attendance == Share(4, 4)
    assert by_name["January to March 2026"].attendance == Share(0, 2)  # the two O marks in March 2026
    assert by_name["October to December 2026"].complaints == 1
    assert by_name["October to December 2026"].placements == 1


def test_periods_are_terms_when_term_dates_are_set(seeded):
    halves = [
        (1, date(2026, 9, 2), date(2026, 10, 23)),
        (2, date(2026, 11, 2), date(2026, 12, 18)),
        (3, date(2027, 1, 5), date(2027, 2, 12)),
        (4, date(2027, 2, 22), date(2027, 3, 31)),
        (5, date(2027, 4, 19), date(2027, 5, 28)),
        (6, date(2027, 6, 7), date(2027, 7, 21)),
    ]
    for position, starts_on, ends_on in halves:
        db.session.add(HalfTerm(academic_year="2026/27", position=position, starts_on=starts_on, ends_on=ends_on))
    db.session.commit()
    view = accountability.performance(seeded["p"], TODAY)
    assert [(period.name, period.first, period.last) for period, _ in view.periods] == [
        ("Autumn term 2026/27", date(2026, 9, 2), date(2026, 12, 18)),
        ("Spring term 2026/27", date(2027, 1, 5), TODAY),
    ]
    autumn, spring = (figures for _, figures in view.periods)
    assert spring.attendance == Share(8, 11) and spring.progress == Share(3, 4)
    assert spring.concerns_raised == 1 and autumn.concerns_raised == 1
    assert (spring.complaints, spring.upheld) == (2, 1)
    assert autumn.placements == 0 and spring.placements == 2
    assert [m.held_on for m in view.meetings] == [date(2027, 3, 1), date(2026, 11, 1)]
    assert [c.received_on for c in view.complaints][0] == date(2027, 3, 1)


def test_recording_a_meeting_and_a_complaint(seeded):
    manager, p = seeded["manager"], seeded["p"]
    meeting = accountability.record_meeting(
        p.id, manager, held_on=date(2027, 3, 20), notes="  Agreed an attendance plan.  ", today=TODAY, ip="10.0.0.1"
    )
    complaint = accountability.record_complaint(
        p.id,
        manager,
        received_on=TODAY,
        summary="Reports late",
        upheld=None,
        placement_id=seeded["b"].id,
        today=TODAY,
    )
    db.session.commit()
    assert meeting.notes == "Agreed an attendance plan."
    assert complaint.placement_id == seeded["b"].id and complaint.upheld is None
    events = db.session.scalars(sa.select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert events[-2:] == [Events.PERFORMANCE_MEETING_RECORDED, Events.COMPLAINT_RECORDED]


def test_recording_refuses_bad_input(seeded):
    manager, p, q = seeded["manager"], seeded["p"], seeded["q"]
    with pytest.raises(FieldErrors) as refused:
        accountability.record_meeting(p.id, manager, held_on=TODAY + timedelta(days=1), notes=" ", today=TODAY)
    assert set(refused.value.errors) == {"held_on", "notes"}
    with pytest.raises(FieldErrors) as refused:
        accountability.record_meeting(p.id, manager, held_on=TODAY, notes="x" * 5001, today=TODAY)
    assert refused.value.errors == {"notes": "Notes must be 5000 characters or fewer"}
    with pytest.raises(FieldErrors) as refused:
        accountability.record_complaint(
            q.id, manager, received_on=TODAY, summary="x" * 501, upheld=True, placement_id=seeded["b"].id, today=TODAY
        )
    assert set(refused.value.errors) == {"summary", "placement"}
    with pytest.raises(NotAllowed):
        accountability.record_meeting(p.id, seeded["officer"], held_on=TODAY, notes="Hello", today=TODAY)
