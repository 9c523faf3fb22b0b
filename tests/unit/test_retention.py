"""Data retention: the report finds exactly the records past their period (frozen dates), erasure removes the identity
and the free text and keeps the figures and the audit trail, refusal changes nothing, and the subject access export
holds the child's data and is audited."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Child,
    Concern,
    Destination,
    ErasureRequest,
    ErasureStatus,
    Placement,
    PlacementStatus,
    ProgressRating,
    ProgressReport,
    Readiness,
    Referral,
    Review,
    ReviewAim,
)
from portal.models.mail import OutboxMessage
from portal.models.placements import AttendanceMark, ReportAim
from portal.services import oversight, retention
from portal.services.audit import Events
from portal.services.children import year_group
from portal.services.errors import Conflict, DomainError, IllegalTransition, NotAllowed
from portal.services.oversight import Filters, Period
from tests.factories import make_lot, make_user
from tests.factories_calloff import CHILD_FIRST_NAME, CHILD_IDENTIFIERS, CHILD_LAST_NAME, make_child
from tests.factories_placements import awarded_referral, make_placement
from tests.helpers import count_queries

RECORDED = datetime(2026, 11, 1, 10, tzinfo=UTC)
NOW = datetime(2034, 6, 1, 10, tzinfo=UTC)
YEAR = Period(date(2026, 9, 1), date(2027, 8, 31), "2026/27")
_upn = iter(range(1, 100000))


def at(moment: datetime):
    return lambda: moment


def build_child(officer, lot, *, ended_on: date | None, ehc_plan: bool = False, full: bool = False) -> Child:
    """A child with one awarded referral and a placement (ended on ``ended_on``, or active)."""
    child = make_child(officer, upn=f"B{next(_upn):012d}", created_at=RECORDED, ehc_plan=ehc_plan)
    made = awarded_referral(officer=officer, lot=lot, child=child)
    made.referral.profile = f"{CHILD_FIRST_NAME} enjoys practical work."
    ended = {}
    if ended_on is not None:
        ended = dict(
            status=PlacementStatus.ENDED,
            ended_on=ended_on,
            destination=Destination.HOME_SCHOOL,
            end_reason=f"{CHILD_FIRST_NAME} went back to school",
        )
    placement = make_placement(made, start_date=date(2027, 1, 11), **ended)
    if full:
        user = made.provider_user
        for day, code in ((date(2027, 1, 11), "/"), (date(2027, 1, 12), "O"), (date(2027, 1, 13), "/")):
            db.session.add(AttendanceMark(placement_id=placement.id, day=day, session="am", code=code,
                                          recorded_by_id=user.id))  # fmt: skip
        aims = made.referral.aims
        db.session.add(
            ProgressReport(
                placement_id=placement.id,
                review_due_on=date(2027, 2, 22),
                submitted_by_id=user.id,
                child_view=f"{CHILD_FIRST_NAME} says the farm is good",
                aims=[
                    ReportAim(aim_id=a.id, rating=ProgressRating.ON_TARGET, evidence=f"{CHILD_LAST_NAME} did it")
                    for a in aims
                ],  # fmt: skip
            )
        )
        db.session.add(
            Review(
                placement_id=placement.id,
                held_on=date(2027, 3, 1),
                due_on=date(2027, 2, 22),
                recorded_by_id=officer.id,
                next_steps=f"Keep {CHILD_FIRST_NAME} on mornings",
                readiness=Readiness.SOON,
                next_review_on=date(2027, 4, 1),
                aims=[
                    ReviewAim(aim_id=a.id, rating=ProgressRating.AHEAD, note=f"{CHILD_FIRST_NAME} is ahead")
                    for a in aims
                ],  # fmt: skip
            )
        )
        db.session.add(
            Concern(
                placement_id=placement.id,
                raised_by_id=user.id,
                summary="Bruise on arm",
                details=f"{CHILD_FIRST_NAME} {CHILD_LAST_NAME} of Marblewick Academy had a bruise",
            )
        )
    db.session.commit()
    return child


def due_ids(now: datetime) -> list[int]:
    return [item.child_id for item in retention.report(now, per_page=100).children]


@pytest.fixture
def people(app_context):
    return make_user("officer"), make_lot(1), make_user("manager"), make_user("manager")


# --- The report -----------------------------------------------------------------------------------------------------


def test_the_report_finds_exactly_the_children_past_their_period(people):
    officer, lot, _, _ = people
    ended_2027 = build_child(officer, lot, ended_on=date(2027, 3, 10), full=True)
    active = build_child(officer, lot, ended_on=None)
    send = build_child(officer, lot, ended_on=date(2027, 3, 10), ehc_plan=True)  # born 14 March 2012: 25 in 2037
    ended_2028 = build_child(officer, lot, ended_on=date(2028, 1, 1))
    # Recorded recently, no referral: its record is the last activity.
    recorded_only = make_child(officer, upn="B999999999999", created_at=datetime(2030, 1, 1, tzinfo=UTC))

    assert due_ids(datetime(2034, 3, 9, 12, tzinfo=UTC)) == []
    assert due_ids(datetime(2034, 3, 10, 12, tzinfo=UTC)) == [ended_2027.id]
    assert due_ids(datetime(2035, 1, 1, 12, tzinfo=UTC)) == [ended_2027.id, ended_2028.id]
    assert due_ids(datetime(2036, 12, 31, 12, tzinfo=UTC)) == [ended_2027.id, ended_2028.id]
    assert due_ids(datetime(2037, 3, 13, 12, tzinfo=UTC)) == [ended_2027.id, ended_2028.id, recorded_only.id]
    later = datetime(2037, 3, 14, 12, tzinfo=UTC)
    assert set(due_ids(later)) == {ended_2027.id, ended_2028.id, recorded_only.id, send.id}
    assert active.id not in due_ids(datetime(2060, 1, 1, tzinfo=UTC))

    found = retention.report(datetime(2034, 3, 10, 12, tzinfo=UTC)).children[0]
    assert found.last_activity == date(2027, 3, 10)
    assert found.due == date(2034, 3, 10)
    assert found.counts == {
        "referrals": 1,
        "placements": 1,
        "attendance marks": 3,
        "reports": 1,
        "reviews": 1,
        "concerns": 1,
    }


def test_the_periods_come_from_the_settings(people, app):
    officer, lot, _, _ = people
    child = build_child(officer, lot, ended_on=date(2027, 3, 10))
    assert due_ids(datetime(2030, 3, 10, 12, tzinfo=UTC)) == []
    app.config["RETENTION_CHILD_YEARS"] = 3
    try:
        assert due_ids(datetime(2030, 3, 10, 12, tzinfo=UTC)) == [child.id]
    finally:
        app.config["RETENTION_CHILD_YEARS"] = 7


def test_the_report_counts_other_records_past_their_period(people):
    db.session.add(OutboxMessage(to_address="a@example.com", subject="Old", body="x", created_at=RECORDED))
    db.session.add(OutboxMessage(to_address="b@example.com", subject="New", body="x", created_at=NOW))
    db.session.commit()
    others = {kind: number for kind, _, number in retention.report(NOW).others}
    assert others["Emails in the outbox"] == 1
    assert others["Notifications"] == 0


def test_the_report_pages_without_more_statements_for_more_children(people, app):
    officer, lot, _, _ = people
    build_child(officer, lot, ended_on=date(2027, 3, 10))
    with count_queries(db.engine) as few:
        retention.report(NOW)
    for _ in range(4):
        build_child(officer, lot, ended_on=date(2027, 3, 10), full=True)
    with count_queries(db.engine) as many:
        result = retention.report(NOW, per_page=2)
    assert result.total == 5 and len(result.children) == 2 and result.pages == 3
    assert many.count == few.count


# --- Proposing --------------------------------------------------------------------------------------------------------


def test_a_child_not_past_the_period_cannot_be_proposed(people):
    officer, lot, manager, _ = people
    child = build_child(officer, lot, ended_on=None)
    with pytest.raises(IllegalTransition):
        retention.propose_erasure(child.id, manager, reason="Old", now=NOW, ip=None)


def test_one_proposal_waits_per_child_and_a_reason_is_needed(people):
    officer, lot, manager, _ = people
    child = build_child(officer, lot, ended_on=date(2027, 3, 10))
    with pytest.raises(DomainError) as error:
        retention.propose_erasure(child.id, manager, reason="  ", now=NOW, ip=None)
    assert error.value.field == "reason"
    retention.propose_erasure(child.id, manager, reason="Past the period", now=NOW, ip="10.0.0.1")
    db.session.commit()
    with pytest.raises(Conflict):
        retention.propose_erasure(child.id, manager, reason="Again", now=NOW, ip=None)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.ERASURE_REQUESTED))
    assert (event.subject_type, event.subject_id) == ("children", child.id)


# --- Deciding ---------------------------------------------------------------------------------------------------------


def _identity(child_id: int) -> tuple:
    child = db.session.get(Child, child_id)
    return (child.first_name, child.last_name, child.date_of_birth, child.upn, child.home_school, child.erased_at)


def test_approving_erases_the_identity_and_free_text_and_keeps_the_figures_and_audit(people):
    officer, lot, proposer, approver = people
    child = build_child(officer, lot, ended_on=date(2027, 3, 10), full=True)
    other = build_child(officer, lot, ended_on=date(2027, 3, 10), full=True)
    request = retention.propose_erasure(child.id, proposer, reason="Past the period", now=NOW, ip=None)
    db.session.commit()
    figures_before = oversight.dashboard(Filters(period=YEAR), date(2027, 8, 31)).rows()
    placement = db.session.scalar(sa.select(Placement).where(Placement.child_id == child.id))
    kept_before = (placement.id, placement.start_date, placement.ended_on, placement.total_cost,
                   placement.provider_id, placement.lot_id, placement.status, placement.destination)  # fmt: skip
    events_before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    other_before = _identity(other.id)
    old_dob = child.date_of_birth

    with pytest.raises(NotAllowed):
        retention.decide_erasure(request.id, proposer, approve=True, note="", confirmed=True, now=NOW, ip=None)
    with pytest.raises(DomainError) as error:
        retention.decide_erasure(request.id, approver, approve=True, note="", confirmed=False, now=NOW, ip=None)
    assert error.value.field == "confirm"
    db.session.rollback()
    retention.decide_erasure(request.id, approver, approve=True, note="", confirmed=True, now=NOW, ip="10.0.0.2")
    db.session.commit()
    db.session.expire_all()

    erased = db.session.get(Child, child.id)
    assert (erased.first_name, erased.last_name) == ("Erased", "Erased")
    assert erased.upn == f"ERASED{child.id:07d}" and len(erased.upn) == 13
    assert erased.date_of_birth == date(2011, 9, 1)
    assert year_group(erased.date_of_birth, date(2027, 1, 1)) == year_group(old_dob, date(2027, 1, 1))
    assert erased.home_school == "[erased]"
    assert erased.erased_at == NOW
    assert db.session.get(ErasureRequest, request.id).status is ErasureStatus.APPROVED

    # Nothing left anywhere that identifies the child (the export reads every table about them).
    data = retention.subject_access(child.id, approver, ip=None, now=NOW, fmt="json")
    del data["audit_events"]
    text = json.dumps(data)
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in text, identifier
    assert "[erased]" in text
    referral = db.session.scalar(sa.select(Referral).where(Referral.child_id == child.id))
    assert referral.profile == "[erased]" and all(a.description == "[erased]" for a in referral.aims)

    # The figures, ids, dates and costs are unchanged; another child is untouched.
    assert oversight.dashboard(Filters(period=YEAR), date(2027, 8, 31)).rows() == figures_before
    placement = db.session.get(Placement, kept_before[0])
    assert (placement.id, placement.start_date, placement.ended_on, placement.total_cost, placement.provider_id,
            placement.lot_id, placement.status, placement.destination) == kept_before  # fmt: skip
    assert placement.end_reason == "[erased]"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceMark)) == 6
    assert _identity(other.id) == other_before

    # The audit trail only grew; the approval names the child by id, never by name.
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) > events_before
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.ERASURE_APPROVED))
    assert (event.subject_type, event.subject_id) == ("children", child.id)
    assert event.details["erasure_request_id"] == request.id
    assert CHILD_FIRST_NAME not in json.dumps(event.details) + event.reason
    assert child.id not in due_ids(NOW)


def test_refusing_needs_a_note_and_changes_nothing(people):
    officer, lot, proposer, other_manager = people
    child = build_child(officer, lot, ended_on=date(2027, 3, 10), full=True)
    request = retention.propose_erasure(child.id, proposer, reason="Past the period", now=NOW, ip=None)
    db.session.commit()
    before = _identity(child.id)
    with pytest.raises(DomainError) as error:
        retention.decide_erasure(request.id, other_manager, approve=False, note="", confirmed=False, now=NOW, ip=None)
    assert error.value.field == "note"
    # The proposer may refuse (withdraw) their own proposal.
    retention.decide_erasure(request.id, proposer, approve=False, note="A review needs it", confirmed=False,
                             now=NOW, ip=None)  # fmt: skip
    db.session.commit()
    db.session.expire_all()
    assert _identity(child.id) == before
    assert db.session.get(ErasureRequest, request.id).status is ErasureStatus.REFUSED
    assert CHILD_FIRST_NAME in db.session.scalar(sa.select(Referral.profile).where(Referral.child_id == child.id))
    assert db.session.scalar(sa.select(AuditEvent.event).order_by(AuditEvent.id.desc())) == Events.ERASURE_REFUSED
    with pytest.raises(IllegalTransition):
        retention.decide_erasure(request.id, other_manager, approve=True, note="", confirmed=True, now=NOW, ip=None)
    # Refused, the child can be proposed again.
    retention.propose_erasure(child.id, proposer, reason="Past the period, no review now", now=NOW, ip=None)


def test_approval_is_refused_when_the_child_is_back_in_use(people):
    officer, lot, proposer, approver = people
    child = build_child(officer, lot, ended_on=date(2027, 3, 10))
    request = retention.propose_erasure(child.id, proposer, reason="Past the period", now=NOW, ip=None)
    db.session.commit()
    placement = db.session.scalar(sa.select(Placement).where(Placement.child_id == child.id))
    placement.status, placement.ended_on, placement.destination = PlacementStatus.ACTIVE, None, None
    db.session.commit()
    with pytest.raises(IllegalTransition):
        retention.decide_erasure(request.id, approver, approve=True, note="", confirmed=True, now=NOW, ip=None)
    db.session.rollback()
    assert _identity(child.id)[0] == CHILD_FIRST_NAME


# --- The subject access export ----------------------------------------------------------------------------------------


def test_the_export_holds_everything_about_the_child_and_is_audited(people):
    officer, lot, manager, _ = people
    child = build_child(officer, lot, ended_on=date(2027, 3, 10), full=True)
    build_child(officer, lot, ended_on=None, full=True)  # someone else's records stay out
    data = retention.subject_access(child.id, manager, ip="10.0.0.3", now=NOW, fmt="json")
    db.session.commit()
    json.dumps(data)  # all plain data
    assert data["child"]["first_name"] == CHILD_FIRST_NAME
    assert data["child"]["upn"] == child.upn
    assert len(data["referrals"]) == 1
    referral = data["referrals"][0]
    assert referral["profile"].startswith(CHILD_FIRST_NAME)
    assert len(referral["aims"]) == 2 and referral["offers"][0]["aim_responses"] is not None
    placement = data["placements"][0]
    assert [m["code"] for m in placement["attendance"]] == ["/", "O", "/"]
    assert placement["reports"][0]["child_view"].startswith(CHILD_FIRST_NAME)
    assert placement["reviews"][0]["aims"][0]["note"] == f"{CHILD_FIRST_NAME} is ahead"
    assert placement["concerns"][0]["summary"] == "Bruise on arm"
    exported = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.SUBJECT_ACCESS_EXPORTED))
    assert (exported.subject_type, exported.subject_id, exported.actor_id) == ("children", child.id, manager.id)
    assert exported.details == {"format": "json"}
    listed = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORDS_LISTED))
    assert listed.details["child_ids"] == [child.id]
    # A second export lists the first in the child's audit trail.
    again = retention.subject_access(child.id, manager, ip=None, now=NOW, fmt="html")
    assert Events.SUBJECT_ACCESS_EXPORTED in [e["event"] for e in again["audit_events"]]
