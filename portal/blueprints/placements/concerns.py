"""Safeguarding concerns: raised by the provider or the officer, seen only by the people who must act.

The list shows each user only the concerns they may see (portal.services.concerns.may_see); a concern someone may not
see is a 404, as is the placement for someone who may neither see it nor is its DSL.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.placements import bp
from portal.blueprints.placements.reviews import show_errors
from portal.extensions import db
from portal.forms import whole_number
from portal.models import Concern, ConcernStatus, Placement, Role, User
from portal.pagination import govuk_pagination
from portal.services import concerns, placements, safeguarding
from portal.services.concerns import SUMMARY_MAX, TEXT_MAX
from portal.services.errors import Conflict, DomainError, IllegalTransition, NotAllowed, NotFound
from portal.web import client_ip

ALL = (Role.OFFICER, Role.PROVIDER, Role.MANAGER)


class ConcernForm(FlaskForm):
    summary = StringField(
        "Summary",
        widget=GovTextInput(),
        description="A few words, for example: unexplained bruise on the left arm.",
        validators=[Length(max=SUMMARY_MAX, message=f"The summary must be {SUMMARY_MAX} characters or fewer")],
    )
    details = TextAreaField(
        "What happened",
        widget=GovTextArea(),
        description="What you saw or were told, when and by whom, in the words used where you can.",
        validators=[Length(max=TEXT_MAX, message=f"The details must be {TEXT_MAX} characters or fewer")],
    )
    action_taken = TextAreaField(
        "Action taken so far (optional)",
        widget=GovTextArea(),
        description="For example, who you have already told (the police, children's social care).",
        validators=[Length(max=TEXT_MAX, message=f"The action taken must be {TEXT_MAX} characters or fewer")],
    )
    submit = SubmitField("Raise the concern", widget=GovSubmitInput())


class CloseForm(FlaskForm):
    outcome = TextAreaField(
        "Outcome",
        widget=GovTextArea(),
        description="What was done and why the concern can be closed.",
        validators=[Length(max=TEXT_MAX, message=f"The outcome must be {TEXT_MAX} characters or fewer")],
    )
    submit = SubmitField("Close the concern", widget=GovSubmitInput())


def _placement_or_404(placement_id: int) -> Placement:
    try:
        return concerns.placement_for_concerns(placement_id, current_user)
    except NotFound:
        abort(404)


def _concern_or_404(placement: Placement, concern_id: int) -> Concern:
    try:
        return concerns.get_concern(placement, concern_id, current_user)
    except NotFound:
        abort(404)


@bp.get("/<int:placement_id>/concerns", endpoint="concerns")
@roles(*ALL)
def concerns_list(placement_id: int):
    placement = _placement_or_404(placement_id)
    page = concerns.visible_page(placement, current_user, max(1, whole_number(request.args.get("page")) or 1))
    return render_template(
        "placements/concerns.html",
        placement=placement,
        reference=placements.reference(placement),
        page=page,
        may_raise=concerns.may_raise(placement, current_user),
        pagination=govuk_pagination(
            page.page,
            page.pages,
            lambda n: url_for("placements.concerns", placement_id=placement.id, page=n),
            "Pages of concerns",
        ),
    )


@bp.route("/<int:placement_id>/concerns/new", methods=["GET", "POST"])
@roles(Role.OFFICER, Role.PROVIDER)
@submissions.single_submit("concern")
def new_concern(placement_id: int):
    placement = _placement_or_404(placement_id)
    if not concerns.may_raise(placement, current_user):
        abort(403)
    form = ConcernForm()
    if form.validate_on_submit():
        try:
            claimed = submissions.claim(submissions.sent_token(), current_user, "concern")
            concern = concerns.raise_concern(
                placement_id,
                current_user,
                summary=form.summary.data,
                details=form.details.data,
                action_taken=form.action_taken.data,
                now=clock.now(),
                ip=client_ip(),
            )
            submissions.made(claimed, url_for("placements.concern", placement_id=placement_id, concern_id=concern.id))
        except (NotAllowed, NotFound):
            abort(403)
        except DomainError as error:
            show_errors(form, error, "details")
        else:
            db.session.commit()
            flash(
                "Your concern has been raised and sent to the officer and the Designated Safeguarding Lead. If a child "
                "is in immediate danger, call 999.",
                "success",
            )
            return redirect(url_for("placements.concern", placement_id=placement_id, concern_id=concern.id))
    return render_template(
        "placements/concern_form.html",
        placement=placement,
        reference=placements.reference(placement),
        contact=safeguarding.placement_contact(placement),
        form=form,
    )


def _concern_page(placement: Placement, concern: Concern, form: CloseForm | None = None, *, blocked=None, status=200):
    may_close = concerns.may_close(concern, placement, current_user) and concern.status is ConcernStatus.OPEN
    return (
        render_template(
            "placements/concern.html",
            placement=placement,
            reference=placements.reference(placement),
            concern=concern,
            closed_by=db.session.get(User, concern.closed_by_id) if concern.closed_by_id else None,
            form=(form or CloseForm()) if may_close else None,
            blocked=blocked,
        ),
        status,
    )


@bp.get("/<int:placement_id>/concerns/<int:concern_id>")
@roles(*ALL)
def concern(placement_id: int, concern_id: int):
    placement = _placement_or_404(placement_id)
    return _concern_page(placement, _concern_or_404(placement, concern_id))


@bp.post("/<int:placement_id>/concerns/<int:concern_id>/close")
@roles(*ALL)
def close_concern(placement_id: int, concern_id: int):
    placement = _placement_or_404(placement_id)
    found = _concern_or_404(placement, concern_id)
    if not concerns.may_close(found, placement, current_user):
        abort(403)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            concerns.close_concern(
                placement_id, concern_id, current_user, outcome=form.outcome.data, now=clock.now(), ip=client_ip()
            )
        except NotAllowed:
            abort(403)
        except (IllegalTransition, Conflict) as error:
            db.session.rollback()
            placement = _placement_or_404(placement_id)
            return _concern_page(placement, _concern_or_404(placement, concern_id), blocked=error.message, status=409)
        except DomainError as error:
            show_errors(form, error, "outcome")
        else:
            db.session.commit()
            flash("The concern is closed.", "success")
            return redirect(url_for("placements.concern", placement_id=placement_id, concern_id=concern_id))
    return _concern_page(placement, found, form)
