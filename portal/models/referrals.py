"""The call-off: a child, the referrals written for them, the invitations sent to every eligible provider in the lot,
the providers' offers, and the officer's scores and award.

The child's identity lives in ``children`` only. Everything a provider sees before award (the anonymised profile,
the aims, the criteria) is on the referral, so a provider's query never needs to join ``children``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, str_enum, utcnow
from portal.models.vocabulary import Area, Need

MONEY = sa.Numeric(12, 2)


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    NOT_KNOWN = "not known"


class OnRollStatus(enum.StrEnum):
    HOME_SCHOOL = "on roll at home school"
    OTHER_SCHOOL = "on roll at another school"
    DUAL = "dual registered"
    NOT_ON_ROLL = "not on a school roll"


class ExclusionStatus(enum.StrEnum):
    NONE = "none"
    AT_RISK = "at risk of exclusion"
    SUSPENDED = "suspended"
    PERMANENTLY_EXCLUDED = "permanently excluded"


class Child(Base):
    """Who the child is. Read through portal.services.children only, which audits every read."""

    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    date_of_birth: Mapped[date]
    # The 13-character unique pupil number: one record per child.
    upn: Mapped[str] = mapped_column(sa.String(13), unique=True)
    gender: Mapped[Gender] = mapped_column(str_enum(Gender))
    # Empty when the child has no school.
    home_school: Mapped[str] = mapped_column(sa.String(200), default="")
    on_roll_status: Mapped[OnRollStatus] = mapped_column(str_enum(OnRollStatus))
    ehc_plan: Mapped[bool] = mapped_column(default=False)
    looked_after: Mapped[bool] = mapped_column(default=False)
    exclusion_status: Mapped[ExclusionStatus] = mapped_column(str_enum(ExclusionStatus))
    exclusion_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Set when the child's personal data was erased at the end of its retention period (portal.services.retention):
    # the identity is replaced, the referrals, placements and figures stay.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ReferralStatus(enum.StrEnum):
    """What is stored. "Evaluating" is not stored: an open referral is evaluating once its deadline has passed or
    every invited provider has answered (portal.services.referrals.display_status)."""

    DRAFT = "draft"
    OPEN = "open"
    AWARDED = "awarded"
    WITHDRAWN = "withdrawn"
    OFF_DPS = "off-DPS"


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        sa.CheckConstraint("quality_weight BETWEEN 0 AND 100", name="quality_weight_percentage"),
        sa.CheckConstraint("hours_per_week > 0 AND hours_per_week <= 40", name="hours_per_week_range"),
        sa.CheckConstraint("duration_weeks > 0", name="duration_positive"),
        sa.CheckConstraint("round >= 0", name="round_not_negative"),
        # The referral lists' order (newest first, a page at a time): the first page without sorting every referral.
        sa.Index("ix_referrals_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id"), index=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("council_services.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lots.id"), index=True)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[ReferralStatus] = mapped_column(str_enum(ReferralStatus), default=ReferralStatus.DRAFT, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    # What is needed. Empty while a draft is being written; publishing needs them all.
    hours_per_week: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1))
    sessions: Mapped[str] = mapped_column(sa.String(200), default="")
    start_date: Mapped[date | None]
    duration_weeks: Mapped[int | None]
    location: Mapped[str] = mapped_column(sa.String(500), default="")
    travel_needs: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    reintegration_criteria: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")

    # The anonymised profile providers see. Age and year group are worked out from the date of birth.
    area: Mapped[Area | None] = mapped_column(str_enum(Area))
    profile: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")

    # Fixed at publishing.
    round: Mapped[int] = mapped_column(default=0, server_default="0")
    # Indexed, as awarded_at is, for the oversight figures of the referrals published (awarded) in a period.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    deadline_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")
    quality_weight: Mapped[int] = mapped_column(default=70, server_default="70")
    # The age and year group shown to providers, fixed when first published.
    profile_age: Mapped[int | None]
    profile_year_group: Mapped[str] = mapped_column(sa.String(20), default="")

    # The end: an award (the winning offer has status "awarded"), a withdrawal or commissioning off the DPS.
    award_rationale: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    awarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    awarded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")

    __mapper_args__ = {"version_id_col": version}

    child: Mapped[Child] = relationship()
    service = relationship("CouncilService")
    lot = relationship("Lot")
    officer = relationship("User", foreign_keys=[officer_id])
    needs: Mapped[list[ReferralNeed]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    aims: Mapped[list[Aim]] = relationship(cascade="all, delete-orphan", order_by="Aim.position", lazy="selectin")

    @property
    def price_weight(self) -> int:
        return 100 - self.quality_weight

    @property
    def need_codes(self) -> set[Need]:
        return {n.need for n in self.needs}


class ReferralNeed(Base):
    __tablename__ = "referral_needs"

    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True)
    need: Mapped[Need] = mapped_column(str_enum(Need), primary_key=True)


class Aim(Base):
    """A specific, measurable objective: where the child is now, where they should get to, and how it is measured."""

    __tablename__ = "aims"
    __table_args__ = (sa.UniqueConstraint("referral_id", "position", name="uq_aims_referral_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    baseline: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    target: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})
    measure: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})


class Invitation(Base):
    """A provider invited to one round of a referral. The response state is derived from these timestamps and from
    the provider's offer in the round: invited, viewed, offered, declined."""

    __tablename__ = "invitations"
    __table_args__ = (sa.UniqueConstraint("referral_id", "round", "provider_id", name="uq_invitations_round_provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    round: Mapped[int]
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the provider declined: kept as market intelligence.
    decline_reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")

    provider = relationship("Provider")


class RateType(enum.StrEnum):
    DAY = "day"
    SESSION = "session"
    HOUR = "hour"

    @property
    def label(self) -> str:
        return {"day": "A day rate", "session": "A session rate", "hour": "An hourly rate"}[self]

    @property
    def unit(self) -> str:
        return {"day": "days", "session": "sessions", "hour": "hours"}[self]


class OfferStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    AWARDED = "awarded"
    UNSUCCESSFUL = "unsuccessful"


class Offer(Base):
    """A provider's offer in one round. Revised in place until the deadline (the audit trail keeps each revision)."""

    __tablename__ = "offers"
    __table_args__ = (
        sa.UniqueConstraint("referral_id", "round", "provider_id", name="uq_offers_round_provider"),
        sa.CheckConstraint("rate > 0 AND total > 0", name="price_positive"),
        sa.CheckConstraint("units_per_week > 0", name="units_positive"),
        # Exactly one award per referral, whatever the application does.
        sa.Index(
            "uq_offers_one_award",
            "referral_id",
            unique=True,
            sqlite_where=sa.text("status = 'awarded'"),
            postgresql_where=sa.text("status = 'awarded'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    round: Mapped[int]
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    status: Mapped[OfferStatus] = mapped_column(str_enum(OfferStatus), default=OfferStatus.SUBMITTED)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    start_date: Mapped[date]
    hours_per_week: Mapped[Decimal] = mapped_column(sa.Numeric(4, 1))
    sessions: Mapped[str] = mapped_column(sa.String(200))
    location: Mapped[str] = mapped_column(sa.String(500))
    staffing_ratio: Mapped[str] = mapped_column(sa.String(40))
    transport: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    delivery_and_staffing: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    safeguarding: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    # The price: a rate per day, session or hour, how many a week, and the total over the referral's weeks.
    rate_type: Mapped[RateType] = mapped_column(str_enum(RateType))
    rate: Mapped[Decimal] = mapped_column(MONEY)
    units_per_week: Mapped[Decimal] = mapped_column(sa.Numeric(4, 1))
    total: Mapped[Decimal] = mapped_column(MONEY)

    __mapper_args__ = {"version_id_col": version}

    provider = relationship("Provider")
    aim_responses: Mapped[list[AimResponse]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    scores: Mapped[list[Score]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class AimResponse(Base):
    """How the provider will meet one aim."""

    __tablename__ = "aim_responses"

    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True)
    aim_id: Mapped[int] = mapped_column(sa.ForeignKey("aims.id", ondelete="CASCADE"), primary_key=True, index=True)
    response: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000})


class Score(Base):
    """The officer's score (0 to 5, with a comment) of one offer against one quality criterion.

    ``criterion`` is "aim:<aim id>", "delivery" or "safeguarding" (portal.services.evaluation.criteria)."""

    __tablename__ = "scores"
    __table_args__ = (sa.CheckConstraint("score BETWEEN 0 AND 5", name="score_range"),)

    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True)
    criterion: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    scored_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OffDpsStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class OffDpsRequest(Base):
    """An officer's request to commission a referral's provision off the DPS, and the manager's answer."""

    __tablename__ = "off_dps_requests"
    __table_args__ = (
        # At most one request waiting for the manager per referral.
        sa.Index(
            "uq_off_dps_requests_pending",
            "referral_id",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    status: Mapped[OffDpsStatus] = mapped_column(str_enum(OffDpsStatus), default=OffDpsStatus.PENDING, index=True)
    reason: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000})
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(sa.Text, info={"max_length": 2_000}, default="")

    referral: Mapped[Referral] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])
