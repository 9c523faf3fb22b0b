"""Writing a referral before it is published: the child (recorded once per UPN and reused), starting a draft, and
saving each of the draft's sections (the provision needed, the aims, the anonymised profile).

Each function takes plain arguments, the acting officer, the version of the record the form was drawn from and
``now``; it raises a DomainError (FieldErrors with the names of the form's fields) when something is wrong, records
the audit event, and never commits: the route does. Saving is only for officers of the referral's service, and only
while the referral is a draft.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import london_today
from portal.extensions import db
from portal.forms import whole_number
from portal.models import (
    Aim,
    Area,
    Child,
    ExclusionStatus,
    Gender,
    Lot,
    Need,
    OnRollStatus,
    Referral,
    ReferralNeed,
    ReferralStatus,
    Role,
    User,
)
from portal.services import audit, children, referrals
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, NotAllowed
from portal.services.referrals import Action

NAME_MAX = 100
SCHOOL_MAX = 200
SESSIONS_MAX = 200
LOCATION_MAX = 500
TEXT_MAX = 5000
YOUNGEST, OLDEST = 2, 25
MAX_HOURS = Decimal("40")
MAX_WEEKS = 52
MAX_AIMS = 10
HOURS = re.compile(r"^\d{1,2}(\.\d)?$")
# Exclusion statuses that happened on a date, which the officer must give.
DATED_EXCLUSIONS = frozenset({ExclusionStatus.SUSPENDED, ExclusionStatus.PERMANENTLY_EXCLUDED})

CHILD_CHANGED = (
    "Someone else changed this child's details while you had the page open, so nothing you sent was saved. The form "
    "still shows what you typed, and the details saved now are shown above it: check them, then save again."
)
DRAFT_CHANGED = (
    "Someone else changed this referral while you had the page open, so nothing you sent was saved. The form still "
    "shows what you typed: check the draft, then save again."
)


# ---- The draft's sections ------------------------------------------------------------------------------------------


class Section(enum.StrEnum):
    CHILD = "child"
    PROVISION = "provision"
    AIMS = "aims"
    PROFILE = "profile"

    @property
    def title(self) -> str:
        return {
            "child": "Child's details",
            "provision": "Provision needed",
            "aims": "Aims",
            "profile": "Profile for providers",
        }[self.value]


class Status(enum.StrEnum):
    NOT_STARTED = "Not started"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"


# ---- Small helpers ---------------------------------------------------------------------------------------------------


def _text(value) -> str:
    return ("" if value is None else str(value)).strip()


def _too_long(errors: dict[str, str], name: str, value: str, limit: int, what: str) -> None:
    if name not in errors and len(value) > limit:
        errors[name] = f"{what} must be {limit:,} characters or fewer"


def _enum(enum_cls: type[enum.StrEnum], value):
    try:
        return enum_cls(_text(value)) if _text(value) else None
    except ValueError:
        return None


def _ensure_officer(by: User) -> None:
    if by.role is not Role.OFFICER or by.service_id is None:
        raise NotAllowed("Only council officers can write referrals")


def _editable_draft(referral_id: int, by: User, version, now: datetime) -> Referral:
    """The draft, if this officer may change it now and the form was drawn from its current version."""
    referral = referrals.get_referral(referral_id)
    referrals.ensure_may_act(referral, by)
    referrals.ensure_stage(referral, Action.EDIT, now)
    if whole_number(version) != referral.version:
        raise Conflict(DRAFT_CHANGED)
    return referral


def _touch(referral: Referral, now: datetime) -> None:
    """Make the flush UPDATE the referral, which checks and bumps its version, whatever else changed (even when
    ``now`` is the time it was last saved, as under a frozen clock)."""
    referral.updated_at = now
    flag_modified(referral, "updated_at")


def _flush(message: str) -> None:
    """Send the change now, so a concurrent save (the UPDATE ... WHERE version = ?) is found here, not at commit."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(message) from None


# ---- The child -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildDetails:
    """The child's details as the officer typed them (the yes/no answers as True, False or None)."""

    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    upn: str = ""
    gender: str | None = None
    home_school: str = ""
    no_school: bool = False
    on_roll_status: str | None = None
    ehc_plan: bool | None = None
    looked_after: bool | None = None
    exclusion_status: str | None = None
    exclusion_date: date | None = None


def check_child(details: ChildDetails, today: date) -> dict:
    """The child's details ready to store, or FieldErrors naming every field that is wrong."""
    errors: dict[str, str] = {}
    first_name, last_name = _text(details.first_name), _text(details.last_name)
    if not first_name:
        errors["first_name"] = "Enter the child's first name"
    _too_long(errors, "first_name", first_name, NAME_MAX, "First name")
    if not last_name:
        errors["last_name"] = "Enter the child's last name"
    _too_long(errors, "last_name", last_name, NAME_MAX, "Last name")

    born = details.date_of_birth
    if born is None:
        errors["date_of_birth"] = "Enter the child's date of birth"
    elif born >= today:
        errors["date_of_birth"] = "Date of birth must be in the past"
    elif not YOUNGEST <= children.age_on(born, today) <= OLDEST:
        errors["date_of_birth"] = (
            f"The child must be aged {YOUNGEST} to {OLDEST}: check the date of birth "
            f"(this date makes them {children.age_on(born, today)})"
        )

    upn = children.normalise_upn(details.upn)
    problem = children.upn_problem(upn)
    if problem:
        errors["upn"] = problem

    gender = _enum(Gender, details.gender)
    if gender is None:
        errors["gender"] = "Select the child's gender"

    school = "" if details.no_school else _text(details.home_school)
    if details.no_school and _text(details.home_school):
        errors["home_school"] = "Either enter the child's home school or select that they have no school, not both"
    elif not details.no_school and not school:
        errors["home_school"] = "Enter the child's home school, or select that they have no school"
    _too_long(errors, "home_school", school, SCHOOL_MAX, "Home school")

    on_roll = _enum(OnRollStatus, details.on_roll_status)
    if on_roll is None:
        errors["on_roll_status"] = "Select the child's on-roll status"
    elif details.no_school and on_roll in (OnRollStatus.HOME_SCHOOL, OnRollStatus.DUAL):
        errors["on_roll_status"] = "A child with no school cannot be on the roll of a home school: check the status"

    if details.ehc_plan is None:
        errors["ehc_plan"] = "Select yes if the child has an education, health and care (EHC) plan"
    if details.looked_after is None:
        errors["looked_after"] = "Select yes if the child is looked after"

    exclusion = _enum(ExclusionStatus, details.exclusion_status)
    excluded_on = details.exclusion_date if exclusion in DATED_EXCLUSIONS else None
    if exclusion is None:
        errors["exclusion_status"] = "Select the child's exclusion status"
    elif exclusion in DATED_EXCLUSIONS:
        what = "suspension" if exclusion is ExclusionStatus.SUSPENDED else "permanent exclusion"
        if excluded_on is None:
            errors["exclusion_date"] = f"Enter the date of the {what}"
        elif excluded_on > today:
            errors["exclusion_date"] = f"The date of the {what} must be today or in the past"
        elif born is not None and excluded_on <= born:
            errors["exclusion_date"] = f"The date of the {what} must be after the child's date of birth"

    if errors:
        raise FieldErrors(errors)
    return {
        "first_name": first_name,
        "last_name": last_name,
        "date_of_birth": born,
        "upn": upn,
        "gender": gender,
        "home_school": school,
        "on_roll_status": on_roll,
        "ehc_plan": details.ehc_plan,
        "looked_after": details.looked_after,
        "exclusion_status": exclusion,
        "exclusion_date": excluded_on,
    }


@dataclass(frozen=True)
class Started:
    referral: Referral
    child: Child
    # The UPN was recorded already: the draft is for that child, whose details the officer should check.
    reused: bool


def start_referral(details: ChildDetails, by: User, *, now: datetime, ip: str | None = None) -> Started:
    """A new draft referral for the child, by the officer, in the officer's service. A child already recorded with
    the UPN is reused as recorded (a child has one record and can have many referrals): never a second record."""
    _ensure_officer(by)
    values = check_child(details, london_today(now))
    child = children.find_by_upn(values["upn"])
    reused = child is not None
    if child is None:
        child = Child(**values, created_by_id=by.id, created_at=now)
        db.session.add(child)
        try:
            db.session.flush()
        except IntegrityError:
            # Another officer recorded the same UPN a moment ago: theirs is the record. Nothing else is pending yet,
            # so rolling back loses nothing.
            db.session.rollback()
            child = children.find_by_upn(values["upn"])
            if child is None:
                raise
            reused = True
    referral = Referral(
        child_id=child.id,
        service_id=by.service_id,
        officer_id=by.id,
        status=ReferralStatus.DRAFT,
        created_at=now,
        updated_at=now,
    )
    db.session.add(referral)
    db.session.flush()
    if not reused:
        audit.record(Events.CHILD_RECORDED, actor=by, ip=ip, subject=child, referral_id=referral.id)
    audit.record(
        Events.REFERRAL_CREATED,
        actor=by,
        ip=ip,
        subject=referral,
        reference=referrals.reference(referral),
        child_id=child.id,
        child_already_recorded=reused,
    )
    return Started(referral=referral, child=child, reused=reused)


def update_child(
    referral_id: int, details: ChildDetails, by: User, *, version, now: datetime, ip: str | None = None
) -> Child:
    """Change the details of the draft's child. ``version`` is the child's version the form was drawn from."""
    referral = referrals.get_referral(referral_id)
    referrals.ensure_may_act(referral, by)
    referrals.ensure_stage(referral, Action.EDIT, now)
    child = db.session.get(Child, referral.child_id)
    if whole_number(version) != child.version:
        raise Conflict(CHILD_CHANGED)
    values = check_child(details, london_today(now))
    if values["upn"] != child.upn:
        holder = children.find_by_upn(values["upn"])
        if holder is not None and holder.id != child.id:
            raise DomainError(
                "Another child is already recorded with this UPN. Check the UPN; if this referral is for that child, "
                "withdraw this draft and start a new referral with their UPN",
                field="upn",
            )
    changed = sorted(name for name, value in values.items() if getattr(child, name) != value)
    for name, value in values.items():
        setattr(child, name, value)
    if changed:
        # The draft changed too (what the identity-leak check compares with): a publish page drawn before is stale.
        _touch(referral, now)
        _flush(CHILD_CHANGED)
        # Which fields changed, never their values: the trail must not become a copy of the child's record.
        audit.record(Events.CHILD_UPDATED, actor=by, ip=ip, subject=child, referral_id=referral.id, changed=changed)
    return child


# ---- The provision needed ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provision:
    lot_id: int | str | None = None
    hours_per_week: str = ""
    sessions: str = ""
    start_date: date | None = None
    duration_weeks: str = ""
    location: str = ""
    travel_needs: str = ""
    reintegration_criteria: str = ""


def _hours(value, errors: dict[str, str]) -> Decimal | None:
    text = _text(value)
    if not text:
        errors["hours_per_week"] = "Enter the hours per week"
        return None
    if not HOURS.match(text):
        errors["hours_per_week"] = "Enter the hours per week as a number, like 15 or 12.5 (one decimal place at most)"
        return None
    try:
        hours = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already ruled it out
        errors["hours_per_week"] = "Enter the hours per week as a number, like 15 or 12.5"
        return None
    if not Decimal(0) < hours <= MAX_HOURS:
        errors["hours_per_week"] = f"Hours per week must be more than 0 and no more than {MAX_HOURS}"
        return None
    return hours


def _weeks(value, errors: dict[str, str]) -> int | None:
    text = _text(value)
    if not text:
        errors["duration_weeks"] = "Enter how many weeks the provision is for"
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_WEEKS:
        errors["duration_weeks"] = f"Enter the number of weeks as a whole number from 1 to {MAX_WEEKS}"
        return None
    return int(text)


def check_provision(details: Provision, today: date) -> dict:
    errors: dict[str, str] = {}
    from portal.services import arrangements

    lot = None
    if _text(details.lot_id).isdigit():
        lot = db.session.get(Lot, int(_text(details.lot_id)))
    if lot is None:
        errors["lot"] = "Select the lot"
    elif lot not in arrangements.current_lots(today):
        # A lot of an arrangement that has ended or been succeeded takes no new call-offs.
        lot = None
        errors["lot"] = "Select one of the lots of the current arrangement"
    hours = _hours(details.hours_per_week, errors)
    sessions = _text(details.sessions)
    if not sessions:
        errors["sessions"] = "Say when the sessions are, for example Monday to Friday mornings"
    _too_long(errors, "sessions", sessions, SESSIONS_MAX, "Sessions")
    if details.start_date is None:
        errors["start_date"] = "Enter the start date"
    elif details.start_date < today:
        errors["start_date"] = "The start date must be today or in the future"
    weeks = _weeks(details.duration_weeks, errors)
    location = _text(details.location)
    if not location:
        errors["location"] = "Enter where the provision should be"
    _too_long(errors, "location", location, LOCATION_MAX, "Location")
    travel = _text(details.travel_needs)
    _too_long(errors, "travel_needs", travel, TEXT_MAX, "Travel needs")
    criteria = _text(details.reintegration_criteria)
    if not criteria:
        errors["reintegration_criteria"] = "Say what would show the child is ready to return"
    _too_long(errors, "reintegration_criteria", criteria, TEXT_MAX, "Reintegration criteria")
    if errors:
        raise FieldErrors(errors)
    return {
        "lot_id": lot.id,
        "hours_per_week": hours,
        "sessions": sessions,
        "start_date": details.start_date,
        "duration_weeks": weeks,
        "location": location,
        "travel_needs": travel,
        "reintegration_criteria": criteria,
    }


def save_provision(
    referral_id: int, details: Provision, by: User, *, version, now: datetime, ip: str | None = None
) -> Referral:
    referral = _editable_draft(referral_id, by, version, now)
    values = check_provision(details, london_today(now))
    for name, value in values.items():
        setattr(referral, name, value)
    return _saved(referral, Section.PROVISION, by, ip, now)


# ---- The aims ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AimText:
    description: str = ""
    baseline: str = ""
    target: str = ""
    measure: str = ""


AIM_PARTS = {
    "description": "what the aim is",
    "baseline": "the baseline (where the child is now)",
    "target": "the target",
    "measure": "how it will be measured",
}


def aim_field(index: int, part: str) -> str:
    """The form field of one part of an aim (the index counts from 0, as in the form)."""
    return f"aims-{index}-{part}"


def check_aims(aims: list[AimText]) -> list[AimText]:
    errors: dict[str, str] = {}
    if not aims:
        errors["aims"] = "Add at least one aim"
    if len(aims) > MAX_AIMS:
        errors["aims"] = f"A referral can have up to {MAX_AIMS} aims"
    cleaned = []
    for index, aim in enumerate(aims):
        values = {part: _text(getattr(aim, part)) for part in AIM_PARTS}
        for part, what in AIM_PARTS.items():
            name = aim_field(index, part)
            if not values[part]:
                errors[name] = f"Aim {index + 1}: enter {what}"
            _too_long(errors, name, values[part], TEXT_MAX, f"Aim {index + 1}: {what}".capitalize())
        cleaned.append(AimText(**values))
    if errors:
        raise FieldErrors(errors)
    return cleaned


def replace_aims(
    referral_id: int, aims: list[AimText], by: User, *, version, now: datetime, ip: str | None = None
) -> Referral:
    """The draft's aims become these, numbered 1 to n in this order."""
    referral = _editable_draft(referral_id, by, version, now)
    cleaned = check_aims(aims)
    referral.aims.clear()
    db.session.flush()  # the old positions go before the new ones take them (a unique constraint)
    referral.aims.extend(
        Aim(position=n, description=a.description, baseline=a.baseline, target=a.target, measure=a.measure)
        for n, a in enumerate(cleaned, start=1)
    )
    return _saved(referral, Section.AIMS, by, ip, now, aims=len(cleaned))


# ---- The anonymised profile ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    needs: list[str] = field(default_factory=list)
    area: str | None = None
    profile: str = ""


def check_profile(details: Profile) -> dict:
    errors: dict[str, str] = {}
    needs = [_enum(Need, value) for value in details.needs or []]
    if not needs:
        errors["needs"] = "Select at least one need providers will see"
    elif None in needs:
        errors["needs"] = "Select needs from the list"
    area = _enum(Area, details.area)
    if area is None:
        errors["area"] = "Select the area providers will see"
    text = _text(details.profile)
    if not text:
        errors["profile"] = "Write the anonymised profile providers will see"
    _too_long(errors, "profile", text, TEXT_MAX, "The profile")
    if errors:
        raise FieldErrors(errors)
    return {"needs": sorted(set(needs), key=list(Need).index), "area": area, "profile": text}


def save_profile(
    referral_id: int, details: Profile, by: User, *, version, now: datetime, ip: str | None = None
) -> Referral:
    referral = _editable_draft(referral_id, by, version, now)
    values = check_profile(details)
    wanted = set(values["needs"])
    referral.needs = [n for n in referral.needs if n.need in wanted] + [
        ReferralNeed(need=need) for need in values["needs"] if need not in referral.need_codes
    ]
    referral.area = values["area"]
    referral.profile = values["profile"]
    return _saved(referral, Section.PROFILE, by, ip, now)


def _saved(referral: Referral, section: Section, by: User, ip: str | None, now: datetime, **details) -> Referral:
    _touch(referral, now)
    _flush(DRAFT_CHANGED)
    audit.record(Events.REFERRAL_UPDATED, actor=by, ip=ip, subject=referral, section=section.title, **details)
    return referral


# ---- The task list ------------------------------------------------------------------------------------------------


# What referrals.missing_parts reports, by the section that fills it in.
SECTION_PARTS: dict[Section, tuple[str, ...]] = {
    Section.CHILD: (),
    Section.PROVISION: ("lot", "hours_per_week", "start_date", "duration_weeks", "reintegration_criteria"),
    Section.AIMS: ("aims",),
    Section.PROFILE: ("needs", "area", "profile"),
}


@dataclass(frozen=True)
class Progress:
    statuses: dict[Section, Status]
    missing: dict[str, str]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def completed(self) -> int:
        return sum(status is Status.COMPLETED for status in self.statuses.values())


def progress(referral: Referral) -> Progress:
    """Each section's status, from what publishing still needs (referrals.missing_parts)."""
    missing = referrals.missing_parts(referral)
    statuses = {}
    for section, parts in SECTION_PARTS.items():
        absent = [part for part in parts if part in missing]
        if not absent:
            statuses[section] = Status.COMPLETED
        elif len(absent) == len(parts):
            statuses[section] = Status.NOT_STARTED
        else:
            statuses[section] = Status.IN_PROGRESS
    return Progress(statuses=statuses, missing=missing)


@dataclass(frozen=True)
class ShownAge:
    """The age and year group providers will see (worked out from the date of birth; fixed when published)."""

    age: int
    year_group: str


def shown_age(referral: Referral, today: date) -> ShownAge:
    born = db.session.scalar(sa.select(Child.date_of_birth).where(Child.id == referral.child_id))
    return ShownAge(age=children.age_on(born, today), year_group=children.year_group(born, today))


def referral_count_for(child_id: int) -> int:
    """How many referrals the child has (a reused record shows the officer there are others)."""
    return db.session.scalar(sa.select(sa.func.count(Referral.id)).where(Referral.child_id == child_id)) or 0
