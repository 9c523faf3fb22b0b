"""Realistic data at council and regional scale, for measuring the pages: ``flask seed scale --size S|M|L``.

One DPS that began about seven years ago with its four lots, council services and officers, providers with sites,
needs, areas, delivery modes, compliance documents, a decided application, admissions and an approved SLA (a few
suspended), and referrals spread over the years, growing busier lately: each with a child, needs, aims, an invitation
to every provider eligible in its lot on the day it was published (the rule of portal.services.eligibility), 0 to 10
offers within the SLA's rate caps, and an end (awarded with scores, withdrawn, off the DPS) once its deadline has
passed. The newest are still open for offers, a few are drafts. Awards become placements with a mark for every
expected session of every school day (term dates set, bank holidays out), progress reports and reviews every six weeks,
a few concerns, and an end with a destination once over. The main actions are in the audit trail, with a valid hash
chain (portal.services.audit_chain).

Deterministic: ``random.Random(seed)``, dates relative to today (London), so two runs with one seed on the same day
write the same rows. Rows are written in bulk (portal.services.scale_seed_writer), never through the ORM.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa

from portal.clock import LONDON, london_today
from portal.extensions import db
from portal.models import (
    PA2023_DPS_CUTOFF,
    AuditChainHead,
    AuditEvent,
    DocumentType,
    Provider,
    Regime,
)
from portal.services import audit_chain, children, safeguarding, slas
from portal.services.attendance_codes import PRESENT_BY_SESSION, UNEXPLAINED
from portal.services.audit import Events
from portal.services.demo import LOTS, SERVICES
from portal.services.demo_calloff import AIMS
from portal.services.demo_dps import DEMO_PDF, QUESTIONS, REQUIRED_FOR_EVERY_LOT
from portal.services.demo_oversight import (
    DESTINATIONS,
    END_REASONS,
    FIRST_NAMES,
    LAST_NAMES,
    NEEDS,
    PROFILES,
    SCHOOLS,
    SET_UPS,
    typical_half_terms,
)
from portal.services.demo_sla import CAPS
from portal.services.offers import expected_total
from portal.services.passwords import hash_password
from portal.services.placements import ALL_SESSIONS
from portal.services.scale_seed_writer import BulkWriter
from portal.services.sla_terms import DEFAULT_SECTIONS, TITLE
from portal.services.working_days import add_working_days, decision_due_on, is_working_day

SCALE_PASSWORD = "scale-bench-password-2026"
SCALE_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
MANAGER_EMAIL = "manager@scale.invalid"


def officer_email(number: int) -> str:
    return f"officer{number}@scale.invalid"


def provider_email(number: int) -> str:
    return f"provider{number}@scale.invalid"


@dataclass(frozen=True)
class Size:
    name: str
    providers: int
    referrals: int
    officers: int
    services: int
    # The placements aimed at (awards become placements); the count written is close to it, not exact.
    placements: int
    years: int = 7
    # Of the referrals: the newest still open for offers, and drafts.
    open_share: float = 0.02
    draft_share: float = 0.01
    # Of the referrals whose deadline has passed: those with no offer at all.
    no_offer_share: float = 0.08
    # Rows buffered before every table's buffer is written.
    batch_rows: int = 20_000


SIZES: dict[str, Size] = {
    "S": Size("S", providers=50, referrals=2_000, officers=10, services=4, placements=400),
    "M": Size("M", providers=200, referrals=10_000, officers=30, services=5, placements=2_000),
    "L": Size("L", providers=500, referrals=50_000, officers=60, services=6, placements=20_000),
}


class AlreadyHasData(Exception):
    """The database has providers already: the scale data is never mixed with the demo or real data."""


# --- Vocabulary ----------------------------------------------------------------------------------------------------

PLACES = [
    "Harefield", "Northwood", "Ruislip", "Eastcote", "Ickenham", "Uxbridge", "Hillingdon", "Cowley", "Hayes",
    "Yiewsley", "West Drayton", "Harlington", "Southall", "Ealing", "Hounslow", "Harrow", "Pinner", "Wembley",
    "Slough", "Staines", "Watford", "Brent", "Colne Valley", "Denham", "Greenford",
]  # fmt: skip
KINDS = [
    "Learning Centre", "Tutors", "Academy", "Therapeutic Education", "Vocational Skills", "Youth Trust",
    "Outdoor Learning", "Preparation for Adulthood", "Education Hub", "Alternative School", "Skills Centre",
    "Inclusion Service", "Study Centre", "Pathways", "Futures", "Bridge School", "Farm School", "Arts Academy",
    "Sports Academy", "Mentoring", "Hospital Tuition", "Online School", "Nurture Centre", "Boxing Academy",
]  # fmt: skip
NEED_CODES = [
    "semh",
    "autism",
    "slcn",
    "learning",
    "sensory-physical",
    "medical",
    "anxiety-ebsa",
    "exclusion",
    "post16",
]
AREAS = ["north", "central", "south", "out-of-borough"]
MODES = ["on-site", "community", "home", "online"]
LOT_WEIGHTS = {1: 30, 2: 35, 3: 25, 4: 10}
# lot number -> (rate type, hours a week choices, duration in weeks choices)
LOT_SHAPES = {
    1: ("day", [Decimal("25.0")], [30, 39, 39]),
    2: ("session", [Decimal("12.5"), Decimal("15.0"), Decimal("20.0")], [26, 30, 39]),
    3: ("hour", [Decimal("6.0"), Decimal("10.0"), Decimal("15.0")], [26, 30, 39]),
    4: ("day", [Decimal("18.0"), Decimal("20.0")], [30, 39]),
}
MORNINGS = " ".join(key for key in ALL_SESSIONS if key.endswith("-am"))
EVERY_SESSION = " ".join(ALL_SESSIONS)
ABSENCES = ["I", "I", "I", "M", "M", "C", "O", "N", "G", "U"]
RATINGS = ["no progress", "behind target", "on target", "ahead of target"]
READINESS = ["not yet ready to return", "ready to return within a term", "ready to return within a term",
             "ready to return now"]  # fmt: skip
DECLINE_REASONS = ["No capacity this term", "Outside the area we cover", "Cannot meet the needs described"]
REGISTER_TAKEN = {"am": clock_time(9, 30), "pm": clock_time(13, 30)}
CENT = Decimal("0.01")


# --- Calendar ------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A London wall-clock time on the day, as a UTC instant (cached: the marks ask for the same few times a day)."""
    return datetime.combine(day, clock_time(hour, minute), tzinfo=LONDON).astimezone(UTC)


@dataclass
class Calendar:
    """The half terms written, the school days they give (weekdays in term, bank holidays out), in order."""

    terms: list[tuple[date, date]]
    school_days: list[date]

    @classmethod
    def build(cls, first_year: int, last_year: int) -> Calendar:
        terms = [(s, e) for year in range(first_year, last_year + 1) for _, s, e in typical_half_terms(year)]
        days = []
        for starts, ends in terms:
            day = starts
            while day <= ends:
                if day.weekday() < 5 and is_working_day(day):
                    days.append(day)
                day += timedelta(days=1)
        return cls(terms, days)

    def between(self, first: date, last: date) -> list[date]:
        return self.school_days[
            bisect.bisect_left(self.school_days, first) : bisect.bisect_right(self.school_days, last)
        ]

    def next_review(self, anchor: date) -> date:
        """portal.services.review_schedule.default_next_review, on the half terms in memory."""
        due = anchor + timedelta(weeks=6)
        overlapping = [(s, e) for s, e in self.terms if e >= anchor and s <= due]
        if overlapping and not any(s <= due <= e for s, e in overlapping):
            earlier = [e for _, e in overlapping if e < due]
            if earlier:
                due = max(max(earlier), anchor + timedelta(days=1))
        while due.weekday() >= 5:
            due -= timedelta(days=1)
        if due <= anchor:
            # The rule can step back onto the anchor (a Friday review before a holiday): take the next one instead.
            due = anchor + timedelta(weeks=6)
        return due


# --- The run -------------------------------------------------------------------------------------------------------


@dataclass
class _ProviderFacts:
    id: int
    number: int
    name: str
    user_id: int
    user_email: str
    site_id: int
    admitted_on: date | None
    lot_numbers: list[int]
    caps: dict[int, dict[str, Decimal]] = field(default_factory=dict)  # lot number -> rate type -> cap
    application_id: int = 0


@dataclass
class _Run:
    size: Size
    rng: random.Random
    today: date
    now: datetime  # midnight today, London: every generated moment is before it
    writer: BulkWriter
    calendar: Calendar
    dps_start: date
    arrangement_id: int = 0
    arrangement_name: str = ""
    template_id: int = 0
    password_hash: str = ""
    award_share: float = 0.0
    document_types: list = field(default_factory=list)
    questions: dict[int, list[int]] = field(default_factory=dict)  # lot number -> question ids
    lots: dict[int, int] = field(default_factory=dict)  # number -> id
    lot_labels: dict[int, str] = field(default_factory=dict)
    services: list[int] = field(default_factory=list)
    manager_id: int = 0
    officers: list[tuple[int, int, str]] = field(default_factory=list)  # (user id, service id, email)
    providers: dict[int, _ProviderFacts] = field(default_factory=dict)
    # lot number -> [(admitted on, provider id)], sorted
    admitted: dict[int, list[tuple[date, int]]] = field(default_factory=dict)
    suspended: dict[int, list[tuple[date, date]]] = field(default_factory=dict)
    seq: int = 0
    prev_hash: str = ""
    placements: int = 0
    progress: Callable[[int, int], None] | None = None

    def audit(self, event: str, at: datetime, actor: tuple[int, str] | None, subject: tuple[str, int] | None,
              **details) -> None:  # fmt: skip
        """One audit event, chained: its seq, the previous event's hash and its own (portal.services.audit_chain)."""
        self.seq += 1
        fields = dict(
            seq=self.seq,
            occurred_at=at,
            event=event,
            actor_id=actor[0] if actor else None,
            actor_label=actor[1] if actor else "",
            ip_address=None,
            subject_type=subject[0] if subject else None,
            subject_id=subject[1] if subject else None,
            reason="",
            details=details,
        )
        digest = audit_chain.compute_hash(**fields, prev_hash=self.prev_hash)
        self.writer.put("audit_events", **fields, prev_hash=self.prev_hash, hash=digest)
        self.prev_hash = digest


def generate(size: Size, seed: int = 2026, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write the scale data set for ``size`` into the app's database and commit. Returns the rows written per table.
    ``progress(done, total)`` is called as the referrals are written. Raises AlreadyHasData when there are
    providers already."""
    connection = db.session.connection()
    if connection.scalar(sa.select(sa.exists().where(Provider.id.is_not(None)))):
        raise AlreadyHasData(
            "the database already has providers: the scale data is loaded only into an empty database "
            "(migrate a new one, or empty this one)"
        )
    today = london_today()
    dps_start = date(today.year - size.years, 4, 1)
    writer = BulkWriter(connection, size.batch_rows)
    run = _Run(
        size=size,
        rng=random.Random(seed),
        today=today,
        now=_at(today, 0),
        writer=writer,
        calendar=Calendar.build(dps_start.year - 1, today.year + 1),
        dps_start=dps_start,
        progress=progress,
    )
    _declare_large_tables(writer)
    _start_chain(run, connection)
    _reference(run)
    _people(run)
    _providers(run)
    _referrals(run)
    writer.flush()
    connection.execute(
        sa.update(AuditChainHead.__table__)
        .where(AuditChainHead.__table__.c.id == audit_chain.HEAD_ID)
        .values(seq=run.seq, hash=run.prev_hash)
    )
    writer.reset_sequences()
    db.session.commit()
    _refresh_statistics()
    return dict(sorted(writer.counts.items()))


def _refresh_statistics() -> None:
    """After a bulk load PostgreSQL's planner sees the row counts of empty tables until autovacuum comes round, and
    chooses every plan for a few rows: VACUUM ANALYZE now (outside a transaction, so on a connection of its own),
    which also marks the pages all-visible for index-only scans. (SQLite, without statistics, plans by its rules.)"""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def _declare_large_tables(writer: BulkWriter) -> None:
    """The tables with the most rows are built as tuples, ids left to the database where nothing refers to them."""
    writer.declare("invitations", ("referral_id", "round", "provider_id", "invited_at", "viewed_at", "declined_at",
                                   "decline_reason"))  # fmt: skip
    writer.declare(
        "attendance_marks",
        ("placement_id", "day", "session", "code", "recorded_by_id", "recorded_at", "recorded_same_day"),
    )
    writer.declare("aim_responses", ("offer_id", "aim_id", "response"))
    writer.declare("scores", ("offer_id", "criterion", "score", "comment", "scored_by_id", "scored_at"))


def _start_chain(run: _Run, connection: sa.Connection) -> None:
    audit_chain.ensure_head(connection)
    head = connection.execute(
        sa.select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == audit_chain.HEAD_ID)
    ).one()
    run.seq, run.prev_hash = head.seq, head.hash
    run.writer.declare("audit_events", tuple(c.name for c in AuditEvent.__table__.columns if c.name != "id"))


# --- Reference data: the arrangement, lots, services, term dates, SLA terms -------------------------------------------


def _reference(run: _Run) -> None:
    w, today = run.writer, run.today
    end = date(run.dps_start.year + 12, 3, 31)
    regime = Regime.PCR2015_DPS if today < PA2023_DPS_CUTOFF - timedelta(days=365) else Regime.PA2023_DYNAMIC_MARKET
    run.arrangement_id = w.next_id("arrangements")
    arrangement_name = "Regional Alternative Provision DPS"
    w.put("arrangements", id=run.arrangement_id, name=arrangement_name, regime=regime, start_date=run.dps_start,
          end_date=end)  # fmt: skip
    run.arrangement_name = arrangement_name
    document_types = list(db.session.execute(sa.select(DocumentType.id, DocumentType.code)))
    required = [type_id for type_id, code in document_types if code in REQUIRED_FOR_EVERY_LOT]
    for number, title in LOTS:
        lot_id = w.next_id("lots")
        run.lots[number] = lot_id
        run.lot_labels[number] = f"Lot {number}: {title}"
        w.put("lots", id=lot_id, arrangement_id=run.arrangement_id, number=number, title=title)
        run.questions[number] = []
        for position, (text, guidance) in enumerate(QUESTIONS, start=1):
            question_id = w.next_id("lot_questions")
            run.questions[number].append(question_id)
            w.put("lot_questions", id=question_id, lot_id=lot_id, position=position, text=text, guidance=guidance)
        for type_id in required:
            w.put("lot_document_requirements", lot_id=lot_id, document_type_id=type_id)
    for name in SERVICES[: run.size.services]:
        service_id = w.next_id("council_services")
        run.services.append(service_id)
        w.put("council_services", id=service_id, name=name, dsl_name=f"{name} Safeguarding Lead",
              dsl_role="Designated Safeguarding Lead", dsl_email=f"dsl.{service_id}@scale.invalid",
              dsl_phone="01895 250400")  # fmt: skip
    for first_year in range(run.dps_start.year - 1, today.year + 1):
        for position, starts_on, ends_on in typical_half_terms(first_year):
            w.put("half_terms", id=w.next_id("half_terms"), academic_year=f"{first_year}/{(first_year + 1) % 100:02d}",
                  position=position, starts_on=starts_on, ends_on=ends_on)  # fmt: skip
    run.document_types = list(db.session.execute(sa.select(DocumentType.id, DocumentType.code, DocumentType.has_expiry,
                                                           DocumentType.registered_only).order_by(DocumentType.position)))  # fmt: skip


# --- People --------------------------------------------------------------------------------------------------------


def _people(run: _Run) -> None:
    w, rng = run.writer, run.rng
    run.password_hash = hash_password(SCALE_PASSWORD)
    run.manager_id = w.next_id("users")
    _user(run, run.manager_id, MANAGER_EMAIL, "Morgan Scale-Manager", "manager", created=run.dps_start)
    for number in range(1, run.size.officers + 1):
        user_id = w.next_id("users")
        service_id = run.services[(number - 1) % len(run.services)]
        email = officer_email(number)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        _user(run, user_id, email, name, "officer", service_id=service_id, created=run.dps_start)
        run.officers.append((user_id, service_id, email))


def _user(run: _Run, user_id: int, email: str, name: str, role: str, *, created: date, service_id=None,
          provider_id=None) -> None:  # fmt: skip
    two_factor = role in {"manager", "provider"}
    at = _at(created, 9)
    run.writer.put(
        "users", id=user_id, email=email, name=name, role=role, password_hash=run.password_hash,
        password_changed_at=at, active=True, service_id=service_id, provider_id=provider_id,
        manages_colleagues=provider_id is not None, totp_secret=SCALE_TOTP_SECRET if two_factor else None,
        totp_enabled_at=at if two_factor else None, created_at=at,
    )  # fmt: skip


# --- Providers: profile, application, admissions, documents, SLA, suspensions -------------------------------------------


def _provider_names(rng: random.Random, count: int) -> list[str]:
    names = [f"{place} {kind}" for place in PLACES for kind in KINDS]
    rng.shuffle(names)
    return [names[i] if i < len(names) else f"{names[i % len(names)]} {i // len(names) + 1}" for i in range(count)]


def _admission_day(run: _Run, number: int) -> date | None:
    """Most providers joined when the DPS opened, the rest through the years; the last few are still waiting."""
    rng, size = run.rng, run.size
    if number > 1 and number > size.providers - max(1, size.providers // 33):
        return None  # an application waiting for a decision
    if number == 1 or rng.random() < 0.4:
        return add_working_days(run.dps_start + timedelta(days=rng.randint(14, 60)), 0)
    span = (run.today - timedelta(days=30) - run.dps_start).days
    return add_working_days(run.dps_start + timedelta(days=rng.randint(60, span)), 0)


def _providers(run: _Run) -> None:
    w, rng, today = run.writer, run.rng, run.today
    lot_numbers = list(LOT_WEIGHTS)
    for number, name in enumerate(_provider_names(rng, run.size.providers), start=1):
        provider_id = w.next_id("providers")
        admitted_on = _admission_day(run, number)
        first = rng.choices(lot_numbers, weights=list(LOT_WEIGHTS.values()))[0]
        lots = sorted({first, rng.choice(lot_numbers)} if rng.random() < 0.3 else {first})
        registered = rng.random() < 0.3
        ages = (16, 25) if lots == [4] else (rng.choice([5, 7, 11]), rng.choice([16, 18]))
        postcode = f"UB{rng.randint(1, 11)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        created = (admitted_on or today) - timedelta(days=30)
        w.put(
            "providers", id=provider_id, name=name, created_at=_at(created, 10), legal_name=f"{name} Ltd",
            company_number=f"{10000000 + number:08d}", charity_number=f"{1100000 + number}" if number % 5 == 0 else "",
            address=f"{number} {rng.choice(PLACES)} Road", postcode=postcode, registered=registered,
            ofsted_urn=f"{150000 + number}" if registered else "",
            ofsted_grade=rng.choice(["outstanding", "good", "good", "requires improvement"]) if registered else None,
            small_business=rng.random() < 0.6, voluntary_sector=number % 5 == 0,
            dsl_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", dsl_role="Designated Safeguarding Lead",
            dsl_phone="01895 250000", dsl_email=f"dsl{number}@provider{number}.scale.invalid",
            summary="Small groups, a trusted key adult for each child, and a plan back to school from day one.",
            age_from=ages[0], age_to=ages[1], capacity=rng.choice([8, 12, 16, 24, 40]),
        )  # fmt: skip
        for need in rng.sample(NEED_CODES, rng.randint(2, 4)):
            w.put("provider_needs", provider_id=provider_id, need=need)
        for area in rng.sample(AREAS, rng.randint(1, 3)):
            w.put("provider_areas", provider_id=provider_id, area=area)
        for mode in rng.sample(MODES, rng.randint(1, 2)):
            w.put("provider_delivery_modes", provider_id=provider_id, mode=mode)
        site_ids = []
        for site_number in range(rng.randint(1, 3)):
            site_ids.append(w.next_id("sites"))
            w.put("sites", id=site_ids[-1], provider_id=provider_id,
                  name="Main site" if site_number == 0 else f"{rng.choice(PLACES)} site",
                  address=f"{number} {rng.choice(PLACES)} Road", postcode=postcode)  # fmt: skip
        user_id = w.next_id("users")
        email = provider_email(number)
        _user(run, user_id, email, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", "provider",
              provider_id=provider_id, created=created)  # fmt: skip
        facts = _ProviderFacts(provider_id, number, name, user_id, email, site_ids[0], admitted_on, lots)
        run.providers[provider_id] = facts
        _application(run, facts, created)
        _documents(run, facts, registered, created)
        if admitted_on is None:
            continue
        for lot_number in lots:
            w.put("admissions", id=w.next_id("admissions"), provider_id=provider_id, lot_id=run.lots[lot_number],
                  application_id=facts.application_id, admitted_on=admitted_on)  # fmt: skip
            run.admitted.setdefault(lot_number, []).append((admitted_on, provider_id))
        run.audit(Events.PROVIDER_ADMITTED, _at(admitted_on, 15), (run.manager_id, MANAGER_EMAIL),
                  ("providers", provider_id), lots=[run.lot_labels[n] for n in lots])  # fmt: skip
        _sla(run, facts)
        _suspension(run, facts)
    for entries in run.admitted.values():
        entries.sort()


def _application(run: _Run, facts: _ProviderFacts, created: date) -> None:
    w, rng = run.writer, run.rng
    application_id = w.next_id("applications")
    facts.application_id = application_id
    if facts.admitted_on is None:
        submitted_on = add_working_days(run.today - timedelta(days=rng.randint(1, 12)), 0)
        if submitted_on >= run.today:
            submitted_on = add_working_days(run.today - timedelta(days=5), 0)
        decided = None
    else:
        submitted_on = facts.admitted_on - timedelta(days=rng.randint(7, 14))
        decided = _at(facts.admitted_on, 15)
    w.put(
        "applications", id=application_id, provider_id=facts.id, status="decided" if decided else "submitted",
        created_at=_at(created, 11), updated_at=decided or _at(submitted_on, 10), submitted_at=_at(submitted_on, 10),
        decision_due_on=decision_due_on(submitted_on), decided_at=decided,
        decided_by_id=run.manager_id if decided else None,
    )  # fmt: skip
    for lot_number in facts.lot_numbers:
        w.put("application_lots", application_id=application_id, lot_id=run.lots[lot_number],
              outcome="pass" if decided else "pending", notes="Meets the lot's requirements." if decided else "")  # fmt: skip
    for question_id in sorted({q for n in facts.lot_numbers for q in run.questions[n]}):
        w.put("application_answers", application_id=application_id, question_id=question_id,
              answer="Each child has a key worker, a weekly plan and a review with the family every half term.")  # fmt: skip


def _documents(run: _Run, facts: _ProviderFacts, registered: bool, created: date) -> None:
    """One current document of each type (the same small PDF, as the demo does), valid today; a few expire soon."""
    w, rng = run.writer, run.rng
    digest = hashlib.sha256(DEMO_PDF).hexdigest()
    for type_id, code, has_expiry, registered_only in run.document_types:
        if registered_only and not registered:
            continue
        expires = None
        if has_expiry:
            expires = run.today + timedelta(days=rng.randint(10, 29) if rng.random() < 0.05 else rng.randint(60, 400))
        w.put("compliance_documents", id=w.next_id("compliance_documents"), provider_id=facts.id,
              document_type_id=type_id, filename=f"{code}.pdf", content_type="application/pdf",
              size_bytes=len(DEMO_PDF), sha256=digest, content=DEMO_PDF, expires_on=expires,
              uploaded_at=_at(max(created, run.today - timedelta(days=rng.randint(30, 300))), 12),
              uploaded_by_id=facts.user_id)  # fmt: skip


def _sla_checksum(run: _Run, facts: _ProviderFacts, number: int, starts_on: date) -> str:
    """portal.services.slas.canonical, from what is being written (the test checks the two agree)."""

    def money(value: Decimal) -> str:
        return f"{value:.2f}"

    content = {
        "provider": facts.name,
        "number": number,
        "starts_on": starts_on.isoformat(),
        "arrangement": run.arrangement_name,
        "terms": {
            "number": 1,
            "title": TITLE,
            "sections": [[position, heading, body] for position, (heading, body) in enumerate(DEFAULT_SECTIONS, 1)],
        },
        "lots": [
            [
                run.lot_labels[n],
                money(facts.caps[n]["day"]),
                money(facts.caps[n]["session"]),
                money(facts.caps[n]["hour"]),
            ]
            for n in sorted(facts.lot_numbers, key=lambda n: run.lots[n])
        ],  # fmt: skip
        "kpis": [[kind.value, f"{target:.2f}"] for kind, target in sorted(slas.DEFAULT_KPIS.items())],
    }
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def _sla_terms(run: _Run) -> int:
    if not run.template_id:
        w = run.writer
        run.template_id = w.next_id("sla_templates")
        w.put("sla_templates", id=run.template_id, number=1, title=TITLE, created_at=_at(run.dps_start, 9),
              created_by_id=run.manager_id)  # fmt: skip
        for position, (heading, body) in enumerate(DEFAULT_SECTIONS, 1):
            w.put("sla_template_sections", id=w.next_id("sla_template_sections"), template_id=run.template_id,
                  position=position, heading=heading, body=body)  # fmt: skip
    return run.template_id


def _sla(run: _Run, facts: _ProviderFacts) -> None:
    """Version 1, approved from the admission, with rate caps a little above the demo's; a few have a variation in
    draft."""
    w, rng = run.writer, run.rng
    template_id = _sla_terms(run)
    starts_on = facts.admitted_on
    for n in facts.lot_numbers:
        raise_by = Decimal(rng.randint(0, 15))
        day, session, hour = (Decimal(v) for v in CAPS[n])
        facts.caps[n] = {"day": day + raise_by * 2, "session": session + raise_by, "hour": hour + raise_by / 4}
    sla_id = w.next_id("slas")
    at = _at(starts_on, 10)
    manager = run.manager_id
    w.put(
        "slas", id=sla_id, provider_id=facts.id, number=1, template_id=template_id,
        arrangement_id=run.arrangement_id, status="approved", starts_on=starts_on, created_at=at, created_by_id=manager,
        sent_at=at + timedelta(hours=1), sent_by_id=manager, checksum=_sla_checksum(run, facts, 1, starts_on),
        accepted_at=at + timedelta(hours=3), accepted_by_id=facts.user_id, accepted_ip="192.0.2.10",
        signatory_name="Alex Director", signatory_role="Director", approved_at=at + timedelta(hours=5),
        approved_by_id=manager,
    )  # fmt: skip
    _sla_rows(run, sla_id, facts, Decimal(0))
    run.audit(Events.SLA_APPROVED, at + timedelta(hours=5), (manager, MANAGER_EMAIL), ("slas", sla_id), number=1)
    if rng.random() < 0.05:
        draft_id = w.next_id("slas")
        w.put("slas", id=draft_id, provider_id=facts.id, number=2, previous_id=sla_id, template_id=template_id,
              arrangement_id=run.arrangement_id, status="draft", starts_on=starts_on,
              created_at=run.now - timedelta(days=rng.randint(2, 20)), created_by_id=manager)  # fmt: skip
        _sla_rows(run, draft_id, facts, Decimal(5))


def _sla_rows(run: _Run, sla_id: int, facts: _ProviderFacts, raise_by: Decimal) -> None:
    for n in sorted(facts.lot_numbers, key=lambda n: run.lots[n]):
        caps = facts.caps[n]
        run.writer.put("sla_lots", sla_id=sla_id, lot_id=run.lots[n], max_day_rate=caps["day"] + raise_by * 2,
                       max_session_rate=caps["session"] + raise_by, max_hour_rate=caps["hour"] + raise_by / 4)  # fmt: skip
    for kind, target in slas.DEFAULT_KPIS.items():
        run.writer.put("sla_kpis", sla_id=sla_id, kind=kind, target=target)


def _suspension(run: _Run, facts: _ProviderFacts) -> None:
    """About one provider in 25: a past suspension (lifted), or one in force now."""
    rng = run.rng
    if facts.number == 1 or rng.random() >= 0.04:
        return
    if rng.random() < 0.5:
        starts = run.today - timedelta(days=rng.randint(1, 10))
        ends, lifted = run.today + timedelta(days=rng.randint(10, 40)), None
    else:
        first = facts.admitted_on + timedelta(days=30)
        if (run.today - first).days < 60:
            return
        starts = first + timedelta(days=rng.randint(0, (run.today - first).days - 45))
        ends = starts + timedelta(days=28)
        lifted = _at(starts + timedelta(days=14), 10)
    run.suspended.setdefault(facts.id, []).append((starts, lifted.date() if lifted else ends))
    run.writer.put(
        "suspensions", id=run.writer.next_id("suspensions"), provider_id=facts.id, lot_id=None, starts_on=starts,
        ends_on=ends, reason="Attendance returns missing for a month; suspended until they are brought up to date.",
        created_at=_at(starts, 9), created_by_id=run.manager_id, lifted_at=lifted,
        lifted_by_id=run.manager_id if lifted else None,
        lift_reason="Every missing return has been recorded and checked." if lifted else "",
    )  # fmt: skip
    run.audit(Events.PROVIDER_SUSPENDED, _at(starts, 9), (run.manager_id, MANAGER_EMAIL), ("providers", facts.id))


def _eligible(run: _Run, lot_number: int, day: date) -> list[int]:
    """The providers eligible in the lot on the day: admitted (their SLA starts the same day) and not suspended."""
    entries = run.admitted.get(lot_number, [])
    count = bisect.bisect_right(entries, (day, float("inf")))
    return [
        provider_id
        for _, provider_id in entries[:count]
        if not any(starts <= day <= ends for starts, ends in run.suspended.get(provider_id, ()))
    ]


# --- Referrals, offers, awards --------------------------------------------------------------------------------------


def _referral_days(run: _Run) -> list[tuple[date, str]]:
    """When each referral was written, oldest first, and what it is now: the history (busier lately), then the
    newest, still open for offers, then drafts."""
    size, rng, today = run.size, run.rng, run.today
    drafts = round(size.referrals * size.draft_share)
    live = round(size.referrals * size.open_share)
    history = size.referrals - drafts - live
    first = run.dps_start + timedelta(days=45)
    span = (today - timedelta(days=25) - first).days
    days = [(first + timedelta(days=int(span * (i / max(1, history - 1)) ** 0.7)), "history") for i in range(history)]
    days += sorted((today - timedelta(days=rng.randint(1, 9)), "live") for _ in range(live))
    days += sorted((today - timedelta(days=rng.randint(0, 30)), "draft") for _ in range(drafts))
    return days


def _referrals(run: _Run) -> None:
    size = run.size
    days = _referral_days(run)
    closed_with_offers = len([1 for _, kind in days if kind == "history"]) * (1 - size.no_offer_share)
    run.award_share = min(0.95, size.placements / max(1.0, closed_with_offers))
    total = len(days)
    for done, (created, kind) in enumerate(days, start=1):
        _referral(run, created, kind)
        if run.progress is not None and (done % 250 == 0 or done == total):
            run.progress(done, total)


def _referral(run: _Run, created: date, kind: str) -> None:
    w, rng, today = run.writer, run.rng, run.today
    officer_id, service_id, officer_mail = rng.choice(run.officers)
    officer = (officer_id, officer_mail)
    lot_number = rng.choices(list(LOT_WEIGHTS), weights=list(LOT_WEIGHTS.values()))[0]
    rate_type, hour_choices, week_choices = LOT_SHAPES[lot_number]
    child_id = w.next_id("children")
    age = rng.randint(16, 17) if lot_number == 4 else rng.randint(9, 15)
    born = date(created.year - age, rng.randint(1, 12), rng.randint(1, 28))
    school = rng.choice(SCHOOLS) if rng.random() < 0.8 else ""
    excluded = rng.random() < 0.2
    upn_digits = f"9{child_id:011d}"
    w.put(
        "children", id=child_id, first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
        date_of_birth=born, upn=children.upn_check_letter("?" + upn_digits) + upn_digits,
        gender=rng.choice(["female", "male", "male", "not known"]), home_school=school,
        on_roll_status="on roll at home school" if school else "not on a school roll", ehc_plan=rng.random() < 0.3,
        looked_after=rng.random() < 0.1, exclusion_status="permanently excluded" if excluded else "none",
        exclusion_date=created - timedelta(days=rng.randint(10, 60)) if excluded else None, created_at=_at(created, 9),
        created_by_id=officer_id,
    )  # fmt: skip

    referral_id = w.next_id("referrals")
    hours = rng.choice(hour_choices)
    weeks = rng.choice(week_choices)
    mornings = lot_number in (2, 3) and rng.random() < 0.3
    published = None if kind == "draft" else created + timedelta(days=rng.randint(0, 2))
    if kind == "live":
        published = created
    deadline_day = published + timedelta(days=10) if published else None
    # The Monday at least a week after the deadline.
    start = deadline_day + timedelta(days=7 + (7 - deadline_day.weekday()) % 7) if deadline_day else None
    values = dict(
        id=referral_id, child_id=child_id, service_id=service_id, lot_id=run.lots[lot_number], officer_id=officer_id,
        status="draft", created_at=_at(created, 9), updated_at=_at(published or created, 10), version=1,
        hours_per_week=hours, sessions="Monday to Friday mornings" if mornings else "Monday to Friday",
        start_date=start, duration_weeks=weeks, location="Within 45 minutes of home by public transport",
        travel_needs="Travel training for the first fortnight", reintegration_criteria=(
            "Attends 90% of sessions for six weeks and manages a full session in a group"),
        area=rng.choice(AREAS), profile=rng.choice(PROFILES), quality_weight=70,
    )  # fmt: skip
    aims = [(w.next_id("aims"), position, aim) for position, aim in enumerate(AIMS, start=1)]
    if published is None:
        w.put("referrals", **values)
        _referral_parts(run, referral_id, aims, lot_number)
        run.audit(Events.REFERRAL_CREATED, _at(created, 9), officer, ("referrals", referral_id))
        return
    published_at = _at(published, 10)
    deadline = _at(deadline_day, 17)
    values.update(
        status="open", round=1, published_at=published_at, deadline=deadline,
        profile_age=children.age_on(born, published), profile_year_group=children.year_group(born, published),
    )  # fmt: skip
    invited = _eligible(run, lot_number, published)
    closed = deadline < run.now
    # Offers come in until the deadline; a live referral has had some of its days.
    last_offer = min(deadline, run.now) - timedelta(hours=1)
    offering_window = max(1, int((last_offer - published_at).total_seconds() // 3600))
    count = 0 if (closed and rng.random() < run.size.no_offer_share) else min(len(invited), rng.randint(1, 10))
    if not closed:
        count = min(count, rng.randint(0, 6))
    offering = set(rng.sample(invited, count))
    declining = {p for p in invited if p not in offering and rng.random() < 0.1}

    # Every offer is settled before it is written (a buffer may be written out at any row).
    offers = []
    for provider_id in sorted(offering):
        facts = run.providers[provider_id]
        cap = facts.caps[lot_number][rate_type]
        rate = (cap * Decimal(rng.uniform(0.75, 1.0))).quantize(Decimal(1), rounding=ROUND_DOWN)
        units = {"day": Decimal(5) if lot_number == 1 else Decimal(4), "hour": hours,
                 "session": Decimal(5) if mornings else Decimal(10)}[rate_type]  # fmt: skip
        submitted = published_at + timedelta(hours=rng.randint(1, offering_window))
        withdrawn = rng.random() < 0.03
        offers.append(_Offer(w.next_id("offers"), facts, rate, units, submitted, withdrawn))
    live = [offer for offer in offers if not offer.withdrawn]

    # The end, once the deadline has passed: awarded (from the offers), withdrawn, or off the DPS.
    decided_day = deadline_day + timedelta(days=rng.randint(1, 6))
    outcome = "open"
    if closed and decided_day < today:
        if not offering:
            outcome = "off-DPS" if (lot_number == 4 or rng.random() < 0.5) else "withdrawn"
        else:
            outcome = "awarded" if live and rng.random() < run.award_share else "withdrawn"
    decided_at = _at(decided_day, 11)
    if outcome == "awarded":
        values.update(status="awarded", awarded_at=decided_at, awarded_by_id=officer_id, updated_at=decided_at,
                      award_rationale="The best value for money: meets every aim at a fair price.")  # fmt: skip
    elif outcome == "withdrawn":
        values.update(status="withdrawn", withdrawn_at=decided_at, updated_at=decided_at,
                      withdrawal_reason="The child's school found a place in its own inclusion unit."
                      if offering else "No offers were received; the service arranged tuition at home instead.")  # fmt: skip
    elif outcome == "off-DPS":
        values.update(status="off-DPS", updated_at=decided_at)
    w.put("referrals", **values)
    _referral_parts(run, referral_id, aims, lot_number)
    run.audit(Events.REFERRAL_PUBLISHED, published_at, officer, ("referrals", referral_id),
              lot=run.lot_labels[lot_number], invited=len(invited), quality_weight=70)  # fmt: skip
    for provider_id in invited:
        seen = rng.random()
        viewed = published_at + timedelta(hours=1 + int(seen * offering_window)) if seen < 0.7 else None
        if provider_id in offering and viewed is None:
            viewed = published_at + timedelta(hours=1)
        declined = None
        if provider_id in declining:
            viewed = viewed or published_at + timedelta(hours=1)
            declined = viewed + timedelta(minutes=20)
        w.add("invitations", (referral_id, 1, provider_id, published_at, viewed, declined,
                              rng.choice(DECLINE_REASONS) if declined else ""))  # fmt: skip
    if outcome == "off-DPS":
        w.put("off_dps_requests", id=w.next_id("off_dps_requests"), referral_id=referral_id, status="approved",
              reason="No provider on the DPS offered; a local college can meet the need directly.",
              requested_by_id=officer_id, requested_at=_at(deadline_day + timedelta(days=1), 10),
              decided_by_id=run.manager_id, decided_at=decided_at,
              decision_note="Approved: no offer was received through the DPS.")  # fmt: skip
    if outcome == "withdrawn":
        run.audit(Events.REFERRAL_WITHDRAWN, decided_at, officer, ("referrals", referral_id))

    winner = rng.choice(live) if outcome == "awarded" else None
    for offer in offers:
        status = "withdrawn" if offer.withdrawn else "submitted"
        if winner is not None and not offer.withdrawn:
            status = "awarded" if offer is winner else "unsuccessful"
        w.put(
            "offers", id=offer.id, referral_id=referral_id, round=1, provider_id=offer.provider.id, status=status,
            submitted_at=offer.submitted, withdrawn_at=offer.submitted + timedelta(hours=2) if offer.withdrawn else None,
            submitted_by_id=offer.provider.user_id, version=1, start_date=start, hours_per_week=hours,
            sessions=values["sessions"], location=f"{offer.provider.name}, main site",
            staffing_ratio=rng.choice(["1:1", "1:2", "1:4", "1:6"]), transport="Travel training for the first fortnight",
            delivery_and_staffing="A qualified teacher and a key worker; small groups of up to six",
            safeguarding="DSL on site every day; staff hold enhanced DBS checks; daily attendance calls home",
            rate_type=rate_type, rate=offer.rate, units_per_week=offer.units,
            total=expected_total(offer.rate, offer.units, weeks),
        )  # fmt: skip
        for aim_id, _, _ in aims:
            w.add("aim_responses", (offer.id, aim_id, "A weekly plan with the key worker, reviewed with the family."))
        run.audit(Events.OFFER_SUBMITTED, offer.submitted, (offer.provider.user_id, offer.provider.user_email),
                  ("offers", offer.id), referral_id=referral_id)  # fmt: skip
    if winner is None:
        return
    criteria = [f"aim:{aim_id}" for aim_id, _, _ in aims] + ["delivery", "safeguarding"]
    for offer in live:
        for criterion in criteria:
            w.add("scores", (offer.id, criterion, rng.randint(2, 5), "Meets the criterion with clear evidence.",
                             officer_id, decided_at - timedelta(hours=2)))  # fmt: skip
    run.audit(Events.OFFER_AWARDED, decided_at, officer, ("referrals", referral_id), offer_id=winner.id)
    _placement(run, referral_id, child_id, school, lot_number, officer, service_id, winner, start, weeks, hours,
               mornings, decided_day, aims)  # fmt: skip


@dataclass
class _Offer:
    id: int
    provider: _ProviderFacts
    rate: Decimal
    units: Decimal
    submitted: datetime
    withdrawn: bool


def _referral_parts(run: _Run, referral_id: int, aims: list, lot_number: int) -> None:
    w, rng = run.writer, run.rng
    needs = set(rng.choice(NEEDS))
    if lot_number == 4:
        needs.add("post16")
    for need in sorted(needs):
        w.put("referral_needs", referral_id=referral_id, need=need)
    for aim_id, position, (description, baseline, target, measure) in aims:
        w.put("aims", id=aim_id, referral_id=referral_id, position=position, description=description,
              baseline=baseline, target=target, measure=measure)  # fmt: skip


# --- Placements and what happens in them ------------------------------------------------------------------------------


def _placement(run: _Run, referral_id, child_id, school, lot_number, officer, service_id, winner, start, weeks, hours,
               mornings, awarded_on, aims) -> None:  # fmt: skip
    w, rng, today = run.writer, run.rng, run.today
    offer_id, provider_id, rate, units, facts = (
        winner.id,
        winner.provider.id,
        winner.rate,
        winner.units,
        winner.provider,
    )
    run.placements += 1
    on_roll, role, commissioner = SET_UPS[run.placements % len(SET_UPS)]
    if not school and on_roll.value == "the home school":
        on_roll, role, commissioner = SET_UPS[0]
    decided = safeguarding.responsibility(on_roll, role, commissioner)
    school_fields: dict = {}
    if on_roll.value == "the home school":
        school_fields["school_name"] = school
    if decided.needs_staff_checks_confirmation:
        school_fields.update(
            school_dsl_name="Helen Marsh", school_dsl_email="dsl@school.scale.invalid", school_dsl_phone="01895 630000",
            staff_checks_confirmed_on=start - timedelta(days=3),
            staff_checks_reference="Letter from the provider's head of centre confirming enhanced DBS checks, on file",
        )  # fmt: skip
    placement_id = w.next_id("placements")
    planned_end = start + timedelta(weeks=weeks) - timedelta(days=3)
    ended_on = destination = None
    if planned_end < today:
        destination = DESTINATIONS[run.placements % len(DESTINATIONS)]
        ended_on = planned_end
        if rng.random() < 0.15:
            ended_on = max(start, planned_end - timedelta(weeks=rng.randint(2, 8)))
    created = _at(awarded_on + timedelta(days=2), 12)
    # Reviews every six weeks from the start; a quarter of the running placements have the latest one overdue.
    reviews = []
    due = run.calendar.next_review(start)
    last = ended_on or today
    skip_last = ended_on is None and rng.random() < 0.25
    while due < last:
        if skip_last and run.calendar.next_review(due) >= today:
            break
        reviews.append(due)
        due = run.calendar.next_review(due)
    w.put(
        "placements", id=placement_id, referral_id=referral_id, offer_id=offer_id, child_id=child_id,
        provider_id=provider_id, service_id=service_id, lot_id=run.lots[lot_number], officer_id=officer[0],
        status="ended" if ended_on else "active", created_at=created, created_by_id=officer[0], version=1,
        start_date=start, planned_end_date=planned_end, hours_per_week=hours,
        sessions="Monday to Friday mornings" if mornings else "Monday to Friday",
        expected_sessions=MORNINGS if mornings else EVERY_SESSION, full_time=hours >= 25,
        rate_type=LOT_SHAPES[lot_number][0], rate=rate, units_per_week=units,
        total_cost=expected_total(rate, units, weeks),
        reintegration_criteria="Attends 90% of sessions for six weeks and manages a full session in a group",
        next_review_due=due, on_roll=on_roll, provision_role=role, commissioner=commissioner,
        responsible_party=decided.party, responsibility_confirmed_by_id=officer[0], responsibility_confirmed_at=created,
        ended_on=ended_on, end_reason=END_REASONS[destination] if destination else "", destination=destination,
        ended_by_id=officer[0] if ended_on else None, ended_at=_at(ended_on, 16) if ended_on else None,
        **school_fields,
    )  # fmt: skip
    w.put("placement_sites", placement_id=placement_id, site_id=facts.site_id)
    run.audit(Events.PLACEMENT_CREATED, created, officer, ("placements", placement_id), referral_id=referral_id)
    _attendance(run, placement_id, facts.user_id, start, ended_on or planned_end, mornings)
    _reviews(run, placement_id, facts, officer, reviews, aims)
    _concern(run, placement_id, facts, officer, start, ended_on)
    if ended_on:
        run.audit(Events.PLACEMENT_ENDED, _at(ended_on, 16), officer, ("placements", placement_id),
                  destination=destination.value)  # fmt: skip


def _attendance(run: _Run, placement_id: int, recorder: int, start: date, last: date, mornings: bool) -> None:
    """A mark for every expected session of every school day from the start to yesterday (or the end): present most
    of the time, some authorised and unauthorised absences; an unexplained one raises that day's alert."""
    w, rng = run.writer, run.rng
    present = rng.uniform(0.8, 0.98)
    sessions = ("am",) if mornings else ("am", "pm")
    for day in run.calendar.between(start, min(last, run.today - timedelta(days=1))):
        alerted = False
        for session in sessions:
            code = PRESENT_BY_SESSION[session] if rng.random() < present else rng.choice(ABSENCES)
            recorded = _at(day, REGISTER_TAKEN[session].hour, REGISTER_TAKEN[session].minute)
            late = rng.random() < 0.04
            w.add("attendance_marks", (placement_id, day, session, code, recorder,
                                       recorded + timedelta(days=1) if late else recorded, not late))  # fmt: skip
            if code in UNEXPLAINED and not alerted:
                alerted = True
                w.put("attendance_alerts", placement_id=placement_id, day=day, kind="unexplained absence",
                      raised_at=recorded)  # fmt: skip


def _reviews(run: _Run, placement_id: int, facts: _ProviderFacts, officer, reviews: list[date], aims) -> None:
    w, rng = run.writer, run.rng
    for step, due in enumerate(reviews, start=1):
        report_id = w.next_id("progress_reports")
        report_on = due - timedelta(days=7) + timedelta(days=rng.choice([0, 0, 0, 1, 3]))
        ratings = [RATINGS[min(3, max(0, rng.randint(0, 2) + (step > 1) - (rng.random() < 0.2)))] for _ in aims]
        w.put("progress_reports", id=report_id, placement_id=placement_id, review_due_on=due,
              submitted_at=_at(report_on, 15), submitted_by_id=facts.user_id,
              child_view="I get on with my key worker and I like the practical lessons.")  # fmt: skip
        review_id = w.next_id("reviews")
        w.put("reviews", id=review_id, placement_id=placement_id, held_on=due, due_on=due, report_id=report_id,
              recorded_by_id=officer[0], recorded_at=_at(due, 16),
              next_steps="Keep the timetable; agree the next steps for a return with the family and the school.",
              readiness=rng.choice(READINESS), next_review_on=run.calendar.next_review(due))  # fmt: skip
        for (aim_id, _, _), rating in zip(aims, ratings, strict=True):
            w.put("report_aims", report_id=report_id, aim_id=aim_id, rating=rating,
                  evidence="Attendance returns and the key worker's weekly log.")  # fmt: skip
            w.put("review_aims", review_id=review_id, aim_id=aim_id, rating=rating,
                  note="Agreed with the provider's report.")  # fmt: skip


def _concern(run: _Run, placement_id: int, facts: _ProviderFacts, officer, start: date, ended_on: date | None) -> None:
    """About one placement in 16 has a concern: closed within a week, or still open on a running placement."""
    w, rng = run.writer, run.rng
    last = min(ended_on or run.today, run.today) - timedelta(days=1)
    if rng.random() >= 0.06 or last <= start:
        return
    raised = start + timedelta(days=rng.randint(0, (last - start).days))
    still_open = ended_on is None and rng.random() < 0.3
    concern_id = w.next_id("concerns")
    closed = min(raised + timedelta(days=5), run.today - timedelta(days=1))
    w.put(
        "concerns", id=concern_id, placement_id=placement_id, status="open" if still_open else "closed",
        raised_by_id=facts.user_id, raised_at=_at(raised, 13),
        summary="Came in with a bruise on the arm and would not say how it happened",
        details="The key worker noticed a bruise at lunch; the child said they fell off a bike at the weekend.",
        action_taken="" if still_open else "Spoke to the parent the same day; the account matched. Logged with the DSL.",
        closed_by_id=None if still_open else officer[0], closed_at=None if still_open else _at(closed, 11),
        outcome="" if still_open else "No further action: the explanation was consistent and no other signs were seen.",
    )  # fmt: skip
    run.audit(Events.CONCERN_RAISED, _at(raised, 13), (facts.user_id, facts.user_email), ("concerns", concern_id),
              placement_id=placement_id)  # fmt: skip
