"""CSV exports of the lists: for each one its columns and a generator of its rows, read from the SAME statement the
list pages (its filters, all pages), in batches (``yield_per``), so memory stays flat however long the list.

No child's name, date of birth or UPN is exported: each row carries the referral's or placement's reference instead
(the lists show the names through an audited read of one page; an export of every page would be a bulk disclosure).
Routes pass ``header`` and ``rows`` to ``portal.csv_export.download``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from itertools import islice

import sqlalchemy as sa
from sqlalchemy.orm import lazyload, selectinload

from portal.extensions import db
from portal.models import Application, ApplicationStatus, OffDpsStatus, Provider, Referral, Role, User
from portal.services import (
    caseload,
    concerns,
    decisions,
    directory,
    eligibility,
    evaluation,
    placements,
    referrals,
    sla_workflow,
    users,
)
from portal.services import offers as feed
from portal.services.caseload import FLAGS, CaseloadFilters
from portal.services.referrals import ReferralFilters, Stage

BATCH = 1000


def stream(statement: sa.Select) -> Iterator[sa.Row]:
    """The statement's rows, fetched from the database a batch at a time."""
    yield from db.session.execute(statement.execution_options(yield_per=BATCH))


def _batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# ---- Referrals (officer and manager) --------------------------------------------------------------------------------

REFERRAL_HEADER: Sequence[str] = (
    "Reference",
    "Lot",
    "Service",
    "Officer",
    "Stage",
    "Offers",
    "Providers invited",
    "Deadline",
    "Created",
)


def referral_rows(filters: ReferralFilters, *, now: datetime) -> Iterator[tuple]:
    for referral, _child, stage, offers, invited in stream(referrals.search_statement(filters, now=now)):
        stage = Stage(stage)
        yield (
            referrals.reference(referral),
            referral.lot.label if referral.lot else "Not chosen yet",
            referral.service.name,
            referral.officer.name,
            stage.label,
            None if stage is Stage.DRAFT else offers,
            None if stage is Stage.DRAFT else invited,
            referral.deadline,
            referral.created_at,
        )


# ---- Placements (the officer's caseload, the manager's list, the provider's) ----------------------------------------

PLACEMENT_HEADER: Sequence[str] = (
    "Reference",
    "Provider",
    "Lot",
    "Service",
    "Officer",
    "Status",
    "Start date",
    "Planned end date",
    "Next review due",
    "Attendance, last 4 weeks (%)",
    "Flags",
)


def _placement_rows(statement: sa.Select) -> Iterator[tuple]:
    for raw in stream(statement):
        row = caseload.caseload_row(raw)
        placement = row.placement
        yield (
            placements.reference(placement),
            placement.provider.name,
            placement.lot.label,
            placement.service.name,
            placement.officer.name,
            placement.status.value.capitalize(),
            placement.start_date,
            placement.planned_end_date,
            placement.next_review_due,
            row.attendance_percent,
            "; ".join(FLAGS[flag][0] for flag in row.flags),
        )


def manager_placement_rows(filters: CaseloadFilters, *, today: date) -> Iterator[tuple]:
    return _placement_rows(caseload.manager_placements_statement(filters, today))


def caseload_rows(officer: User, filters: CaseloadFilters, *, today: date) -> Iterator[tuple]:
    return _placement_rows(caseload.officer_caseload_statement(officer, filters, today))


PROVIDER_PLACEMENT_HEADER: Sequence[str] = (
    "Reference",
    "Lot",
    "Service",
    "Start date",
    "Planned end date",
    "Next review due",
    "Today's morning mark",
    "Today's afternoon mark",
    "Progress report written",
)


def provider_placement_rows(user: User, *, today: date) -> Iterator[tuple]:
    # The statement is made now, while the request (and its user) is here; the rows are read as the CSV is sent.
    return _provider_placement_rows(caseload.provider_placements_statement(user, today))


def _provider_placement_rows(statement) -> Iterator[tuple]:
    for placement, am_code, pm_code, written in stream(statement):
        yield (
            placements.reference(placement),
            placement.lot.label,
            placement.service.name,
            placement.start_date,
            placement.planned_end_date,
            placement.next_review_due,
            am_code,
            pm_code,
            bool(written),
        )


# ---- Providers (manager) ------------------------------------------------------------------------------------------

PROVIDER_HEADER: Sequence[str] = ("Provider", "Lots admitted to", "Suspended from")


def provider_rows(*, today: date) -> Iterator[tuple]:
    """Providers by name, as the list orders them, with the lots admitted to today (one SELECT per batch)."""
    statement = sa.select(Provider).options(lazyload("*")).order_by(sa.func.lower(Provider.name), Provider.id)
    for batch in _batches(db.session.scalars(statement.execution_options(yield_per=BATCH))):
        admissions = eligibility.admissions_in_force([provider.id for provider in batch], today)
        for provider in batch:
            standings = admissions.get(provider.id, [])
            yield (
                provider.name,
                "; ".join(standing.admission.lot.label for standing in standings),
                "; ".join(standing.admission.lot.label for standing in standings if standing.suspended),
            )


# ---- Users (manager) ----------------------------------------------------------------------------------------------

USER_HEADER: Sequence[str] = ("Name", "Email address", "Role", "Service", "Provider", "Status", "Created")
ROLE_LABELS = {Role.OFFICER: "Council officer", Role.PROVIDER: "Provider", Role.MANAGER: "Commissioning manager"}


def user_rows(query: str | None, role: str | None) -> Iterator[tuple]:
    for user in db.session.scalars(users.search_statement(query, role).execution_options(yield_per=BATCH)):
        yield (
            user.name,
            user.email,
            ROLE_LABELS.get(user.role, str(user.role)),
            user.service.name if user.service else None,
            user.provider.name if user.provider else None,
            users.status_of(user).value.capitalize(),
            user.created_at,
        )


# ---- Applications to join the DPS (manager) -----------------------------------------------------------------------

APPLICATION_HEADER: Sequence[str] = (
    "Application",
    "Provider",
    "Lots applied for",
    "Admitted to",
    "Rejected for",
    "Submitted",
    "Decision due",
    "Time left",
    "Decided",
)


def application_rows(tab: decisions.QueueTab, *, today: date) -> Iterator[tuple]:
    return _application_rows(
        decisions.queue_statement(tab, today=today).options(selectinload(Application.lots)), today
    )


def _application_rows(statement: sa.Select, today: date) -> Iterator[tuple]:
    for application in db.session.scalars(statement.execution_options(yield_per=BATCH)):
        row = decisions.QueueRow(application, decisions.clock(application.decision_due_on, today))
        decided = application.status is ApplicationStatus.DECIDED
        yield (
            application.id,
            application.provider.name,
            "; ".join(lot.lot.label for lot in application.lots),
            "; ".join(lot.lot.label for lot in row.admitted_lots) if decided else None,
            "; ".join(lot.lot.label for lot in row.rejected_lots) if decided else None,
            application.submitted_at,
            application.decision_due_on,
            None if decided else row.clock.text,
            application.decided_at,
        )


# ---- Off-DPS requests (manager) -----------------------------------------------------------------------------------

OFF_DPS_HEADER: Sequence[str] = (
    "Referral",
    "Lot",
    "Service",
    "Requested by",
    "Reason",
    "Requested",
    "Decision",
    "Decided",
    "Decided by",
)


def off_dps_rows(tab: evaluation.QueueTab) -> Iterator[tuple]:
    return _off_dps_rows(evaluation.off_dps_queue_statement(tab))


def _off_dps_rows(statement: sa.Select) -> Iterator[tuple]:
    for item, decided_by_name in stream(statement):
        referral = item.referral
        pending = item.status is OffDpsStatus.PENDING
        yield (
            referrals.reference(referral),
            referral.lot.label if referral.lot else None,
            referral.service.name,
            item.requested_by.name,
            item.reason,
            item.requested_at,
            "Waiting" if pending else item.status.value.capitalize(),
            item.decided_at,
            decided_by_name,
        )


# ---- SLAs (manager, per tab) --------------------------------------------------------------------------------------

SLA_HEADER: Sequence[str] = (
    "Provider",
    "Version",
    "Lots",
    "Status",
    "Expiring within 90 days",
    "Sent",
    "Accepted",
    "Accepted by",
    "Term ends",
)


def sla_rows(tab: sla_workflow.QueueTab, *, today: date) -> Iterator[tuple]:
    return _sla_rows(sla_workflow.queue_statement(tab, today), today)


def _sla_rows(statement: sa.Select, today: date) -> Iterator[tuple]:
    for sla in db.session.scalars(statement.execution_options(yield_per=BATCH)):
        row = sla_workflow.row_for(sla, today)
        yield (
            sla.provider.name,
            sla.number,
            "; ".join(sla_lot.lot.label for sla_lot in sla.lots),
            row.display_status.capitalize(),
            row.expiring,
            sla.sent_at,
            sla.accepted_at,
            ", ".join(part for part in (sla.signatory_name, sla.signatory_role) if part) or None,
            row.ends_on,
        )


# ---- Council services (manager) -----------------------------------------------------------------------------------

SERVICE_HEADER: Sequence[str] = ("Service", "DSL", "DSL role", "DSL email address", "DSL phone number")


def service_rows() -> Iterator[tuple]:
    for service in db.session.scalars(concerns.services_statement().execution_options(yield_per=BATCH)):
        yield (service.name, service.dsl_name or "Not set", service.dsl_role, service.dsl_email, service.dsl_phone)


# ---- Opportunities (provider: its own invitations only) -----------------------------------------------------------

OPPORTUNITY_HEADER: Sequence[str] = (
    "Referral",
    "Lot",
    "Age",
    "Year group",
    "Needs",
    "Area",
    "Hours a week",
    "Start date",
    "Offers close",
    "Invited",
    "Your response",
    "Outcome",
)


def opportunity_rows(provider_id: int, *, now: datetime, closed: bool) -> Iterator[tuple]:
    # The statement is made now, while the request (and its user) is here; the rows are read as the CSV is sent.
    statement = feed.feed_statement(provider_id, now=now, closed=closed).options(selectinload(Referral.needs))
    return _opportunity_rows(statement, now)


def _opportunity_rows(statement: sa.Select, now: datetime) -> Iterator[tuple]:
    for referral, invitation, status in stream(statement):
        yield (
            referrals.reference(referral),
            referral.lot.label if referral.lot else None,
            referral.profile_age,
            referral.profile_year_group,
            "; ".join(need.need.label for need in sorted(referral.needs, key=lambda need: need.need)),
            referral.area.label if referral.area else None,
            referral.hours_per_week,
            referral.start_date,
            referral.deadline,
            invitation.invited_at,
            feed.response_state(invitation, status).label,
            feed.outcome_for(referral, invitation.round, status, now).label,
        )


# ---- The directory (officers and the manager) ---------------------------------------------------------------------

DIRECTORY_HEADER: Sequence[str] = (
    "Provider",
    "Registration",
    "Lots",
    "Suspended from",
    "Not compliant in",
    "No SLA in force for",
    "Needs",
    "Areas",
    "Youngest age",
    "Oldest age",
    "How they teach",
)
REGISTRATION = {None: "Not stated", True: "Registered", False: "Unregistered"}


def directory_rows(filters: directory.DirectoryFilters, *, today: date) -> Iterator[tuple]:
    return _directory_rows(directory.search_statement(filters, on_date=today), today)


def _directory_rows(statement: sa.Select, today: date) -> Iterator[tuple]:
    """Providers as the search finds them, with their admissions in force today (one SELECT per batch)."""
    for batch in _batches(db.session.scalars(statement.execution_options(yield_per=BATCH))):
        admissions = eligibility.admissions_in_force([provider.id for provider in batch], today)
        for provider in batch:
            entry = directory.DirectoryEntry(provider=provider, admissions=admissions.get(provider.id, []))
            yield (
                provider.name,
                REGISTRATION[provider.registered],
                "; ".join(lot.label for lot in entry.lots),
                "; ".join(lot.label for lot in entry.suspended_lots),
                "; ".join(lot.label for lot in entry.non_compliant_lots),
                "; ".join(lot.label for lot in entry.no_sla_lots),
                "; ".join(need.label for need in entry.needs),
                "; ".join(area.label for area in entry.areas),
                provider.age_from,
                provider.age_to,
                "; ".join(mode.label for mode in entry.delivery_modes),
            )
