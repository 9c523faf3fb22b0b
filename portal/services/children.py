"""The child's identity: the UPN and its check letter, age and year group, the warning when a profile written for
providers gives the child away, and the one way to read a child's record (every read is audited)."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Child, Referral, User
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import NotFound

# The DfE's 23 check letters: the alphabet without I, O and S.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
UPN_SHAPE = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")


def normalise_upn(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "").upper()


def upn_check_letter(upn: str) -> str:
    """The letter a UPN must start with: characters 2 to 13 weighted by their position, modulo 23. A temporary UPN
    ends in a letter, which counts as its place in the same 23-letter alphabet."""
    total = 0
    for position, character in enumerate(upn[1:13], start=2):
        value = int(character) if character.isdigit() else UPN_LETTERS.index(character)
        total += value * position
    return UPN_LETTERS[total % 23]


def upn_problem(upn: str) -> str | None:
    """Why this (normalised) UPN is not valid, or None when it is."""
    if not upn:
        return "Enter the child's unique pupil number (UPN)"
    if len(upn) != 13:
        return "A UPN is 13 characters: a letter, 11 digits, and a digit or letter"
    if not UPN_SHAPE.match(upn) or upn[-1] in "IOS" or upn[0] not in UPN_LETTERS:
        return "A UPN is a letter, 11 digits, and a digit or letter (never I, O or S)"
    if upn[0] != upn_check_letter(upn):
        return (
            "The UPN's check letter (the first character) does not match the rest: check it has been copied correctly"
        )
    return None


def age_on(date_of_birth: date, day: date) -> int:
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def year_group(date_of_birth: date, day: date) -> str:
    """The national curriculum year group on the day (a school year runs from 1 September; children born from
    September to August start Reception together)."""
    cohort = date_of_birth.year + (1 if date_of_birth.month >= 9 else 0)
    school_year_start = day.year if day.month >= 9 else day.year - 1
    number = school_year_start - cohort - 4
    if number < 0:
        return "Early years"
    if number == 0:
        return "Reception"
    if number > 13:
        return "Post-18"
    return f"Year {number}"


# --- The identity-leak warning ------------------------------------------------------------------------------------


def _date_patterns(day: date) -> list[str]:
    month = day.strftime("%B")
    return [
        rf"\b{day.isoformat()}\b",
        rf"\b0?{day.day}\s*[/.\-]\s*0?{day.month}\s*[/.\-]\s*({day.year}|{day.year % 100:02d})\b",
        rf"\b0?{day.day}(st|nd|rd|th)?\s+(of\s+)?({month}|{month[:3]})\.?,?\s+{day.year}\b",
        rf"\b({month}|{month[:3]})\.?\s+0?{day.day}(st|nd|rd|th)?,?\s+{day.year}\b",
    ]


def identity_leaks(child: Child, text: str) -> list[str]:
    """What in ``text`` identifies the child: their first or last name, date of birth or UPN. Names match whole
    words, case-insensitively (so "Will" is found in "Will attends" and not in "willing")."""
    found = []
    for label, name in (("first name", child.first_name), ("last name", child.last_name)):
        name = (name or "").strip()
        if name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
            found.append(f"the child's {label} ({name})")
    if any(re.search(pattern, text, re.IGNORECASE) for pattern in _date_patterns(child.date_of_birth)):
        found.append("the child's date of birth")
    if child.upn and child.upn in normalise_upn(text):
        found.append("the child's UPN")
    return found


def profile_leaks(referral: Referral) -> dict[str, list[str]]:
    """For each part of what providers will see (the profile, each aim), what in it identifies the child."""
    parts = {"profile": referral.profile, "sessions": referral.sessions, "location": referral.location}
    parts["travel_needs"] = referral.travel_needs
    parts["reintegration_criteria"] = referral.reintegration_criteria
    for aim in referral.aims:
        parts[f"aim {aim.position}"] = " ".join((aim.description, aim.baseline, aim.target, aim.measure))
    leaks = {}
    for part, text in parts.items():
        found = identity_leaks(referral.child, text or "")
        if found:
            leaks[part] = found
    return leaks


# --- Reading a child's record (audited) -----------------------------------------------------------------------------


def find_by_upn(upn: str) -> Child | None:
    return db.session.scalar(sa.select(Child).where(Child.upn == normalise_upn(upn)))


def read_child(referral: Referral, by: User, *, ip: str | None, purpose: str) -> Child:
    """The child's record for someone about to see it, with an audit event naming who, when, and why. Every page
    that shows a child's identity gets it through here."""
    child = db.session.get(Child, referral.child_id)
    if child is None:
        raise NotFound("There is no such child")
    audit.record(
        Events.CHILD_RECORD_VIEWED,
        actor=by,
        ip=ip,
        subject=child,
        referral_id=referral.id,
        purpose=purpose,
    )
    return child


def read_children(referrals_or_child_ids, by: User, *, ip: str | None, purpose: str) -> dict[int, Child]:
    """The records of the children on a list (referrals or child ids), read in one query, with one audit event for
    the list naming who, why and every child in it. Nothing is read, and nothing recorded, for an empty list."""
    ids = sorted({item.child_id if isinstance(item, Referral) else int(item) for item in referrals_or_child_ids})
    if not ids:
        return {}
    found = {child.id: child for child in db.session.scalars(sa.select(Child).where(Child.id.in_(ids)))}
    audit.record(Events.CHILD_RECORDS_LISTED, actor=by, ip=ip, child_ids=sorted(found), purpose=purpose)
    return found
