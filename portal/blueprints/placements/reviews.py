"""Progress reports (the provider) and reviews (the officer) against the placement's aims.

Anyone who may see the placement reads its schedule, reports and reviews. Only the provider's users submit a report
(one per review); only officers of the commissioning service record a review. An ended placement, a second report for
the same review or a stale review form is a 409 page saying why, with nothing saved.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea
from wtforms import HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.placements import bp
from portal.extensions import db
from portal.formatting import long_date
from portal.forms import GovDateField, whole_number
from portal.models import Placement, PlacementStatus, ProgressRating, Readiness, Role
from portal.pagination import govuk_pagination
from portal.services import placements, review_schedule, reviews
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.reviews import TEXT_MAX, field_name
from portal.web import client_ip

RATING_CHOICES = [SelectChoice(rating.value, rating.value.capitalize()) for rating in ProgressRating]
READINESS_CHOICES = [SelectChoice(readiness.value, readiness.value.capitalize()) for readiness in Readiness]


def _length(what: str) -> Length:
    return Length(max=TEXT_MAX, message=f"{what} must be {TEXT_MAX} characters or fewer")


def show_errors(form: FlaskForm, error: DomainError, default_field: str) -> None:
    """Put a service's message(s) next to the field(s) they name (or the default one)."""
    errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in errors.items():
        field = form[name if name and name in form._fields else default_field]
        field.errors = [*field.errors, message]


def _placement_or_404(placement_id: int) -> Placement:
    try:
        return placements.get_placement(placement_id, current_user)
    except NotFound:
        abort(404)


def _page_number(name: str) -> int:
    return max(1, whole_number(request.args.get(name)) or 1)


# ---- Forms ---------------------------------------------------------------------------------------------------------


def report_form(placement: Placement, formdata=None) -> FlaskForm:
    """A rating and evidence for each of the referral's aims, and the child's own view."""

    class Form(FlaskForm):
        submit = SubmitField("Submit the report", widget=GovSubmitInput())

    for aim in placement.referral.aims:
        setattr(
            Form,
            field_name("rating", aim.id),
            RadioField(
                f"Progress towards aim {aim.position}",
                widget=GovRadioInput(),
                choices=RATING_CHOICES,
                validate_choice=False,
            ),
        )
        setattr(
            Form,
            field_name("evidence", aim.id),
            TextAreaField(
                f"Evidence for aim {aim.position}",
                widget=GovTextArea(),
                description="What the child did, with dates and figures where you have them.",
                validators=[_length("The evidence")],
            ),
        )
    # Made after the aims' fields, so the error summary lists the fields in the page's order.
    Form.child_view = TextAreaField(
        "The child's own view",
        widget=GovTextArea(),
        description="In the child's words where you can: how they think it is going, and what would help.",
        validators=[_length("The child's view")],
    )
    return Form() if formdata is None else Form(formdata=formdata)


def review_form(placement: Placement, today, formdata=None) -> FlaskForm:
    class Form(FlaskForm):
        version = HiddenField()
        held_on = GovDateField(
            "Date the review was held",
            description="For example, 27 3 2027.",
            required_message="Enter the date the review was held",
        )
        submit = SubmitField("Record the review", widget=GovSubmitInput())

    for aim in placement.referral.aims:
        setattr(
            Form,
            field_name("rating", aim.id),
            RadioField(
                f"Progress towards aim {aim.position}",
                widget=GovRadioInput(),
                choices=RATING_CHOICES,
                validate_choice=False,
            ),
        )
        setattr(
            Form,
            field_name("note", aim.id),
            TextAreaField(
                f"Note on aim {aim.position} (optional)",
                widget=GovTextArea(),
                validators=[_length("The note")],
            ),
        )
    # Made after the aims' fields, so the error summary lists the fields in the page's order.
    Form.next_steps = TextAreaField(
        "Next steps",
        widget=GovTextArea(),
        description="What the provider, the school, the family and the council will do before the next review.",
        validators=[_length("The next steps")],
    )
    Form.readiness = RadioField(
        "How ready is the child to return to school?",
        widget=GovRadioInput(),
        choices=READINESS_CHOICES,
        validate_choice=False,
    )
    Form.next_review_on = GovDateField(
        "Date of the next review",
        description="Reviews are at least every half term: within 7 weeks of this one.",
        required_message="Enter the date of the next review",
    )
    if formdata is not None:
        return Form(formdata=formdata)
    form = Form(held_on=today, next_review_on=review_schedule.default_next_review(today))
    form.version.data = str(placement.version)
    return form


# ---- The schedule and the lists ------------------------------------------------------------------------------------


@bp.get("/<int:placement_id>/reviews", endpoint="reviews")
@roles(Role.OFFICER, Role.PROVIDER, Role.MANAGER)
def reviews_list(placement_id: int):
    placement = _placement_or_404(placement_id)
    today = clock.london_today(clock.now())
    reports = reviews.reports_page(placement, _page_number("reports_page"))
    recorded = reviews.reviews_page(placement, _page_number("reviews_page"))
    return render_template(
        "placements/reviews.html",
        placement=placement,
        reference=placements.reference(placement),
        status=reviews.status(placement, today),
        active=placement.status is PlacementStatus.ACTIVE,
        may_report=placements.may_record(placement, current_user),
        may_review=placements.may_manage(placement, current_user),
        reports=reports,
        recorded=recorded,
        reports_pagination=govuk_pagination(
            reports.page,
            reports.pages,
            lambda n: url_for("placements.reviews", placement_id=placement.id, reports_page=n, _anchor="reports"),
            "Pages of reports",
        ),
        reviews_pagination=govuk_pagination(
            recorded.page,
            recorded.pages,
            lambda n: url_for("placements.reviews", placement_id=placement.id, reviews_page=n, _anchor="reviews"),
            "Pages of reviews",
        ),
    )


# ---- A progress report (the provider) ------------------------------------------------------------------------------


def _report_form_page(placement: Placement, form: FlaskForm | None, *, blocked: str | None = None, status: int = 200):
    existing = reviews.report_for(placement.id, placement.next_review_due)
    if blocked is None:
        if placement.status is not PlacementStatus.ACTIVE:
            blocked = "This placement has ended: no more progress reports can be submitted."
        elif existing is not None:
            blocked = (
                "A progress report for the review due on "
                f"{long_date(placement.next_review_due)} has already been submitted. There "
                "is one report for each review."
            )
    return (
        render_template(
            "placements/report_form.html",
            placement=placement,
            reference=placements.reference(placement),
            aims=placement.referral.aims,
            form=None if blocked else form,
            blocked=blocked,
            existing=existing,
            report_due_on=review_schedule.report_due_on(placement.next_review_due),
            field_name=field_name,
        ),
        409 if blocked else status,
    )


@bp.route("/<int:placement_id>/reports/new", methods=["GET", "POST"])
@roles(Role.PROVIDER)
@submissions.single_submit("progress report")
def new_report(placement_id: int):
    placement = _placement_or_404(placement_id)
    if not placements.may_record(placement, current_user):
        abort(403)
    form = report_form(placement, request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate_on_submit():
        aims = placement.referral.aims
        ratings = {
            aim.id: (form[field_name("rating", aim.id)].data, form[field_name("evidence", aim.id)].data) for aim in aims
        }
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "progress report")
            report = reviews.submit_report(
                placement_id, current_user, ratings, form.child_view.data, now=clock.now(), ip=client_ip()
            )
            submissions.made(claimed, url_for("placements.report", placement_id=placement_id, report_id=report.id))
        except NotAllowed:
            abort(403)
        except (IllegalTransition, Conflict) as error:
            db.session.rollback()
            return _report_form_page(_placement_or_404(placement_id), None, blocked=error.message)
        except DomainError as error:
            show_errors(form, error, "child_view")
        else:
            db.session.commit()
            flash(
                f"Progress report submitted for placement {placements.reference(placement)}. The officer has been "
                "told.",
                "success",
            )
            return redirect(url_for("placements.report", placement_id=placement_id, report_id=report.id))
    return _report_form_page(placement, form)


@bp.get("/<int:placement_id>/reports/<int:report_id>")
@roles(Role.OFFICER, Role.PROVIDER, Role.MANAGER)
def report(placement_id: int, report_id: int):
    placement = _placement_or_404(placement_id)
    try:
        found = reviews.get_report(placement, report_id)
    except NotFound:
        abort(404)
    return render_template(
        "placements/report.html",
        placement=placement,
        reference=placements.reference(placement),
        report=found,
        aims=placement.referral.aims,
        rated={row.aim_id: row for row in found.aims},
    )


# ---- A review (the officer) ----------------------------------------------------------------------------------------


def _review_form_page(
    placement: Placement,
    form: FlaskForm | None,
    *,
    blocked: str | None = None,
    conflict: str | None = None,
    status: int = 200,
):
    if blocked is None and placement.status is not PlacementStatus.ACTIVE:
        blocked = "This placement has ended: no more reviews can be recorded."
    report_found = reviews.report_for(placement.id, placement.next_review_due)
    return (
        render_template(
            "placements/review_form.html",
            placement=placement,
            reference=placements.reference(placement),
            aims=placement.referral.aims,
            form=None if blocked else form,
            blocked=blocked,
            conflict=conflict,
            report=report_found,
            rated={row.aim_id: row for row in report_found.aims} if report_found else {},
            field_name=field_name,
        ),
        409 if blocked or conflict else status,
    )


@bp.route("/<int:placement_id>/reviews/new", methods=["GET", "POST"])
@roles(Role.OFFICER)
@submissions.single_submit("review")
def new_review(placement_id: int):
    placement = _placement_or_404(placement_id)
    if not placements.may_manage(placement, current_user):
        abort(403)
    now = clock.now()
    form = review_form(placement, clock.london_today(now), request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate_on_submit():
        ratings = {
            aim.id: (form[field_name("rating", aim.id)].data, form[field_name("note", aim.id)].data)
            for aim in placement.referral.aims
        }
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "review")
            reviews.record_review(
                placement_id,
                current_user,
                held_on=form.held_on.data,
                ratings=ratings,
                next_steps=form.next_steps.data,
                readiness=form.readiness.data,
                next_review_on=form.next_review_on.data,
                version=whole_number(form.version.data),
                now=now,
                ip=client_ip(),
            )
            submissions.made(claimed, url_for("placements.reviews", placement_id=placement_id))
        except NotAllowed:
            abort(403)
        except Conflict as error:
            db.session.rollback()
            placement = _placement_or_404(placement_id)
            # What was typed stays; the version becomes the placement's as it is now, so a second save goes through.
            form.version.data = str(placement.version)
            return _review_form_page(placement, form, conflict=error.message)
        except IllegalTransition as error:
            db.session.rollback()
            return _review_form_page(_placement_or_404(placement_id), None, blocked=error.message)
        except DomainError as error:
            show_errors(form, error, "next_steps")
        else:
            db.session.commit()
            flash(
                f"Review recorded for placement {placements.reference(placement)}. The next review is on "
                f"{long_date(placement.next_review_due)}; the provider has been told.",
                "success",
            )
            return redirect(url_for("placements.reviews", placement_id=placement_id))
    return _review_form_page(placement, form)
