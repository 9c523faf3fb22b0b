"""Award notices in the Open Contracting Data Standard (OCDS 1.1): a release package of the call-off awards made in a
quarter, the grouping the Public Contracts Regulations 2015 allow for award notices of DPS call-offs.

What goes out: each award's lot, provider, value and dates, and nothing about the child. No name, date of birth, UPN,
school, profile, aims, reintegration criteria, location, offer text or award rationale is ever read into the package:
the query below selects the columns that may be published and no others.

The ocid prefix (``OCDS_PREFIX``, "ocds-" and six letters or digits) must be registered with the Open Contracting
Partnership before the notices are published for real; until then the default placeholder marks the data as unofficial.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from portal.clock import LONDON, london_day_start
from portal.extensions import db
from portal.models import Lot, Offer, OfferStatus, Provider, Referral
from portal.services.errors import NotFound

OCDS_VERSION = "1.1"
# A placeholder: a real prefix is issued by the Open Contracting Partnership (https://standard.open-contracting.org/
# latest/en/guidance/publish/#register-an-ocid-prefix).
DEFAULT_OCDS_PREFIX = "ocds-xxxxxx"
DEFAULT_COUNCIL_NAME = "London Borough of Hillingdon"
OCDS_PREFIX_PATTERN = re.compile(r"^ocds-[a-z0-9]{6}$")
COUNCIL_PARTY_ID = "council"
# Common Procurement Vocabulary: 80000000 "Education and training services".
CPV_EDUCATION = {"scheme": "CPV", "id": "80000000", "description": "Education and training services"}
PROCUREMENT_METHOD_DETAILS = (
    "Call-off from a dynamic purchasing system: every provider admitted to the lot was invited to make an offer"
)
QUARTER_MONTHS = ("January to March", "April to June", "July to September", "October to December")
FIRST_YEAR = 2000
LAST_YEAR = 2200


class QuarterError(ValueError):
    """A year or quarter the export cannot be made for."""


class NoAwards(NotFound):
    """No call-off was awarded in the quarter: an OCDS release package must hold at least one release."""


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise QuarterError("The quarter must be 1, 2, 3 or 4")
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise QuarterError(f"The year must be between {FIRST_YEAR} and {LAST_YEAR}")

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * (self.number - 1) + 1, 1)

    @property
    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def last_day(self) -> date:
        return self.next.first_day - timedelta(days=1)

    @property
    def months(self) -> str:
        return QUARTER_MONTHS[self.number - 1]

    @property
    def label(self) -> str:
        """ "Q1 2027 (January to March)"."""
        return f"Q{self.number} {self.year} ({self.months})"

    @property
    def slug(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def filename(self) -> str:
        return f"award-notices-{self.slug}.json"

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC instants of the quarter's start (included) and end (excluded), London days."""
        return london_day_start(self.first_day), london_day_start(self.next.first_day)


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def recent_quarters(today: date, count: int = 8) -> list[Quarter]:
    """The quarter ``today`` is in and the ones before it, newest first."""
    quarters = [quarter_of(today)]
    while len(quarters) < count:
        quarters.append(quarters[-1].previous)
    return quarters


def _awarded_in(quarter: Quarter):
    start, end = quarter.bounds()
    return sa.and_(Referral.awarded_at >= start, Referral.awarded_at < end)


def _award_join():
    return sa.and_(Offer.referral_id == Referral.id, Offer.status == OfferStatus.AWARDED)


def award_counts(quarters: list[Quarter]) -> dict[Quarter, int]:
    """How many call-offs were awarded in each quarter: one statement whatever the number of awards."""
    if not quarters:
        return {}
    columns = [
        sa.func.coalesce(sa.func.sum(sa.case((_awarded_in(q), 1), else_=0)), 0).label(f"q{n}")
        for n, q in enumerate(quarters)
    ]
    earliest = min(q.bounds()[0] for q in quarters)
    latest = max(q.bounds()[1] for q in quarters)
    row = db.session.execute(
        sa.select(*columns)
        .select_from(Referral)
        .join(Offer, _award_join())
        .where(Referral.awarded_at >= earliest, Referral.awarded_at < latest)
    ).one()
    return {q: int(row[n] or 0) for n, q in enumerate(quarters)}


def settings() -> tuple[str, str]:
    """The ocid prefix and the council's name, from the app's config (or the environment, or the defaults)."""
    config = current_app.config
    prefix = config.get("OCDS_PREFIX") or os.environ.get("OCDS_PREFIX") or DEFAULT_OCDS_PREFIX
    if not OCDS_PREFIX_PATTERN.match(prefix):
        raise ValueError(f"OCDS_PREFIX must be 'ocds-' and six lowercase letters or digits, not {prefix!r}")
    return prefix, config.get("COUNCIL_NAME") or DEFAULT_COUNCIL_NAME


def ocid(prefix: str, referral_id: int) -> str:
    """The contracting process's identifier: one call-off (referral), e.g. ``ocds-xxxxxx-R00012``."""
    return f"{prefix}-R{referral_id:05d}"


def _instant(moment: datetime) -> str:
    """A stored UTC timestamp as RFC 3339 with a Z."""
    if moment.tzinfo is None:  # SQLite hands back naive UTC values through some paths
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _day_start(day: date) -> str:
    return datetime.combine(day, time(0, 0, 0), tzinfo=LONDON).isoformat(timespec="seconds")


def _day_end(day: date) -> str:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON).isoformat(timespec="seconds")


def _number(amount: Decimal) -> int | float:
    """Money as a JSON number: whole pounds as an integer, else the float that prints as the same pence."""
    amount = Decimal(amount)
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _supplier(provider_id: int, name: str, legal_name: str, company_number: str, charity_number: str) -> dict:
    """The provider as an OCDS party: a Companies House number (GB-COH) or else a charity number (GB-CHC, England
    and Wales) as its identifier when it gave one."""
    identifiers = []
    if company_number.strip():
        identifiers.append({"scheme": "GB-COH", "id": company_number.strip()})
    if charity_number.strip():
        identifiers.append({"scheme": "GB-CHC", "id": charity_number.strip()})
    party: dict = {"name": name, "roles": ["supplier"]}
    if identifiers:
        party["id"] = f"{identifiers[0]['scheme']}-{identifiers[0]['id']}"
        party["identifier"] = dict(identifiers[0], legalName=legal_name.strip() or name)
        if len(identifiers) > 1:
            party["additionalIdentifiers"] = identifiers[1:]
    else:
        party["id"] = f"provider-{provider_id}"
    return {"id": party.pop("id"), **party}


def _rows(quarter: Quarter):
    """The awards of the quarter: only the columns that may be published (never the child, the profile, the aims,
    the offer's text or the rationale)."""
    submitted_offers = (
        sa.select(sa.func.count(Offer.id))
        .where(
            Offer.referral_id == Referral.id,
            Offer.round == Referral.round,
            Offer.status != OfferStatus.WITHDRAWN,
        )
        .correlate(Referral)
        .scalar_subquery()
    )
    return db.session.execute(
        sa.select(
            Referral.id.label("referral_id"),
            Referral.awarded_at,
            Referral.duration_weeks,
            Lot.number.label("lot_number"),
            Lot.title.label("lot_title"),
            Offer.id.label("offer_id"),
            Offer.start_date,
            Offer.total,
            Provider.id.label("provider_id"),
            Provider.name.label("provider_name"),
            Provider.legal_name,
            Provider.company_number,
            Provider.charity_number,
            submitted_offers.label("offers"),
        )
        .select_from(Referral)
        .join(Offer, _award_join())
        .join(Provider, Provider.id == Offer.provider_id)
        .outerjoin(Lot, Lot.id == Referral.lot_id)
        .where(_awarded_in(quarter))
        .order_by(Referral.awarded_at, Referral.id)
    ).all()


def _release(row, *, prefix: str, council: dict) -> dict:
    process = ocid(prefix, row.referral_id)
    lot = f"Lot {row.lot_number}" if row.lot_number is not None else "no lot"
    title = f"Alternative provision: {lot}"
    supplier = _supplier(
        row.provider_id, row.provider_name, row.legal_name or "", row.company_number or "", row.charity_number or ""
    )
    awarded = _instant(row.awarded_at)
    # The contract runs from the offer's start for the referral's weeks (the last day is the day before the
    # same weekday ``duration_weeks`` weeks later).
    period = {"startDate": _day_start(row.start_date)}
    if row.duration_weeks:
        period["endDate"] = _day_end(row.start_date + timedelta(weeks=row.duration_weeks, days=-1))
    tender = {
        "id": f"{process}-tender",
        "title": title,
        "description": f"Lot {row.lot_number}: {row.lot_title}" if row.lot_number is not None else title,
        "status": "complete",
        "items": [
            {
                "id": "1",
                "description": title,
                "classification": dict(CPV_EDUCATION),
            }
        ],
        "procurementMethod": "selective",
        "procurementMethodDetails": PROCUREMENT_METHOD_DETAILS,
        "mainProcurementCategory": "services",
        "numberOfTenderers": int(row.offers or 0),
    }
    return {
        "ocid": process,
        "id": f"{process}-award-{row.offer_id}",
        "date": awarded,
        "tag": ["award"],
        "initiationType": "tender",
        "language": "en",
        "parties": [dict(council), supplier],
        "buyer": {"id": council["id"], "name": council["name"]},
        "tender": tender,
        "awards": [
            {
                "id": f"{process}-award-{row.offer_id}",
                "title": title,
                "status": "active",
                "date": awarded,
                "value": {"amount": _number(row.total), "currency": "GBP"},
                "suppliers": [{"id": supplier["id"], "name": supplier["name"]}],
                "contractPeriod": period,
            }
        ],
    }


def release_package(year: int, quarter: int, *, published_at: datetime, uri: str | None = None) -> dict:
    """The OCDS 1.1 release package of the call-off awards made in a quarter (Referral.awarded_at in it, London
    days; Q1 is January to March), one release per award, oldest first. Raises QuarterError for a quarter that is
    not 1 to 4 or a year out of range, and NoAwards when there is nothing to publish (the schema requires at least
    one release). One SELECT whatever the number of awards."""
    period = Quarter(year, quarter)
    prefix, council_name = settings()
    council = {"id": COUNCIL_PARTY_ID, "name": council_name, "roles": ["buyer", "procuringEntity"]}
    if uri is None:
        base = current_app.config.get("BASE_URL", "").rstrip("/")
        uri = f"{base}/manager/award-notices/{period.slug}.json"
    releases = [_release(row, prefix=prefix, council=council) for row in _rows(period)]
    if not releases:
        raise NoAwards(f"No call-offs were awarded in {period.label}: there are no award notices to publish")
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": _instant(published_at),
        "publisher": {"name": council_name},
        "releases": releases,
    }
