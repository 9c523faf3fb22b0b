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
from sqlalchemy.orm import lazyload

from portal.extensions import db
from portal.models import Provider, Role, User
from portal.services import caseload, eligibility, placements, referrals, users
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
