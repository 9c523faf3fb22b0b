"""The manager's side of the SLA workflow: the approval queue and lists, editing a draft, sending, approving or
returning an accepted SLA (inline in the queue with htmx, or as plain forms), varying and terminating.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py). The SLA page
itself (slas.sla) shows the same actions through slas/partials/sla_actions.html.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from werkzeug.routing import BuildError
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from portal import clock, conflicts, submissions
from portal.access import roles
from portal.blueprints.auth import _safe_next
from portal.blueprints.manager import bp
from portal.extensions import db, htmx
from portal.forms import GovDateField, whole_number
from portal.models import Role, Sla, SlaStatus
from portal.pagination import Page, govuk_pagination
from portal.services import sla_workflow, slas
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.sla_workflow import (
    COMMENT_MAX,
    RATE_KINDS,
    REASON_MAX,
    QueueTab,
    VersionInProgress,
    kpi_field,
    rate_field,
)
from portal.web import client_ip

VARY = {"Vary": "HX-Request, HX-Target"}
MONEY_TEXT_MAX = 20


def sla_url(sla_id: int) -> str:
    """The SLA page (slas.sla), or its path while that page is not registered."""
    try:
        return url_for("slas.sla", sla_id=sla_id)
    except BuildError:
        return f"/slas/{sla_id}"


def row_id(sla_id: int) -> str:
    return f"sla-row-{sla_id}"


# ---- Forms ---------------------------------------------------------------------------------------------------------


class ActionForm(FlaskForm):
    """Send, approve, vary: the version the page showed and where to go back to."""

    version = HiddenField()
    next = HiddenField()


class ReturnForm(ActionForm):
    comment = TextAreaField(
        "Comments",
        widget=GovTextArea(),
        description="What should change. The provider is told, and the comments stay with the SLA.",
        validators=[Length(max=COMMENT_MAX, message=f"The comments must be {COMMENT_MAX} characters or fewer")],
    )


class TerminateForm(FlaskForm):
    version = HiddenField()
    terminated_on = GovDateField(
        "Last day of the SLA",
        description="The provider may not be offered new work after this day. For example, 31 3 2027.",
        required_message="Enter the last day of the SLA",
    )
    reason = TextAreaField(
        "Reason",
        widget=GovTextArea(),
        description="Why the SLA is being terminated. The provider is told, and it is kept in the audit trail.",
        validators=[Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer")],
    )
    submit = SubmitField("Terminate SLA", widget=GovSubmitInput())


def edit_form(sla: Sla, formdata=None, *, saved_only: bool = False) -> FlaskForm:
    """Three money inputs per lot and one target per KPI, filled in with the draft's values (or what was sent;
    ``saved_only``: never what was sent)."""

    class Form(FlaskForm):
        version = HiddenField()
        save = SubmitField("Save draft", widget=GovSubmitInput())
        send_now = SubmitField("Save and send to the provider", widget=GovSubmitInput())

    too_long = Length(max=MONEY_TEXT_MAX, message=f"Enter an amount of {MONEY_TEXT_MAX} characters or fewer")
    for sla_lot in sla.lots:
        for kind, word in RATE_KINDS.items():
            value = getattr(sla_lot, f"max_{kind}_rate")
            setattr(
                Form,
                rate_field(sla_lot.lot_id, kind),
                StringField(
                    f"Maximum {word} rate",
                    widget=GovTextInput(),
                    default="" if value is None else f"{value:.2f}",
                    validators=[too_long],
                ),
            )
    for kpi in sla.kpis:
        setattr(
            Form,
            kpi_field(kpi.kind),
            StringField(
                kpi.kind.value.capitalize(),
                widget=GovTextInput(),
                description="Target, per cent (0 to 100)",
                default=f"{kpi.target.normalize():f}",
                validators=[Length(max=10, message="Enter a number from 0 to 100")],
            ),
        )
    if saved_only:
        form = Form(formdata=None)
    else:
        form = Form() if formdata is None else Form(formdata=formdata)
    if saved_only or not form.is_submitted():
        form.version.data = str(sla.version)
    return form


def _show_errors(form: FlaskForm, error: DomainError, default_field: str) -> None:
    errors = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in errors.items():
        field = form[name if name and name in form._fields else default_field]
        field.errors = [*field.errors, message]


def _sla_or_404(sla_id: int) -> Sla:
    try:
        return slas.visible_sla(sla_id, current_user)
    except NotFound:
        abort(404)


def _next(default: str | None = None) -> str:
    return _safe_next(request.form.get("next")) or default or url_for("manager.slas")


# ---- The queue and the lists ------------------------------------------------------------------------------------


def _tab() -> QueueTab:
    try:
        return QueueTab(request.args.get("tab", QueueTab.AWAITING.value))
    except ValueError:
        return QueueTab.AWAITING


def _queue_page(tab: QueueTab, page: int, *, errors: dict | None = None, typed: dict | None = None, extra=None):
    """The lists; after a refused plain "Return with comments", the comment's error (``errors``) and what was typed
    (``typed``), by SLA id, with that SLA (``extra``) shown first if it is not on the page."""
    today = clock.london_today(clock.now())
    result = sla_workflow.queue(tab, page, today)
    if extra is not None and all(row.sla.id != extra.id for row in result.items):
        # The SLA a refused plain form was about, shown first so its error sits beside it.
        result = Page(
            items=[sla_workflow.row_for(extra, today), *result.items],
            total=result.total,
            page=result.page,
            per_page=result.per_page,
        )
    here = url_for("manager.slas", tab=tab.value, page=result.page if result.page > 1 else None)
    return render_template(
        "manager/slas.html",
        tab=tab,
        tabs=QueueTab,
        result=result,
        expiring=sla_workflow.expiring_count(today),
        comment_errors=errors or {},
        typed_comments=typed or {},
        here=here,
        sla_url=sla_url,
        row_id=row_id,
        pagination=govuk_pagination(
            result.page,
            result.pages,
            lambda number: url_for("manager.slas", tab=tab.value, page=number),
            label="Pages of SLAs",
        ),
    )


# The endpoint is manager.slas (the function has another name so as not to hide the slas service module).
@bp.get("/slas", endpoint="slas")
@roles(Role.MANAGER)
def slas_queue():
    tab = _tab()
    page = max(1, request.args.get("page", 1, type=int))
    return _queue_page(tab, page)


def _row(
    sla: Sla,
    *,
    message: str | None = None,
    error: str | None = None,
    comment_error: str | None = None,
    typed: str = "",
    status: int = 200,
):
    """One row of the queue, for htmx: 409 after a refused change (the htmx config in layouts/base.html swaps a 409
    like a 2xx, so the row shows why, with the comment as typed)."""
    today = clock.london_today(clock.now())
    return (
        render_template(
            "manager/partials/sla_row.html",
            row=sla_workflow.row_for(sla, today),
            tab=QueueTab.AWAITING,
            here=_next(),
            message=message,
            error=error,
            comment_error=comment_error,
            typed=typed,
            sla_url=sla_url,
            row_id=row_id,
        ),
        status,
        VARY,
    )


# ---- Refused: the SLA as it is and why (409) --------------------------------------------------------------------


def _refused(sla_id: int, error: DomainError, *, status: int = 409, typed: str = ""):
    """The SLA as it is now and why the change was refused; ``typed``, a comment that was not saved, is shown again."""
    db.session.rollback()
    sla = _sla_or_404(sla_id)
    working_url = None
    if isinstance(error, VersionInProgress):
        working_url = url_for("manager.edit_sla", sla_id=error.sla_id)
    return (
        render_template(
            "manager/sla_edit.html",
            sla=sla,
            form=None,
            blocked=error.message,
            typed=typed,
            working_url=working_url,
            sla_url=sla_url,
            rate_field=rate_field,
            kpi_field=kpi_field,
            rate_kinds=RATE_KINDS,
            today=clock.london_today(clock.now()),
        ),
        status,
    )


# ---- Editing and sending a draft -------------------------------------------------------------------------------------


def _edit_page(sla: Sla, form: FlaskForm | None, *, status: int = 200):
    return (
        render_template(
            "manager/sla_edit.html",
            sla=sla,
            form=form,
            blocked=None,
            saved_now=getattr(form, "saved_now", None),
            working_url=None,
            sla_url=sla_url,
            rate_field=rate_field,
            kpi_field=kpi_field,
            rate_kinds=RATE_KINDS,
            today=clock.london_today(clock.now()),
        ),
        status,
    )


@bp.route("/slas/<int:sla_id>/edit", methods=["GET", "POST"])
@roles(Role.MANAGER)
def edit_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    if sla.status not in slas.EDITABLE:
        return _refused(sla_id, sla_workflow._not_editable(sla))
    form = edit_form(sla, formdata=request.form if request.method == "POST" else None)
    if form.validate_on_submit():
        now = clock.now()
        try:
            sla_workflow.update_draft(
                sla_id,
                current_user,
                rates={
                    sla_lot.lot_id: tuple(form[rate_field(sla_lot.lot_id, kind)].data or "" for kind in RATE_KINDS)
                    for sla_lot in sla.lots
                },
                kpi_targets={kpi.kind: form[kpi_field(kpi.kind)].data or "" for kpi in sla.kpis},
                version=whole_number(form.version.data),
                now=now,
                ip=client_ip(),
            )
            if form.send_now.data:
                sla_workflow.send(sla_id, current_user, version=sla.version, now=now, ip=client_ip())
        except NotAllowed:
            abort(403)
        except Conflict as error:
            db.session.rollback()
            fresh = _sla_or_404(sla_id)
            if fresh.status not in slas.EDITABLE:
                return _refused(sla_id, error)
            # What was typed stays, beside what is saved now; the version becomes the SLA's as it is now, so a second
            # save goes through.
            form.version.data = str(fresh.version)
            form.version.errors = [error.message]
            saved = edit_form(fresh, saved_only=True)
            form.saved_now = conflicts.saved_now(form, {field.name: field.data for field in saved})
            return _edit_page(fresh, form, status=409)
        except IllegalTransition as error:
            return _refused(sla_id, error)
        except DomainError as error:
            db.session.rollback()
            sla = _sla_or_404(sla_id)
            _show_errors(form, error, "version")
        else:
            db.session.commit()
            if form.send_now.data:
                flash(
                    f"Version {sla.number} of the SLA of {sla.provider.name} was sent. Its users have been told.", "success"
                )
                return redirect(sla_url(sla_id))
            flash(f"Draft saved: version {sla.number} of the SLA of {sla.provider.name}.", "success")
            return redirect(url_for("manager.edit_sla", sla_id=sla_id))
    return _edit_page(sla, form)


@bp.post("/slas/<int:sla_id>/send")
@roles(Role.MANAGER)
def send_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        sla_workflow.send(
            sla_id, current_user, version=whole_number(form.version.data), now=clock.now(), ip=client_ip()
        )
    except NotAllowed:
        abort(403)
    except Conflict as error:
        # Changed since the page was drawn, and still a draft: the draft as it is now, to check and send from.
        db.session.rollback()
        fresh = _sla_or_404(sla_id)
        if fresh.status not in slas.EDITABLE:
            return _refused(sla_id, error)
        edit = edit_form(fresh, saved_only=True)
        edit.version.errors = [error.message]
        return _edit_page(fresh, edit, status=409)
    except IllegalTransition as error:
        return _refused(sla_id, error)
    except DomainError as error:
        # Something is missing: the edit page, with each gap next to its field.
        db.session.rollback()
        sla = _sla_or_404(sla_id)
        edit = edit_form(sla)
        _show_errors(edit, error, "version")
        return _edit_page(sla, edit)
    db.session.commit()
    flash(f"Version {sla.number} of the SLA of {sla.provider.name} was sent. Its users have been told.", "success")
    return redirect(_next(sla_url(sla_id)))


# ---- Approving and returning (inline in the queue) ------------------------------------------------------------


@bp.post("/slas/<int:sla_id>/approve")
@roles(Role.MANAGER)
def approve_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        sla_workflow.approve(
            sla_id, current_user, version=whole_number(form.version.data), now=clock.now(), ip=client_ip()
        )
    except NotAllowed:
        abort(403)
    except DomainError as error:
        if htmx:
            db.session.rollback()
            return _row(_sla_or_404(sla_id), error=error.message, status=409)
        return _refused(sla_id, error)
    db.session.commit()
    message = f"Approved version {sla.number} of the SLA of {sla.provider.name}. Its users have been told."
    if htmx:
        return _row(_sla_or_404(sla_id), message=message)
    flash(message, "success")
    return redirect(_next())


@bp.post("/slas/<int:sla_id>/return")
@roles(Role.MANAGER)
def return_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    form = ReturnForm()
    typed = form.comment.data or ""
    if not form.validate_on_submit():
        message = (form.comment.errors or ["The form could not be read: try again"])[0]
        if not form.comment.errors:
            abort(400)
        if htmx:
            return _row(sla, comment_error=message, typed=typed)
        return _queue_page(QueueTab.AWAITING, 1, errors={sla.id: message}, typed={sla.id: typed}, extra=sla)
    try:
        sla_workflow.return_with_comments(
            sla_id,
            current_user,
            comment=typed,
            version=whole_number(form.version.data),
            now=clock.now(),
            ip=client_ip(),
        )
    except NotAllowed:
        abort(403)
    except (Conflict, IllegalTransition) as error:
        if htmx:
            db.session.rollback()
            return _row(_sla_or_404(sla_id), error=error.message, typed=typed, status=409)
        return _refused(sla_id, error, typed=typed)
    except DomainError as error:
        db.session.rollback()
        sla = _sla_or_404(sla_id)
        if htmx:
            return _row(sla, comment_error=error.message, typed=typed)
        return _queue_page(QueueTab.AWAITING, 1, errors={sla.id: error.message}, typed={sla.id: typed}, extra=sla)
    db.session.commit()
    message = f"Returned version {sla.number} of the SLA of {sla.provider.name} to draft. Its users have been told."
    if htmx:
        return _row(_sla_or_404(sla_id), message=message)
    flash(message, "success")
    return redirect(_next())


# ---- Varying and terminating --------------------------------------------------------------------------------------


@bp.post("/slas/<int:sla_id>/vary")
@roles(Role.MANAGER)
@submissions.single_submit("SLA variation")
def vary_sla(sla_id: int):
    _sla_or_404(sla_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        claimed = submissions.claim(submissions.sent_token(), current_user, "SLA variation")
        draft = sla_workflow.vary(sla_id, current_user, now=clock.now(), ip=client_ip())
        submissions.made(claimed, url_for("manager.edit_sla", sla_id=draft.id))
    except NotAllowed:
        abort(403)
    except DomainError as error:
        return _refused(sla_id, error)
    db.session.commit()
    flash(
        f"Version {draft.number} of the SLA of {draft.provider.name} is a new draft. Change it, then send it: the approved "
        "version stays in force, unchanged, until this one is approved.",
        "success",
    )
    return redirect(url_for("manager.edit_sla", sla_id=draft.id))


def _terminate_page(sla: Sla, form: TerminateForm, *, blocked: str | None = None, status: int = 200):
    return (
        render_template(
            "manager/sla_terminate.html",
            sla=sla,
            form=form if blocked is None else None,
            blocked=blocked,
            ends_on=slas.ends_on(sla),
            sla_url=sla_url,
        ),
        status,
    )


@bp.route("/slas/<int:sla_id>/terminate", methods=["GET", "POST"])
@roles(Role.MANAGER)
def terminate_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    form = TerminateForm()
    if sla.status is not SlaStatus.APPROVED:
        return _terminate_page(
            sla, form, blocked=f"Only an approved SLA can be terminated: this one is {sla.status.value}.", status=409
        )
    if not form.is_submitted():
        form.version.data = str(sla.version)
    if form.validate_on_submit():
        try:
            done = sla_workflow.terminate(
                sla_id,
                current_user,
                terminated_on=form.terminated_on.data,
                reason=form.reason.data or "",
                version=whole_number(form.version.data),
                now=clock.now(),
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _terminate_page(_sla_or_404(sla_id), form, blocked=error.message, status=409)
        except DomainError as error:
            db.session.rollback()
            sla = _sla_or_404(sla_id)
            _show_errors(form, error, "reason")
        else:
            db.session.commit()
            flash(
                f"Version {done.number} of the SLA of {done.provider.name} is terminated: its last day is "
                f"{done.terminated_on.day} {done.terminated_on:%B %Y}. Its users have been told.",
                "success",
            )
            return redirect(sla_url(sla_id))
    return _terminate_page(sla, form)
