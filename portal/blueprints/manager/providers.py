"""The manager's providers: the list, a provider's page (profile, admissions, suspensions, standing per lot), and
suspending, lifting a suspension and removing a provider from a lot, each a form page of its own.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from portal import submissions
from portal.access import roles
from portal.blueprints.manager import bp
from portal.blueprints.manager.applications import page_number, show_error, today
from portal.extensions import htmx
from portal.formatting import long_date
from portal.forms import GovDateField
from portal.models import Provider, Role
from portal.pagination import govuk_pagination
from portal.services import suspensions
from portal.services.errors import DomainError, NotFound
from portal.services.suspensions import REASON_MAX
from portal.web import client_ip

RESULTS_ID = "provider-results"
ALL_LOTS = "all"


class SuspendForm(FlaskForm):
    scope = RadioField("Suspend them from", widget=GovRadioInput(), validate_choice=False)
    reason = TextAreaField(
        "Reason",
        widget=GovTextArea(),
        description="Sent to the provider's users with the dates, and kept in the audit trail.",
        validators=[
            InputRequired(message="Enter the reason for the suspension"),
            Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer"),
        ],
    )
    starts_on = GovDateField(
        "Start date",
        description="The first day with no new invitations. Today or later, for example 27 3 2026.",
        required_message="Enter the date the suspension starts",
    )
    ends_on = GovDateField(
        "End date (optional)",
        description="The last day of the suspension. Leave it empty to suspend until you lift the suspension.",
    )
    submit = SubmitField("Suspend provider", widget=GovSubmitInput())

    def __init__(self, *args, lots, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope.choices = [SelectChoice(ALL_LOTS, "All lots")] + [
            SelectChoice(str(lot.id), lot.label) for lot in lots
        ]

    def validate_scope(self, field) -> None:
        if not field.data:
            raise ValidationError("Select all lots or the lot to suspend them from")
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError("Select all lots or one of the provider's lots")

    def validate_ends_on(self, field) -> None:
        if field.data and self.starts_on.data and field.data < self.starts_on.data:
            raise ValidationError("End date must be the same as or after the start date")


class LiftForm(FlaskForm):
    reason = TextAreaField(
        "Why are you lifting the suspension?",
        widget=GovTextArea(),
        description="Sent to the provider's users and kept in the audit trail.",
        validators=[
            InputRequired(message="Enter the reason for lifting the suspension"),
            Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer"),
        ],
    )
    submit = SubmitField("Lift suspension", widget=GovSubmitInput())


class RemoveForm(FlaskForm):
    reason = TextAreaField(
        "Why are you removing them from the lot?",
        widget=GovTextArea(),
        description="Sent to the provider's users and kept in the audit trail.",
        validators=[
            InputRequired(message="Enter the reason for removing the provider from the lot"),
            Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer"),
        ],
    )
    submit = SubmitField("Remove from lot", widget=GovSubmitInput())


def _provider_or_404(provider_id: int):
    try:
        return suspensions.get_provider(provider_id)
    except NotFound:
        abort(404)


def _with_reason(form: FlaskForm, provider: Provider, action: Callable[..., object], target_id: int, success: str):
    """Lift a suspension or remove an admission (``action``, the service; both take the same arguments) with the
    reason typed in ``form``. Back to the provider's page with ``success``, or with the service's message when there
    is nothing to do (lifted or removed already); None, with the message by the reason, to show the form again."""
    try:
        action(provider.id, target_id, current_user, reason=form.reason.data, today=today(), ip=client_ip())
    except DomainError as error:
        if error.field:
            show_error(form, error, "reason")
            return None
        flash(error.message, "info")
    else:
        flash(success, "success")
    return redirect(url_for("manager.provider_detail", provider_id=provider.id))


# ---- Reading -------------------------------------------------------------------------------------------------------


@bp.get("/providers", endpoint="providers")
@roles(Role.MANAGER)
def provider_list():
    result = suspensions.providers_page(today=today(), page=page_number())
    context = {
        "result": result,
        "results_id": RESULTS_ID,
        "pagination": govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.providers", page=number),
            label="Pages of providers",
        ),
    }
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        response = render_template("manager/partials/provider_results.html", **context)
    else:
        response = render_template("manager/providers.html", **context)
    return response, {"Vary": "HX-Request, HX-Target"}


@bp.get("/providers/<int:provider_id>")
@roles(Role.MANAGER)
def provider_detail(provider_id: int):
    provider = _provider_or_404(provider_id)
    return render_template(
        "manager/provider.html", view=suspensions.overview(provider, today()), provider=provider, today=today()
    )


# ---- Suspending, lifting, removing ---------------------------------------------------------------------------------


@bp.route("/providers/<int:provider_id>/suspend", methods=["GET", "POST"])
@roles(Role.MANAGER)
@submissions.single_submit("suspension")
def suspend_provider(provider_id: int):
    provider = _provider_or_404(provider_id)
    lots = suspensions.suspension_lots(provider, today())
    form = SuspendForm(lots=lots)
    if form.validate_on_submit():
        try:
            # Where it leads is known before: the service commits the claim with the suspension.
            claimed = submissions.claim(submissions.sent_token(), current_user, "suspension")
            submissions.made(claimed, url_for("manager.provider_detail", provider_id=provider.id))
            suspension = suspensions.suspend(
                provider.id,
                current_user,
                lot_id=None if form.scope.data == ALL_LOTS else int(form.scope.data),
                reason=form.reason.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                today=today(),
                ip=client_ip(),
            )
        except DomainError as error:
            show_error(form, error, "scope")
        else:
            ends = f" to {long_date(suspension.ends_on)}" if suspension.ends_on else " until you lift it"
            flash(
                f"{provider.name} is suspended from {suspension.lot.label if suspension.lot else 'all lots'} "
                f"from {long_date(suspension.starts_on)}{ends}. Their users have been told by email.",
                "success",
            )
            return redirect(url_for("manager.provider_detail", provider_id=provider.id))
    return render_template("manager/suspend_provider.html", form=form, provider=provider, lots=lots)


@bp.route("/providers/<int:provider_id>/suspensions/<int:suspension_id>/lift", methods=["GET", "POST"])
@roles(Role.MANAGER)
def lift_suspension(provider_id: int, suspension_id: int):
    provider = _provider_or_404(provider_id)
    try:
        suspension = suspensions.get_suspension(provider, suspension_id)
    except NotFound:
        abort(404)
    state = suspensions.state_of(suspension, today())
    form = LiftForm()
    if form.validate_on_submit():
        done = _with_reason(
            form,
            provider,
            suspensions.lift,
            suspension.id,
            f"The suspension of {provider.name} is lifted. Their users have been told by email.",
        )
        if done is not None:
            return done
    return render_template(
        "manager/lift_suspension.html", form=form, provider=provider, suspension=suspension, state=state
    )


@bp.route("/providers/<int:provider_id>/admissions/<int:admission_id>/remove", methods=["GET", "POST"])
@roles(Role.MANAGER)
def remove_from_lot(provider_id: int, admission_id: int):
    provider = _provider_or_404(provider_id)
    try:
        admission = suspensions.get_admission(provider, admission_id)
    except NotFound:
        abort(404)
    form = RemoveForm()
    if form.validate_on_submit():
        done = _with_reason(
            form,
            provider,
            suspensions.remove_from_lot,
            admission.id,
            f"{provider.name} is removed from {admission.lot.label}. Their users have been told by email.",
        )
        if done is not None:
            return done
    return render_template("manager/remove_from_lot.html", form=form, provider=provider, admission=admission)
