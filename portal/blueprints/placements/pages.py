"""The placement page, varying it (with its history) and ending it with a destination."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import HiddenField, RadioField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock
from portal.access import roles
from portal.blueprints.officer.calloff import show_error
from portal.blueprints.placements import bp
from portal.extensions import db
from portal.forms import GovDateField, whole_number
from portal.models import Destination, Placement, PlacementStatus, RateType, Role
from portal.pagination import govuk_pagination
from portal.services import (
    caseload,
    children,
    concerns,
    placement_changes,
    placements,
    referrals,
    reviews,
    safeguarding,
)
from portal.services.errors import Conflict, DomainError, IllegalTransition, NotAllowed, NotFound
from portal.services.placement_changes import REASON_MAX, SESSIONS_MAX, Variation
from portal.web import client_ip

EVERYONE = (Role.OFFICER, Role.PROVIDER, Role.MANAGER)
SESSION_CHOICES = [SelectChoice(key, placement_changes.session_name(key)) for key in placements.ALL_SESSIONS]
RATE_CHOICES = [SelectChoice(rate_type.value, rate_type.label) for rate_type in RateType]
YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]
NUMBER_MAX = 20


# ---- Forms ---------------------------------------------------------------------------------------------------------


def _cap(limit: int, what: str) -> list:
    return [Length(max=limit, message=f"{what} must be {limit:,} characters or fewer")]


class VaryForm(FlaskForm):
    version = HiddenField()
    sites = SelectMultipleField(
        "Sites the child will attend",
        widget=GovCheckboxesInput(),
        description="Select all that apply.",
        validate_choice=False,
    )
    hours_per_week = StringField(
        "Hours a week", widget=GovTextInput(), description="Up to 40.", validators=_cap(NUMBER_MAX, "The hours")
    )
    sessions = StringField(
        "Sessions",
        widget=GovTextInput(),
        description="In words, for example Monday to Friday, 9am to 12pm.",
        validators=_cap(SESSIONS_MAX, "The sessions"),
    )
    expected_sessions = SelectMultipleField(
        "Sessions the child is expected at",
        widget=GovCheckboxesInput(),
        description="Attendance is expected, and chased, for these sessions. Select all that apply.",
        choices=SESSION_CHOICES,
        validate_choice=False,
    )
    full_time = RadioField("Is the placement full time?", widget=GovRadioInput(), choices=YES_NO, validate_choice=False)
    rate_type = RadioField("How it is charged", widget=GovRadioInput(), choices=RATE_CHOICES, validate_choice=False)
    rate = StringField(
        "Rate",
        widget=GovTextInput(),
        description="In pounds and pence, for example 120.00.",
        validators=_cap(NUMBER_MAX, "The rate"),
    )
    units_per_week = StringField(
        "How many days, sessions or hours a week",
        widget=GovTextInput(),
        description="Days for a day rate, sessions for a session rate, hours for an hourly rate.",
        validators=_cap(NUMBER_MAX, "How many a week"),
    )
    total_cost = StringField(
        "Total cost of the placement",
        widget=GovTextInput(),
        description="In pounds and pence.",
        validators=_cap(NUMBER_MAX, "The total cost"),
    )
    planned_end_date = GovDateField(
        "Planned end date", description="For example, 2 4 2027.", required_message="Enter the planned end date"
    )
    reason = TextAreaField(
        "Why is the placement changing?",
        widget=GovTextArea(),
        description="Kept in the placement's history with the old and new values. The provider is told.",
        validators=_cap(REASON_MAX, "The reason"),
    )
    submit = SubmitField("Save the change", widget=GovSubmitInput())


class EndForm(FlaskForm):
    version = HiddenField()
    ended_on = GovDateField(
        "End date",
        description="The last day of the placement: today or earlier, for example 26 3 2027.",
        required_message="Enter the date the placement ended",
    )
    destination = RadioField(
        "Where did the child go next?",
        widget=GovRadioInput(),
        choices=[SelectChoice(d.value, d.value.capitalize()) for d in Destination],
        validate_choice=False,
    )
    reason = TextAreaField(
        "Why did the placement end?",
        widget=GovTextArea(),
        description="For example, the aims were met and the child returned to school. The provider is told the "
        "placement ended, not why.",
        validators=_cap(REASON_MAX, "The reason"),
    )
    submit = SubmitField("End the placement", widget=GovSubmitInput())


def vary_form(placement: Placement, formdata=None) -> VaryForm:
    form = VaryForm() if formdata is None else VaryForm(formdata=formdata)
    form.sites.choices = [
        SelectChoice(str(site.id), f"{site.name}, {site.address}, {site.postcode}") for site in placement.provider.sites
    ]
    if not form.is_submitted():
        now = Variation.of(placement)
        form.version.data = str(placement.version)
        form.sites.data = [str(i) for i in now.site_ids]
        form.hours_per_week.data = now.hours_per_week
        form.sessions.data = now.sessions
        form.expected_sessions.data = now.expected_sessions
        form.full_time.data = "yes" if now.full_time else "no"
        form.rate_type.data = now.rate_type
        form.rate.data = now.rate
        form.units_per_week.data = now.units_per_week
        form.total_cost.data = now.total_cost
        form.planned_end_date.data = now.planned_end_date
    return form


def _variation(form: VaryForm) -> Variation:
    return Variation(
        site_ids=[whole_number(value) for value in form.sites.data or []],
        hours_per_week=form.hours_per_week.data or "",
        sessions=form.sessions.data or "",
        expected_sessions=list(form.expected_sessions.data or []),
        full_time=form.full_time.data == "yes",
        rate_type=form.rate_type.data,
        rate=form.rate.data or "",
        units_per_week=form.units_per_week.data or "",
        total_cost=form.total_cost.data or "",
        planned_end_date=form.planned_end_date.data,
    )


# ---- The placement page ---------------------------------------------------------------------------------------------


def _placement_or_404(placement_id: int) -> Placement:
    try:
        return placements.get_placement(placement_id, current_user)
    except NotFound:
        abort(404)


def _referral_url(placement: Placement) -> str | None:
    if current_user.role is Role.OFFICER:
        return url_for("officer.referral", referral_id=placement.referral_id)
    if current_user.role is Role.MANAGER:
        return url_for("manager.referral", referral_id=placement.referral_id)
    return None


@bp.get("/<int:placement_id>")
@roles(*EVERYONE)
def placement(placement_id: int):
    found = _placement_or_404(placement_id)
    referral = found.referral
    child = children.read_child(referral, current_user, ip=client_ip(), purpose="viewing the placement")
    changes = placement_changes.history(found.id, page=request.args.get("page", 1, type=int))
    today = clock.london_today(clock.now())
    # The caseload's flags and four-week attendance for this one placement.
    records = caseload.flags_of(found.id, today)
    people = placement_changes.people(found.responsibility_confirmed_by_id, found.ended_by_id, found.officer_id)
    page = render_template(
        "placements/placement.html",
        placement=found,
        referral=referral,
        child=child,
        reference=placements.reference(found),
        referral_reference=referrals.reference(referral),
        referral_url=_referral_url(found),
        officer=people.get(found.officer_id),
        confirmed_by=people.get(found.responsibility_confirmed_by_id),
        ended_by=people.get(found.ended_by_id),
        responsibility=safeguarding.responsibility(found.on_roll, found.provision_role, found.commissioner),
        contact=safeguarding.placement_contact(found),
        expected=placement_changes.expected_grid(found),
        expected_words=placement_changes.sessions_in_words(found.expected_session_keys),
        changes=changes,
        labels=placement_changes.FIELD_LABELS,
        pagination=govuk_pagination(
            changes.page,
            changes.pages,
            lambda number: url_for("placements.placement", placement_id=found.id, page=number, _anchor="history"),
            "Pages of changes",
        ),
        can_change=found.status is PlacementStatus.ACTIVE and placements.may_manage(found, current_user),
        today=today,
        flags=[
            flag for flag in records.flags if flag != caseload.Flag.CONCERN or concerns.sees_all(found, current_user)
        ],
        flag_labels=caseload.FLAGS,
        attendance_rate=records.attendance_rate,
        review=reviews.status(found, today),
        may_raise_concern=concerns.may_raise(found, current_user),
    )
    # The audit event of the read is committed once the page is made (committing first would expire what the page
    # shows, and reload it row by row).
    db.session.commit()
    return page


# ---- Changing and ending (officers of the service, while it is active) -------------------------------------------------


def _managed_or_refused(placement_id: int) -> Placement:
    found = _placement_or_404(placement_id)
    try:
        placements.ensure_may_manage(found, current_user)
    except NotAllowed:
        abort(403)
    return found


def _form_page(template: str, found: Placement, form: FlaskForm, *, blocked: str | None = None, status: int = 200):
    """A form page for one action; with ``blocked``, the reason it cannot be done (or was not saved), HTTP 409."""
    if blocked is None and found.status is not PlacementStatus.ACTIVE:
        try:
            placements.ensure_active(found)
        except IllegalTransition as refused:
            blocked = refused.message
    ended = found.status is not PlacementStatus.ACTIVE
    return (
        render_template(
            template,
            placement=found,
            reference=placements.reference(found),
            form=None if ended else form,
            blocked=blocked,
            today=clock.london_today(clock.now()),
        ),
        409 if blocked else status,
    )


def _act(placement_id: int, template: str, form: FlaskForm, act, *, default_field: str):
    """What both forms share: officers of the service only (403); an ended placement or a stale page is a 409 page
    saying why, with nothing saved and (for a stale page) what was typed kept; a field's error sits by the field;
    success commits, says what happened and goes back to the placement."""
    found = _managed_or_refused(placement_id)
    if form.is_submitted() and found.status is PlacementStatus.ACTIVE:
        # The service checks too when the form has refused a field, so every problem shows at once; what it
        # would have written is then rolled back.
        form_ok = form.validate()
        try:
            done = act(whole_number(form.version.data))
        except NotAllowed:
            abort(403)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            found = _managed_or_refused(placement_id)
            # What was typed stays; the version becomes the placement's as it is now, so sending again works.
            form.version.data = str(found.version)
            return _form_page(template, found, form, blocked=error.message)
        except DomainError as error:
            db.session.rollback()
            found = _managed_or_refused(placement_id)
            show_error(form, error, default_field, beside_form_errors=True)
        else:
            if form_ok:
                db.session.commit()
                flash(done, "success")
                return redirect(url_for("placements.placement", placement_id=placement_id))
            db.session.rollback()
            found = _managed_or_refused(placement_id)
    return _form_page(template, found, form)


@bp.route("/<int:placement_id>/change", methods=["GET", "POST"])
@roles(Role.OFFICER)
def vary(placement_id: int):
    found = _managed_or_refused(placement_id)
    form = vary_form(found, formdata=request.form if request.method == "POST" else None)

    def act(version: int | None) -> str:
        made = placement_changes.vary(
            placement_id,
            current_user,
            _variation(form),
            version=version,
            reason=form.reason.data or "",
            now=clock.now(),
            ip=client_ip(),
        )
        names = ", ".join(placement_changes.FIELD_LABELS[change.field].lower() for change in made)
        return f"Placement {placements.reference(found)} changed: {names}. The provider has been told."

    return _act(placement_id, "placements/vary.html", form, act, default_field="sites")


@bp.route("/<int:placement_id>/end", methods=["GET", "POST"])
@roles(Role.OFFICER)
def end(placement_id: int):
    found = _managed_or_refused(placement_id)
    form = EndForm()
    if not form.is_submitted():
        form.version.data = str(found.version)

    def act(version: int | None) -> str:
        ended = placement_changes.end(
            placement_id,
            current_user,
            ended_on=form.ended_on.data,
            destination=form.destination.data,
            reason=form.reason.data or "",
            version=version,
            now=clock.now(),
            ip=client_ip(),
        )
        return (
            f"Placement {placements.reference(ended)} ended on {ended.ended_on.day} {ended.ended_on:%B %Y}. "
            "The provider has been told."
        )

    return _act(placement_id, "placements/end.html", form, act, default_field="reason")
