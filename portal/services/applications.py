"""A provider's application to join the DPS: the sections of the task list, what makes each complete, saving each
section as a draft, and submitting.

A provider has at most one open application (draft or submitted). Sections a to c are the provider's profile (what
its latest application said); d and e belong to the application; f is the provider's compliance documents. A
section's status is worked out from the data every time, never stored.

Every save names the version of the application the provider's page showed. If the application has changed since
(another tab, a colleague), ApplicationChanged is raised and nothing is saved; the version column (optimistic
locking) catches the same race between reading and writing. Plain arguments in, domain errors out; saves commit.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import london_today
from portal.conflicts import changed_at
from portal.extensions import db
from portal.models import (
    Admission,
    Application,
    ApplicationAnswer,
    ApplicationLot,
    ApplicationStatus,
    Area,
    DeliveryMode,
    Lot,
    LotOutcome,
    LotQuestion,
    Need,
    OfstedGrade,
    Provider,
    ProviderArea,
    ProviderDeliveryMode,
    ProviderNeed,
    Site,
    User,
)
from portal.models.base import utcnow
from portal.services import audit, decisions, documents, eligibility, working_days
from portal.services.accounts import normalise_email
from portal.services.audit import Events
from portal.services.errors import DomainError, FieldErrors, NotFound
from portal.services.mail import managers, notify, provider_users

OPEN_STATUSES = (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED)
MAX_ANSWER = 5000
MIN_AGE, MAX_AGE = 4, 25


class Section(enum.StrEnum):
    ORGANISATION = "organisation"
    SAFEGUARDING_LEAD = "safeguarding-lead"
    OFFER = "offer"
    LOTS = "lots"
    QUESTIONS = "questions"
    DOCUMENTS = "documents"

    @property
    def title(self) -> str:
        return SECTION_TITLES[self]


SECTION_TITLES = {
    Section.ORGANISATION: "Organisation details",
    Section.SAFEGUARDING_LEAD: "Designated Safeguarding Lead",
    Section.OFFER: "What you offer",
    Section.LOTS: "Lots",
    Section.QUESTIONS: "Questions for your lots",
    Section.DOCUMENTS: "Compliance documents",
}


class Status(enum.StrEnum):
    NOT_STARTED = "Not started"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    CANNOT_START = "Cannot start yet"


class ApplicationChanged(DomainError):
    def __init__(self, application: Application | None = None):
        when = changed_at(application.updated_at) if application is not None else ""
        super().__init__(
            f"Someone else changed this application{when} while you had it open, in another tab or as a colleague. "
            "Nothing you sent was saved: what you typed is below, beside what is saved now. Check it and save again."
        )


class NotEditable(DomainError):
    def __init__(self, application: Application):
        if application.status is ApplicationStatus.SUBMITTED:
            message = "Your application has been submitted: it cannot be changed while the council decides on it"
        else:
            message = "This application has been decided: it cannot be changed"
        super().__init__(message)


class NoLotsLeft(DomainError):
    def __init__(self):
        super().__init__("Your organisation is admitted to every lot already: there is nothing more to apply for")


@dataclass(frozen=True)
class Problem:
    """Something that stops an application being submitted, and the section that fixes it."""

    section: Section
    message: str


class IncompleteApplication(DomainError):
    def __init__(self, problems: list[Problem]):
        super().__init__("Complete every section before you submit your application")
        self.problems = problems


# ---- Finding the application ----------------------------------------------------------------------------------------


def open_application(provider_id: int) -> Application | None:
    """The provider's draft or submitted application, if it has one. Filtered by provider id in the query."""
    return db.session.scalar(
        sa.select(Application)
        .where(Application.provider_id == provider_id, Application.status.in_(OPEN_STATUSES))
        .order_by(Application.id.desc())
        .limit(1)
    )


def latest_application(provider_id: int) -> Application | None:
    return db.session.scalar(
        sa.select(Application).where(Application.provider_id == provider_id).order_by(Application.id.desc()).limit(1)
    )


def require_open_application(provider_id: int) -> Application:
    application = open_application(provider_id)
    if application is None:
        raise NotFound("You have no application in progress")
    return application


def admitted_lot_ids(provider_id: int) -> set[int]:
    """Lots the provider is admitted to now (an admission not removed)."""
    return set(
        db.session.scalars(
            sa.select(Admission.lot_id).where(Admission.provider_id == provider_id, Admission.removed_on.is_(None))
        )
    )


def admitted_lots(provider_id: int) -> list[Lot]:
    return list(
        db.session.scalars(
            sa.select(Lot)
            .join(Admission, Admission.lot_id == Lot.id)
            .where(Admission.provider_id == provider_id, Admission.removed_on.is_(None))
            .order_by(Lot.arrangement_id, Lot.number)
            .distinct()
        )
    )


def available_lots(provider_id: int, today: date | None = None) -> list[Lot]:
    """Lots the provider may apply for: those of a running arrangement it is not admitted to already."""
    today = today or london_today()
    admitted = admitted_lot_ids(provider_id)
    lots = db.session.scalars(sa.select(Lot).order_by(Lot.arrangement_id, Lot.number)).all()
    return [lot for lot in lots if lot.id not in admitted and lot.arrangement.legal_end_date >= today]


def start_application(provider: Provider) -> Application:
    """The provider's open application, or a new draft when it has none. Commits."""
    # On PostgreSQL the provider's row is locked, so two clicks at once cannot make two drafts.
    db.session.execute(sa.select(Provider.id).where(Provider.id == provider.id).with_for_update())
    application = open_application(provider.id)
    if application is not None:
        return application
    if not available_lots(provider.id):
        raise NoLotsLeft()
    application = Application(provider_id=provider.id, status=ApplicationStatus.DRAFT)
    db.session.add(application)
    db.session.commit()
    return application


# ---- Checking and saving sections -----------------------------------------------------------------------------------


def _check_editable(application: Application, expected_version) -> None:
    if application.status is not ApplicationStatus.DRAFT:
        raise NotEditable(application)
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise ApplicationChanged(application) from None
    if expected != application.version:
        raise ApplicationChanged(application)


def _commit(application: Application) -> None:
    """Save the change with the application's version check: a concurrent change raises ApplicationChanged."""
    application.updated_at = utcnow()  # the UPDATE that carries "WHERE version = ?" and bumps it
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise ApplicationChanged(application) from None


def _text(value) -> str:
    return ("" if value is None else str(value)).strip()


def _yes_no(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return {"yes": True, "no": False, "true": True, "false": False}.get(str(value).strip().lower())


COMPANY_NUMBER = re.compile(r"^(\d{8}|[A-Z]{2}\d{6})$")
CHARITY_NUMBER = re.compile(r"^(\d{6,8}(-\d{1,2})?|SC0\d{5}|NIC?\d{5,6})$")
POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
OFSTED_URN = re.compile(r"^\d{6,7}$")
PHONE_ALLOWED = re.compile(r"^[\d\s()+\-.]+$")


def normalise_postcode(value: str) -> str | None:
    """A UK postcode in capitals with one space, or None when it is not one."""
    compact = re.sub(r"\s+", "", value.upper())
    match = POSTCODE.match(compact)
    return f"{match.group(1)} {match.group(2)}" if match else None


def _too_long(errors: dict, name: str, value: str, limit: int, what: str) -> None:
    if len(value) > limit:
        errors[name] = f"{what} must be {limit:,} characters or fewer"


@dataclass
class OrganisationDetails:
    legal_name: str = ""
    company_number: str = ""
    charity_number: str = ""
    address: str = ""
    postcode: str = ""
    registered: str | bool | None = None
    ofsted_urn: str = ""
    ofsted_grade: str | None = None
    small_business: bool = False
    voluntary_sector: bool = False


def _check_organisation(details: OrganisationDetails, complete: bool) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict = {}
    legal_name = _text(details.legal_name)
    _too_long(errors, "legal_name", legal_name, 200, "Legal name")
    if complete and not legal_name:
        errors["legal_name"] = "Enter your organisation's legal name"
    values["legal_name"] = legal_name

    company = re.sub(r"\s+", "", _text(details.company_number).upper())
    charity = re.sub(r"\s+", "", _text(details.charity_number).upper())
    if company and not COMPANY_NUMBER.match(company):
        errors["company_number"] = "Enter a company number in the correct format, like 01234567 or SC123456"
    if charity and not CHARITY_NUMBER.match(charity):
        errors["charity_number"] = "Enter a charity number in the correct format, like 1123456 or SC012345"
    if complete and not company and not charity:
        errors["company_number"] = "Enter a company number or a charity number, or both"
    values["company_number"], values["charity_number"] = company, charity

    address = _text(details.address)
    _too_long(errors, "address", address, 1000, "Address")
    if complete and not address:
        errors["address"] = "Enter your organisation's address"
    values["address"] = address

    postcode_typed = _text(details.postcode)
    postcode = normalise_postcode(postcode_typed) if postcode_typed else ""
    if postcode is None:
        errors["postcode"] = "Enter a real postcode, like UB8 1UW"
    elif complete and not postcode:
        errors["postcode"] = "Enter your organisation's postcode"
    values["postcode"] = postcode or ""

    registered = _yes_no(details.registered)
    if complete and registered is None:
        errors["registered"] = "Select yes if your organisation is registered with Ofsted as an independent school"
    values["registered"] = registered

    urn = re.sub(r"\s+", "", _text(details.ofsted_urn))
    grade_typed = _text(details.ofsted_grade)
    grade = None
    if registered is False:
        urn, grade_typed = "", ""  # an unregistered provider has neither
    if urn and not OFSTED_URN.match(urn):
        errors["ofsted_urn"] = "Enter the Ofsted unique reference number (URN) as 6 or 7 digits, like 123456"
    if grade_typed:
        try:
            grade = OfstedGrade(grade_typed)
        except ValueError:
            errors["ofsted_grade"] = "Select the latest Ofsted grade from the list"
    if complete and registered:
        if not urn:
            errors.setdefault("ofsted_urn", "Enter your Ofsted unique reference number (URN)")
        if grade is None:
            errors.setdefault("ofsted_grade", "Select your latest Ofsted grade")
    values["ofsted_urn"], values["ofsted_grade"] = urn, grade
    values["small_business"] = bool(details.small_business)
    values["voluntary_sector"] = bool(details.voluntary_sector)
    return values, errors


@dataclass
class SafeguardingLead:
    dsl_name: str = ""
    dsl_role: str = ""
    dsl_phone: str = ""
    dsl_email: str = ""


def _check_safeguarding_lead(details: SafeguardingLead, complete: bool) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    name, role, phone, email = (
        _text(v) for v in (details.dsl_name, details.dsl_role, details.dsl_phone, details.dsl_email)
    )
    _too_long(errors, "dsl_name", name, 200, "Name")
    _too_long(errors, "dsl_role", role, 200, "Role")
    if complete and not name:
        errors["dsl_name"] = "Enter the name of your Designated Safeguarding Lead"
    if complete and not role:
        errors["dsl_role"] = "Enter their role or job title"
    if phone:
        digits = re.sub(r"\D", "", phone)
        if len(phone) > 40 or not PHONE_ALLOWED.match(phone) or not 10 <= len(digits) <= 15:
            errors["dsl_phone"] = "Enter a telephone number, like 01895 250111 or +44 7700 900982"
    elif complete:
        errors["dsl_phone"] = "Enter their telephone number"
    if email:
        try:
            email = normalise_email(email)
        except DomainError as error:
            errors["dsl_email"] = error.message
        else:
            _too_long(errors, "dsl_email", email, 254, "Email address")
    elif complete:
        errors["dsl_email"] = "Enter their email address"
    return {"dsl_name": name, "dsl_role": role, "dsl_phone": phone, "dsl_email": email}, errors


@dataclass
class Offer:
    summary: str = ""
    needs: list[str] = field(default_factory=list)
    age_from: str | int | None = None
    age_to: str | int | None = None
    areas: list[str] = field(default_factory=list)
    capacity: str | int | None = None
    delivery_modes: list[str] = field(default_factory=list)


def _whole_number(value) -> int | None | str:
    """An int, None when blank, or "bad" when it is not a whole number."""
    text = _text(value)
    if not text:
        return None
    return int(text) if re.fullmatch(r"\d{1,6}", text) else "bad"


def _codes(values, enum_cls, errors: dict, name: str, message: str) -> list:
    chosen = []
    for value in values or []:
        try:
            code = enum_cls(value)
        except ValueError:
            errors[name] = message
            continue
        if code not in chosen:
            chosen.append(code)
    return chosen


def _check_offer(details: Offer, sites: list[Site], complete: bool) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    summary = _text(details.summary)
    _too_long(errors, "summary", summary, MAX_ANSWER, "Your summary")
    if complete and not summary:
        errors["summary"] = "Describe what you offer"
    needs = _codes(details.needs, Need, errors, "needs", "Select needs from the list")
    if complete and not needs:
        errors.setdefault("needs", "Select the needs you can meet")

    ages = {}
    for name, what in (("age_from", "youngest"), ("age_to", "oldest")):
        number = _whole_number(getattr(details, name))
        if number == "bad":
            errors[name] = f"Enter the {what} age as a whole number, like {11 if name == 'age_from' else 16}"
            number = None
        elif number is not None and not MIN_AGE <= number <= MAX_AGE:
            errors[name] = f"The {what} age must be between {MIN_AGE} and {MAX_AGE}"
            number = None
        elif number is None and complete:
            errors[name] = f"Enter the {what} age of children you work with"
        ages[name] = number
    if ages["age_from"] is not None and ages["age_to"] is not None and ages["age_from"] > ages["age_to"]:
        errors["age_to"] = "The oldest age must be the same as or more than the youngest age"

    areas = _codes(details.areas, Area, errors, "areas", "Select areas from the list")
    if complete and not areas:
        errors.setdefault("areas", "Select the areas where you work")

    capacity = _whole_number(details.capacity)
    if capacity == "bad" or capacity == 0:
        errors["capacity"] = "Enter how many children you can take at once as a whole number, like 12"
        capacity = None
    elif capacity is None and complete:
        errors["capacity"] = "Enter how many children you can take at once"

    modes = _codes(
        details.delivery_modes, DeliveryMode, errors, "delivery_modes", "Select ways of working from the list"
    )
    if complete and not modes:
        errors.setdefault("delivery_modes", "Select how you deliver provision")
    if complete and DeliveryMode.ON_SITE in modes and not sites:
        errors["sites"] = "Add at least one site, because you deliver provision on site"
    values = {
        "summary": summary,
        "needs": needs,
        "age_from": ages["age_from"],
        "age_to": ages["age_to"],
        "areas": areas,
        "capacity": capacity,
        "delivery_modes": modes,
    }
    return values, errors


def _apply_offer(provider: Provider, values: dict) -> None:
    provider.summary = values["summary"]
    provider.age_from, provider.age_to, provider.capacity = values["age_from"], values["age_to"], values["capacity"]
    # Keep the rows that stay, add new ones, drop the rest (delete-orphan).
    provider.needs = [n for n in provider.needs if n.need in values["needs"]] + [
        ProviderNeed(need=code) for code in values["needs"] if code not in provider.need_codes
    ]
    provider.areas = [a for a in provider.areas if a.area in values["areas"]] + [
        ProviderArea(area=code) for code in values["areas"] if code not in provider.area_codes
    ]
    provider.delivery_modes = [m for m in provider.delivery_modes if m.mode in values["delivery_modes"]] + [
        ProviderDeliveryMode(mode=code) for code in values["delivery_modes"] if code not in provider.delivery_mode_codes
    ]


def save_organisation(
    application: Application, expected_version, details: OrganisationDetails, *, complete: bool
) -> None:
    """Save the organisation details. ``complete`` ("Save and continue") also requires every answer; without it
    ("Save and come back later") only what was typed is checked. FieldErrors: nothing is saved."""
    _check_editable(application, expected_version)
    values, errors = _check_organisation(details, complete)
    if errors:
        raise FieldErrors(errors)
    provider = application.provider
    for name, value in values.items():
        setattr(provider, name, value)
    _commit(application)


def save_safeguarding_lead(
    application: Application, expected_version, details: SafeguardingLead, *, complete: bool
) -> None:
    _check_editable(application, expected_version)
    values, errors = _check_safeguarding_lead(details, complete)
    if errors:
        raise FieldErrors(errors)
    for name, value in values.items():
        setattr(application.provider, name, value)
    _commit(application)


def save_offer(application: Application, expected_version, details: Offer, *, complete: bool) -> None:
    _check_editable(application, expected_version)
    values, errors = _check_offer(details, application.provider.sites, complete)
    if errors:
        raise FieldErrors(errors)
    _apply_offer(application.provider, values)
    _commit(application)


@dataclass
class SiteDetails:
    name: str = ""
    address: str = ""
    postcode: str = ""


def add_site(application: Application, expected_version, details: SiteDetails) -> Site:
    _check_editable(application, expected_version)
    errors: dict[str, str] = {}
    name, address, postcode_typed = _text(details.name), _text(details.address), _text(details.postcode)
    _too_long(errors, "name", name, 200, "Site name")
    _too_long(errors, "address", address, 1000, "Address")
    if not name:
        errors["name"] = "Enter the site's name"
    if not address:
        errors["address"] = "Enter the site's address"
    postcode = normalise_postcode(postcode_typed) if postcode_typed else None
    if not postcode_typed:
        errors["postcode"] = "Enter the site's postcode"
    elif postcode is None:
        errors["postcode"] = "Enter a real postcode, like UB8 1UW"
    if errors:
        raise FieldErrors(errors)
    site = Site(name=name, address=address, postcode=postcode)
    application.provider.sites.append(site)
    _commit(application)
    return site


def remove_site(application: Application, expected_version, site_id: int) -> None:
    """Remove one of the provider's own sites; another provider's site is NotFound."""
    _check_editable(application, expected_version)
    site = db.session.scalar(sa.select(Site).where(Site.id == site_id, Site.provider_id == application.provider_id))
    if site is None:
        raise NotFound("No such site")
    application.provider.sites.remove(site)
    _commit(application)


def save_lots(application: Application, expected_version, lot_ids, *, complete: bool) -> None:
    """Choose the lots applied for, among those the provider is not admitted to."""
    _check_editable(application, expected_version)
    allowed = {lot.id: lot for lot in available_lots(application.provider_id)}
    chosen: list[int] = []
    for value in lot_ids or []:
        try:
            lot_id = int(value)
        except (TypeError, ValueError):
            lot_id = None
        if lot_id not in allowed:
            raise FieldErrors({"lots": "Select lots from the list"})
        if lot_id not in chosen:
            chosen.append(lot_id)
    if complete and not chosen:
        raise FieldErrors({"lots": "Select the lots you are applying for"})
    application.lots = [row for row in application.lots if row.lot_id in chosen] + [
        ApplicationLot(lot_id=lot_id) for lot_id in chosen if lot_id not in {row.lot_id for row in application.lots}
    ]
    _commit(application)


def questions_for(application: Application) -> list[tuple[Lot, list[LotQuestion]]]:
    """The current questions of each chosen lot, in order (one SELECT)."""
    lots = [row.lot for row in application.lots]
    if not lots:
        return []
    questions = db.session.scalars(
        sa.select(LotQuestion)
        .where(LotQuestion.lot_id.in_([lot.id for lot in lots]), LotQuestion.retired_at.is_(None))
        .order_by(LotQuestion.lot_id, LotQuestion.position, LotQuestion.id)
    ).all()
    by_lot: dict[int, list[LotQuestion]] = {}
    for question in questions:
        by_lot.setdefault(question.lot_id, []).append(question)
    return [(lot, by_lot.get(lot.id, [])) for lot in lots]


def answer_field(question_id: int) -> str:
    return f"answer-{question_id}"


def save_answers(application: Application, expected_version, answers: dict[int, str], *, complete: bool) -> None:
    """Answer the chosen lots' questions (``answers`` maps question id to text). Answers to questions of lots no
    longer chosen are kept while the application is a draft, in case the lot is chosen again."""
    _check_editable(application, expected_version)
    existing = {answer.question_id: answer for answer in application.answers}
    errors: dict[str, str] = {}
    cleaned: dict[int, str] = {}
    for _lot, questions in questions_for(application):
        for question in questions:
            if question.id in answers:
                text = ("" if answers[question.id] is None else str(answers[question.id])).strip()
                cleaned[question.id] = text
            else:  # not given: the saved answer stands
                text = existing[question.id].answer if question.id in existing else ""
            if len(text) > MAX_ANSWER:
                errors[answer_field(question.id)] = f"Your answer must be {MAX_ANSWER:,} characters or fewer"
            elif complete and not text:
                errors[answer_field(question.id)] = "Answer this question"
    if errors:
        raise FieldErrors(errors)
    for question_id, text in cleaned.items():
        if question_id in existing:
            existing[question_id].answer = text
        else:
            application.answers.append(ApplicationAnswer(question_id=question_id, answer=text))
    _commit(application)


# ---- Statuses and what is missing -----------------------------------------------------------------------------------


@dataclass
class Progress:
    """Each section's status and, for those not complete, what is missing."""

    statuses: dict[Section, Status]
    problems: list[Problem]

    @property
    def completed(self) -> int:
        return sum(1 for status in self.statuses.values() if status is Status.COMPLETED)

    @property
    def complete(self) -> bool:
        return self.completed == len(Section)


def _status(any_answer: bool, errors: dict) -> Status:
    if not errors:
        return Status.COMPLETED
    return Status.IN_PROGRESS if any_answer else Status.NOT_STARTED


def _organisation_of(provider: Provider) -> OrganisationDetails:
    return OrganisationDetails(
        legal_name=provider.legal_name,
        company_number=provider.company_number,
        charity_number=provider.charity_number,
        address=provider.address,
        postcode=provider.postcode,
        registered=provider.registered,
        ofsted_urn=provider.ofsted_urn,
        ofsted_grade=provider.ofsted_grade.value if provider.ofsted_grade else None,
        small_business=provider.small_business,
        voluntary_sector=provider.voluntary_sector,
    )


def _offer_of(provider: Provider) -> Offer:
    return Offer(
        summary=provider.summary,
        needs=[n.need.value for n in provider.needs],
        age_from=provider.age_from,
        age_to=provider.age_to,
        areas=[a.area.value for a in provider.areas],
        capacity=provider.capacity,
        delivery_modes=[m.mode.value for m in provider.delivery_modes],
    )


def progress(application: Application, today: date | None = None) -> Progress:
    """Work out every section's status from the data, and what stops the application being submitted."""
    today = today or london_today()
    provider = application.provider
    statuses: dict[Section, Status] = {}
    problems: list[Problem] = []

    def note(section: Section, errors: dict[str, str]) -> None:
        if statuses[section] is Status.NOT_STARTED:
            problems.append(Problem(section, "You have not started this section"))
        else:
            problems.extend(Problem(section, message) for message in errors.values())

    org = _organisation_of(provider)
    _, errors = _check_organisation(org, complete=True)
    started = any(
        [
            org.legal_name,
            org.company_number,
            org.charity_number,
            org.address,
            org.postcode,
            org.registered is not None,
            org.ofsted_urn,
        ]
    )
    statuses[Section.ORGANISATION] = _status(started, errors)
    note(Section.ORGANISATION, errors)

    lead = SafeguardingLead(provider.dsl_name, provider.dsl_role, provider.dsl_phone, provider.dsl_email)
    _, errors = _check_safeguarding_lead(lead, complete=True)
    statuses[Section.SAFEGUARDING_LEAD] = _status(any(vars(lead).values()), errors)
    note(Section.SAFEGUARDING_LEAD, errors)

    offer = _offer_of(provider)
    _, errors = _check_offer(offer, provider.sites, complete=True)
    started = any(
        [
            offer.summary,
            offer.needs,
            offer.age_from is not None,
            offer.age_to is not None,
            offer.areas,
            offer.capacity is not None,
            offer.delivery_modes,
            provider.sites,
        ]
    )
    statuses[Section.OFFER] = _status(started, errors)
    note(Section.OFFER, errors)

    lot_ids = [row.lot_id for row in application.lots]
    if lot_ids:
        statuses[Section.LOTS] = Status.COMPLETED
    else:
        statuses[Section.LOTS] = Status.NOT_STARTED
        problems.append(Problem(Section.LOTS, "Select the lots you are applying for"))

    if not lot_ids:
        statuses[Section.QUESTIONS] = Status.CANNOT_START
        statuses[Section.DOCUMENTS] = Status.CANNOT_START
        return Progress(statuses, problems)

    answers = {answer.question_id: answer.answer.strip() for answer in application.answers}
    unanswered = 0
    answered = 0
    for _lot, questions in questions_for(application):
        for question in questions:
            if answers.get(question.id):
                answered += 1
            else:
                unanswered += 1
    if unanswered:
        statuses[Section.QUESTIONS] = Status.IN_PROGRESS if answered else Status.NOT_STARTED
        problems.append(
            Problem(Section.QUESTIONS, f"Answer every question for your lots ({unanswered} not answered yet)")
        )
    else:
        statuses[Section.QUESTIONS] = Status.COMPLETED

    rows = documents.required_for_lots(provider.id, lot_ids, today)
    not_usable = [row for row in rows if not row.usable]
    if not not_usable:
        statuses[Section.DOCUMENTS] = Status.COMPLETED
    else:
        statuses[Section.DOCUMENTS] = Status.IN_PROGRESS if len(not_usable) < len(rows) else Status.NOT_STARTED
        for row in not_usable:
            state = "has expired" if row.status is documents.DocumentStatus.EXPIRED else "is missing"
            problems.append(Problem(Section.DOCUMENTS, f"{row.document_type.name} {state}"))
    return Progress(statuses, problems)


# ---- Submitting -----------------------------------------------------------------------------------------------------


def submit(
    application: Application, expected_version, *, by: User, ip: str | None = None, now: datetime | None = None
) -> None:
    """Send the application to the council: every section must be complete. The decision is due 10 working days
    after the day it is submitted (Europe/London). Audited; the provider's users get a confirmation and every
    manager a notification, all in the same transaction. Commits."""
    _check_editable(application, expected_version)
    decisions.ensure_transition(application, ApplicationStatus.SUBMITTED, by)  # the one table of who moves what
    now = now or datetime.now(UTC)
    submitted_on = london_today(now)
    result = progress(application, submitted_on)
    if result.problems:
        raise IncompleteApplication(result.problems)

    # Only the answers to the chosen lots' current questions go to the council.
    wanted = {question.id for _lot, questions in questions_for(application) for question in questions}
    application.answers = [answer for answer in application.answers if answer.question_id in wanted]
    application.status = ApplicationStatus.SUBMITTED
    application.submitted_at = now
    application.decision_due_on = working_days.decision_due_on(submitted_on)

    provider = application.provider
    lot_labels = [row.lot.label for row in application.lots]
    audit.record(
        Events.APPLICATION_SUBMITTED,
        actor=by,
        ip=ip,
        subject=application,
        provider=provider.name,
        lots=", ".join(lot_labels),
        decision_due_on=application.decision_due_on.isoformat(),
    )
    due = f"{application.decision_due_on.day} {application.decision_due_on:%B %Y}"
    lots_text = "\n".join(f"- {label}" for label in lot_labels)
    for user in provider_users([provider.id]):
        notify(
            user,
            "Your application to join the dynamic purchasing system has been submitted",
            f"Dear {user.name},\n\n{by.name} submitted {provider.name}'s application for:\n\n{lots_text}\n\n"
            f"The council will decide by {due} and will tell you the outcome for each lot.",
        )
    for manager in managers():
        notify(
            manager,
            f"New application from {provider.name}",
            f"{provider.name} has applied to join the dynamic purchasing system for:\n\n{lots_text}\n\n"
            f"The decision is due by {due} (10 working days).",
        )
    _commit(application)


# ---- The provider's home page ---------------------------------------------------------------------------------------


@dataclass
class RejectedLot:
    lot: Lot
    reason: str


@dataclass
class ProviderState:
    """Where the provider stands on the DPS, for its home page."""

    open_application: Application | None
    progress: Progress | None
    decided: Application | None
    rejected: list[RejectedLot]
    standings: list[eligibility.LotStanding]
    can_apply: bool
    document_warnings: list[documents.DocumentRow]


def provider_state(provider: Provider, today: date | None = None) -> ProviderState:
    today = today or london_today()
    open_one = open_application(provider.id)
    latest = latest_application(provider.id)
    decided = latest if latest is not None and latest.status is ApplicationStatus.DECIDED else None
    rejected = []
    if decided is not None:
        rejected = [
            RejectedLot(row.lot, row.notes.strip() or decided.rejection_reason.strip())
            for row in decided.lots
            if row.outcome is LotOutcome.FAIL
        ]
    standings = [eligibility.standing(provider, lot, today) for lot in admitted_lots(provider.id)]
    # Documents a lot the provider is in (or applying for) requires that are missing, expired or expiring soon.
    lot_ids = {s.lot.id for s in standings} | ({row.lot_id for row in open_one.lots} if open_one else set())
    warnings = (
        [
            row
            for row in documents.required_for_lots(provider.id, lot_ids, today)
            if row.status is not documents.DocumentStatus.VALID
        ]
        if lot_ids
        else []
    )
    return ProviderState(
        open_application=open_one,
        progress=progress(open_one, today)
        if open_one is not None and open_one.status is ApplicationStatus.DRAFT
        else None,
        decided=decided,
        rejected=rejected,
        standings=standings,
        can_apply=open_one is None and bool(available_lots(provider.id, today)),
        document_warnings=warnings,
    )
