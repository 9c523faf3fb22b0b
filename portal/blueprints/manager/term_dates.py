"""The term dates of an academic year: the manager sets the six half terms, which move reviews out of the holidays."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput
from wtforms import HiddenField, SubmitField

from portal import clock
from portal.access import roles
from portal.blueprints.manager import bp
from portal.extensions import db
from portal.forms import GovDateField
from portal.models import Role
from portal.services import term_dates as calendar
from portal.services.errors import Conflict, DomainError, FieldErrors
from portal.web import client_ip


class TermDatesForm(FlaskForm):
    year = HiddenField()
    seen = HiddenField()
    submit = SubmitField("Save the term dates", widget=GovSubmitInput())


for _position, _name in zip(calendar.POSITIONS, calendar.HALF_TERM_NAMES, strict=True):
    setattr(
        TermDatesForm,
        calendar.start_field(_position),
        GovDateField(f"{_name} starts", required_message=f"Enter the date {_name} starts"),
    )
    setattr(
        TermDatesForm,
        calendar.end_field(_position),
        GovDateField(f"{_name} ends", required_message=f"Enter the date {_name} ends"),
    )


def _show_errors(form: FlaskForm, error: DomainError) -> None:
    errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in errors.items():
        field = form[name if name and name in form._fields else calendar.start_field(1)]
        field.errors = [*field.errors, message]


def _page(form: TermDatesForm, year: str, choices: list[str], rows, *, conflict: str | None = None, status: int = 200):
    return (
        render_template(
            "manager/term_dates.html",
            form=form,
            year=year,
            choices=choices,
            rows=rows,
            conflict=conflict,
            half_terms=list(zip(calendar.POSITIONS, calendar.HALF_TERM_NAMES, strict=True)),
            start_field=calendar.start_field,
            end_field=calendar.end_field,
        ),
        status,
    )


@bp.route("/term-dates", methods=["GET", "POST"])
@roles(Role.MANAGER)
def term_dates():
    now = clock.now()
    choices = calendar.year_choices(clock.london_today(now))
    asked = request.form.get("year") if request.method == "POST" else request.args.get("year")
    if request.method == "POST" and asked not in choices:
        abort(404)  # a year the page never offers: nothing to save it over
    year = asked if asked in choices else choices[0]
    rows = calendar.half_terms(year)
    if request.method != "POST":
        form = TermDatesForm(
            data={
                **{calendar.start_field(row.position): row.starts_on for row in rows},
                **{calendar.end_field(row.position): row.ends_on for row in rows},
            }
        )
        form.year.data = year
        form.seen.data = calendar.fingerprint(rows)
        return _page(form, year, choices, rows)
    form = TermDatesForm()
    form.year.data = year
    if form.validate_on_submit():
        dates = {
            position: calendar.Dates(form[calendar.start_field(position)].data, form[calendar.end_field(position)].data)
            for position in calendar.POSITIONS
        }
        try:
            calendar.set_term_dates(year, dates, current_user, seen=form.seen.data or "", now=now, ip=client_ip())
        except Conflict as error:
            db.session.rollback()
            rows = calendar.half_terms(year)
            # What was typed stays; the fingerprint becomes the rows' as they are now, so a second save goes through.
            form.seen.data = calendar.fingerprint(rows)
            return _page(form, year, choices, rows, conflict=error.message, status=409)
        except DomainError as error:
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"Term dates for {year} saved.", "success")
            return redirect(url_for("manager.term_dates", year=year))
    return _page(form, year, choices, rows)
