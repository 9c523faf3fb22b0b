"""Data retention: the report of records past their period, proposing and deciding the erasure of a child's personal
data, and the subject access export of everything held about one child.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovRadioInput, GovSubmitInput, GovTextArea
from wtforms import BooleanField, RadioField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.manager import bp
from portal.downloads import content_disposition
from portal.extensions import db
from portal.models import Child, ErasureStatus, Role
from portal.pagination import govuk_pagination
from portal.services import retention
from portal.services.errors import Conflict, DomainError, IllegalTransition, NotAllowed, NotFound
from portal.web import client_ip

APPROVE = "approve"
REFUSE = "refuse"
MAX_MESSAGE = f"must be {retention.REASON_MAX} characters or fewer"


class ProposeForm(FlaskForm):
    reason = TextAreaField(
        "Why erase this child's personal data?",
        widget=GovTextArea(),
        description="For example, the retention period has passed and no review or case needs the records. Do not "
        "name the child.",
        validators=[Length(max=retention.REASON_MAX, message=f"The reason {MAX_MESSAGE}")],
    )
    submit = SubmitField("Propose erasure", widget=GovSubmitInput())


class DecisionForm(FlaskForm):
    decision = RadioField(
        "Your decision",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(APPROVE, "Approve: erase the child's personal data now"),
            SelectChoice(REFUSE, "Refuse: keep the records as they are"),
        ],
        validate_choice=False,
    )
    confirm = BooleanField(
        "I understand the child's names, date of birth, UPN, school and the notes about them will be erased and "
        "cannot be restored",
        widget=GovCheckboxInput(),
    )
    note = TextAreaField(
        "Note",
        widget=GovTextArea(),
        description="Needed to refuse. Kept with the decision and in the audit trail. Do not name the child.",
        validators=[Length(max=retention.REASON_MAX, message=f"The note {MAX_MESSAGE}")],
    )
    submit = SubmitField("Record decision", widget=GovSubmitInput())


def _field_error(form: FlaskForm, error: DomainError, default: str) -> None:
    field = form[error.field] if error.field in form._fields else form[default]
    field.errors = [*field.errors, error.message]


@bp.get("/retention", endpoint="retention")
@roles(Role.MANAGER)
def retention_report():
    page = max(1, request.args.get("page", 1, type=int))
    result = retention.report(clock.now(), page=page)
    return render_template(
        "manager/retention.html",
        result=result,
        pagination=govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.retention", page=number),
            label="Pages of children",
        ),
    )


def _child_or_404(child_id: int) -> Child:
    child = db.session.get(Child, child_id)
    if child is None:
        abort(404)
    return child


def _propose_page(child_id: int, form: ProposeForm, *, error: str | None = None, status: int = 200):
    return render_template("manager/erasure.html", mode="propose", child_id=child_id, form=form, error=error), status


@bp.route("/retention/children/<int:child_id>/erasure", methods=["GET", "POST"])
@roles(Role.MANAGER)
@submissions.single_submit("erasure request")
def propose_erasure(child_id: int):
    _child_or_404(child_id)
    form = ProposeForm()
    if form.validate_on_submit():
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "erasure request")
            made = retention.propose_erasure(
                child_id, current_user, reason=form.reason.data or "", now=clock.now(), ip=client_ip()
            )
            submissions.made(claimed, url_for("manager.erasure", request_id=made.id))
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _propose_page(child_id, form, error=error.message, status=409)
        except NotFound:
            abort(404)
        except DomainError as error:
            _field_error(form, error, "reason")
        else:
            db.session.commit()
            flash(f"Erasure proposed for child {child_id}. Another manager must approve it.", "success")
            return redirect(url_for("manager.erasure", request_id=made.id))
    return _propose_page(child_id, form)


def _decision_page(request_id: int, form: DecisionForm, *, error: str | None = None, status: int = 200):
    try:
        item = retention.get_request(request_id)
    except NotFound:
        abort(404)
    return (
        render_template(
            "manager/erasure.html",
            mode="decide",
            item=item,
            child_id=item.child_id,
            pending=item.status is ErasureStatus.PENDING,
            own=item.requested_by_id == current_user.id,
            form=form,
            error=error,
        ),
        status,
    )


@bp.route("/retention/erasures/<int:request_id>", methods=["GET", "POST"])
@roles(Role.MANAGER)
def erasure(request_id: int):
    form = DecisionForm()
    if form.validate_on_submit():
        approve = {APPROVE: True, REFUSE: False}.get(form.decision.data)
        try:
            decided = retention.decide_erasure(
                request_id,
                current_user,
                approve=approve,
                note=form.note.data or "",
                confirmed=bool(form.confirm.data),
                now=clock.now(),
                ip=client_ip(),
            )
        except NotFound:
            abort(404)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _decision_page(request_id, form, error=error.message, status=409)
        except NotAllowed as error:
            db.session.rollback()
            form.decision.errors = [*form.decision.errors, error.message]
        except DomainError as error:
            _field_error(form, error, "decision")
        else:
            db.session.commit()
            if decided.status is ErasureStatus.APPROVED:
                flash(f"Child {decided.child_id}'s personal data has been erased.", "success")
            else:
                flash(f"Erasure refused: child {decided.child_id}'s records are kept as they are.", "success")
            return redirect(url_for("manager.retention"))
    return _decision_page(request_id, form)


def _export(child_id: int, fmt: str) -> dict:
    try:
        data = retention.subject_access(child_id, current_user, ip=client_ip(), now=clock.now(), fmt=fmt)
    except NotFound:
        abort(404)
    db.session.commit()
    return data


@bp.get("/children/<int:child_id>/subject-access")
@roles(Role.MANAGER)
def subject_access(child_id: int):
    data = _export(child_id, "html")
    return render_template("manager/subject_access.html", data=data, child_id=child_id)


@bp.get("/children/<int:child_id>/subject-access.json")
@roles(Role.MANAGER)
def subject_access_json(child_id: int):
    data = _export(child_id, "json")
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={
            "Content-Disposition": content_disposition(f"subject-access-child-{child_id}.json"),
            "Cache-Control": "no-store",
        },
    )
