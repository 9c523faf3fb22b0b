"""The caseload lists: flags computed in SQL, urgency order, filters, the provider's today, and the audited names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AlertKind,
    AttendanceAlert,
    AttendanceMark,
    AuditEvent,
    Concern,
    ConcernStatus,
    Destination,
    HalfTerm,
    Lot,
    Placement,
    PlacementStatus,
    ProgressReport,
    Provider,
    Role,
    User,
)
from portal.services import caseload, children
from portal.services.audit import Events
from portal.services.caseload import ANY_FLAG, CaseloadFilters, Flag, StatusFilter
from tests.factories import make_lot, make_user
from tests.factories_calloff import make_child
from tests.factories_placements import awarded_referral, make_placement
from tests.helpers import count_queries

TODAY = date(2027, 2, 10)  # a Wednesday, a month into the placements (which start on 11 January 2027)
FAR = date(2027, 3, 31)
_upns = count(1)


@dataclass
class World:
    officer: User
    lot: Lot
    provider: Provider
    provider_user: User


_lots = count(1)


def world() -> World:
    officer = make_user(Role.OFFICER)
    child = make_child(officer, upn=f"W{next(_upns):012d}")
    first = awarded_referral(officer=officer, lot=make_lot(next(_lots)), child=child)
    return World(first.officer, first.lot, first.provider, first.provider_user)


def place(w: World, *, officer: User | None = None, provider: Provider | None = None, **fields) -> Placement:
    officer = officer or w.officer
    child = make_child(officer, upn=f"T{next(_upns):012d}", first_name=f"Child{next(_upns)}")
    awarded = awarded_referral(
        officer=officer,
        lot=w.lot,
        provider=provider or w.provider,
        provider_user=w.provider_user if provider is None else None,
        child=child,
    )
    fields.setdefault("next_review_due", FAR)
    return make_placement(awarded, **fields)


def mark(placement: Placement, day: date, session: str, code: str) -> None:
    db.session.add(
        AttendanceMark(
            placement_id=placement.id, day=day, session=session, code=code, recorded_by_id=placement.officer_id
        )
    )


def marks(placement: Placement, attended: int, absent: int, *, end: date = TODAY, code: str = "I") -> None:
    """``attended`` present sessions then ``absent`` ones, on weekdays back from ``end``."""
    codes = ["/"] * attended + [code] * absent
    day = end
    while codes:
        if day.weekday() < 5:
            for session in ("am", "pm"):
                if codes:
                    mark(placement, day, session, codes.pop())
        day -= timedelta(days=1)
    db.session.commit()


def concern(placement: Placement, status: ConcernStatus = ConcernStatus.OPEN) -> None:
    db.session.add(
        Concern(
            placement_id=placement.id,
            raised_by_id=placement.officer_id,
            summary="Bruise on arm",
            details="Seen at drop-off",
            status=status,
        )
    )
    db.session.commit()


def alert(placement: Placement, day: date = TODAY) -> None:
    db.session.add(AttendanceAlert(placement_id=placement.id, day=day, kind=AlertKind.ABSENCE))
    db.session.commit()


def report(placement: Placement, due: date, by: User) -> None:
    db.session.add(
        ProgressReport(placement_id=placement.id, review_due_on=due, submitted_by_id=by.id, child_view="Fine")
    )
    db.session.commit()


def end(placement: Placement) -> None:
    placement.status = PlacementStatus.ENDED
    placement.ended_on = TODAY - timedelta(days=3)
    placement.destination = Destination.HOME_SCHOOL
    placement.end_reason = "Ready to go back"
    db.session.commit()


def ids(page) -> list[int]:
    return [row.placement.id for row in page.items]


def test_flags_are_computed_and_rows_sorted_by_urgency_then_next_review(app_context):
    w = world()
    calm = place(w)
    written = place(w, next_review_due=TODAY + timedelta(days=5))
    report(written, TODAY + timedelta(days=5), w.provider_user)
    report_late = place(w, next_review_due=TODAY + timedelta(days=6))
    low = place(w)
    marks(low, attended=8, absent=2)
    overdue = place(w, next_review_due=TODAY - timedelta(days=1))
    absent = place(w)
    alert(absent)
    alert(calm, TODAY - timedelta(days=1))  # yesterday's alert is not "absent today"
    worried = place(w)
    concern(worried)
    concern(calm, ConcernStatus.CLOSED)

    page = caseload.officer_caseload(w.officer, 1, CaseloadFilters(), TODAY)

    assert ids(page) == [worried.id, absent.id, overdue.id, low.id, report_late.id, written.id, calm.id]
    rows = {row.placement.id: row for row in page.items}
    assert rows[worried.id].flags == [Flag.CONCERN]
    assert rows[absent.id].flags == [Flag.ABSENCE]
    assert rows[overdue.id].flags == [Flag.REVIEW_OVERDUE, Flag.REPORT_OVERDUE]
    assert rows[overdue.id].urgency == 5
    assert rows[low.id].flags == [Flag.LOW_ATTENDANCE]
    assert rows[low.id].attendance_percent == 80
    assert rows[report_late.id].flags == [Flag.REPORT_OVERDUE, Flag.REVIEW_DUE]
    assert rows[written.id].flags == [Flag.REVIEW_DUE]
    assert rows[calm.id].flags == []
    assert rows[calm.id].attendance_rate is None
    # Joined in the same SELECT: reading them runs no query.
    with count_queries(db.engine) as counter:
        for row in page.items:
            assert row.placement.provider.name and row.placement.lot.label
            assert row.placement.service.name and row.placement.officer.name
    assert counter.count == 0


@pytest.mark.parametrize(
    ("attended", "absent", "low"),
    [(9, 1, False), (18, 2, False), (17, 2, True), (8, 1, True), (27, 3, False), (26, 3, True)],
)
def test_under_90_percent_is_low_and_exactly_90_is_not(app_context, attended, absent, low):
    w = world()
    placement = place(w)
    marks(placement, attended, absent)
    (row,) = caseload.officer_caseload(w.officer, 1, None, TODAY).items
    assert row.low_attendance is low
    assert (Flag.LOW_ATTENDANCE in row.flags) is low
    assert caseload.manager_placements(1, CaseloadFilters(flag=Flag.LOW_ATTENDANCE), TODAY).total == int(low)


def test_attendance_counts_the_last_28_days_and_only_possible_sessions(app_context):
    w = world()
    placement = place(w)
    marks(placement, attended=9, absent=0, end=TODAY - timedelta(days=1))
    mark(placement, TODAY, "pm", "#")  # a planned closure: not a possible session
    mark(placement, TODAY - timedelta(days=27), "am", "O")  # the first day of the window
    mark(placement, TODAY - timedelta(days=28), "am", "O")  # before it
    mark(placement, TODAY - timedelta(days=29), "pm", "O")
    db.session.commit()
    (row,) = caseload.manager_placements(1, None, TODAY).items
    assert (row.attended, row.possible) == (9, 10)
    assert not row.low_attendance


def test_the_officer_sees_their_own_placements_or_their_whole_service(app_context):
    w = world()
    mine = place(w)
    colleague = make_user(Role.OFFICER, service=w.officer.service)
    theirs = place(w, officer=colleague)
    elsewhere = place(w, officer=make_user(Role.OFFICER))
    ended = place(w)
    end(ended)

    assert ids(caseload.officer_caseload(w.officer, 1, CaseloadFilters(), TODAY)) == [mine.id]
    whole = caseload.officer_caseload(w.officer, 1, CaseloadFilters(whole_service=True), TODAY)
    assert sorted(ids(whole)) == sorted([mine.id, theirs.id])
    assert elsewhere.id not in ids(whole)
    assert ids(caseload.officer_caseload(w.officer, 1, CaseloadFilters(status=StatusFilter.ENDED), TODAY)) == [ended.id]
    everything = caseload.officer_caseload(w.officer, 1, CaseloadFilters(status=StatusFilter.ALL), TODAY)
    assert sorted(ids(everything)) == sorted([mine.id, ended.id])


def test_an_ended_placement_carries_no_attendance_or_review_flag(app_context):
    w = world()
    ended = place(w, next_review_due=TODAY - timedelta(days=10))
    marks(ended, attended=1, absent=5)
    alert(ended)
    end(ended)
    (row,) = caseload.manager_placements(1, CaseloadFilters(status=StatusFilter.ALL), TODAY).items
    assert row.flags == []


def test_the_manager_filters_by_service_lot_provider_officer_flag_and_status(app_context):
    w = world()
    plain = place(w)
    worried = place(w, next_review_due=TODAY + timedelta(days=30))
    concern(worried)
    other = world()
    elsewhere = place(other)
    ended = place(w)
    end(ended)

    def found(**filters) -> list[int]:
        return sorted(ids(caseload.manager_placements(1, CaseloadFilters(**filters), TODAY)))

    assert found() == sorted([plain.id, worried.id, elsewhere.id])
    assert found(service_id=other.officer.service_id) == [elsewhere.id]
    assert found(lot_id=w.lot.id) == sorted([plain.id, worried.id])
    assert found(provider_id=other.provider.id) == [elsewhere.id]
    assert found(officer_id=w.officer.id) == sorted([plain.id, worried.id])
    assert found(flag=ANY_FLAG) == [worried.id]
    assert found(flag=Flag.CONCERN) == [worried.id]
    assert found(flag=Flag.ABSENCE) == []
    assert found(status=StatusFilter.ENDED) == [ended.id]
    assert len(found(status=StatusFilter.ALL)) == 4


def test_pages_hold_25_rows_and_the_rest_on_the_next(app_context):
    w = world()
    for _ in range(27):
        place(w)
    first = caseload.manager_placements(1, None, TODAY)
    second = caseload.manager_placements(2, None, TODAY)
    assert (first.total, len(first.items), len(second.items)) == (27, 25, 2)
    assert not set(ids(first)) & set(ids(second))


def test_the_provider_sees_todays_marks_what_is_expected_and_reports_due(app_context):
    w = world()
    marked = place(w)
    mark(marked, TODAY, "am", "/")
    mark(marked, TODAY - timedelta(days=1), "pm", "O")  # yesterday's: not today's
    mornings = place(w, expected_sessions="mon-am tue-am wed-am thu-am fri-am")
    report_soon = place(w, next_review_due=TODAY + timedelta(days=20))  # report due in 13 days
    report_later = place(w, next_review_due=TODAY + timedelta(days=22))  # report due in 15 days
    report_done = place(w, next_review_due=TODAY + timedelta(days=3))
    report(report_done, TODAY + timedelta(days=3), w.provider_user)
    report_late = place(w, next_review_due=TODAY + timedelta(days=3))
    not_started = place(w, start_date=TODAY + timedelta(days=7))
    ended = place(w)
    end(ended)
    someone_elses = place(world())
    db.session.commit()

    page = caseload.provider_placements(w.provider_user, 1, TODAY)
    rows = {row.placement.id: row for row in page.items}
    assert set(rows) == {
        marked.id,
        mornings.id,
        report_soon.id,
        report_later.id,
        report_done.id,
        report_late.id,
        not_started.id,
    }
    assert someone_elses.id not in rows and ended.id not in rows
    assert (rows[marked.id].am_code, rows[marked.id].pm_code) == ("/", None)
    assert (rows[marked.id].am_expected, rows[marked.id].pm_expected) == (True, True)
    assert (rows[mornings.id].am_expected, rows[mornings.id].pm_expected) == (True, False)
    assert (rows[not_started.id].am_expected, rows[not_started.id].pm_expected) == (False, False)
    assert rows[report_soon.id].report_needed and not rows[report_soon.id].report_overdue
    assert not rows[report_later.id].report_needed
    assert not rows[report_done.id].report_needed
    assert rows[report_late.id].report_needed and rows[report_late.id].report_overdue
    assert rows[marked.id].week == date(2027, 2, 8)


def test_nothing_is_expected_at_a_weekend_or_in_a_holiday(app_context):
    w = world()
    place(w)
    saturday = date(2027, 2, 13)
    (row,) = caseload.provider_placements(w.provider_user, 1, saturday).items
    assert not row.am_expected and not row.pm_expected
    assert row.week == date(2027, 2, 8)
    # Half term (15 to 19 February) between two half terms the manager has set.
    db.session.add_all(
        [
            HalfTerm(academic_year="2026/27", position=3, starts_on=date(2027, 1, 5), ends_on=date(2027, 2, 12)),
            HalfTerm(academic_year="2026/27", position=4, starts_on=date(2027, 2, 22), ends_on=date(2027, 3, 26)),
        ]
    )
    db.session.commit()
    (row,) = caseload.provider_placements(w.provider_user, 1, TODAY).items
    assert row.am_expected and row.pm_expected
    (row,) = caseload.provider_placements(w.provider_user, 1, date(2027, 2, 17)).items
    assert not row.am_expected and not row.pm_expected


def test_the_lists_are_only_for_their_roles(app_context):
    w = world()
    with pytest.raises(ValueError):
        caseload.officer_caseload(w.provider_user, 1, None, TODAY)
    with pytest.raises(ValueError):
        caseload.provider_placements(w.officer, 1, TODAY)


def test_a_page_of_names_is_one_query_and_one_audit_event(app_context):
    w = world()
    placements = [place(w) for _ in range(3)]
    page = caseload.officer_caseload(w.officer, 1, None, TODAY)
    with count_queries(db.engine) as counter:
        caseload.with_children(page, w.officer, ip="10.0.0.1", purpose="officer caseload")
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    db.session.commit()
    assert {row.child.id for row in page.items} == {p.child_id for p in placements}
    (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORDS_LISTED))
    assert event.actor_id == w.officer.id and event.ip_address == "10.0.0.1"
    assert event.details == {"child_ids": sorted(p.child_id for p in placements), "purpose": "officer caseload"}


def test_reading_no_children_records_nothing(app_context):
    user = make_user(Role.OFFICER)
    assert children.read_children([], user, ip=None, purpose="x") == {}
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0
