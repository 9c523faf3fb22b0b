"""Varying a placement (sites, hours, sessions, cost, the planned end), with the history of each change, and ending it
with a destination.

The functions take plain arguments, the acting user and ``now``; they raise DomainError (or a subclass) and never
commit: the route does. No email or notification written here names the child: only the placement's reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import london_today
from portal.extensions import db
from portal.formatting import long_date, money, quantity
from portal.models import (
    Destination,
    Placement,
    PlacementChange,
    PlacementSite,
    PlacementStatus,
    Provider,
    RateType,
    User,
)
from portal.pagination import Page, paginate
from portal.services import audit, placement_setup, placements, referrals, safeguarding
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors
from portal.services.mail import notify, provider_users, queue_email
from portal.services.offers import HOURS_MAX, UNITS_MAX, parse_money, parse_quantity

REASON_MAX = 2000
SESSIONS_MAX = 200
HISTORY_PER_PAGE = 50

# The fields a variation can change, in the form's order, with the name people read in the history.
FIELD_LABELS = {
    "sites": "Sites",
    "hours_per_week": "Hours per week",
    "sessions": "Sessions",
    "expected_sessions": "Expected sessions",
    "full_time": "Full time",
    "rate_type": "Rate type",
    "rate": "Rate",
    "units_per_week": "Days, sessions or hours a week",
    "total_cost": "Total cost",
    "planned_end_date": "Planned end date",
}

CONFLICT = (
    "Someone else changed this placement while you had it open. Nothing you sent was saved: the page now shows the "
    "placement as it is. Check it, then make your change again."
)


# --- How values read ---------------------------------------------------------------------------------------------------


def session_name(key: str) -> str:
    """ "wed-pm" -> "Wednesday afternoon" """
    day, _, session = key.partition("-")
    return f"{placements.WEEKDAY_NAMES[placements.WEEKDAYS.index(day)]} {'morning' if session == 'am' else 'afternoon'}"


def sessions_in_words(keys: Iterable[str]) -> str:
    """Expected sessions in week order: "Monday morning, Monday afternoon, Tuesday morning"."""
    chosen = set(keys)
    return ", ".join(session_name(key) for key in placements.ALL_SESSIONS if key in chosen) or "None"


def expected_grid(placement: Placement) -> list[tuple[str, bool, bool]]:
    """The expected sessions as rows of (weekday name, morning expected, afternoon expected)."""
    keys = placement.expected_session_keys
    return [
        (name, f"{day}-am" in keys, f"{day}-pm" in keys)
        for day, name in zip(placements.WEEKDAYS, placements.WEEKDAY_NAMES, strict=True)
    ]


def _site_names(provider: Provider, site_ids: Iterable[int]) -> str:
    chosen = set(site_ids)
    return ", ".join(site.name for site in provider.sites if site.id in chosen) or "None"


def _shown(name: str, value, provider: Provider) -> str:
    """A value as people read it in the history."""
    if name == "sites":
        return _site_names(provider, value)
    if name == "expected_sessions":
        return sessions_in_words(value)
    if name == "full_time":
        return "Yes" if value else "No"
    if name == "rate_type":
        return value.label
    if name in {"rate", "total_cost"}:
        return money(value)
    if name == "planned_end_date":
        return long_date(value)
    if name == "hours_per_week":
        return f"{quantity(value)} hours"
    if name == "units_per_week":
        return quantity(value)
    return str(value)


# --- Varying ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variation:
    """The placement's terms as typed on the change form (text, except the chosen ids and the date)."""

    site_ids: list[int] = field(default_factory=list)
    hours_per_week: str = ""
    sessions: str = ""
    expected_sessions: list[str] = field(default_factory=list)
    full_time: bool = False
    rate_type: str | None = None
    rate: str = ""
    units_per_week: str = ""
    total_cost: str = ""
    planned_end_date: date | None = None

    @classmethod
    def of(cls, placement: Placement) -> Variation:
        """The placement's current terms, as the form shows them."""
        return cls(
            site_ids=sorted(placement.site_ids),
            hours_per_week=quantity(placement.hours_per_week),
            sessions=placement.sessions,
            expected_sessions=[k for k in placements.ALL_SESSIONS if k in placement.expected_session_keys],
            full_time=placement.full_time,
            rate_type=placement.rate_type.value,
            rate=f"{placement.rate:.2f}",
            units_per_week=quantity(placement.units_per_week),
            total_cost=f"{placement.total_cost:.2f}",
            planned_end_date=placement.planned_end_date,
        )


def _reason(text: str | None, errors: dict[str, str], what: str) -> str:
    reason = (text or "").strip()
    if not reason:
        errors["reason"] = f"Enter {what}"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"The reason must be {REASON_MAX:,} characters or fewer"
    return reason


def _checked(placement: Placement, changes: Variation) -> dict:
    """The new values ready to store (comparable with the placement's), or FieldErrors in the form's order."""
    errors: dict[str, str] = {}
    values: dict = {}

    def attempt(name: str, work):
        try:
            values[name] = work()
        except DomainError as error:
            errors.setdefault(error.field or name, error.message)

    own_sites = {site.id for site in placement.provider.sites}
    chosen = {site_id for site_id in changes.site_ids if site_id is not None}
    if not chosen:
        errors["sites"] = "Choose at least one site the child will attend"
    elif not chosen <= own_sites:
        errors["sites"] = f"Choose from {placement.provider.name}'s sites"
    else:
        values["sites"] = chosen

    attempt(
        "hours_per_week",
        lambda: parse_quantity(
            changes.hours_per_week, name="the hours a week", field="hours_per_week", maximum=HOURS_MAX
        ),
    )
    sessions = (changes.sessions or "").strip()
    if not sessions:
        errors["sessions"] = "Enter the sessions in words, like Monday to Friday, 9am to 12pm"
    elif len(sessions) > SESSIONS_MAX:
        errors["sessions"] = f"The sessions must be {SESSIONS_MAX} characters or fewer"
    else:
        values["sessions"] = sessions

    expected = set(changes.expected_sessions or [])
    if not expected:
        errors["expected_sessions"] = "Choose at least one session the child is expected at"
    elif not expected <= set(placements.ALL_SESSIONS):
        errors["expected_sessions"] = "Choose sessions from Monday to Friday, mornings and afternoons"
    else:
        values["expected_sessions"] = expected
    values["full_time"] = bool(changes.full_time)

    rate_type = None
    try:
        rate_type = RateType(changes.rate_type or "")
    except ValueError:
        errors["rate_type"] = "Select whether it is a day rate, a session rate or an hourly rate"
    else:
        values["rate_type"] = rate_type
    attempt("rate", lambda: parse_money(changes.rate, name="rate", field="rate"))
    units_name = f"how many {rate_type.unit} a week" if rate_type else "how many days, sessions or hours a week"
    attempt(
        "units_per_week",
        lambda: parse_quantity(
            changes.units_per_week,
            name=units_name,
            field="units_per_week",
            maximum=UNITS_MAX[rate_type] if rate_type else max(UNITS_MAX.values()),
        ),
    )
    attempt("total_cost", lambda: parse_money(changes.total_cost, name="total cost", field="total_cost"))

    end = changes.planned_end_date
    if end is None:
        errors["planned_end_date"] = "Enter the planned end date"
    elif end < placement.start_date:
        errors["planned_end_date"] = (
            f"The planned end date must be on or after the start date, {long_date(placement.start_date)}"
        )
    else:
        values["planned_end_date"] = end
    if errors:
        raise FieldErrors(errors)
    return values


def _current(placement: Placement) -> dict:
    return {
        "sites": placement.site_ids,
        "hours_per_week": placement.hours_per_week,
        "sessions": placement.sessions,
        "expected_sessions": placement.expected_session_keys,
        "full_time": placement.full_time,
        "rate_type": placement.rate_type,
        "rate": placement.rate,
        "units_per_week": placement.units_per_week,
        "total_cost": placement.total_cost,
        "planned_end_date": placement.planned_end_date,
    }


def _same(old, new) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return Decimal(old) == Decimal(new)
    return old == new


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(CONFLICT) from None


def vary(
    placement_id: int,
    by: User,
    changes: Variation,
    *,
    version: int | None,
    reason: str,
    now: datetime,
    ip: str | None = None,
) -> list[PlacementChange]:
    """Change the placement's terms: one history row per field changed (old and new values as people read them, who,
    when and why). The provider's users and the responsible DSL (when someone else) are told, without the child."""
    placement = placements.get_placement(placement_id, by)
    placements.ensure_may_manage(placement, by)
    placements.ensure_active(placement)
    placements.check_version(placement, version)
    errors: dict[str, str] = {}
    try:
        values = _checked(placement, changes)
    except FieldErrors as refused:
        errors.update(refused.errors)
        values = None
    reason = _reason(reason, errors, "why the placement is changing")
    if errors:
        raise FieldErrors({name: errors[name] for name in [*FIELD_LABELS, "reason"] if name in errors})

    old = _current(placement)
    changed = [name for name in FIELD_LABELS if not _same(old[name], values[name])]
    if not changed:
        raise DomainError("Change at least one thing", field="sites")
    if "full_time" in changed and values["full_time"]:
        # The rule of the set-up form (the placement's own child is not counted twice: it is this child).
        refusal = placement_setup.registration_refusal(
            placement.provider, placement.child_id, placement.start_date, values["planned_end_date"]
        )
        if refusal:
            raise DomainError(refusal, field="full_time")

    rows = []
    for name in changed:
        rows.append(
            PlacementChange(
                placement_id=placement.id,
                changed_at=now,
                changed_by_id=by.id,
                reason=reason,
                field=name,
                old_value=_shown(name, old[name], placement.provider),
                new_value=_shown(name, values[name], placement.provider),
            )
        )
        if name == "sites":
            kept = [s for s in placement.sites if s.site_id in values["sites"]]
            added = [PlacementSite(site_id=i) for i in sorted(values["sites"] - placement.site_ids)]
            placement.sites = kept + added
        elif name == "expected_sessions":
            placement.expected_sessions = " ".join(k for k in placements.ALL_SESSIONS if k in values[name])
        else:
            setattr(placement, name, values[name])
    db.session.add_all(rows)
    # A change of sites alone touches only placement_sites: mark the row itself so its version moves on too.
    flag_modified(placement, "expected_sessions")
    _flush()
    ref = placements.reference(placement)
    audit.record(
        Events.PLACEMENT_VARIED,
        actor=by,
        ip=ip,
        subject=placement,
        reason=reason,
        placement=ref,
        fields=changed,
    )
    lines = "\n".join(f"- {FIELD_LABELS[r.field]}: {r.old_value} -> {r.new_value}" for r in rows)
    _tell(
        placement,
        f"Placement {ref} has changed",
        f"{by.name} ({placement.service.name}) has changed placement {ref}.\n\n{lines}\n\nWhy: {reason}",
        dsl_too=True,
    )
    return rows


# --- Ending ----------------------------------------------------------------------------------------------------------


def end(
    placement_id: int,
    by: User,
    *,
    ended_on: date | None,
    destination: Destination | str | None,
    reason: str,
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> Placement:
    """End the placement with the date, where the child went next and why.

    The end date is the day the child last attended or was expected: on or after the start, and not after today (an
    end records what has happened; a later planned end is a change to the placement, so attendance goes on being
    recorded until then)."""
    placement = placements.get_placement(placement_id, by)
    placements.ensure_may_manage(placement, by)
    placements.ensure_active(placement)
    placements.check_version(placement, version)
    errors: dict[str, str] = {}
    today = london_today(now)
    if ended_on is None:
        errors["ended_on"] = "Enter the date the placement ended"
    elif ended_on < placement.start_date:
        errors["ended_on"] = f"The end date must be on or after the start date, {long_date(placement.start_date)}"
    elif ended_on > today:
        errors["ended_on"] = (
            "The end date must be today or in the past. To end it later, change the planned end date instead"
        )
    chosen = None
    try:
        chosen = Destination(destination) if destination else None
    except ValueError:
        chosen = None
    if chosen is None:
        errors["destination"] = "Choose where the child went next"
    reason = _reason(reason, errors, "why the placement ended")
    if errors:
        raise FieldErrors(errors)

    placement.status = PlacementStatus.ENDED
    placement.ended_on = ended_on
    placement.destination = chosen
    placement.end_reason = reason
    placement.ended_by_id = by.id
    placement.ended_at = now
    _flush()
    ref = placements.reference(placement)
    audit.record(
        Events.PLACEMENT_ENDED,
        actor=by,
        ip=ip,
        subject=placement,
        reason=reason,
        placement=ref,
        ended_on=ended_on.isoformat(),
        destination=chosen.value,
    )
    _tell(
        placement,
        f"Placement {ref} has ended",
        f"{by.name} ({placement.service.name}) has ended placement {ref} on {long_date(ended_on)}.\n\n"
        "No more attendance or progress reports are needed for it.",
    )
    return placement


def _tell(placement: Placement, subject: str, news: str, *, dsl_too: bool = False) -> None:
    """The provider's users (in the portal and by email) and, if asked, the responsible party's DSL by email when
    they are not one of those users. Names the reference only, never the child."""
    told = set()
    page = referrals.link(f"/placements/{placement.id}")
    for user in provider_users([placement.provider_id]):
        notify(user, subject, f"Dear {user.name},\n\n{news}\n\nSee the placement: {page}")
        told.add(user.email.lower())
    if dsl_too:
        contact = safeguarding.placement_contact(placement)
        if contact.dsl_email and contact.dsl_email.lower() not in told:
            queue_email(
                contact.dsl_email,
                subject,
                f"Dear {contact.dsl_name or 'Designated Safeguarding Lead'},\n\nYou are the Designated Safeguarding "
                f"Lead responsible for a child in placement {placements.reference(placement)} with "
                f"{placement.provider.name}.\n\n"
                f"{news}",
            )


# --- What the placement page reads -----------------------------------------------------------------------------------


def history(placement_id: int, *, page: int = 1, per_page: int = HISTORY_PER_PAGE) -> Page:
    """The placement's changes, newest first, with who made each (one statement a page, whatever the rows)."""
    statement = (
        sa.select(PlacementChange)
        .options(joinedload(PlacementChange.changed_by))
        .where(PlacementChange.placement_id == placement_id)
        .order_by(PlacementChange.changed_at.desc(), PlacementChange.id.desc())
    )
    return paginate(statement, page=page, per_page=per_page)


def people(*user_ids: int | None) -> dict[int, User]:
    """The users the page names (who confirmed responsibility, who ended it), in one statement."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
