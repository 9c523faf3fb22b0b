"""The manager decides applications to join the DPS: the queue with its 10-working-day clock, the assessment page,
saving an assessment and recording the decision.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovTextArea
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import conflicts
from portal.access import roles
from portal.blueprints.manager import bp
from portal.clock import london_today
from portal.extensions import db, htmx
from portal.forms import whole_number
from portal.models import Application, ApplicationStatus, LotOutcome, Role
from portal.pagination import govuk_pagination
from portal.services import decisions
from portal.services.decisions import NOTE_MAX, Conflict, IllegalTransition, LotAssessment, QueueTab
from portal.services.errors import DomainError, NotFound
from portal.web import client_ip

RESULTS_ID = "application-results"
OUTCOME_CHOICES = [
    SelectChoice(LotOutcome.PASS.value, "Pass: admit the provider to this lot"),
    SelectChoice(LotOutcome.FAIL.value, "Fail: do not admit the provider to this lot"),
    SelectChoice(LotOutcome.PENDING.value, "Not assessed yet"),
]


def today() -> date:
    """The council's calendar day (Europe/London), which the working-day clock counts in. Tests replace it."""
    return london_today()


def page_number() -> int:
    return max(1, request.args.get("page", 1, type=int))


def show_error(form: FlaskForm, error: DomainError, default_field: str) -> None:
    """Put a service's message next to the field it names (or the default one)."""
    name = error.field if error.field and error.field in form._fields else default_field
    field = form[name]
    field.errors = [*field.errors, error.message]


# ---- The queue -----------------------------------------------------------------------------------------------------


@bp.get("/applications", endpoint="applications")
@roles(Role.MANAGER)
def application_queue():
    try:
        tab = QueueTab(request.args.get("show", QueueTab.WAITING.value))
    except ValueError:
        tab = QueueTab.WAITING
    result = decisions.queue(tab, today=today(), page=page_number())
    extra = {"show": tab.value} if tab is QueueTab.DECIDED else {}
    context = {
        "tab": tab,
        "tabs": QueueTab,
        "result": result,
        "results_id": RESULTS_ID,
        "pagination": govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.applications", **extra, page=number),
            label="Pages of applications",
        ),
    }
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        response = render_template("manager/partials/application_results.html", **context)
    else:
        response = render_template("manager/applications.html", **context)
    return response, {"Vary": "HX-Request, HX-Target"}


# ---- One application -----------------------------------------------------------------------------------------------


class AssessmentForm(FlaskForm):
    """The fields every assessment has; assessment_form() adds one outcome and notes per lot and a note per answer."""

    version = HiddenField()
    rejection_reason = TextAreaField(
        "Reason for rejecting",
        widget=GovTextArea(),
        description="Needed if any lot fails. It is sent to the provider's users with the decision.",
        validators=[Length(max=NOTE_MAX, message=f"The reason must be {NOTE_MAX} characters or fewer")],
    )


_FROM_REQUEST = object()


def assessment_form(application: Application, formdata=_FROM_REQUEST) -> AssessmentForm:
    """The assessment form for this application, filled in with what is saved (or what was sent, on a POST)."""

    class Form(AssessmentForm):
        pass

    for lot in application.lots:
        label = lot.lot.label
        setattr(
            Form,
            f"outcome_{lot.lot_id}",
            RadioField(
                f"Outcome for {label}",
                widget=GovRadioInput(),
                choices=OUTCOME_CHOICES,
                default=lot.outcome.value,
            ),
        )
        setattr(
            Form,
            f"notes_{lot.lot_id}",
            TextAreaField(
                f"Notes on {label} (optional)",
                widget=GovTextArea(),
                description="The evidence you checked. If the lot fails, the provider sees these notes with the reason "
                "for rejecting.",
                default=lot.notes,
                validators=[Length(max=NOTE_MAX, message=f"Notes must be {NOTE_MAX} characters or fewer")],
            ),
        )
    for answer in application.answers:
        setattr(
            Form,
            f"note_{answer.question_id}",
            TextAreaField(
                "Your note on this answer (optional)",
                widget=GovTextArea(),
                description="For the assessment record only: the provider does not see it.",
                default=answer.assessor_note,
                validators=[Length(max=NOTE_MAX, message=f"A note must be {NOTE_MAX} characters or fewer")],
            ),
        )
    # formdata=None ignores what was sent (after a conflict, the form shows what is saved now).
    source = {} if formdata is _FROM_REQUEST else {"formdata": formdata}
    form = Form(**source, rejection_reason=application.rejection_reason)
    if not form.is_submitted() or formdata is None:
        form.version.data = str(application.version)
    return form


def _application_or_404(application_id: int) -> Application:
    try:
        return decisions.get_application(application_id)
    except NotFound:
        abort(404)


def _render(
    application: Application,
    form: AssessmentForm,
    *,
    conflict: str | None = None,
    status: int = 200,
    saved_now: list | None = None,
):
    return (
        render_template(
            "manager/application.html",
            view=decisions.assessment(application, today()),
            form=form,
            conflict=conflict,
            saved_now=saved_now,
            outcome=LotOutcome,
            today=today(),
        ),
        status,
    )


@bp.get("/applications/<int:application_id>")
@roles(Role.MANAGER)
def application_detail(application_id: int):
    application = _application_or_404(application_id)
    return _render(application, assessment_form(application))


def _sent_assessment(form: AssessmentForm, application: Application) -> tuple[dict, dict]:
    lots = {
        lot.lot_id: LotAssessment(form[f"outcome_{lot.lot_id}"].data, form[f"notes_{lot.lot_id}"].data or "")
        for lot in application.lots
    }
    notes = {answer.question_id: form[f"note_{answer.question_id}"].data or "" for answer in application.answers}
    return lots, notes


def _conflict(application_id: int, error: DomainError, sent: AssessmentForm | None = None):
    """The page again with the message at the top, and HTTP 409. While the application can still be assessed, the
    form keeps what was ``sent`` (its version moved on, so sending again goes through) and what is saved now is
    listed beside it; once decided, the page shows the decision."""
    db.session.rollback()
    application = _application_or_404(application_id)
    saved = assessment_form(application, formdata=None)
    if sent is None or application.status is not ApplicationStatus.SUBMITTED:
        return _render(application, saved, conflict=error.message, status=409)
    sent.version.data = str(application.version)
    saved_now = conflicts.saved_now(sent, {field.name: field.data for field in saved})
    return _render(application, sent, conflict=error.message, status=409, saved_now=saved_now)


@bp.post("/applications/<int:application_id>/assessment")
@roles(Role.MANAGER)
def assess_application(application_id: int):
    application = _application_or_404(application_id)
    form = assessment_form(application)
    if form.validate_on_submit():
        lots, notes = _sent_assessment(form, application)
        try:
            decisions.save_assessment(
                application_id,
                current_user,
                version=whole_number(form.version.data),
                lots=lots,
                answer_notes=notes,
                rejection_reason=form.rejection_reason.data or "",
            )
        except (Conflict, IllegalTransition) as error:
            return _conflict(application_id, error, form)
        except DomainError as error:
            show_error(form, error, "rejection_reason")
        else:
            flash("Assessment saved. You can come back to it before you decide.", "success")
            return redirect(url_for("manager.application_detail", application_id=application_id))
    return _render(_application_or_404(application_id), form)


@bp.post("/applications/<int:application_id>/decide")
@roles(Role.MANAGER)
def decide_application(application_id: int):
    application = _application_or_404(application_id)
    form = assessment_form(application)
    if form.validate_on_submit():
        lots, notes = _sent_assessment(form, application)
        try:
            decision = decisions.decide(
                application_id,
                current_user,
                version=whole_number(form.version.data),
                rejection_reason=form.rejection_reason.data or "",
                today=today(),
                lots=lots,
                answer_notes=notes,
                ip=client_ip(),
            )
        except (Conflict, IllegalTransition) as error:
            return _conflict(application_id, error, form)
        except DomainError as error:
            show_error(form, error, "rejection_reason")
        else:
            admitted = len(decision.admitted)
            rejected = len(decision.rejected)
            parts = []
            if admitted:
                parts.append(f"admitted to {admitted} lot{'s' if admitted != 1 else ''}")
            if rejected:
                parts.append(f"rejected for {rejected} lot{'s' if rejected != 1 else ''}")
            flash(
                f"Application decided: {decision.application.provider.name} {' and '.join(parts)}. "
                "Their users have been told by email.",
                "success",
            )
            return redirect(url_for("manager.application_detail", application_id=application_id))
    return _render(_application_or_404(application_id), form)
