"""The DfE school attendance codes (England, from August 2024) and how each one counts.

A session "counts" (is a possible session) unless its code says the child was not expected; the attendance rate is
the share of possible sessions the child attended, or spent in an approved educational activity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa


class Category(enum.StrEnum):
    PRESENT = "present"
    APPROVED_ACTIVITY = "attending an approved educational activity"
    AUTHORISED = "authorised absence"
    UNAUTHORISED = "unauthorised absence"
    NOT_COUNTED = "not a possible session"


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str
    category: Category

    @property
    def attended(self) -> bool:
        return self.category in {Category.PRESENT, Category.APPROVED_ACTIVITY}

    @property
    def possible(self) -> bool:
        return self.category is not Category.NOT_COUNTED


_C = Category
CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code("/", "Present (morning)", _C.PRESENT),
        Code("\\", "Present (afternoon)", _C.PRESENT),
        Code("L", "Late, arrived before the register closed", _C.PRESENT),
        Code("K", "Attending education provision arranged by the local authority", _C.APPROVED_ACTIVITY),
        Code("V", "Attending an educational visit or trip", _C.APPROVED_ACTIVITY),
        Code("P", "Participating in a supervised sporting activity", _C.APPROVED_ACTIVITY),
        Code("W", "Attending work experience", _C.APPROVED_ACTIVITY),
        Code("B", "Attending any other approved educational activity", _C.APPROVED_ACTIVITY),
        Code("C1", "Leave for a regulated performance or employment abroad", _C.AUTHORISED),
        Code("C2", "Leave for a part-time timetable", _C.AUTHORISED),
        Code("C", "Leave for exceptional circumstances", _C.AUTHORISED),
        Code("E", "Suspended or excluded, no alternative provision made", _C.AUTHORISED),
        Code("I", "Illness", _C.AUTHORISED),
        Code("J1", "Interview for employment or further education", _C.AUTHORISED),
        Code("M", "Medical or dental appointment", _C.AUTHORISED),
        Code("R", "Religious observance", _C.AUTHORISED),
        Code("S", "Study leave", _C.AUTHORISED),
        Code("T", "Parent travelling for occupational purposes", _C.AUTHORISED),
        Code("G", "Holiday not granted by the school", _C.UNAUTHORISED),
        Code("N", "Reason for absence not yet provided", _C.UNAUTHORISED),
        Code("O", "Absent in other or unknown circumstances", _C.UNAUTHORISED),
        Code("U", "Arrived after the register closed", _C.UNAUTHORISED),
        Code("D", "Attending another school at which the pupil is registered", _C.NOT_COUNTED),
        Code("X", "Not required to attend (non-compulsory school age)", _C.NOT_COUNTED),
        Code("Q", "Unable to attend: lack of access arrangements", _C.NOT_COUNTED),
        Code("Y1", "Unable to attend: transport not available", _C.NOT_COUNTED),
        Code("Y2", "Unable to attend: widespread disruption to travel", _C.NOT_COUNTED),
        Code("Y3", "Unable to attend: part of the premises closed", _C.NOT_COUNTED),
        Code("Y4", "Unable to attend: whole premises unexpectedly closed", _C.NOT_COUNTED),
        Code("Y5", "Unable to attend: in criminal justice detention", _C.NOT_COUNTED),
        Code("Y6", "Unable to attend: public health guidance or law", _C.NOT_COUNTED),
        Code("Y7", "Unable to attend: any other exceptional circumstance", _C.NOT_COUNTED),
        Code("Z", "Prospective pupil not on the admission register", _C.NOT_COUNTED),
        Code("#", "Planned closure of the provision", _C.NOT_COUNTED),
    )
}

PRESENT_BY_SESSION = {"am": "/", "pm": "\\"}
ATTENDED = frozenset(c.code for c in CODES.values() if c.attended)
POSSIBLE = frozenset(c.code for c in CODES.values() if c.possible)
# An absence with no explanation: it raises a same-day alert.
UNEXPLAINED = frozenset({"O", "N"})

# Attendance under this share of possible sessions over the last four weeks is flagged.
LOW_ATTENDANCE = 0.9
ATTENDANCE_WINDOW_DAYS = 28


def window(today: date) -> tuple[date, date]:
    """The last four weeks, both days included: the 28 days ending today."""
    return today - timedelta(days=ATTENDANCE_WINDOW_DAYS - 1), today


def normalise(code: str, session: str) -> str:
    """What people type, as stored: upper case, and either present sign stored as the session's own (/ or \\)."""
    code = code.strip().upper()
    if code in {"/", "\\"}:
        return PRESENT_BY_SESSION[session]
    return code


def attended_sum(code_column) -> sa.ColumnElement:
    """SQL: how many of the grouped marks were attended."""
    return sa.func.sum(sa.case((code_column.in_(sorted(ATTENDED)), 1), else_=0))


def possible_sum(code_column) -> sa.ColumnElement:
    """SQL: how many of the grouped marks were possible sessions."""
    return sa.func.sum(sa.case((code_column.in_(sorted(POSSIBLE)), 1), else_=0))


def rate(attended: int | None, possible: int | None) -> float | None:
    """The attendance rate (0 to 1), or None when there was no possible session."""
    return (attended or 0) / possible if possible else None


def is_low(attendance_rate: float | None) -> bool:
    return attendance_rate is not None and attendance_rate < LOW_ATTENDANCE
