"""The AP directory: the providers admitted to the DPS, as officers and the manager search and read them.

A page of results is a fixed number of statements whatever the number of providers: one COUNT, one SELECT of the
providers, one SELECT of their needs, areas and delivery modes (profile_codes), and one
SELECT of the page's admissions in force with their lots and whether each is suspended or non-compliant (the rules
of portal.services.eligibility, which stays the one place that decides eligibility).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    Area,
    DeliveryMode,
    Lot,
    Need,
    Provider,
    ProviderArea,
    ProviderDeliveryMode,
    ProviderNeed,
    Role,
    Suspension,
    User,
)
from portal.pagination import Page, paginate
from portal.services import compliance, decisions, eligibility
from portal.services.eligibility import AdmissionStanding, LotStanding
from portal.services.errors import NotFound
from portal.services.suspensions import state_of

PER_PAGE = 20
# The ages a child in the directory's search can be: AP runs from reception to preparation for adulthood (25).
YOUNGEST, OLDEST = 4, 25


@dataclass(frozen=True)
class DirectoryFilters:
    """What an officer searches by. Empty (None or "") means any."""

    q: str = ""
    lot_id: int | None = None
    need: Need | None = None
    area: Area | None = None
    age: int | None = None
    registered: bool | None = None
    delivery_mode: DeliveryMode | None = None


def in_order(codes, vocabulary) -> list:
    """Codes from a vocabulary (Need, Area, DeliveryMode) in the vocabulary's own order, for showing."""
    return [value for value in vocabulary if value in codes]


class _Offer:
    """What a provider offers, in the vocabulary's order (from the profile lists loaded with the provider)."""

    provider: Provider

    @property
    def needs(self) -> list[Need]:
        return in_order(self.provider.need_codes, Need)

    @property
    def areas(self) -> list[Area]:
        return in_order(self.provider.area_codes, Area)

    @property
    def delivery_modes(self) -> list[DeliveryMode]:
        return in_order(self.provider.delivery_mode_codes, DeliveryMode)


@dataclass(frozen=True)
class DirectoryEntry(_Offer):
    """A provider in the results, with its admissions in force today and how it stands in each lot."""

    provider: Provider
    admissions: list[AdmissionStanding]
    # The needs, areas and delivery modes as search() reads them for a page in one SELECT (profile_codes); None: read
    # them from the provider's own lists.
    codes: dict[str, set[str]] | None = None

    @property
    def needs(self) -> list[Need]:
        return super().needs if self.codes is None else in_order(self.codes["need"], Need)

    @property
    def areas(self) -> list[Area]:
        return super().areas if self.codes is None else in_order(self.codes["area"], Area)

    @property
    def delivery_modes(self) -> list[DeliveryMode]:
        if self.codes is None:
            return super().delivery_modes
        return in_order(self.codes["mode"], DeliveryMode)

    @property
    def lots(self) -> list[Lot]:
        return [standing.admission.lot for standing in self.admissions]

    @property
    def suspended_lots(self) -> list[Lot]:
        return [standing.admission.lot for standing in self.admissions if standing.suspended]

    @property
    def non_compliant_lots(self) -> list[Lot]:
        return [standing.admission.lot for standing in self.admissions if not standing.compliant]

    @property
    def no_sla_lots(self) -> list[Lot]:
        return [standing.admission.lot for standing in self.admissions if not standing.sla_in_force]


def lots() -> list[Lot]:
    """Every lot, for the directory's lot filter (one SELECT)."""
    return list(db.session.scalars(sa.select(Lot).order_by(Lot.arrangement_id, Lot.number)))


def _conditions(filters: DirectoryFilters, on_date: date) -> list:
    in_force = [Admission.provider_id == Provider.id, eligibility.admission_in_force(on_date)]
    if filters.lot_id is not None:
        in_force.append(Admission.lot_id == filters.lot_id)
    conditions = [sa.exists().where(*in_force)]
    text = filters.q.strip()
    if text:
        conditions.append(
            sa.or_(Provider.name.icontains(text, autoescape=True), Provider.legal_name.icontains(text, autoescape=True))
        )
    if filters.need is not None:
        conditions.append(sa.exists().where(ProviderNeed.provider_id == Provider.id, ProviderNeed.need == filters.need))
    if filters.area is not None:
        conditions.append(sa.exists().where(ProviderArea.provider_id == Provider.id, ProviderArea.area == filters.area))
    if filters.delivery_mode is not None:
        conditions.append(
            sa.exists().where(
                ProviderDeliveryMode.provider_id == Provider.id, ProviderDeliveryMode.mode == filters.delivery_mode
            )
        )
    if filters.registered is not None:
        conditions.append(Provider.registered.is_(filters.registered))
    if filters.age is not None:
        # A provider that gave no age range is not matched; one that gave only one end is open at the other.
        conditions.append(
            sa.and_(
                sa.or_(Provider.age_from.is_not(None), Provider.age_to.is_not(None)),
                sa.or_(Provider.age_from.is_(None), Provider.age_from <= filters.age),
                sa.or_(Provider.age_to.is_(None), Provider.age_to >= filters.age),
            )
        )
    return conditions


def search(filters: DirectoryFilters, *, on_date: date, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Providers with an admission in force on the date that match every filter, by name, a page at a time; each item
    is a DirectoryEntry. A page past the end is the last page."""
    # The profile lists are read below in one SELECT for the page, not one per list (lazy="selectin" on Provider).
    statement = search_statement(filters, on_date=on_date).options(
        lazyload(Provider.needs), lazyload(Provider.areas), lazyload(Provider.delivery_modes), lazyload(Provider.sites)
    )
    found = paginate(statement, page=page, per_page=per_page)
    ids = [provider.id for provider in found.items]
    admissions = eligibility.admissions_in_force(ids, on_date)
    codes = profile_codes(ids)
    entries = [
        DirectoryEntry(provider=provider, admissions=admissions[provider.id], codes=codes[provider.id])
        for provider in found.items
    ]
    return dataclasses.replace(found, items=entries)


def profile_codes(provider_ids: list[int]) -> dict[int, dict[str, set[str]]]:
    """The needs, areas and delivery modes of these providers, in one SELECT (a UNION ALL of the three lists):
    {provider id: {"need": {...}, "area": {...}, "mode": {...}}}, the codes as stored (the vocabularies' values)."""
    found = {provider_id: {"need": set(), "area": set(), "mode": set()} for provider_id in provider_ids}
    if not provider_ids:
        return found
    lists = [
        (ProviderNeed, ProviderNeed.need, "need"),
        (ProviderArea, ProviderArea.area, "area"),
        (ProviderDeliveryMode, ProviderDeliveryMode.mode, "mode"),
    ]
    union = sa.union_all(
        *(
            sa.select(model.provider_id, sa.literal(kind).label("kind"), sa.cast(column, sa.String).label("code"))
            .where(model.provider_id.in_(provider_ids))
            for model, column, kind in lists
        )
    )
    for provider_id, kind, code in db.session.execute(union):
        found[provider_id][kind].add(code)
    return found


def search_statement(filters: DirectoryFilters, *, on_date: date) -> sa.Select:
    """The SELECT of Provider the search pages (and its CSV reads whole): every filter, by name."""
    return (
        sa.select(Provider).where(*_conditions(filters, on_date)).order_by(sa.func.lower(Provider.name), Provider.id)
    )


# ---- One provider ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderRecord(_Offer):
    """Everything the directory shows about one provider."""

    provider: Provider
    admissions: list[Admission]  # every admission, in force or not, in lot order
    standings: list[LotStanding]  # for each lot the provider is admitted to today
    documents: list[compliance.DocumentStatus]  # the current document of each type
    suspensions: list[Suspension]  # newest first
    applications: list[Application]  # submitted and decided applications to join the DPS, newest first
    on_date: date

    @property
    def admitted_now(self) -> bool:
        return bool(self.standings)


def _ever_admitted(provider_id: int, on_date: date) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.exists().where(Admission.provider_id == provider_id, Admission.admitted_on <= on_date))
        )
    )


def ensure_visible(provider_id: int, *, viewer: User, on_date: date) -> None:
    """Officers see only providers admitted now or in the past, so an applicant's existence is not revealed to them
    (by its page, or by one of its applications); the manager sees every provider."""
    if viewer.role is not Role.MANAGER and not _ever_admitted(provider_id, on_date):
        raise NotFound("No provider in the directory has that number")


def provider_record(provider_id: int, *, viewer: User, on_date: date) -> ProviderRecord:
    """A provider's directory page. Officers see only providers admitted now or in the past (NotFound otherwise, so
    an applicant's existence is not revealed); the manager sees any provider."""
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("No provider in the directory has that number")
    ensure_visible(provider_id, viewer=viewer, on_date=on_date)
    admissions = list(
        db.session.scalars(
            sa.select(Admission)
            .join(Admission.lot)
            .where(Admission.provider_id == provider_id, Admission.admitted_on <= on_date)
            .order_by(Lot.arrangement_id, Lot.number, Admission.admitted_on)
        )
    )
    in_force_lots: dict[int, Lot] = {}
    for admission in admissions:
        if admission.removed_on is None or admission.removed_on > on_date:
            in_force_lots.setdefault(admission.lot_id, admission.lot)
    standings = [eligibility.standing(provider, lot, on_date) for lot in in_force_lots.values()]
    suspensions = list(
        db.session.scalars(
            sa.select(Suspension)
            .where(Suspension.provider_id == provider_id)
            .order_by(Suspension.starts_on.desc(), Suspension.id.desc())
        )
    )
    return ProviderRecord(
        provider=provider,
        admissions=admissions,
        standings=standings,
        documents=compliance.current_documents(provider_id, on_date=on_date),
        suspensions=suspensions,
        applications=decisions.provider_applications(provider_id),
        on_date=on_date,
    )


def suspension_state(suspension: Suspension, on_date: date) -> str:
    """How a suspension stands on the date, as the directory shows it: Lifted, Ended, Scheduled or In force (the
    manager's pages read the same state from portal.services.suspensions)."""
    return state_of(suspension, on_date).value.capitalize()
