"""The manager's side of the call-off: one referral (read only) and the requests to commission off the DPS.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock
from portal.access import roles
from portal.blueprints.manager import bp
from portal.blueprints.officer.calloff import referral_page
from portal.extensions import db
from portal.models import OffDpsStatus, Role
from portal.pagination import govuk_pagination
from portal.services import evaluation, referrals
from portal.services.errors import Conflict, DomainError, IllegalTransition, NotAllowed, NotFound
from portal.services.evaluation import REASON_MAX, QueueTab
from portal.web import client_ip

APPROVE = "approve"
REFUSE = "refuse"


class DecisionForm(FlaskForm):
    decision = RadioField(
        "Your decision",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(APPROVE, "Approve: the provision is commissioned off the DPS"),
            SelectChoice(REFUSE, "Refuse: the referral stays on the DPS"),
        ],
        validate_choice=False,
    )
    note = TextAreaField(
        "Note",
        widget=GovTextArea(),
        description="Needed to refuse: the officer is told it with your decision. It is kept in the audit trail.",
        validators=[Length(max=REASON_MAX, message=f"The note must be {REASON_MAX} characters or fewer")],
    )
    submit = SubmitField("Record decision", widget=GovSubmitInput())


@bp.get("/referrals/<int:referral_id>")
@roles(Role.MANAGER)
def referral(referral_id: int):
    try:
        found = referrals.get_referral(referral_id)
    except NotFound:
        abort(404)
    return referral_page(found, manager=True)


@bp.get("/off-dps")
@roles(Role.MANAGER)
def off_dps_requests():
    try:
        tab = QueueTab(request.args.get("show", QueueTab.PENDING.value))
    except ValueError:
        tab = QueueTab.PENDING
    page = max(1, request.args.get("page", 1, type=int))
    result = evaluation.off_dps_queue(tab, page=page)
    extra = {"show": tab.value} if tab is QueueTab.DECIDED else {}
    return render_template(
        "manager/off_dps_requests.html",
        tab=tab,
        tabs=QueueTab,
        result=result,
        reference=referrals.reference,
        pagination=govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.off_dps_requests", **extra, page=number),
            label="Pages of requests",
        ),
    )


def _request_or_404(request_id: int):
    try:
        return evaluation.get_request(request_id)
    except NotFound:
        abort(404)


def _decision_page(found, form: DecisionForm, *, error: str | None = None, status: int = 200):
    referral = found.referral
    return (
        render_template(
            "manager/off_dps_decide.html",
            item=found,
            referral=referral,
            reference=referrals.reference(referral),
            stage=referrals.stage_of(referral, clock.now()),
            form=form,
            error=error,
            pending=found.status is OffDpsStatus.PENDING,
        ),
        status,
    )


@bp.route("/off-dps/<int:request_id>", methods=["GET", "POST"])
@roles(Role.MANAGER)
def decide_off_dps(request_id: int):
    found = _request_or_404(request_id)
    form = DecisionForm()
    if form.validate_on_submit():
        approve = {APPROVE: True, REFUSE: False}.get(form.decision.data)
        try:
            decided = evaluation.decide_off_dps(
                request_id, current_user, approve=approve, note=form.note.data or "", now=clock.now(), ip=client_ip()
            )
        except NotAllowed:
            abort(403)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _decision_page(_request_or_404(request_id), form, error=error.message, status=409)
        except DomainError as error:
            field = form[error.field] if error.field in form._fields else form.decision
            field.errors = [*field.errors, error.message]
        else:
            db.session.commit()
            reference = referrals.reference(decided.referral)
            if approve:
                message = (
                    f"Approved: referral {reference} is commissioned off the DPS. The officer and the invited "
                    "providers have been told."
                )
            else:
                message = f"Refused: referral {reference} stays on the DPS. The officer has been told."
            flash(message, "success")
            return redirect(url_for("manager.off_dps_requests"))
    return _decision_page(found, form)
