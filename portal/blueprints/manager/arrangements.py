"""The manager's arrangement page (regime, term, days to the legal end, the warnings) and setting up its successor.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py). The rules are in
portal/services/arrangements.py.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import Field, HiddenField, RadioField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.manager import bp
from portal.clock import london_today
from portal.extensions import db
from portal.forms import GovDateField, whole_number
from portal.models import Regime, Role
from portal.services import arrangements
from portal.services.arrangements import NAME_MAX, SUCCESSOR_REGIMES, SuccessorDetails
from portal.services.errors import Conflict, DomainError, FieldErrors
from portal.web import client_ip

REGIME_LABELS = {
    Regime.PCR2015_DPS: "Dynamic purchasing system (Public Contracts Regulations 2015)",
    Regime.PA2023_DYNAMIC_MARKET: "Dynamic market (Procurement Act 2023)",
    Regime.PA2023_OPEN_FRAMEWORK: "Open framework (Procurement Act 2023)",
}


class SuccessorForm(FlaskForm):
    name = StringField(
        "Name",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the name of the successor arrangement"),
            Length(max=NAME_MAX, message=f"The name must be {NAME_MAX} characters or fewer"),
        ],
    )
    regime = RadioField(
        "Regime",
        widget=GovRadioInput(),
        choices=[SelectChoice(regime.value, REGIME_LABELS[regime]) for regime in SUCCESSOR_REGIMES],
        validate_choice=False,  # the service checks it, with its own message
        validators=[InputRequired(message="Select a Procurement Act 2023 dynamic market or open framework")],
    )
    start_date = GovDateField(
        "Start date", description="After today, for example 1 9 2028.", required_message="Enter the start date"
    )
    end_date = GovDateField(
        "End date", description="After the start date, for example 31 8 2032.", required_message="Enter the end date"
    )
    predecessor = HiddenField()  # the arrangement being succeeded when the page was drawn
    submit = SubmitField("Set up the successor", widget=GovSubmitInput())


def _show_errors(form: FlaskForm, error: DomainError) -> None:
    errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in errors.items():
        field: Field = form[name if name and name in form._fields else "name"]
        if not field.errors:
            field.errors = [*field.errors, message]


@bp.get("/arrangement", endpoint="arrangement")
@roles(Role.MANAGER)
def arrangement_page():
    today = london_today(clock.now())
    view = arrangements.overview(today)
    return render_template("manager/arrangement.html", view=view, today=today, regime_labels=REGIME_LABELS)


@bp.route("/arrangement/successor/new", methods=["GET", "POST"], endpoint="new_successor")
@roles(Role.MANAGER)
@submissions.single_submit("successor arrangement")
def new_successor():
    today = london_today(clock.now())
    current = arrangements.current_arrangement(today)
    if current is None:
        abort(404)
    form = SuccessorForm()
    status = 200
    conflict = None
    if not form.is_submitted():
        form.predecessor.data = str(current.id)
    elif form.validate():
        try:
            if whole_number(form.predecessor.data) != current.id:
                raise Conflict(
                    "The current arrangement changed while you had this page open. Nothing you sent was saved: "
                    "check the arrangement page, then set up the successor again."
                )
            claimed = submissions.claim(submissions.sent_token(), current_user, "successor arrangement")
            submissions.made(claimed, url_for("manager.arrangement"))
            successor = arrangements.set_up_successor(
                current.id,
                SuccessorDetails(
                    name=form.name.data,
                    regime=form.regime.data,
                    start_date=form.start_date.data,
                    end_date=form.end_date.data,
                ),
                current_user,
                now=clock.now(),
                ip=client_ip(),
            )
        except Conflict as error:
            db.session.rollback()
            conflict, status = error.message, 409
            form.predecessor.data = str(current.id)
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(
                f"{successor.name} is set up. Its lots and admitted providers are carried over: each provider must "
                "re-confirm before it can be invited to call-offs in it.",
                "success",
            )
            return redirect(url_for("manager.arrangement"))
    return (
        render_template(
            "manager/successor_form.html",
            form=form,
            current=current,
            conflict=conflict,
            successor=arrangements.successor_of(current),
        ),
        status,
    )
