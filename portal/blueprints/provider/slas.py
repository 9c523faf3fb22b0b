"""The provider's side of the SLA workflow: its SLA versions, accepting a sent one (a signatory's name and role), and
returning it with comments. Every query is filtered by the user's provider: another provider's SLA is a 404.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from werkzeug.routing import BuildError
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from portal import clock
from portal.access import roles
from portal.blueprints.manager.slas import sla_url
from portal.blueprints.provider import bp
from portal.extensions import db
from portal.forms import whole_number
from portal.models import Role, Sla, SlaStatus
from portal.pagination import govuk_pagination
from portal.services import sla_workflow, slas
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.sla_workflow import COMMENT_MAX, SIGNATORY_MAX
from portal.web import client_ip


class AcceptForm(FlaskForm):
    version = HiddenField()
    signatory_name = StringField(
        "Full name of the person signing",
        widget=GovTextInput(),
        description="Someone able to agree this SLA for your organisation.",
        validators=[Length(max=SIGNATORY_MAX, message=f"The name must be {SIGNATORY_MAX} characters or fewer")],
    )
    signatory_role = StringField(
        "Their role",
        widget=GovTextInput(),
        description="For example, director or head of centre.",
        validators=[Length(max=SIGNATORY_MAX, message=f"The role must be {SIGNATORY_MAX} characters or fewer")],
    )
    submit = SubmitField("Accept", widget=GovSubmitInput())


class ReturnForm(FlaskForm):
    version = HiddenField()
    comment = TextAreaField(
        "Comments",
        widget=GovTextArea(),
        description="What should change before you can accept it. The council reads them.",
        validators=[Length(max=COMMENT_MAX, message=f"The comments must be {COMMENT_MAX} characters or fewer")],
    )
    submit = SubmitField("Return with comments", widget=GovSubmitInput())


def _sla_or_404(sla_id: int) -> Sla:
    try:
        return slas.visible_sla(sla_id, current_user)
    except NotFound:
        abort(404)


@bp.get("/slas", endpoint="slas")
@roles(Role.PROVIDER)
def slas_list():
    today = clock.london_today(clock.now())
    page = max(1, request.args.get("page", 1, type=int))
    result = sla_workflow.provider_slas(current_user.provider_id, page, today)
    return render_template(
        "provider/slas.html",
        result=result,
        waiting=sla_workflow.waiting_for_acceptance(current_user.provider_id),
        sla_url=sla_url,
        pagination=govuk_pagination(
            result.page, result.pages, lambda number: url_for("provider.slas", page=number), label="Pages of SLAs"
        ),
    )


def _accept_page(
    sla: Sla,
    form: AcceptForm,
    return_form: ReturnForm,
    *,
    blocked: str | None = None,
    status: int = 200,
):
    if sla.status is not SlaStatus.SENT and blocked is None:
        blocked = (
            f"This SLA is {slas.display_status(sla, clock.london_today(clock.now()))}: there is nothing to accept."
        )
        status = 409
    # Each form keeps the version it was sent with (a stale one stays stale); the other shows the SLA's.
    for each in (form, return_form):
        if not each.version.data:
            each.version.data = str(sla.version)
    # Refused, the forms are not shown: what was typed in them is, so nothing typed is lost.
    typed = []
    if blocked is not None:
        fields = (form.signatory_name, form.signatory_role, return_form.comment)
        typed = [(str(field.label.text), field.data) for field in fields if field.data]
    return (
        render_template(
            "provider/sla_accept.html",
            sla=sla,
            typed=typed,
            form=form if blocked is None else None,
            return_form=return_form if blocked is None else None,
            blocked=blocked,
            ends_on=slas.ends_on(sla),
            sla_url=sla_url,
            print_url=_print_url(sla.id),
        ),
        status,
    )


def _print_url(sla_id: int) -> str:
    try:
        return url_for("slas.print_sla", sla_id=sla_id)
    except BuildError:
        return f"/slas/{sla_id}/print"


@bp.route("/slas/<int:sla_id>/accept", methods=["GET", "POST"])
@roles(Role.PROVIDER)
def accept_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    form = AcceptForm()
    return_form = ReturnForm(formdata=None)
    if form.validate_on_submit():
        try:
            sla_workflow.accept(
                sla_id,
                current_user,
                signatory_name=form.signatory_name.data or "",
                signatory_role=form.signatory_role.data or "",
                version=whole_number(form.version.data),
                now=clock.now(),
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _accept_page(_sla_or_404(sla_id), form, return_form, blocked=error.message, status=409)
        except DomainError as error:
            db.session.rollback()
            sla = _sla_or_404(sla_id)
            errors = error.errors if isinstance(error, FieldErrors) else {"signatory_name": error.message}
            for name, message in errors.items():
                field = form[name] if name in form._fields else form.signatory_name
                field.errors = [*field.errors, message]
        else:
            db.session.commit()
            flash(
                f"You accepted version {sla.number} of the SLA for {sla.provider.name}. The council will now approve "
                "it: you will be told.",
                "success",
            )
            return redirect(url_for("provider.slas"))
    return _accept_page(sla, form, return_form)


@bp.post("/slas/<int:sla_id>/return")
@roles(Role.PROVIDER)
def return_sla(sla_id: int):
    sla = _sla_or_404(sla_id)
    return_form = ReturnForm()
    form = AcceptForm(formdata=None)
    if return_form.validate_on_submit():
        try:
            sla_workflow.return_with_comments(
                sla_id,
                current_user,
                comment=return_form.comment.data or "",
                version=whole_number(return_form.version.data),
                now=clock.now(),
                ip=client_ip(),
            )
        except NotAllowed:
            abort(403)
        except (Conflict, IllegalTransition) as error:
            db.session.rollback()
            return _accept_page(_sla_or_404(sla_id), form, return_form, blocked=error.message, status=409)
        except DomainError as error:
            db.session.rollback()
            sla = _sla_or_404(sla_id)
            return_form.comment.errors = [*return_form.comment.errors, error.message]
        else:
            db.session.commit()
            flash(
                f"You returned version {sla.number} of the SLA with your comments. The council has been told.",
                "success",
            )
            return redirect(url_for("provider.slas"))
    return _accept_page(sla, form, return_form)
