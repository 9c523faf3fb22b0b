"""A provider's colleagues: everyone at the same organisation can see who has an account; the organisation's first
user (who looks after its accounts) invites more.

Registered on the provider blueprint (imported at the bottom of portal/blueprints/provider/__init__.py).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from portal import submissions
from portal.access import roles
from portal.blueprints.provider import bp
from portal.models import Role
from portal.pagination import govuk_pagination
from portal.services import users
from portal.services.errors import DomainError
from portal.web import client_ip


class InviteColleagueForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="Use their work address: the invitation is sent here, and they will sign in with it.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "type": "email"},
        validators=[InputRequired(message="Enter your colleague's email address"), Length(max=254)],
    )
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
        validators=[
            InputRequired(message="Enter your colleague's name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
        ],
    )
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


@bp.get("/colleagues")
@roles(Role.PROVIDER)
def colleagues():
    result = users.colleagues(current_user, page=max(1, request.args.get("page", 1, type=int)))
    pagination = govuk_pagination(
        result.page, result.pages, lambda number: url_for("provider.colleagues", page=number)
    )
    if pagination:
        pagination["landmarkLabel"] = "Pages of colleagues"
    return render_template(
        "provider/colleagues.html", result=result, pagination=pagination, status_of=users.status_of
    )


@bp.route("/colleagues/invite", methods=["GET", "POST"])
@roles(Role.PROVIDER)
@submissions.single_submit("colleague invitation")
def invite_colleague():
    try:
        users.ensure_may_invite_colleagues(current_user)
    except users.NotAllowed:
        abort(403)
    form = InviteColleagueForm()
    if form.validate_on_submit():
        try:
            # Where it leads is known before: the service commits the claim with the new colleague.
            claimed = submissions.claim(submissions.sent_token(), current_user, "colleague invitation")
            submissions.made(claimed, url_for("provider.colleagues"))
            colleague = users.invite_colleague(current_user, email=form.email.data, name=form.name.data, ip=client_ip())
        except users.NotAllowed:
            abort(403)
        except DomainError as error:
            getattr(form, error.field if error.field in {"email", "name"} else "email").errors.append(error.message)
        else:
            flash(f"Invitation sent to {colleague.email}. The link in it works for 72 hours.", "success")
            return redirect(url_for("provider.colleagues"))
    return render_template("provider/invite_colleague.html", form=form)
