"""The council services and their Designated Safeguarding Leads: a service holds safeguarding responsibility for
the supplementary support it commissions, so concerns about those children go to its DSL."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import Length

from portal.access import roles
from portal.blueprints.manager import bp
from portal.extensions import db
from portal.forms import whole_number
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import concerns
from portal.services.errors import Conflict, DomainError, FieldErrors, NotAllowed, NotFound
from portal.web import client_ip


class ServiceDslForm(FlaskForm):
    seen = HiddenField()
    dsl_name = StringField(
        "Name",
        widget=GovTextInput(),
        validators=[Length(max=200, message="The name must be 200 characters or fewer")],
    )
    dsl_role = StringField(
        "Role (optional)",
        widget=GovTextInput(),
        description="For example, Head of the Virtual School.",
        validators=[Length(max=200, message="The role must be 200 characters or fewer")],
    )
    dsl_email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="Concerns are sent here at once. If the person has an account on the portal, use that address.",
        validators=[Length(max=254, message="The email address must be 254 characters or fewer")],
    )
    dsl_phone = StringField(
        "Phone number",
        widget=GovTextInput(),
        validators=[Length(max=40, message="The phone number must be 40 characters or fewer")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


@bp.get("/services")
@roles(Role.MANAGER)
def services():
    page = concerns.services_page(max(1, whole_number(request.args.get("page")) or 1))
    return render_template(
        "manager/services.html",
        page=page,
        pagination=govuk_pagination(
            page.page, page.pages, lambda n: url_for("manager.services", page=n), "Pages of services"
        ),
    )


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@roles(Role.MANAGER)
def service_safeguarding(service_id: int):
    try:
        service = concerns.get_service(service_id)
    except NotFound:
        abort(404)
    conflict = None
    if request.method != "POST":
        form = ServiceDslForm(obj=service)
        form.seen.data = concerns.dsl_fingerprint(service)
    else:
        form = ServiceDslForm()
        if form.validate_on_submit():
            try:
                concerns.set_service_dsl(
                    service_id,
                    current_user,
                    dsl_name=form.dsl_name.data,
                    dsl_role=form.dsl_role.data,
                    dsl_email=form.dsl_email.data,
                    dsl_phone=form.dsl_phone.data,
                    seen=form.seen.data or "",
                    ip=client_ip(),
                )
            except NotAllowed:
                abort(403)
            except Conflict as error:
                db.session.rollback()
                service = concerns.get_service(service_id)
                form.seen.data = concerns.dsl_fingerprint(service)
                conflict = error.message
            except DomainError as error:
                errors = error.errors if isinstance(error, FieldErrors) else {error.field or "dsl_name": error.message}
                for name, message in errors.items():
                    field = form[name if name in form._fields else "dsl_name"]
                    field.errors = [*field.errors, message]
            else:
                db.session.commit()
                flash(f"{service.name}'s Designated Safeguarding Lead saved.", "success")
                return redirect(url_for("manager.services"))
    return (
        render_template("manager/service_safeguarding.html", service=service, form=form, conflict=conflict),
        409 if conflict else 200,
    )
