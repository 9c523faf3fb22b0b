"""Provider accountability: the sortable table of admitted providers and its CSV, a provider's performance over time,
and recording a performance meeting or a complaint.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea
from wtforms import Field, RadioField, SelectField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length

from portal import clock, csv_export, submissions
from portal.access import roles
from portal.blueprints.manager import bp
from portal.extensions import db
from portal.formatting import long_date
from portal.forms import GovDateField, whole_number
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import accountability
from portal.services.accountability import NOTES_MAX, SUMMARY_MAX, Sort
from portal.services.errors import DomainError, FieldErrors, NotAllowed, NotFound
from portal.web import client_ip

# The table's columns: (sort key, heading, numeric). The headings link to sort by them.
COLUMNS = [
    (Sort.NAME, "Provider", False),
    (Sort.ACTIVE, "Active placements", True),
    (Sort.PLACEMENTS, "Placements (12 months)", True),
    (Sort.ATTENDANCE, "Attendance", True),
    (Sort.PROGRESS, "Aims on or ahead", True),
    (Sort.SAME_DAY, "Attendance recorded same day", True),
    (Sort.REPORTS, "Reports on time", True),
    (Sort.CONCERNS, "Open concerns", True),
    (Sort.COMPLAINTS, "Complaints (upheld)", True),
    (Sort.MEETING, "Last performance meeting", False),
]
NO_PLACEMENT = ""
UPHELD_CHOICES = [
    SelectChoice("yes", "Yes, upheld"),
    SelectChoice("no", "No, not upheld"),
    SelectChoice("undecided", "Not yet decided"),
]
UPHELD_VALUES = {"yes": True, "no": False, "undecided": None}


def today() -> date:
    return clock.london_today(clock.now())


def _sorting() -> tuple[Sort, bool]:
    try:
        sort = Sort(request.args.get("sort", Sort.NAME.value))
    except ValueError:
        sort = Sort.NAME
    return sort, request.args.get("dir", "asc") == "desc"


def _provider_or_404(provider_id: int):
    try:
        return accountability.get_provider(provider_id)
    except NotFound:
        abort(404)


def _show_errors(form: FlaskForm, error: DomainError, default_field: str) -> None:
    errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in errors.items():
        field: Field = form[name if name and name in form._fields else default_field]
        if not field.errors:
            field.errors = [*field.errors, message]


# ---- The table -----------------------------------------------------------------------------------------------------


@bp.get("/accountability", endpoint="accountability")
@roles(Role.MANAGER)
def accountability_table():
    sort, descending = _sorting()
    the_day = today()
    result = accountability.table_page(
        today=the_day, sort=sort, descending=descending, page=max(1, request.args.get("page", 1, type=int))
    )
    direction = "desc" if descending else "asc"
    headers = []
    for key, heading, numeric in COLUMNS:
        current = key is sort
        # A click on the sorted column turns it round; on another, numbers start with the highest.
        next_dir = ("asc" if descending else "desc") if current else ("desc" if numeric else "asc")
        headers.append(
            {
                "text": heading,
                "href": url_for("manager.accountability", sort=key.value, dir=next_dir),
                "aria_sort": ("descending" if descending else "ascending") if current else None,
                "numeric": numeric,
            }
        )
    first, last = accountability.window(the_day)
    return render_template(
        "manager/accountability.html",
        result=result,
        headers=headers,
        first=first,
        last=last,
        csv_url=url_for("manager.accountability_csv", sort=sort.value, dir=direction),
        pagination=govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.accountability", sort=sort.value, dir=direction, page=number),
            label="Pages of providers",
        ),
    )


@bp.get("/accountability.csv", endpoint="accountability_csv")
@roles(Role.MANAGER)
def accountability_csv():
    sort, descending = _sorting()
    the_day = today()
    return csv_export.download(
        f"provider-accountability-{the_day.isoformat()}.csv",
        accountability.CSV_HEADER,
        accountability.table_rows(today=the_day, sort=sort, descending=descending),
    )


# ---- One provider --------------------------------------------------------------------------------------------------


@bp.get("/providers/<int:provider_id>/performance", endpoint="provider_performance")
@roles(Role.MANAGER)
def provider_performance(provider_id: int):
    provider = _provider_or_404(provider_id)
    return render_template(
        "manager/provider_performance.html",
        provider=provider,
        view=accountability.performance(provider, today()),
    )


# ---- Recording -----------------------------------------------------------------------------------------------------


class MeetingForm(FlaskForm):
    held_on = GovDateField(
        "Date held",
        description="Today or earlier, for example 27 3 2026.",
        required_message="Enter the date the meeting was held",
    )
    notes = TextAreaField(
        "What was discussed and agreed",
        widget=GovTextArea(),
        validators=[
            InputRequired(message="Enter what was discussed and agreed"),
            Length(max=NOTES_MAX, message=f"Notes must be {NOTES_MAX} characters or fewer"),
        ],
    )
    submit = SubmitField("Record meeting", widget=GovSubmitInput())


class ComplaintForm(FlaskForm):
    received_on = GovDateField(
        "Date received",
        description="Today or earlier, for example 27 3 2026.",
        required_message="Enter the date the complaint was received",
    )
    summary = TextAreaField(
        "Summary of the complaint",
        widget=GovTextArea(),
        description="Who complained and what about. Do not include a child's name.",
        validators=[
            InputRequired(message="Enter a summary of the complaint"),
            Length(max=SUMMARY_MAX, message=f"Summary must be {SUMMARY_MAX} characters or fewer"),
        ],
    )
    upheld = RadioField(
        "Was the complaint upheld?",
        widget=GovRadioInput(),
        choices=UPHELD_CHOICES,
        validators=[InputRequired(message="Select whether the complaint was upheld, or not yet decided")],
    )
    placement = SelectField("Placement (optional)", widget=GovSelect(), validate_choice=True)
    submit = SubmitField("Record complaint", widget=GovSubmitInput())

    def __init__(self, *args, placements, **kwargs):
        super().__init__(*args, **kwargs)
        self.placement.choices = [SelectChoice(NO_PLACEMENT, "Not about one placement")] + [
            SelectChoice(
                str(p.id),
                f"Placement {p.id}, from {long_date(p.start_date)}" + ("" if p.ended_on is None else " (ended)"),
            )
            for p in placements
        ]


@bp.route(
    "/providers/<int:provider_id>/performance-meetings/new",
    methods=["GET", "POST"],
    endpoint="new_performance_meeting",
)
@roles(Role.MANAGER)
@submissions.single_submit("performance meeting")
def new_performance_meeting(provider_id: int):
    provider = _provider_or_404(provider_id)
    form = MeetingForm()
    if form.validate_on_submit():
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "performance meeting")
            submissions.made(claimed, url_for("manager.provider_performance", provider_id=provider.id))
            accountability.record_meeting(
                provider.id,
                current_user,
                held_on=form.held_on.data,
                notes=form.notes.data,
                today=today(),
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error, "notes")
        else:
            db.session.commit()
            flash(f"The performance meeting with {provider.name} is recorded.", "success")
            return redirect(url_for("manager.provider_performance", provider_id=provider.id))
    return render_template("manager/performance_meeting_form.html", form=form, provider=provider)


@bp.route("/providers/<int:provider_id>/complaints/new", methods=["GET", "POST"], endpoint="new_complaint")
@roles(Role.MANAGER)
@submissions.single_submit("complaint")
def new_complaint(provider_id: int):
    provider = _provider_or_404(provider_id)
    form = ComplaintForm(placements=accountability.placements_of(provider))
    if form.validate_on_submit():
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "complaint")
            submissions.made(claimed, url_for("manager.provider_performance", provider_id=provider.id))
            accountability.record_complaint(
                provider.id,
                current_user,
                received_on=form.received_on.data,
                summary=form.summary.data,
                upheld=UPHELD_VALUES[form.upheld.data],
                placement_id=whole_number(form.placement.data) if form.placement.data else None,
                today=today(),
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error, "summary")
        else:
            db.session.commit()
            flash(f"The complaint about {provider.name} is recorded.", "success")
            return redirect(url_for("manager.provider_performance", provider_id=provider.id))
    return render_template("manager/complaint_form.html", form=form, provider=provider)
