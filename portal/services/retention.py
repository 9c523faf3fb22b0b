"""Data retention: how long each kind of record is kept, the report of what is past its period, the manager-approved
erasure of a child's personal data, and the subject access export of everything held about one child.

Erasure replaces who the child is (names, date of birth, UPN, home school) and the free text that may identify them;
it keeps every id, date, status, lot, provider, cost and attendance mark, so the oversight figures do not change, and
it keeps the audit trail (which names children by id only). The services never commit: the route does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from portal.clock import LONDON, london_today
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Child,
    Concern,
    ErasureRequest,
    ErasureStatus,
    Offer,
    Placement,
    ProgressReport,
    Provider,
    Referral,
    ReferralStatus,
    Review,
    User,
)
from portal.models.mail import Notification, OutboxMessage
from portal.models.oversight import Complaint
from portal.models.placements import (
    AttendanceMark,
    PlacementChange,
    PlacementStatus,
    ReportAim,
    ReviewAim,
)
from portal.models.providers import Application, ApplicationLot, ApplicationStatus, LotOutcome
from portal.models.referrals import Aim, AimResponse, OffDpsRequest, Score
from portal.services import audit, children
from portal.services.audit import Events, RecordRef
from portal.services.errors import Conflict, DomainError, IllegalTransition, NotAllowed, NotFound

ERASED_NAME = "Erased"
ERASED_TEXT = "[erased]"
REASON_MAX = 2000
PER_PAGE = 25


# --- The periods ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    child_years: int
    send_until_age: int
    audit_years: int
    outbox_years: int
    notification_years: int
    rejected_application_years: int


def periods() -> Periods:
    config = current_app.config
    return Periods(
        child_years=config.get("RETENTION_CHILD_YEARS", 7),
        send_until_age=config.get("RETENTION_SEND_UNTIL_AGE", 25),
        audit_years=config.get("RETENTION_AUDIT_YEARS", 7),
        outbox_years=config.get("RETENTION_OUTBOX_YEARS", 1),
        notification_years=config.get("RETENTION_NOTIFICATION_YEARS", 2),
        rejected_application_years=config.get("RETENTION_REJECTED_APPLICATION_YEARS", 2),
    )


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _london_date(moment: datetime | None) -> date | None:
    return moment.astimezone(LONDON).date() if moment is not None else None


def _cutoff(now: datetime, years: int) -> datetime:
    """The moment ``years`` before now: records made before it are past a period of that many years."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


# --- Children past their period -------------------------------------------------------------------------------------


@dataclass
class ChildDue:
    """A child whose records are past their retention period: since when, and how many records of each kind."""

    child_id: int
    last_activity: date
    due: date
    send: bool
    referral_ids: list[int]
    counts: dict[str, int]
    pending_request_id: int | None = None


def _children_due(now: datetime) -> list[tuple[int, date, date, bool]]:
    """(child id, last activity, date the period ended, SEND) for every child past the period, oldest first. A child
    with a draft or open referral or an active placement is still in use, whatever the dates."""
    limits = periods()
    today = london_today(now)
    # A child recorded within the period cannot be past it: their last activity is no earlier than their record.
    candidates = db.session.execute(
        sa.select(Child.id, Child.created_at, Child.date_of_birth, Child.ehc_plan).where(
            Child.erased_at.is_(None), Child.created_at < _cutoff(now, limits.child_years)
        )
    ).all()
    if not candidates:
        return []
    ids = [row.id for row in candidates]
    in_use: set[int] = set()
    last: dict[int, date] = {row.id: _london_date(row.created_at) for row in candidates}
    referral_rows = db.session.execute(
        sa.select(
            Referral.child_id, Referral.status, Referral.withdrawn_at, Referral.awarded_at, Referral.updated_at
        ).where(Referral.child_id.in_(ids))
    )
    for row in referral_rows:
        if row.status in (ReferralStatus.DRAFT, ReferralStatus.OPEN):
            in_use.add(row.child_id)
            continue
        closed = _london_date(row.withdrawn_at or row.awarded_at or row.updated_at)
        last[row.child_id] = max(last[row.child_id], closed)
    placement_rows = db.session.execute(
        sa.select(Placement.child_id, Placement.status, Placement.ended_on).where(Placement.child_id.in_(ids))
    )
    for row in placement_rows:
        if row.status is PlacementStatus.ACTIVE or row.ended_on is None:
            in_use.add(row.child_id)
            continue
        last[row.child_id] = max(last[row.child_id], row.ended_on)
    found = []
    for row in candidates:
        if row.id in in_use:
            continue
        due = add_years(last[row.id], limits.child_years)
        if row.ehc_plan:
            due = max(due, add_years(row.date_of_birth, limits.send_until_age))
        if due <= today:
            found.append((row.id, last[row.id], due, row.ehc_plan))
    found.sort(key=lambda item: (item[2], item[0]))
    return found


def child_is_due(child_id: int, now: datetime) -> bool:
    return any(item[0] == child_id for item in _children_due(now))


def _counts_for(child_ids: list[int]) -> dict[int, dict[str, int]]:
    """How many records of each kind each child has (a few grouped queries, whatever the number of children)."""
    counts: dict[int, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("referrals", "placements", "attendance marks", "reports", "reviews", "concerns"), 0)
    )
    if not child_ids:
        return counts
    for child_id, number in db.session.execute(
        sa.select(Referral.child_id, sa.func.count())
        .where(Referral.child_id.in_(child_ids))
        .group_by(Referral.child_id)
    ):
        counts[child_id]["referrals"] = number
    for child_id, number in db.session.execute(
        sa.select(Placement.child_id, sa.func.count())
        .where(Placement.child_id.in_(child_ids))
        .group_by(Placement.child_id)
    ):
        counts[child_id]["placements"] = number
    for label, model in (
        ("attendance marks", AttendanceMark),
        ("reports", ProgressReport),
        ("reviews", Review),
        ("concerns", Concern),
    ):
        statement = (
            sa.select(Placement.child_id, sa.func.count())
            .select_from(model)
            .join(Placement, Placement.id == model.placement_id)
            .where(Placement.child_id.in_(child_ids))
            .group_by(Placement.child_id)
        )
        for child_id, number in db.session.execute(statement):
            counts[child_id][label] = number
    return counts


@dataclass
class Report:
    children: list[ChildDue]
    total: int
    page: int
    pages: int
    # Other kinds of record past their period: (kind, period in years, how many).
    others: list[tuple[str, int, int]]
    periods: Periods


def report(now: datetime, *, page: int = 1, per_page: int = PER_PAGE) -> Report:
    """The records past their period: the children (a page of them, with their counts per kind of record) and how
    many audit events, emails, notifications and rejected applications are past theirs. The number of statements
    does not depend on the number of children."""
    limits = periods()
    due = _children_due(now)
    total = len(due)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    shown = due[(page - 1) * per_page : page * per_page]
    ids = [item[0] for item in shown]
    counts = _counts_for(ids)
    referral_ids: dict[int, list[int]] = defaultdict(list)
    pending: dict[int, int] = {}
    if ids:
        for child_id, referral_id in db.session.execute(
            sa.select(Referral.child_id, Referral.id).where(Referral.child_id.in_(ids)).order_by(Referral.id)
        ):
            referral_ids[child_id].append(referral_id)
        pending = dict(
            db.session.execute(
                sa.select(ErasureRequest.child_id, ErasureRequest.id).where(
                    ErasureRequest.child_id.in_(ids), ErasureRequest.status == ErasureStatus.PENDING
                )
            ).all()
        )
    children_due = [
        ChildDue(
            child_id=child_id,
            last_activity=last,
            due=ends,
            send=send,
            referral_ids=referral_ids[child_id],
            counts=counts[child_id],
            pending_request_id=pending.get(child_id),
        )
        for child_id, last, ends, send in shown
    ]
    return Report(children_due, total, page, pages, _other_counts(now, limits), limits)


def _other_counts(now: datetime, limits: Periods) -> list[tuple[str, int, int]]:
    def count(statement) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0

    passed = sa.exists().where(
        ApplicationLot.application_id == Application.id, ApplicationLot.outcome == LotOutcome.PASS
    )
    return [
        (
            "Audit events",
            limits.audit_years,
            count(sa.select(AuditEvent.id).where(AuditEvent.occurred_at < _cutoff(now, limits.audit_years))),
        ),
        (
            "Emails in the outbox",
            limits.outbox_years,
            count(sa.select(OutboxMessage.id).where(OutboxMessage.created_at < _cutoff(now, limits.outbox_years))),
        ),
        (
            "Notifications",
            limits.notification_years,
            count(sa.select(Notification.id).where(Notification.created_at < _cutoff(now, limits.notification_years))),
        ),
        (
            "Rejected applications",
            limits.rejected_application_years,
            count(
                sa.select(Application.id).where(
                    Application.status == ApplicationStatus.DECIDED,
                    Application.decided_at < _cutoff(now, limits.rejected_application_years),
                    ~passed,
                )
            ),
        ),
    ]


# --- Proposing and deciding an erasure ------------------------------------------------------------------------------


def get_request(request_id: int) -> ErasureRequest:
    found = db.session.get(ErasureRequest, request_id)
    if found is None:
        raise NotFound("There is no such erasure request")
    return found


def propose_erasure(child_id: int, by: User, *, reason: str, now: datetime, ip: str | None) -> ErasureRequest:
    """Propose erasing a child's personal data (past its period, not yet erased, no other proposal waiting)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter why the child's personal data should be erased", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX} characters or fewer", field="reason")
    child = db.session.get(Child, child_id)
    if child is None:
        raise NotFound("There is no such child")
    if child.erased_at is not None:
        raise IllegalTransition("This child's personal data has already been erased")
    if not child_is_due(child_id, now):
        raise IllegalTransition("This child's records are not past their retention period")
    waiting = db.session.scalar(
        sa.select(ErasureRequest.id).where(
            ErasureRequest.child_id == child_id, ErasureRequest.status == ErasureStatus.PENDING
        )
    )
    if waiting is not None:
        raise Conflict("An erasure of this child's personal data is already waiting for approval")
    request = ErasureRequest(child_id=child_id, reason=reason, requested_by_id=by.id, requested_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(request)
            db.session.flush()
    except sa.exc.IntegrityError as error:
        raise Conflict("An erasure of this child's personal data is already waiting for approval") from error
    audit.record(Events.ERASURE_REQUESTED, actor=by, ip=ip, subject=child, reason=reason, erasure_request_id=request.id)
    return request


def decide_erasure(
    request_id: int,
    by: User,
    *,
    approve: bool | None,
    note: str,
    confirmed: bool,
    now: datetime,
    ip: str | None,
) -> ErasureRequest:
    """Approve (a different manager from the one who proposed it, confirming) or refuse (with a note) a proposal.
    Approving erases the child's personal data there and then."""
    request = db.session.scalar(sa.select(ErasureRequest).where(ErasureRequest.id == request_id).with_for_update())
    if request is None:
        raise NotFound("There is no such erasure request")
    if request.status is not ErasureStatus.PENDING:
        raise IllegalTransition(
            f"This proposal has already been decided: it was {request.status.value}. Nothing was changed."
        )
    note = (note or "").strip()
    if len(note) > REASON_MAX:
        raise DomainError(f"The note must be {REASON_MAX} characters or fewer", field="note")
    if approve is None:
        raise DomainError("Choose whether to approve or refuse the erasure", field="decision")
    child = db.session.get(Child, request.child_id)
    if approve:
        if request.requested_by_id == by.id:
            raise NotAllowed("Another manager must approve an erasure you proposed")
        if not confirmed:
            raise DomainError(
                "Confirm that the child's personal data will be erased and cannot be restored", field="confirm"
            )
        if child.erased_at is not None or not child_is_due(child.id, now):
            raise IllegalTransition(
                "This child's records are no longer past their retention period (a new referral or placement may "
                "have started): the erasure can only be refused. Nothing was changed."
            )
        erase_child(child, now=now)
        request.status = ErasureStatus.APPROVED
        event = Events.ERASURE_APPROVED
    else:
        if not note:
            raise DomainError("Enter why the erasure is refused", field="note")
        request.status = ErasureStatus.REFUSED
        event = Events.ERASURE_REFUSED
    request.decided_by_id = by.id
    request.decided_at = now
    request.decision_note = note
    audit.record(event, actor=by, ip=ip, subject=child, reason=note, erasure_request_id=request.id)
    return request


def school_year_start(date_of_birth: date) -> date:
    """1 September at the start of the child's school year: the date of birth kept after erasure. It gives the same
    year group (children born from September to August are in one year) and nothing more."""
    cohort = date_of_birth.year + (1 if date_of_birth.month >= 9 else 0)
    return date(cohort - 1, 9, 1)


def erased_upn(child_id: int) -> str:
    return f"ERASED{child_id:07d}"[:13]


def erase_child(child: Child, *, now: datetime) -> None:
    """Replace the child's identity and every free text that may identify them; keep ids, dates, statuses, lots,
    providers, costs, marks and ratings. Bulk updates, so the work does not grow statement by statement."""
    child.first_name = ERASED_NAME
    child.last_name = ERASED_NAME
    child.date_of_birth = school_year_start(child.date_of_birth)
    child.upn = erased_upn(child.id)
    child.home_school = ERASED_TEXT if child.home_school else ""
    child.erased_at = now

    referral_ids = sa.select(Referral.id).where(Referral.child_id == child.id).scalar_subquery()
    placement_ids = sa.select(Placement.id).where(Placement.child_id == child.id).scalar_subquery()
    offer_ids = sa.select(Offer.id).where(Offer.referral_id.in_(referral_ids)).scalar_subquery()

    def blank(column):
        """ "[erased]" where there was text, empty where there was none."""
        return sa.case((column == "", ""), else_=ERASED_TEXT)

    text_fields = {
        Referral: ("profile", "travel_needs", "location", "reintegration_criteria", "deadline_reason",
                   "award_rationale", "withdrawal_reason"),
        Placement: ("reintegration_criteria", "ehc_plan_reference", "school_name", "concurrent_reason",
                    "end_reason"),
    }  # fmt: skip
    db.session.flush()
    for model, fields in text_fields.items():
        values = {name: blank(getattr(model, name)) for name in fields}
        values["version"] = model.version + 1
        condition = model.child_id == child.id
        db.session.execute(
            sa.update(model).where(condition).values(**values).execution_options(synchronize_session=False)
        )
    db.session.execute(
        sa.update(Aim)
        .where(Aim.referral_id.in_(referral_ids))
        .values(description=ERASED_TEXT, baseline=ERASED_TEXT, target=ERASED_TEXT, measure=ERASED_TEXT)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(Offer)
        .where(Offer.referral_id.in_(referral_ids))
        .values(
            transport=blank(Offer.transport),
            delivery_and_staffing=blank(Offer.delivery_and_staffing),
            safeguarding=blank(Offer.safeguarding),
            version=Offer.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    updates = [
        (AimResponse, AimResponse.offer_id.in_(offer_ids), {"response": ERASED_TEXT}),
        (Score, Score.offer_id.in_(offer_ids), {"comment": blank(Score.comment)}),
        (OffDpsRequest, OffDpsRequest.referral_id.in_(referral_ids),
         {"reason": ERASED_TEXT, "decision_note": blank(OffDpsRequest.decision_note)}),
        (PlacementChange, PlacementChange.placement_id.in_(placement_ids),
         {"reason": ERASED_TEXT, "old_value": blank(PlacementChange.old_value),
          "new_value": blank(PlacementChange.new_value)}),
        (ProgressReport, ProgressReport.placement_id.in_(placement_ids), {"child_view": ERASED_TEXT}),
        (ReportAim, ReportAim.report_id.in_(
            sa.select(ProgressReport.id).where(ProgressReport.placement_id.in_(placement_ids)).scalar_subquery()
        ), {"evidence": ERASED_TEXT}),
        (Review, Review.placement_id.in_(placement_ids), {"next_steps": ERASED_TEXT}),
        (ReviewAim, ReviewAim.review_id.in_(
            sa.select(Review.id).where(Review.placement_id.in_(placement_ids)).scalar_subquery()
        ), {"note": blank(ReviewAim.note)}),
        (Concern, Concern.placement_id.in_(placement_ids),
         {"summary": ERASED_TEXT, "details": ERASED_TEXT, "action_taken": blank(Concern.action_taken),
          "outcome": blank(Concern.outcome)}),
        (Complaint, Complaint.placement_id.in_(placement_ids), {"summary": ERASED_TEXT}),
    ]  # fmt: skip
    for model, condition, values in updates:
        db.session.execute(
            sa.update(model).where(condition).values(**values).execution_options(synchronize_session=False)
        )
    # Objects already in the session would show the old text: read them again from the database.
    for instance in list(db.session.identity_map.values()):
        if instance is not child and isinstance(
            instance,
            (Referral, Placement, Aim, Offer, AimResponse, Score, OffDpsRequest, PlacementChange, ProgressReport,
             ReportAim, Review, ReviewAim, Concern, Complaint),
        ):  # fmt: skip
            db.session.expire(instance)


# --- The subject access export ------------------------------------------------------------------------------------


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):
        return value.value
    return value


def _row(instance, fields: tuple[str, ...]) -> dict:
    return {name: _plain(getattr(instance, name)) for name in fields}


CHILD_FIELDS = ("id", "first_name", "last_name", "date_of_birth", "upn", "gender", "home_school", "on_roll_status",
                "ehc_plan", "looked_after", "exclusion_status", "exclusion_date", "created_at", "erased_at")  # fmt: skip
REFERRAL_FIELDS = ("id", "status", "created_at", "published_at", "deadline", "awarded_at", "withdrawn_at",
                   "hours_per_week", "sessions", "start_date", "duration_weeks", "location", "travel_needs",
                   "reintegration_criteria", "area", "profile", "profile_age", "profile_year_group",
                   "award_rationale", "withdrawal_reason")  # fmt: skip
OFFER_FIELDS = ("id", "round", "status", "submitted_at", "start_date", "hours_per_week", "sessions", "location",
                "staffing_ratio", "transport", "delivery_and_staffing", "safeguarding", "rate_type", "rate",
                "units_per_week", "total")  # fmt: skip
PLACEMENT_FIELDS = ("id", "referral_id", "status", "start_date", "planned_end_date", "hours_per_week", "sessions",
                    "rate_type", "rate", "total_cost", "reintegration_criteria", "ehc_plan_reference", "on_roll",
                    "responsible_party", "school_name", "next_review_due", "ended_on", "end_reason",
                    "destination")  # fmt: skip


def subject_access(child_id: int, by: User, *, ip: str | None, now: datetime, fmt: str) -> dict:
    """Everything held about one child, as plain JSON-ready data, read through ``children.read_children`` (audited)
    and recorded as a subject access export in ``fmt`` ("html" or "json")."""
    if db.session.get(Child, child_id) is None:
        raise NotFound("There is no such child")
    child = children.read_children([child_id], by, ip=ip, purpose="subject access export")[child_id]
    audit.record(Events.SUBJECT_ACCESS_EXPORTED, actor=by, ip=ip, subject=child, format=fmt)

    referrals = list(db.session.scalars(sa.select(Referral).where(Referral.child_id == child_id).order_by(Referral.id)))
    referral_ids = [r.id for r in referrals]
    offers = list(
        db.session.scalars(sa.select(Offer).where(Offer.referral_id.in_(referral_ids)).order_by(Offer.id))
    ) if referral_ids else []  # fmt: skip
    provider_names = _provider_names({o.provider_id for o in offers})
    placements = list(
        db.session.scalars(sa.select(Placement).where(Placement.child_id == child_id).order_by(Placement.id))
    )
    placement_ids = [p.id for p in placements]
    provider_names.update(_provider_names({p.provider_id for p in placements} - set(provider_names)))

    def by_placement(model, order):
        grouped = defaultdict(list)
        if placement_ids:
            for item in db.session.scalars(
                sa.select(model).where(model.placement_id.in_(placement_ids)).order_by(*order)
            ):
                grouped[item.placement_id].append(item)
        return grouped

    marks = by_placement(AttendanceMark, (AttendanceMark.day, AttendanceMark.session))
    reports = by_placement(ProgressReport, (ProgressReport.review_due_on,))
    reviews = by_placement(Review, (Review.held_on,))
    concerns = by_placement(Concern, (Concern.raised_at,))

    data = {
        "exported_at": now.isoformat(),
        "child": _row(child, CHILD_FIELDS),
        "referrals": [
            {
                **_row(referral, REFERRAL_FIELDS),
                "needs": sorted(n.need.value for n in referral.needs),
                "aims": [
                    _row(aim, ("id", "position", "description", "baseline", "target", "measure"))
                    for aim in referral.aims
                ],  # fmt: skip
                "offers": [
                    {
                        **_row(offer, OFFER_FIELDS),
                        "provider": provider_names.get(offer.provider_id, ""),
                        "aim_responses": [{"aim_id": r.aim_id, "response": r.response} for r in offer.aim_responses],
                    }
                    for offer in offers
                    if offer.referral_id == referral.id
                ],
            }
            for referral in referrals
        ],
        "placements": [
            {
                **_row(placement, PLACEMENT_FIELDS),
                "provider": provider_names.get(placement.provider_id, ""),
                "attendance": [
                    {"day": m.day.isoformat(), "session": m.session, "code": m.code} for m in marks[placement.id]
                ],  # fmt: skip
                "reports": [
                    {
                        **_row(report_, ("id", "review_due_on", "submitted_at", "child_view")),
                        "aims": [
                            {"aim_id": a.aim_id, "rating": a.rating.value, "evidence": a.evidence} for a in report_.aims
                        ],  # fmt: skip
                    }
                    for report_ in reports[placement.id]
                ],
                "reviews": [
                    {
                        **_row(review, ("id", "held_on", "due_on", "next_steps", "readiness", "next_review_on")),
                        "aims": [{"aim_id": a.aim_id, "rating": a.rating.value, "note": a.note} for a in review.aims],
                    }
                    for review in reviews[placement.id]
                ],
                "concerns": [
                    _row(
                        concern,
                        ("id", "status", "raised_at", "summary", "details", "action_taken", "closed_at", "outcome"),
                    )  # fmt: skip
                    for concern in concerns[placement.id]
                ],
            }
            for placement in placements
        ],
        "erasure_requests": [
            _row(item, ("id", "status", "requested_at", "reason", "decided_at", "decision_note"))
            for item in db.session.scalars(
                sa.select(ErasureRequest).where(ErasureRequest.child_id == child_id).order_by(ErasureRequest.id)
            )
        ],
        "audit_events": _audit_events(child_id, referral_ids, placement_ids),
    }
    return data


def _provider_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Provider.id, Provider.name).where(Provider.id.in_(ids))).all())


def _audit_events(child_id: int, referral_ids: list[int], placement_ids: list[int]) -> list[dict]:
    """The events about the child: about the child's record (including the lists that showed it), its referrals
    and its placements."""
    conditions = [audit.record_condition(RecordRef("children", child_id))]
    if referral_ids:
        conditions.append(sa.and_(AuditEvent.subject_type == "referrals", AuditEvent.subject_id.in_(referral_ids)))
    if placement_ids:
        conditions.append(sa.and_(AuditEvent.subject_type == "placements", AuditEvent.subject_id.in_(placement_ids)))
    statement = sa.select(AuditEvent).where(sa.or_(*conditions)).order_by(AuditEvent.occurred_at, AuditEvent.id)
    return [
        {
            "id": event.id,
            "occurred_at": event.occurred_at.isoformat(),
            "event": event.event,
            "by": event.actor_label,
            "record": f"{event.subject_type} {event.subject_id}" if event.subject_type else "",
            "reason": event.reason,
            "details": dict(audit.shown_details(event)),
        }
        for event in db.session.scalars(statement)
    ]


__all__ = [
    "ERASED_NAME",
    "ERASED_TEXT",
    "Periods",
    "Report",
    "ChildDue",
    "add_years",
    "child_is_due",
    "decide_erasure",
    "erase_child",
    "erased_upn",
    "get_request",
    "periods",
    "propose_erasure",
    "report",
    "school_year_start",
    "subject_access",
]
