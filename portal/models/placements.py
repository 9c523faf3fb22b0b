"""A placement made from an awarded offer, and everything that follows it: who holds safeguarding responsibility, the
twice-daily attendance, progress reports and reviews against the referral's aims, concerns, variations and the end.

The placement plan's aims are the referral's aims (``Referral.aims``): reports and reviews rate progress against them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, str_enum, utcnow
from portal.models.referrals import MONEY, RateType, Referral


class OnRoll(enum.StrEnum):
    """Who the child is on roll with while the placement runs."""

    PROVIDER = "the provider"
    HOME_SCHOOL = "the home school"
    OTHER_SCHOOL = "another school"
    NONE = "no school"


class ProvisionRole(enum.StrEnum):
    MAIN = "main provision"
    SUPPLEMENTARY = "supplementary support"


class Commissioner(enum.StrEnum):
    COUNCIL = "a council service"
    SCHOOL = "the school"


class ResponsibleParty(enum.StrEnum):
    """Who holds safeguarding responsibility (portal.services.safeguarding decides)."""

    PROVIDER = "the provider"
    SCHOOL = "the school"
    SERVICE = "the commissioning service"


class PlacementStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class Destination(enum.StrEnum):
    HOME_SCHOOL = "back to the home school"
    NEW_MAINSTREAM = "a new mainstream school"
    SPECIAL_SCHOOL = "a special school"
    FURTHER_EDUCATION = "further education or training"
    EMPLOYMENT = "employment"
    NOT_IN_EDUCATION = "not in education"
    OTHER = "other"

    @property
    def is_reintegration(self) -> bool:
        """A return to a school: what the reintegration rate counts."""
        return self in {Destination.HOME_SCHOOL, Destination.NEW_MAINSTREAM, Destination.SPECIAL_SCHOOL}


class Session(enum.StrEnum):
    AM = "am"
    PM = "pm"

    @property
    def label(self) -> str:
        return "Morning" if self is Session.AM else "Afternoon"


class Placement(Base):
    """One child's provision with one provider, from the awarded offer until it ends with a destination."""

    __tablename__ = "placements"
    __table_args__ = (
        sa.CheckConstraint("planned_end_date >= start_date", name="ends_after_start"),
        sa.CheckConstraint("hours_per_week > 0 AND hours_per_week <= 40", name="hours_per_week_range"),
        sa.CheckConstraint("rate > 0 AND total_cost > 0", name="cost_positive"),
        sa.CheckConstraint(
            "(status = 'active' AND ended_on IS NULL) OR (status = 'ended' AND ended_on IS NOT NULL "
            "AND destination IS NOT NULL)",
            name="ended_with_destination",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One placement per referral: made from its awarded offer.
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), unique=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id"), unique=True)
    # Copied from the referral and offer so lists and rules (one active placement per child, the unregistered
    # provider's full-time pupils) filter without joins.
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id"), index=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("council_services.id"), index=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"), index=True)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[PlacementStatus] = mapped_column(
        str_enum(PlacementStatus), default=PlacementStatus.ACTIVE, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    # What is provided, prefilled from the awarded offer.
    # Indexed for the oversight figures of the placements started in a period.
    start_date: Mapped[date] = mapped_column(index=True)
    planned_end_date: Mapped[date]
    hours_per_week: Mapped[Decimal] = mapped_column(sa.Numeric(4, 1))
    # In words ("Monday to Friday, 9am to 12pm"), and the sessions the child is expected at, which attendance
    # alerts use: weekday-session keys separated by spaces ("mon-am mon-pm tue-am ...").
    sessions: Mapped[str] = mapped_column(sa.String(200))
    expected_sessions: Mapped[str] = mapped_column(sa.String(80))
    full_time: Mapped[bool] = mapped_column(default=False)
    rate_type: Mapped[RateType] = mapped_column(str_enum(RateType))
    rate: Mapped[Decimal] = mapped_column(MONEY)
    units_per_week: Mapped[Decimal] = mapped_column(sa.Numeric(4, 1))
    total_cost: Mapped[Decimal] = mapped_column(MONEY)

    # The placement plan (with the referral's aims).
    reintegration_criteria: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    ehc_plan_reference: Mapped[str] = mapped_column(sa.String(500), default="")
    # Moved on by each review; reports are due a week before.
    next_review_due: Mapped[date] = mapped_column(index=True)

    # Safeguarding responsibility: the three answers, the party they name, and the officer's confirmation.
    on_roll: Mapped[OnRoll] = mapped_column(str_enum(OnRoll))
    provision_role: Mapped[ProvisionRole] = mapped_column(str_enum(ProvisionRole))
    commissioner: Mapped[Commissioner] = mapped_column(str_enum(Commissioner))
    responsible_party: Mapped[ResponsibleParty] = mapped_column(str_enum(ResponsibleParty))
    # The school the child is on roll with (when it is a school), and its DSL when the school holds responsibility.
    school_name: Mapped[str] = mapped_column(sa.String(200), default="")
    school_dsl_name: Mapped[str] = mapped_column(sa.String(200), default="")
    school_dsl_email: Mapped[str] = mapped_column(sa.String(254), default="")
    school_dsl_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # The school's written confirmation of the provider's staff checks (when the school holds responsibility).
    staff_checks_confirmed_on: Mapped[date | None]
    staff_checks_reference: Mapped[str] = mapped_column(sa.String(500), default="")
    responsibility_confirmed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    responsibility_confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Why a second placement runs alongside one already active for the child.
    concurrent_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")

    # The end. Indexed for the oversight figures of the placements ended in a period.
    ended_on: Mapped[date | None] = mapped_column(index=True)
    end_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")
    destination: Mapped[Destination | None] = mapped_column(str_enum(Destination))
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    referral = relationship("Referral")
    offer = relationship("Offer")
    provider = relationship("Provider")
    service = relationship("CouncilService")
    lot = relationship("Lot")
    officer = relationship("User", foreign_keys=[officer_id])
    sites: Mapped[list[PlacementSite]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def site_ids(self) -> set[int]:
        return {s.site_id for s in self.sites}

    @property
    def expected_session_keys(self) -> set[str]:
        return set(self.expected_sessions.split())



# The placement set up from a referral, if any: its id read in the referral's own SELECT where a page asks for it
# (undefer, as referrals.get_referral does), or else on first access.
Referral.placement_id = column_property(
    sa.select(Placement.id).where(Placement.referral_id == Referral.id).correlate_except(Placement).scalar_subquery(),
    deferred=True,
)

class PlacementSite(Base):
    __tablename__ = "placement_sites"

    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), primary_key=True, index=True)

    site = relationship("Site", lazy="joined")


class PlacementChange(Base):
    """One field varied: who, when, why, and the value before and after (as shown to people)."""

    __tablename__ = "placement_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000})
    field: Mapped[str] = mapped_column(sa.String(40))
    old_value: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    new_value: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})

    changed_by = relationship("User")


class AttendanceMark(Base):
    """One session's DfE attendance code. A second save of the same session updates this row."""

    __tablename__ = "attendance_marks"
    __table_args__ = (
        sa.UniqueConstraint("placement_id", "day", "session", name="uq_attendance_marks_session"),
        sa.CheckConstraint("session IN ('am', 'pm')", name="session_am_pm"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id"))
    # Indexed on its own (the unique constraint leads with the placement) for the reads of every placement's marks
    # over some days: the caseload's 28-day attendance, the oversight attendance, today's marks for the alerts.
    day: Mapped[date] = mapped_column(index=True)
    session: Mapped[str] = mapped_column(sa.String(2))
    code: Mapped[str] = mapped_column(sa.String(2))
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Saved (last) on the session's own day, London time: the SLA's "attendance recorded the same day" KPI.
    recorded_same_day: Mapped[bool] = mapped_column(default=True, server_default=sa.true())


class AlertKind(enum.StrEnum):
    ABSENCE = "unexplained absence"
    NO_MORNING_MARK = "no morning mark by 11:00"
    NO_AFTERNOON_MARK = "no afternoon mark by 15:00"


class AttendanceAlert(Base):
    """An alert raised for a placement on a day. Unique, so raising it again (the half-hourly command) does nothing."""

    __tablename__ = "attendance_alerts"
    __table_args__ = (sa.UniqueConstraint("placement_id", "day", "kind", name="uq_attendance_alerts_day_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id"))
    day: Mapped[date] = mapped_column(index=True)
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HalfTerm(Base):
    """A half term of the school year, set by the manager. Reviews falling in a holiday move back to its last day."""

    __tablename__ = "half_terms"
    __table_args__ = (
        sa.UniqueConstraint("academic_year", "position", name="uq_half_terms_year_position"),
        sa.CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        sa.CheckConstraint("position BETWEEN 1 AND 6", name="position_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "2026/27"
    academic_year: Mapped[str] = mapped_column(sa.String(7), index=True)
    position: Mapped[int]
    starts_on: Mapped[date]
    ends_on: Mapped[date]

    @property
    def name(self) -> str:
        term = ("Autumn", "Spring", "Summer")[(self.position - 1) // 2]
        return f"{term} {1 + (self.position - 1) % 2}"


class ProgressRating(enum.StrEnum):
    AHEAD = "ahead of target"
    ON_TARGET = "on target"
    BEHIND = "behind target"
    NO_PROGRESS = "no progress"

    @property
    def on_or_ahead(self) -> bool:
        return self in {ProgressRating.AHEAD, ProgressRating.ON_TARGET}


class Readiness(enum.StrEnum):
    READY = "ready to return now"
    SOON = "ready to return within a term"
    NOT_YET = "not yet ready to return"
    NOT_APPLICABLE = "a return to school is not the aim"


class ProgressReport(Base):
    """The provider's report for one review: progress against each aim, with evidence, and the child's own view."""

    __tablename__ = "progress_reports"
    __table_args__ = (sa.UniqueConstraint("placement_id", "review_due_on", name="uq_progress_reports_review"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id"), index=True)
    # The review it was written for (the placement's next_review_due when submitted).
    review_due_on: Mapped[date]
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    child_view: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})

    aims: Mapped[list[ReportAim]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    submitted_by = relationship("User")


class ReportAim(Base):
    __tablename__ = "report_aims"

    report_id: Mapped[int] = mapped_column(sa.ForeignKey("progress_reports.id", ondelete="CASCADE"), primary_key=True)
    aim_id: Mapped[int] = mapped_column(sa.ForeignKey("aims.id"), primary_key=True, index=True)
    rating: Mapped[ProgressRating] = mapped_column(str_enum(ProgressRating))
    evidence: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})


class Review(Base):
    """The officer's review: progress per aim, next steps, readiness to return, and when the next review is."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id"), index=True)
    held_on: Mapped[date]
    # The review it met (the placement's next_review_due when recorded), and the report it read.
    due_on: Mapped[date]
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("progress_reports.id"), index=True)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_steps: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    readiness: Mapped[Readiness] = mapped_column(str_enum(Readiness))
    next_review_on: Mapped[date]

    aims: Mapped[list[ReviewAim]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    recorded_by = relationship("User")


class ReviewAim(Base):
    __tablename__ = "review_aims"

    review_id: Mapped[int] = mapped_column(sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True)
    aim_id: Mapped[int] = mapped_column(sa.ForeignKey("aims.id"), primary_key=True, index=True)
    rating: Mapped[ProgressRating] = mapped_column(str_enum(ProgressRating))
    note: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")


class ConcernStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Concern(Base):
    """A safeguarding concern about a child in a placement. Seen only by the responsible party's DSL, the officer,
    the person who raised it and the manager (portal.services.concerns)."""

    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[int] = mapped_column(sa.ForeignKey("placements.id"), index=True)
    status: Mapped[ConcernStatus] = mapped_column(str_enum(ConcernStatus), default=ConcernStatus.OPEN, index=True)
    raised_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str] = mapped_column(sa.String(200))
    details: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    action_taken: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")

    raised_by = relationship("User", foreign_keys=[raised_by_id])
