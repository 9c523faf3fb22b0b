"""Placements: who may see and do what, and finding one.

Who sees a placement: the manager (all of them), officers of the commissioning service, and the users of the
provider. Anyone else is told there is no such placement (a 404 gives nothing away). Who acts:
- officers of the service set it up, vary it, review it and end it;
- the provider's users record attendance and progress reports while it is active;
- concerns have their own, narrower rule (portal.services.concerns).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Placement, PlacementStatus, Role, User
from portal.services.errors import Conflict, IllegalTransition, NotAllowed, NotFound

# The sessions of a school week, as stored in Placement.expected_sessions ("mon-am tue-pm ...").
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
ALL_SESSIONS = tuple(f"{day}-{session}" for day in WEEKDAYS for session in ("am", "pm"))


def session_key(day: date, session: str) -> str:
    """The expected-sessions key of a date's session ("wed-pm"), or "" at a weekend."""
    return f"{WEEKDAYS[day.weekday()]}-{session}" if day.weekday() < 5 else ""


def reference(placement: Placement) -> str:
    return f"P{placement.id:05d}"


def may_view(placement: Placement, user: User) -> bool:
    if user.role is Role.MANAGER:
        return True
    if user.role is Role.OFFICER:
        return user.service_id == placement.service_id
    return user.provider_id == placement.provider_id


def may_manage(placement: Placement, user: User) -> bool:
    """Vary, review and end: officers of the commissioning service."""
    return user.role is Role.OFFICER and user.service_id == placement.service_id


def may_record(placement: Placement, user: User) -> bool:
    """Attendance and progress reports: the provider's users."""
    return user.role is Role.PROVIDER and user.provider_id == placement.provider_id


def get_placement(placement_id: int, user: User) -> Placement:
    """The placement, if the user may see it (otherwise NotFound, the same answer as for one that does not exist)."""
    placement = db.session.get(
        Placement,
        placement_id,
        options=[joinedload(Placement.provider), joinedload(Placement.service), joinedload(Placement.lot)],
    )
    if placement is None or not may_view(placement, user):
        raise NotFound("There is no such placement")
    return placement


def ensure_may_manage(placement: Placement, user: User) -> None:
    if not may_manage(placement, user):
        raise NotAllowed(f"Only officers in {placement.service.name} can change this placement")


def ensure_may_record(placement: Placement, user: User) -> None:
    if not may_record(placement, user):
        raise NotAllowed(f"Only {placement.provider.name} records attendance and progress for this placement")


def ensure_active(placement: Placement) -> None:
    if placement.status is not PlacementStatus.ACTIVE:
        raise IllegalTransition("This placement has ended: nothing more can be recorded or changed")


def check_version(placement: Placement, version: int | None) -> None:
    if version is None or version != placement.version:
        raise Conflict(
            "Someone else changed this placement while you had it open. Nothing you sent was saved: the page now "
            "shows the placement as it is. Check it, then make your change again."
        )
