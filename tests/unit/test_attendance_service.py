"""Attendance: which sessions are expected, recording and its validation, a day marked present, the plain week form,
the four-week rate, and the alerts (timing, each sent once, to whom, and never naming the child)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AlertKind,
    AttendanceAlert,
    AttendanceMark,
    HalfTerm,
    Notification,
    OutboxMessage,
    PlacementStatus,
    ResponsibleParty,
)
from portal.services import attendance
from portal.services.errors import DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from tests.factories import make_user
from tests.factories_calloff import CHILD_IDENTIFIERS, make_child
from tests.factories_placements import PLACEMENT_START, awarded_referral, make_placement, placed
from tests.helpers import count_queries

MONDAY = PLACEMENT_START  # 11 January 2027 (GMT: London time is UTC)
TUESDAY = MONDAY + timedelta(days=1)
DSL_EMAIL = "dsl@placing-provider.example"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment in January (GMT), so London time and UTC agree."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def count(model, *conditions) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


def marks(placement_id: int) -> dict[tuple[date, str], str]:
    rows = db.session.execute(
        sa.select(AttendanceMark.day, AttendanceMark.session, AttendanceMark.code).where(
            AttendanceMark.placement_id == placement_id
        )
    )
    return {(row.day, row.session): row.code for row in rows}


def more_placements(awarded, number: int, **fields):
    """Another placement for the same officer (a new provider, a child of its own)."""
    child = make_child(awarded.officer, upn=f"B{number:012d}")
    other = awarded_referral(officer=awarded.officer, lot=awarded.lot, child=child)
    return other, make_placement(other, **fields)


# ---- Expected sessions ----------------------------------------------------------------------------------------------


def test_expected_sessions_follow_weekdays_dates_bank_holidays_and_the_placements_sessions(app_context):
    awarded, placement = placed()
    assert attendance.expected(placement, MONDAY) == {"am", "pm"}
    assert attendance.expected(placement, MONDAY - timedelta(days=1)) == set()  # Sunday
    assert attendance.expected(placement, MONDAY - timedelta(days=7)) == set()  # before the start
    assert attendance.expected(placement, date(2027, 3, 26)) == set()  # Good Friday
    assert attendance.expected(placement, date(2027, 4, 5)) == set()  # after the planned end

    _, mornings = more_placements(awarded, 2, expected_sessions="mon-am wed-pm")
    assert attendance.expected(mornings, MONDAY) == {"am"}
    assert attendance.expected(mornings, TUESDAY) == set()
    assert attendance.expected(mornings, MONDAY + timedelta(days=2)) == {"pm"}


def test_out_of_term_only_once_term_dates_are_set_for_that_year(app_context):
    _, placement = placed()
    half_term_week = date(2027, 2, 15)
    assert attendance.expected(placement, half_term_week) == {"am", "pm"}  # no term dates: every weekday counts
    db.session.add_all(
        [
            HalfTerm(academic_year="2026/27", position=3, starts_on=date(2027, 1, 5), ends_on=date(2027, 2, 12)),
            HalfTerm(academic_year="2026/27", position=4, starts_on=date(2027, 2, 22), ends_on=date(2027, 3, 26)),
        ]
    )
    db.session.commit()
    assert attendance.expected(placement, half_term_week) == set()
    assert attendance.expected(placement, MONDAY) == {"am", "pm"}
    assert attendance.academic_year(date(2027, 9, 1)) == "2027/28"
    assert attendance.academic_year(date(2027, 8, 31)) == "2026/27"


# ---- Recording ------------------------------------------------------------------------------------------------------


def test_a_session_is_recorded_with_a_normalised_code(app_context):
    awarded, placement = placed()
    mark = attendance.record(placement.id, awarded.provider_user, MONDAY, "pm", "/", now=at(MONDAY, 9))
    assert (mark.day, mark.session, mark.code) == (MONDAY, "pm", "\\")
    assert mark.recorded_by_id == awarded.provider_user.id
    attendance.record(placement.id, awarded.provider_user, MONDAY, "am", " i ", now=at(MONDAY, 9))
    assert marks(placement.id) == {(MONDAY, "pm"): "\\", (MONDAY, "am"): "I"}


@pytest.mark.parametrize(
    ("day", "session", "code", "message"),
    [
        (MONDAY, "am", "QQ", "Choose a DfE attendance code"),
        (MONDAY, "am", "", "Choose a DfE attendance code"),
        (TUESDAY, "am", "/", "You cannot record a session before its date"),
        (MONDAY - timedelta(days=7), "am", "/", "The placement starts on 11 January 2027"),
        (MONDAY - timedelta(days=1), "am", "/", "Attendance is recorded for weekdays only"),
        (MONDAY, "evening", "/", "Choose the morning or the afternoon session"),
    ],
)
def test_a_mark_is_refused_with_a_reason_and_nothing_saved(app_context, day, session, code, message):
    awarded, placement = placed()
    with pytest.raises(DomainError) as refused:
        attendance.record(placement.id, awarded.provider_user, day, session, code, now=at(MONDAY, 23, 59))
    assert refused.value.message.startswith(message)
    assert refused.value.field == "code"
    assert count(AttendanceMark) == 0


def test_any_session_of_today_can_be_recorded_in_the_morning(app_context):
    awarded, placement = placed()
    attendance.record(placement.id, awarded.provider_user, MONDAY, "pm", "\\", now=at(MONDAY, 0, 1))
    assert marks(placement.id) == {(MONDAY, "pm"): "\\"}


def test_a_second_save_of_a_session_updates_its_mark(app_context):
    awarded, placement = placed()
    colleague = make_user("provider", provider=awarded.provider)
    attendance.record(placement.id, awarded.provider_user, MONDAY, "am", "/", now=at(MONDAY, 9))
    db.session.commit()
    mark = attendance.record(placement.id, colleague, MONDAY, "am", "M", now=at(MONDAY, 10))
    db.session.commit()
    assert count(AttendanceMark) == 1
    assert (mark.code, mark.recorded_by_id, mark.recorded_at) == ("M", colleague.id, at(MONDAY, 10))


def test_only_the_placements_provider_records(app_context):
    awarded, placement = placed()
    other_awarded, _ = more_placements(awarded, 2)
    with pytest.raises(NotAllowed):
        attendance.record(placement.id, awarded.officer, MONDAY, "am", "/", now=at(MONDAY, 9))
    with pytest.raises(NotFound):
        attendance.record(placement.id, other_awarded.provider_user, MONDAY, "am", "/", now=at(MONDAY, 9))
    assert count(AttendanceMark) == 0


def test_an_ended_placement_takes_marks_up_to_its_end_only(app_context):
    awarded, placement = placed()
    placement.status = PlacementStatus.ENDED
    placement.ended_on = TUESDAY
    placement.end_reason = "Moved away"
    placement.destination = "back to the home school"
    placement.ended_by_id = awarded.officer.id
    placement.ended_at = at(TUESDAY, 16)
    db.session.commit()
    later = at(TUESDAY + timedelta(days=7), 9)
    attendance.record(placement.id, awarded.provider_user, TUESDAY, "pm", "\\", now=later)
    with pytest.raises(IllegalTransition):
        attendance.record(placement.id, awarded.provider_user, TUESDAY + timedelta(days=1), "am", "/", now=later)
    assert marks(placement.id) == {(TUESDAY, "pm"): "\\"}


# ---- A day present, the week -----------------------------------------------------------------------------------------


def test_mark_day_present_keeps_existing_marks_and_says_how_many_it_marked(app_context):
    awarded, placement = placed()
    user = awarded.provider_user
    attendance.record(placement.id, user, MONDAY, "am", "I", now=at(MONDAY, 9))
    assert attendance.mark_day_present(placement.id, user, MONDAY, now=at(MONDAY, 13)) == 1
    assert marks(placement.id) == {(MONDAY, "am"): "I", (MONDAY, "pm"): "\\"}
    assert attendance.mark_day_present(placement.id, user, MONDAY, now=at(MONDAY, 13)) == 0
    assert attendance.mark_day_present(placement.id, user, TUESDAY, now=at(TUESDAY, 13)) == 2
    assert marks(placement.id)[(TUESDAY, "am")] == "/"
    with pytest.raises(DomainError, match="before its date"):
        attendance.mark_day_present(placement.id, user, TUESDAY + timedelta(days=1), now=at(TUESDAY, 13))


def test_mark_day_present_marks_only_the_expected_sessions(app_context):
    awarded, placement = placed(expected_sessions="mon-am tue-am tue-pm")
    assert attendance.mark_day_present(placement.id, awarded.provider_user, MONDAY, now=at(MONDAY, 13)) == 1
    assert marks(placement.id) == {(MONDAY, "am"): "/"}


def test_save_week_is_all_or_nothing(app_context):
    awarded, placement = placed()
    now = at(MONDAY + timedelta(days=2), 16)  # Wednesday afternoon
    codes = {(MONDAY, "am"): "/", (MONDAY, "pm"): "O", (TUESDAY, "am"): "", (date(2027, 1, 14), "am"): "/"}
    with pytest.raises(FieldErrors) as refused:
        attendance.save_week(placement.id, awarded.provider_user, MONDAY, codes, now=now)
    assert refused.value.errors == {"code-2027-01-14-am": "You cannot record a session before its date"}
    codes[(MONDAY, "am")] = "ZZ"
    with pytest.raises(FieldErrors) as refused:
        attendance.save_week(placement.id, awarded.provider_user, MONDAY, codes, now=now)
    assert set(refused.value.errors) == {"code-2027-01-11-am", "code-2027-01-14-am"}
    assert count(AttendanceMark) == 0 and count(AttendanceAlert) == 0

    codes = {(MONDAY, "am"): "/", (MONDAY, "pm"): "O", (TUESDAY, "am"): "", (TUESDAY, "pm"): "l"}
    assert attendance.save_week(placement.id, awarded.provider_user, MONDAY, codes, now=now) == 3
    assert marks(placement.id) == {(MONDAY, "am"): "/", (MONDAY, "pm"): "O", (TUESDAY, "pm"): "L"}
    # The O raised Monday's absence alert.
    assert db.session.scalars(sa.select(AttendanceAlert.kind)).all() == [AlertKind.ABSENCE]
    # The same week again changes nothing (who recorded each mark, and when, stays).
    assert attendance.save_week(placement.id, awarded.provider_user, MONDAY, codes, now=now + timedelta(hours=1)) == 0


def test_the_week_grid_reads_marks_in_one_query(app_context):
    awarded, placement = placed()
    for n in range(2):
        attendance.mark_day_present(placement.id, awarded.provider_user, MONDAY + timedelta(days=n), now=at(TUESDAY, 9))
    db.session.commit()
    db.session.refresh(placement)
    with count_queries(db.engine) as queries:
        grid = attendance.week(placement, TUESDAY, today=TUESDAY)
    assert queries.count == 2  # the marks (with who recorded them) and the term dates
    assert grid.start == MONDAY and grid.caption == "Week beginning 11 January 2027"
    monday = grid.cell(MONDAY, "am")
    assert monday.mark.code == "/" and monday.mark.recorded_by == awarded.provider_user.name
    assert monday.label == "Monday 11 January, morning" and monday.field == "code-2027-01-11-am"
    assert grid.cell(TUESDAY, "pm").recordable and not grid.cell(date(2027, 1, 13), "am").recordable
    assert grid.cell(TUESDAY, "pm").mark.code == "\\" and grid.cell(date(2027, 1, 13), "am").mark is None
    assert grid.previous is None and grid.next == MONDAY + timedelta(weeks=1)


def test_the_default_week(app_context):
    _, placement = placed()
    assert attendance.default_week(placement, date(2027, 1, 1)) == MONDAY
    assert attendance.default_week(placement, date(2027, 2, 4)) == date(2027, 2, 1)
    assert attendance.default_week(placement, date(2027, 6, 1)) == date(2027, 3, 29)


# ---- The rate -------------------------------------------------------------------------------------------------------


def add_marks(placement, user, codes: list[str], last_day: date) -> None:
    """One mark a session, going back from the afternoon of ``last_day`` over weekdays."""
    day, session = last_day, "pm"
    for code in codes:
        db.session.add(
            AttendanceMark(placement_id=placement.id, day=day, session=session, code=code, recorded_by_id=user.id)
        )
        if session == "am":
            day -= timedelta(days=3 if day.weekday() == 0 else 1)
        session = "pm" if session == "am" else "am"
    db.session.commit()


@pytest.mark.parametrize(
    ("codes", "expected", "low"),
    [
        (["/"] * 18 + ["O"] * 2, 0.9, False),
        (["/"] * 17 + ["I"] * 3, 0.85, True),
        (["/"] * 16 + ["K", "V"] + ["O"] * 2 + ["X"] * 4 + ["#"] * 2, 0.9, False),
    ],
)
def test_the_four_week_rate(app_context, codes, expected, low):
    awarded, placement = placed()
    today = date(2027, 2, 26)
    add_marks(placement, awarded.provider_user, codes, today)
    rate = attendance.rate_last_four_weeks(placement.id, today)
    assert rate == pytest.approx(expected)
    assert attendance.attendance_codes.is_low(rate) is low


def test_the_rate_counts_only_the_28_days_ending_today(app_context):
    awarded, placement = placed()
    user = awarded.provider_user
    today = date(2027, 3, 12)
    add_marks(placement, user, ["O"] * 4, today - timedelta(days=28))  # just outside the window
    add_marks(placement, user, ["/"] * 3 + ["O"], today)
    assert attendance.rate_last_four_weeks(placement.id, today) == pytest.approx(0.75)
    assert attendance.rate_last_four_weeks(placement.id, today + timedelta(days=60)) is None


# ---- Alerts ---------------------------------------------------------------------------------------------------------


def alert_kinds() -> list[AlertKind]:
    return sorted(db.session.scalars(sa.select(AttendanceAlert.kind)), key=lambda kind: kind.name)


def test_no_morning_mark_alert_from_11_00(app_context):
    placed()
    assert attendance.raise_alerts(at(MONDAY, 10, 59)) == 0
    assert attendance.raise_alerts(at(MONDAY, 11, 0)) == 1
    assert alert_kinds() == [AlertKind.NO_MORNING_MARK]


def test_no_afternoon_mark_alert_from_15_00(app_context):
    awarded, placement = placed()
    attendance.record(placement.id, awarded.provider_user, MONDAY, "am", "/", now=at(MONDAY, 9))
    assert attendance.raise_alerts(at(MONDAY, 14, 59)) == 0
    assert attendance.raise_alerts(at(MONDAY, 15, 0)) == 1
    assert alert_kinds() == [AlertKind.NO_AFTERNOON_MARK]
    attendance.record(placement.id, awarded.provider_user, TUESDAY, "am", "/", now=at(TUESDAY, 9))
    attendance.record(placement.id, awarded.provider_user, TUESDAY, "pm", "\\", now=at(TUESDAY, 13))
    assert attendance.raise_alerts(at(TUESDAY, 16)) == 0


def test_the_deadlines_are_london_time_in_summer(app_context):
    _, placement = placed(start_date=date(2027, 6, 7), planned_end_date=date(2027, 7, 16))
    monday = date(2027, 6, 7)
    # 10:30 UTC is 11:30 in London (BST).
    assert attendance.raise_alerts(datetime(2027, 6, 7, 9, 59, tzinfo=UTC)) == 0
    assert attendance.raise_alerts(datetime(2027, 6, 7, 10, 0, tzinfo=UTC)) == 1
    assert db.session.scalar(sa.select(AttendanceAlert.day)) == monday


def test_no_alert_for_a_session_not_expected_or_a_day_off(app_context):
    placed(expected_sessions="mon-pm")
    assert attendance.raise_alerts(at(MONDAY, 14)) == 0  # the morning is not expected
    assert attendance.raise_alerts(at(date(2027, 3, 26), 16)) == 0  # Good Friday
    assert attendance.raise_alerts(at(date(2027, 1, 16), 16)) == 0  # a Saturday


def test_an_unexplained_absence_alerts_at_once_and_only_once(app_context):
    awarded, placement = placed()
    attendance.record(placement.id, awarded.provider_user, MONDAY, "am", "O", now=at(MONDAY, 9, 30))
    assert alert_kinds() == [AlertKind.ABSENCE]
    sent = count(OutboxMessage)
    assert sent == 2  # the officer and the DSL
    attendance.record(placement.id, awarded.provider_user, MONDAY, "pm", "N", now=at(MONDAY, 13, 30))
    assert attendance.raise_alerts(at(MONDAY, 14)) == 0
    assert count(OutboxMessage) == sent


def test_the_command_raises_an_o_mark_made_today_once(app_context):
    awarded, placement = placed()
    db.session.add(
        AttendanceMark(
            placement_id=placement.id, day=MONDAY, session="am", code="O", recorded_by_id=awarded.provider_user.id
        )
    )
    db.session.commit()
    assert attendance.raise_alerts(at(MONDAY, 9, 30)) == 1
    db.session.commit()
    messages = count(OutboxMessage)
    assert attendance.raise_alerts(at(MONDAY, 10)) == 0
    assert count(OutboxMessage) == messages == 2


def test_running_twice_sends_each_alert_once(app_context):
    awarded, placement = placed()
    more_placements(awarded, 2)
    assert attendance.raise_alerts(at(MONDAY, 15, 30)) == 4  # two placements, morning and afternoon
    db.session.commit()
    sent = count(OutboxMessage)
    assert sent == 8
    assert attendance.raise_alerts(at(MONDAY, 16)) == 0
    db.session.commit()
    assert count(OutboxMessage) == sent
    assert count(AttendanceAlert) == 4


def test_an_alert_inserted_meanwhile_is_not_raised_again(app_context):
    """A concurrent run inserted the alert after this one read the existing alerts: ON CONFLICT DO NOTHING."""
    _, placement = placed()
    assert attendance._insert_alert(placement.id, MONDAY, AlertKind.ABSENCE, at(MONDAY, 9)) is True
    assert attendance._insert_alert(placement.id, MONDAY, AlertKind.ABSENCE, at(MONDAY, 9)) is False
    assert count(AttendanceAlert) == 1


def test_the_officer_and_a_dsl_with_an_account_get_a_notification_and_one_email_each(app_context):
    awarded, placement = placed()
    dsl = make_user("provider", provider=awarded.provider, email=DSL_EMAIL)
    attendance.raise_alerts(at(MONDAY, 11))
    db.session.commit()
    notified = db.session.scalars(sa.select(Notification.user_id).order_by(Notification.user_id)).all()
    assert notified == sorted([awarded.officer.id, dsl.id])
    emails = db.session.scalars(sa.select(OutboxMessage.to_address)).all()
    assert sorted(emails) == sorted([awarded.officer.email, DSL_EMAIL])
    subject = f"Attendance alert: placement P{placement.id:05d}, no morning mark by 11:00 on 11 January 2027"
    assert set(db.session.scalars(sa.select(OutboxMessage.subject))) == {subject}


def test_a_dsl_without_an_account_gets_an_email(app_context):
    awarded, placement = placed(
        responsible_party=ResponsibleParty.SCHOOL,
        school_name="Marblewick Academy",
        school_dsl_name="Sam School",
        school_dsl_email="Sam.School@marblewick.example",
    )
    attendance.raise_alerts(at(MONDAY, 11))
    assert sorted(db.session.scalars(sa.select(OutboxMessage.to_address))) == sorted(
        [awarded.officer.email, "sam.school@marblewick.example"]
    )
    assert db.session.scalars(sa.select(Notification.user_id)).all() == [awarded.officer.id]


def test_alerts_never_name_the_child(app_context):
    awarded, placement = placed()
    attendance.record(placement.id, awarded.provider_user, MONDAY, "am", "O", now=at(MONDAY, 9))
    attendance.raise_alerts(at(MONDAY, 15, 30))
    texts = [f"{m.subject}\n{m.body}" for m in db.session.scalars(sa.select(OutboxMessage))]
    texts += [f"{n.subject}\n{n.body}" for n in db.session.scalars(sa.select(Notification))]
    assert len(texts) == 6
    for text in texts:
        assert f"/placements/{placement.id}/attendance?week=2027-01-11" in text
        for identifier in CHILD_IDENTIFIERS:
            assert identifier.lower() not in text.lower()


def test_the_command_reads_a_fixed_number_of_times_whatever_the_number_of_placements(app_context):
    awarded, _ = placed()

    def reads(now) -> int:
        db.session.expire_all()
        with count_queries(db.engine) as queries:
            attendance.raise_alerts(now)
        db.session.rollback()
        return sum(1 for statement in queries.statements if statement.lstrip().upper().startswith("SELECT"))

    few = reads(at(MONDAY, 15, 30))
    for number in range(2, 7):
        more_placements(awarded, number)
    assert reads(at(MONDAY, 15, 30)) == few
