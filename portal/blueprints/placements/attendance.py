"""The attendance week grid: one cell saved at a time with htmx, a day marked present, the whole week as a plain form.

Everyone who may see the placement reads the grid; only the provider's users record (403 for the others who can see
it, 404 for everyone else). Without JavaScript the grid is one form posting the whole week, and each "Mark <day>
present" button is a small form of its own; htmx saves a cell as its select changes (the cell comes back with
"Saved", or with its error, at 200 so htmx swaps it) and swaps the grid after a day is marked present.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import clock
from portal.access import roles
from portal.blueprints.placements import bp
from portal.extensions import db, htmx
from portal.formatting import long_date
from portal.models import Placement, Role
from portal.services import attendance as service
from portal.services import attendance_codes, children, placements
from portal.services.errors import DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.web import client_ip

GRID_ID = "attendance-grid"
VARY = {"Vary": "HX-Request"}


def _placement_or_404(placement_id: int) -> Placement:
    try:
        return placements.get_placement(placement_id, current_user)
    except NotFound:
        abort(404)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _week_url(placement: Placement, week_start: date) -> str:
    return url_for("placements.attendance", placement_id=placement.id, week=week_start.isoformat())


def _context(
    placement: Placement,
    week_start: date,
    *,
    errors=None,
    typed=None,
    saved: str | None = None,
    message: str | None = None,
) -> dict:
    now = clock.now()
    today = clock.london_today(now)
    grid = service.week(placement, week_start, today)
    return {
        "placement": placement,
        "reference": placements.reference(placement),
        "grid": grid,
        "editable": placements.may_record(placement, current_user),
        "errors": errors or {},
        "errors_list": [{"text": text, "href": f"#{name}"} for name, text in (errors or {}).items()],
        "typed": typed or {},
        # The field name of the cell just saved (htmx), and what the last action on the grid did.
        "saved": saved,
        "message": message,
        "grid_id": GRID_ID,
        "codes": attendance_codes.CODES,
        "code_groups": service.CODE_GROUPS,
        "session_names": service.SESSION_NAMES,
    }


def _page(placement: Placement, week_start: date, *, status: int = 200, conflict: str | None = None, **extra):
    """The whole page. It names the child, read through children.read_child (audited); the audit row is committed
    once the page is made."""
    context = _context(placement, week_start, **extra)
    today = context["grid"].today
    rate = service.rate_last_four_weeks(placement.id, today)
    child = children.read_child(placement.referral, current_user, ip=client_ip(), purpose="placement attendance")
    page = render_template(
        "placements/attendance.html",
        child=child,
        rate=rate,
        low=attendance_codes.is_low(rate),
        conflict=conflict,
        week_url=lambda start: _week_url(placement, start),
        **context,
    )
    db.session.commit()
    return page, status, VARY


def _grid(placement: Placement, week_start: date, *, status: int = 200, **extra):
    return (
        render_template(
            "placements/partials/attendance_grid.html", oob=True, **_context(placement, week_start, **extra)
        ),
        status,
        VARY,
    )


def _refused(placement_id: int, week_start: date, error: DomainError):
    """A state that refuses the change (the placement ended before the day): nothing is saved; 409 with why."""
    db.session.rollback()
    return _page(_placement_or_404(placement_id), week_start, status=409, conflict=error.message)


# ---- The week -------------------------------------------------------------------------------------------------------


@bp.route("/<int:placement_id>/attendance", methods=["GET", "POST"])
@roles(Role.OFFICER, Role.PROVIDER, Role.MANAGER)
def attendance(placement_id: int):
    placement = _placement_or_404(placement_id)
    asked = _date(request.form.get("week") if request.method == "POST" else None) or _date(request.args.get("week"))
    week_start = (
        service.week_start_of(asked) if asked else service.default_week(placement, clock.london_today(clock.now()))
    )
    if request.method == "GET":
        return _page(placement, week_start)
    if not placements.may_record(placement, current_user):
        abort(403)
    days = [week_start + timedelta(days=n) for n in range(5)]
    codes, seen = {}, {}
    for day in days:
        for session in service.SESSIONS:
            name = service.field_name(day, session)
            if name in request.form:
                codes[(day, session)] = request.form[name]
            if (shown := service.seen_name(day, session)) in request.form:
                seen[(day, session)] = request.form[shown]
    try:
        count = service.save_week(placement.id, current_user, week_start, codes, now=clock.now(), seen=seen)
    except NotAllowed:
        abort(403)
    except IllegalTransition as error:
        return _refused(placement_id, week_start, error)
    except FieldErrors as error:
        db.session.rollback()
        typed = {service.field_name(day, session): code for (day, session), code in codes.items()}
        # Marked otherwise since the page was drawn: 409, with what was typed and the marks that stand now.
        status = 409 if isinstance(error, service.StaleMarks) else 200
        return _page(_placement_or_404(placement_id), week_start, status=status, errors=error.errors, typed=typed)
    db.session.commit()
    caption = f"the week beginning {long_date(week_start)}"
    flash(
        f"Attendance saved for {caption}: {count} session{'s' if count != 1 else ''} changed."
        if count
        else f"Nothing changed in {caption}.",
        "success",
    )
    return redirect(_week_url(placement, week_start))


# ---- One cell (htmx) ------------------------------------------------------------------------------------------------


@bp.post("/<int:placement_id>/attendance/cell")
@roles(Role.OFFICER, Role.PROVIDER, Role.MANAGER)
def attendance_cell(placement_id: int):
    placement = _placement_or_404(placement_id)
    if not placements.may_record(placement, current_user):
        abort(403)
    day, session = _date(request.form.get("day")), request.form.get("session", "")
    if day is None or session not in service.SESSIONS:
        abort(400)
    name = service.field_name(day, session)
    code = request.form.get(name, request.form.get("code", ""))
    week_start = service.week_start_of(day)
    seen = request.form.get(service.seen_name(day, session))
    try:
        service.record(placement.id, current_user, day, session, code, now=clock.now(), seen=seen)
    except NotAllowed:
        abort(403)
    except DomainError as error:
        db.session.rollback()
        placement = _placement_or_404(placement_id)
        # Marked otherwise since the page was drawn: 409 (which htmx swaps), with the mark that stands now.
        status = 409 if isinstance(error, service.StaleMarks) else 200
        if not htmx:
            if isinstance(error, IllegalTransition):
                return _refused(placement_id, week_start, error)
            return _page(placement, week_start, status=status, errors={name: error.message}, typed={name: code})
        # htmx swaps only 2xx answers and 409: the error is shown in the cell, nothing was saved.
        return _cell(placement, day, session, status=status, errors={name: error.message}, typed={name: code})
    db.session.commit()
    if not htmx:
        flash(f"Attendance saved for {service.session_label(day, session)}.", "success")
        return redirect(_week_url(placement, week_start))
    return _cell(placement, day, session, saved=name)


def _cell(placement: Placement, day: date, session: str, *, status: int = 200, **extra):
    context = _context(placement, day, **extra)
    return (
        render_template(
            "placements/partials/attendance_cell.html", oob=True, cell=context["grid"].cell(day, session), **context
        ),
        status,
        VARY,
    )


# ---- A day present --------------------------------------------------------------------------------------------------


@bp.post("/<int:placement_id>/attendance/present")
@roles(Role.OFFICER, Role.PROVIDER, Role.MANAGER)
def mark_day_present(placement_id: int):
    placement = _placement_or_404(placement_id)
    if not placements.may_record(placement, current_user):
        abort(403)
    day = _date(request.form.get("day"))
    if day is None:
        abort(400)
    week_start = service.week_start_of(day)
    label = service.day_label(day)
    try:
        count = service.mark_day_present(placement.id, current_user, day, now=clock.now())
    except NotAllowed:
        abort(403)
    except IllegalTransition as error:
        if htmx:
            db.session.rollback()
            return _grid(_placement_or_404(placement_id), week_start, message=error.message)
        return _refused(placement_id, week_start, error)
    except DomainError as error:
        db.session.rollback()
        if htmx:
            return _grid(_placement_or_404(placement_id), week_start, message=error.message)
        return _page(_placement_or_404(placement_id), week_start, status=409, conflict=error.message)
    db.session.commit()
    message = (
        f"{count} session{'s' if count != 1 else ''} of {label} marked present."
        if count
        else f"Nothing to mark on {label}: every session expected that day already has a mark, or none is expected."
    )
    if htmx:
        return _grid(_placement_or_404(placement_id), week_start, message=message)
    flash(message, "success")
    return redirect(_week_url(placement, week_start))
