"""The manager's user administration: find users, invite them, deactivate and reactivate them, resend invitations.

Registered on the manager blueprint (imported at the bottom of portal/blueprints/manager/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCharacterCount, GovRadioInput, GovSelect, GovSubmitInput, GovTextInput
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import submissions
from portal.access import roles
from portal.blueprints.auth.forms import ActionForm
from portal.blueprints.manager import bp
from portal.extensions import db, htmx
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import users
from portal.services.errors import Conflict, DomainError, NotFound
from portal.web import client_ip

RESULTS_ID = "user-results"
ROLE_LABELS = {
    Role.OFFICER: "Council officer",
    Role.PROVIDER: "Provider",
    Role.MANAGER: "Commissioning manager",
}


class UserFilterForm(FlaskForm):
    """A GET form: it changes nothing and its address can be shared, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(
        "Name or email address",
        widget=GovTextInput(),
        description="Or part of one",
        render_kw={"spellcheck": "false", "autocomplete": "off", "type": "search"},
        validators=[Length(max=254, message="Search must be 254 characters or fewer")],
    )
    role = SelectField(
        "Role",
        widget=GovSelect(),
        choices=[SelectChoice("", "All roles")]
        + [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        default="",
        validate_choice=False,
    )

    def validate_role(self, field) -> None:
        if field.data and field.data not in {role.value for role in Role}:
            raise ValidationError("Select a role from the list")


class InviteUserForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="The invitation is sent here, and they will sign in with it.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "type": "email"},
        validators=[InputRequired(message="Enter the person's email address"), Length(max=254)],
    )
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
        validators=[
            InputRequired(message="Enter the person's name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
        ],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        description="What they will do in the portal decides what they can see.",
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[InputRequired(message="Select the person's role")],
    )
    service = SelectField(
        "Council service",
        widget=GovSelect(),
        description="For a council officer only: the team they work in.",
        validate_choice=False,
    )
    provider = SelectField(
        "Provider organisation",
        widget=GovSelect(),
        description="For a provider user only: the organisation they work for.",
        validate_choice=False,
    )
    submit = SubmitField("Send invitation", widget=GovSubmitInput())

    def __init__(self, *args, service_names: list[str], provider_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.service_names, self.provider_names = set(service_names), set(provider_names)
        self.service.choices = [SelectChoice("", "Select a council service")]
        self.service.choices += [SelectChoice(name, name) for name in service_names]
        self.provider.choices = [SelectChoice("", "Select a provider")]
        self.provider.choices += [SelectChoice(name, name) for name in provider_names]

    # The organisation is needed only for the role chosen; the other select is ignored (it is hidden with JavaScript).
    def validate_service(self, field) -> None:
        if self.role.data == Role.OFFICER.value:
            if not field.data:
                raise ValidationError("Select the council service the officer works in")
            if field.data not in self.service_names:
                raise ValidationError("Select a council service from the list")

    def validate_provider(self, field) -> None:
        if self.role.data == Role.PROVIDER.value:
            if not field.data:
                raise ValidationError("Select the provider the person works for")
            if field.data not in self.provider_names:
                raise ValidationError("Select a provider from the list")


class VersionForm(FlaskForm):
    """A button that changes the account: it carries the account's version the page showed (issue 10)."""

    version = HiddenField()


class DeactivateForm(VersionForm):
    reason = TextAreaField(
        "Reason (optional)",
        widget=GovCharacterCount(),
        description="Kept in the audit trail. For example, left the council.",
        validators=[Optional(), Length(max=500, message="Reason must be 500 characters or fewer")],
    )
    submit = SubmitField("Deactivate account", widget=GovSubmitInput())


def _show_error(form, error: DomainError, default_field: str) -> None:
    field = error.field if error.field and hasattr(form, error.field) else default_field
    getattr(form, field).errors.append(error.message)


def _user_or_404(user_id: int):
    try:
        return users.get_user(user_id)
    except NotFound:
        abort(404)


@bp.get("/users", endpoint="users")
@roles(Role.MANAGER)
def user_list():
    form = UserFilterForm(formdata=request.args)
    filters = {}
    result = None
    if form.validate():
        filters = {name: request.args[name].strip() for name in ("q", "role") if request.args.get(name, "").strip()}
        result = users.search(
            form.q.data or None, form.role.data or None, page=max(1, request.args.get("page", 1, type=int))
        )
    pagination = None
    if result is not None:
        pagination = govuk_pagination(
            result.page, result.pages, lambda number: url_for("manager.users", **filters, page=number)
        )
        if pagination:
            pagination["landmarkLabel"] = "Pages of users"
    context = {
        "form": form,
        "result": result,
        "pagination": pagination,
        "results_id": RESULTS_ID,
        "role_labels": ROLE_LABELS,
        "status_of": users.status_of,
    }
    # The filter form and the page links inside the results ask htmx for the results alone; a plain GET, or htmx
    # restoring history, gets the whole page.
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        response = render_template("manager/partials/user_results.html", **context)
    else:
        response = render_template("manager/users.html", **context)
    return response, {"Vary": "HX-Request, HX-Target"}


@bp.route("/users/invite", methods=["GET", "POST"])
@roles(Role.MANAGER)
@submissions.single_submit("invitation")
def invite_user():
    form = InviteUserForm(service_names=users.service_names(), provider_names=users.provider_names())
    if form.validate_on_submit():
        role = Role(form.role.data)
        try:
            # The service commits the claim with the new user; where the user is, is recorded just after.
            claimed = submissions.claim(submissions.sent_token(), current_user, "invitation")
            user = users.invite(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=role,
                service_name=form.service.data if role is Role.OFFICER else None,
                provider_name=form.provider.data if role is Role.PROVIDER else None,
                ip=client_ip(),
            )
        except DomainError as error:
            _show_error(form, error, "email")
        else:
            submissions.made(claimed, url_for("manager.user_detail", user_id=user.id))
            db.session.commit()
            flash(f"Invitation sent to {user.email}. The link in it works for 72 hours.", "success")
            return redirect(url_for("manager.user_detail", user_id=user.id))
    return render_template("manager/invite_user.html", form=form)


@bp.get("/users/<int:user_id>")
@roles(Role.MANAGER)
def user_detail(user_id: int):
    user = _user_or_404(user_id)
    return _detail_page(user, DeactivateForm(data={"version": user.version}))


def _detail_page(user, deactivate_form: DeactivateForm, *, conflict: str | None = None):
    """The account; with ``conflict`` (a change from a stale page), why nothing was saved, HTTP 409. The forms carry
    the version as it is now, so trying again goes through; a reason typed is kept."""
    if conflict:
        deactivate_form.version.data = str(user.version)
    return (
        render_template(
            "manager/user.html",
            user=user,
            status=users.status_of(user),
            role_labels=ROLE_LABELS,
            events=users.recent_events(user),
            deactivate_form=deactivate_form,
            reactivate_form=VersionForm(formdata=None, data={"version": user.version}),
            action_form=ActionForm(),
            conflict=conflict,
            # The error summary appears when the deactivation form was refused.
            form=deactivate_form if deactivate_form.errors else None,
        ),
        409 if conflict else 200,
    )


@bp.post("/users/<int:user_id>/deactivate")
@roles(Role.MANAGER)
def deactivate_user(user_id: int):
    user = _user_or_404(user_id)
    form = DeactivateForm()
    if form.validate_on_submit():
        try:
            ended = users.deactivate(current_user, user, form.reason.data, ip=client_ip(), version=form.version.data)
        except Conflict as error:
            return _detail_page(_user_or_404(user_id), form, conflict=error.message)
        except DomainError as error:
            flash(error.message, "info")
        else:
            signed_out = f" They were signed out of {ended} session{'s' if ended != 1 else ''}." if ended else ""
            flash(f"{user.name}'s account is deactivated: they can no longer sign in.{signed_out}", "success")
        return redirect(url_for("manager.user_detail", user_id=user.id))
    # Only the reason can be wrong (too long): the page again, with the message next to it and what was typed.
    return _detail_page(user, form)


@bp.post("/users/<int:user_id>/reactivate")
@roles(Role.MANAGER)
def reactivate_user(user_id: int):
    user = _user_or_404(user_id)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            users.reactivate(current_user, user, ip=client_ip(), version=form.version.data)
        except Conflict as error:
            return _detail_page(_user_or_404(user_id), DeactivateForm(formdata=None), conflict=error.message)
        except DomainError as error:
            flash(error.message, "info")
        else:
            flash(f"{user.name}'s account is active again: they can sign in.", "success")
    return redirect(url_for("manager.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/resend-invitation")
@roles(Role.MANAGER)
def resend_invitation(user_id: int):
    user = _user_or_404(user_id)
    if ActionForm().validate_on_submit():
        try:
            users.resend_invitation(current_user, user, ip=client_ip())
        except DomainError as error:
            flash(error.message, "info")
        else:
            flash(f"A new invitation was sent to {user.email}. The link in the earlier one no longer works.", "success")
    return redirect(url_for("manager.user_detail", user_id=user.id))
