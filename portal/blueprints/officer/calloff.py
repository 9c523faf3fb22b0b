"""A published referral: the live list of invitations and offers, scoring, the award, a new round, off the DPS.

Registered on the officer blueprint (imported at the bottom of portal/blueprints/officer/__init__.py). The manager's
read-only copy of the referral page (portal/blueprints/manager/off_dps.py) renders with ``referral_page`` too.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextArea
from wtforms import Field, HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from portal import clock, submissions
from portal.access import roles
from portal.blueprints.officer import bp
from portal.extensions import db, htmx
from portal.formatting import london_datetime
from portal.forms import GovDateField, whole_number
from portal.models import Offer, OfferStatus, Referral, ReferralStatus, Role
from portal.services import children, evaluation, referrals, scoring
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.evaluation import COMMENT_MAX, RATIONALE_MAX, REASON_MAX, SCORE_LABELS, ScoreEntry, field_name
from portal.services.referrals import Action, Stage
from portal.web import client_ip, revalidated

# The live section of the referral page: htmx polls it (HX-Target is this id) while offers are coming in.
LIVE_ID = "referral-offers"
VARY = {"Vary": "HX-Request, HX-Target"}


# ---- Forms ---------------------------------------------------------------------------------------------------------


class AwardForm(FlaskForm):
    version = HiddenField()
    offer_id = RadioField(
        "Which offer do you award?",
        widget=GovRadioInput(),
        description="The offers ranked best first, with their scores.",
        validate_choice=False,
    )
    rationale = TextAreaField(
        "Rationale",
        widget=GovTextArea(),
        description="Why this offer is the best value for money: how it meets the aims, and its price. It is kept "
        "with the award and in the audit trail; providers do not see it.",
        validators=[Length(max=RATIONALE_MAX, message=f"The rationale must be {RATIONALE_MAX} characters or fewer")],
    )
    submit = SubmitField("Award", widget=GovSubmitInput())


class RepublishForm(FlaskForm):
    version = HiddenField()
    deadline = GovDateField(
        "Deadline for offers",
        description="Offers close at 5pm on this day. For example, 27 3 2027.",
        required_message="Enter the deadline for offers",
    )
    deadline_reason = TextAreaField(
        "Reason for a shorter deadline (if it is less than 10 days away)",
        widget=GovTextArea(),
        description="For example, provision is needed from the sixth day of a permanent exclusion.",
        validators=[Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer")],
    )
    submit = SubmitField("Republish", widget=GovSubmitInput())


class OffDpsForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(
        "Why should this provision be commissioned off the DPS?",
        widget=GovTextArea(),
        description="For example, no offer was made, or none can meet the child's needs. The manager reads this and "
        "it is kept in the audit trail.",
        validators=[Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer")],
    )
    submit = SubmitField("Send to the manager", widget=GovSubmitInput())


def score_form(referral: Referral, offer: Offer, formdata=None) -> FlaskForm:
    """One 0 to 5 radio group and one comment per criterion, filled in with the saved scores (or what was sent)."""

    class Form(FlaskForm):
        version = HiddenField()
        scores_seen = HiddenField()
        submit = SubmitField("Save scores", widget=GovSubmitInput())

    saved = {score.criterion: score for score in offer.scores}
    for criterion in scoring.criteria(referral):
        score = saved.get(criterion.key)
        setattr(
            Form,
            field_name("score", criterion.key),
            RadioField(
                criterion.label,
                widget=GovRadioInput(),
                description=criterion.hint,
                choices=[SelectChoice(str(n), text) for n, text in SCORE_LABELS.items()],
                default=str(score.score) if score else None,
                validate_choice=False,
            ),
        )
        setattr(
            Form,
            field_name("comment", criterion.key),
            TextAreaField(
                f"Comment on {criterion.label}",
                widget=GovTextArea(),
                description="Needed for a score of 0 or 1. If the offer is not successful, the provider sees its own "
                "scores and comments.",
                default=score.comment if score else "",
                validators=[Length(max=COMMENT_MAX, message=f"A comment must be {COMMENT_MAX} characters or fewer")],
            ),
        )
    form = Form() if formdata is None else Form(formdata=formdata)
    if not form.is_submitted():
        form.version.data = str(offer.version)
        form.scores_seen.data = evaluation.scores_fingerprint(offer)
    return form


def show_error(form: FlaskForm, error: DomainError, default_field: str, *, beside_form_errors: bool = False) -> None:
    """Put a service's message(s) next to the field(s) they name (or the default one). With ``beside_form_errors``,
    a field the form itself already refused keeps the form's message alone."""
    errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in errors.items():
        field: Field = form[name if name and name in form._fields else default_field]
        if not (beside_form_errors and field.errors):
            field.errors = [*field.errors, message]


# ---- The referral page (shared with the manager's read-only copy) --------------------------------------------------


def _referral_or_404(referral_id: int, *, with_child: bool = False) -> Referral:
    try:
        return referrals.get_referral(referral_id, with_child=with_child)
    except NotFound:
        abort(404)


def _live_section_only() -> bool:
    """Whether this request gets the live section alone (htmx, or htmx polling it), not the whole page."""
    return bool(htmx) and not htmx.history_restore_request and (request.method == "POST" or htmx.target == LIVE_ID)


def award_form(view: evaluation.LiveView, formdata=None) -> AwardForm:
    form = AwardForm() if formdata is None else AwardForm(formdata=formdata)
    form.offer_id.choices = [
        SelectChoice(
            str(result.offer.id),
            f"{result.offer.provider.name}: rank {result.rank}, total {result.total} "
            f"(quality {result.quality}, price {result.price})",
        )
        for result in view.scored
    ]
    if not form.is_submitted():
        form.version.data = str(view.referral.version)
    return form


def referral_page(
    referral: Referral,
    *,
    manager: bool = False,
    form: AwardForm | None = None,
    error: str | None = None,
    status: int = 200,
):
    """The referral page, or (for htmx, or while htmx polls the live section) the live section alone, which never
    shows the child's identity and so never reads it: polling writes no audit rows."""
    now = clock.now()
    view = evaluation.live_view(referral, now)
    can_act = not manager and referrals.may_act(referral, current_user)
    if form is None and can_act and view.stage is Stage.EVALUATING:
        form = award_form(view)
    endpoint = "manager.referral" if manager else "officer.referral"
    context = {
        "referral": referral,
        "view": view,
        "stages": Stage,
        "reference": referrals.reference(referral),
        "can_act": can_act,
        "manager": manager,
        "award_form": form if can_act else None,
        "error": error,
        "live_id": LIVE_ID,
        "poll_url": url_for(endpoint, referral_id=referral.id),
        "offer_endpoint": None if manager else "officer.offer",
        "withdraw_url": None if manager else url_for("officer.withdraw_referral", referral_id=referral.id),
        "criteria": scoring.criteria(referral),
    }
    if _live_section_only():
        section = render_template("officer/partials/referral_offers.html", oob=True, **context)
        if request.method == "GET" and status == 200:
            return revalidated(section, VARY)
        return section, status, VARY
    child = children.read_child(
        referral, current_user, ip=client_ip(), purpose="manager oversight" if manager else "referral page"
    )
    page = render_template(
        "manager/referral.html" if manager else "officer/referral.html",
        child=child,
        form=form if can_act else None,
        back_url=url_for("manager.referrals" if manager else "officer.referrals"),
        **context,
    )
    # The audit event of the read is committed once the page is made (committing first would expire what the page
    # shows, and reload it row by row).
    db.session.commit()
    return page, status, VARY


@bp.get("/referrals/<int:referral_id>")
@roles(Role.OFFICER)
def referral(referral_id: int):
    # The whole page shows the child: read the record with the referral (the live section never reads it).
    found = _referral_or_404(referral_id, with_child=not _live_section_only())
    if found.status is ReferralStatus.DRAFT:
        return redirect(url_for("officer.referral_draft", referral_id=referral_id))
    return referral_page(found)


def _state_error(referral_id: int, error: DomainError, **extra):
    """After a refused change: the page again as it is now, with the message, HTTP 409 (the fragment for htmx)."""
    db.session.rollback()
    return referral_page(_referral_or_404(referral_id), error=error.message, status=409, **extra)


# ---- Award ---------------------------------------------------------------------------------------------------------


@bp.post("/referrals/<int:referral_id>/award")
@roles(Role.OFFICER)
def award(referral_id: int):
    found = _referral_or_404(referral_id)
    if not referrals.may_act(found, current_user):
        abort(403)
    now = clock.now()
    form = award_form(evaluation.live_view(found, now), formdata=request.form)
    if form.validate_on_submit():
        try:
            done = evaluation.award(
                referral_id,
                whole_number(form.offer_id.data),
                current_user,
                version=whole_number(form.version.data),
                rationale=form.rationale.data or "",
                now=now,
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except Conflict as error:
            # A stale page: the referral as it is now, the choice and rationale as typed (the version moved on, so
            # awarding again, having looked, goes through).
            db.session.rollback()
            fresh = _referral_or_404(referral_id)
            if evaluation.live_view(fresh, clock.now()).stage is not Stage.EVALUATING:
                return _state_error(referral_id, error)
            form.version.data = str(fresh.version)
            return referral_page(fresh, form=form, error=error.message, status=409)
        except IllegalTransition as error:
            if error.field is None:
                return _state_error(referral_id, error)
            # The chosen offer is out of the running (withdrawn meanwhile): say so next to the choice.
            db.session.rollback()
            show_error(form, error, "offer_id")
            return referral_page(_referral_or_404(referral_id), form=form, status=409)
        except DomainError as error:
            show_error(form, error, "rationale")
        else:
            db.session.commit()
            flash(
                f"Referral {referrals.reference(found)} awarded to {done.winner.provider.name}. They have been told, "
                f"and so have the {len(done.unsuccessful)} unsuccessful provider"
                f"{'s' if len(done.unsuccessful) != 1 else ''}, with their own scores.",
                "success",
            )
            return redirect(url_for("officer.referral", referral_id=referral_id))
    return referral_page(found, form=form)


# ---- One offer and its scores --------------------------------------------------------------------------------------


def _offer_or_404(referral: Referral, offer_id: int) -> Offer:
    try:
        return evaluation.offer_for(referral, offer_id)
    except NotFound:
        abort(404)


def _offer_page(referral: Referral, offer: Offer, *, form=None, conflict: str | None = None, status: int = 200):
    now = clock.now()
    stage = referrals.stage_of(referral, now)
    can_score = (
        referrals.may_act(referral, current_user)
        and stage is Stage.EVALUATING
        and offer.round == referral.round
        and offer.status is OfferStatus.SUBMITTED
    )
    if form is None and can_score:
        form = score_form(referral, offer)
    return (
        render_template(
            "officer/calloff_offer.html",
            referral=referral,
            offer=offer,
            reference=referrals.reference(referral),
            stage=stage,
            stages=Stage,
            criteria=scoring.criteria(referral),
            saved={score.criterion: score for score in offer.scores},
            result=evaluation.result_for(referral, offer),
            aims={aim.id: aim for aim in referral.aims},
            form=form if can_score else None,
            conflict=conflict,
            field_name=field_name,
        ),
        status,
    )


@bp.get("/referrals/<int:referral_id>/offers/<int:offer_id>")
@roles(Role.OFFICER)
def offer(referral_id: int, offer_id: int):
    found = _referral_or_404(referral_id)
    return _offer_page(found, _offer_or_404(found, offer_id))


@bp.post("/referrals/<int:referral_id>/offers/<int:offer_id>/score")
@roles(Role.OFFICER)
def score_offer(referral_id: int, offer_id: int):
    found = _referral_or_404(referral_id)
    chosen = _offer_or_404(found, offer_id)
    if not referrals.may_act(found, current_user):
        abort(403)
    form = score_form(found, chosen, formdata=request.form)
    if form.validate_on_submit():
        entries = {
            criterion.key: ScoreEntry(
                whole_number(form[field_name("score", criterion.key)].data),
                form[field_name("comment", criterion.key)].data or "",
            )
            for criterion in scoring.criteria(found)
        }
        try:
            evaluation.save_scores(
                referral_id,
                offer_id,
                current_user,
                offer_version=whole_number(form.version.data),
                entries=entries,
                now=clock.now(),
                scores_seen=form.scores_seen.data or "",
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except Conflict as error:
            db.session.rollback()
            found = _referral_or_404(referral_id)
            chosen = _offer_or_404(found, offer_id)
            # What was typed stays; the version and scores become the offer's as they are now, so a second save goes
            # through.
            form.version.data = str(chosen.version)
            form.scores_seen.data = evaluation.scores_fingerprint(chosen)
            return _offer_page(found, chosen, form=form, conflict=error.message, status=409)
        except IllegalTransition as error:
            db.session.rollback()
            found = _referral_or_404(referral_id)
            return _offer_page(found, _offer_or_404(found, offer_id), conflict=error.message, status=409)
        except DomainError as error:
            show_error(form, error, "version")
        else:
            db.session.commit()
            flash(f"Scores saved for {chosen.provider.name}'s offer.", "success")
            return redirect(url_for("officer.referral", referral_id=referral_id, _anchor="ranking"))
    return _offer_page(found, chosen, form=form)


# ---- Action forms (a new round, off the DPS) ------------------------------------------------------------------------


def _action_page(template: str, referral: Referral, action: Action, form: FlaskForm, *, error: str | None = None):
    """A form page for one action on the referral; the form is left out, with the reason why, when the referral is
    not in a stage the action can be taken in (HTTP 409)."""
    now = clock.now()
    blocked = error
    if blocked is None:
        try:
            referrals.ensure_stage(referral, action, now)
        except IllegalTransition as refused:
            blocked = refused.message
    if blocked is None and action is Action.REQUEST_OFF_DPS:
        pending = evaluation.pending_request(referral.id)
        if pending is not None:
            blocked = (
                "A request to commission this referral off the DPS is already waiting for the manager (sent "
                f"{london_datetime(pending.requested_at)})."
            )
    return (
        render_template(
            template,
            referral=referral,
            reference=referrals.reference(referral),
            form=form,
            blocked=blocked,
            today=clock.london_today(now),
        ),
        409 if blocked else 200,
    )


def _action(referral_id: int, action: Action, template: str, form: FlaskForm, act, *, default_field: str):
    """What every action form shares: only officers of the referral's service; a stage that refuses the action or a
    stale page is a 409 page saying why; a field's error sits by the field; success commits, says what happened
    (the message ``act(version)`` returns) and goes back to the referral."""
    found = _referral_or_404(referral_id)
    if not referrals.may_act(found, current_user):
        abort(403)
    if not form.is_submitted():
        form.version.data = str(found.version)
    if form.validate_on_submit():
        try:
            done = act(whole_number(form.version.data))
        except NotAllowed:
            abort(403)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _action_page(template, _referral_or_404(referral_id), action, form, error=error.message)
        except DomainError as error:
            show_error(form, error, default_field)
        else:
            db.session.commit()
            flash(done, "success")
            return redirect(url_for("officer.referral", referral_id=referral_id))
    return _action_page(template, found, action, form)


# ---- A new round ---------------------------------------------------------------------------------------------------


@bp.route("/referrals/<int:referral_id>/republish", methods=["GET", "POST"])
@roles(Role.OFFICER)
def republish(referral_id: int):
    now = clock.now()
    form = RepublishForm(deadline=referrals.default_deadline(clock.london_today(now)))

    def act(version: int | None) -> str:
        published = referrals.republish(
            referral_id,
            current_user,
            version=version,
            deadline_date=form.deadline.data,
            deadline_reason=form.deadline_reason.data or "",
            now=now,
            ip=client_ip(),
        )
        found, invited = published.referral, len(published.invited)
        return (
            f"Referral {referrals.reference(found)} republished (round {found.round}): {invited} provider"
            f"{'s' if invited != 1 else ''} invited. Offers close at {london_datetime(found.deadline)}."
        )

    return _action(referral_id, Action.REPUBLISH, "officer/calloff_republish.html", form, act, default_field="deadline")


# ---- Off the DPS ---------------------------------------------------------------------------------------------------


@bp.route("/referrals/<int:referral_id>/off-dps", methods=["GET", "POST"])
@roles(Role.OFFICER)
@submissions.single_submit("off-DPS request")
def request_off_dps(referral_id: int):
    form = OffDpsForm()

    def act(version: int | None) -> str:
        claimed = submissions.claim(submissions.sent_token(), current_user, "off-DPS request")
        evaluation.request_off_dps(
            referral_id, current_user, version=version, reason=form.reason.data or "", now=clock.now(), ip=client_ip()
        )
        submissions.made(claimed, url_for("officer.referral", referral_id=referral_id))
        return "Your request has been sent to the manager, who will approve or refuse it."

    return _action(
        referral_id, Action.REQUEST_OFF_DPS, "officer/calloff_off_dps.html", form, act, default_field="reason"
    )
