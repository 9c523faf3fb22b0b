"""A provider registers to use the portal (and then applies to join the DPS).

Registered on the auth blueprint (imported at the bottom of portal/blueprints/auth/__init__.py).
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import Length

from portal.access import public, role_home_endpoint
from portal.blueprints.auth import bp
from portal.extensions import limiter
from portal.services import registration
from portal.services.errors import FieldErrors
from portal.web import client_ip


class RegisterForm(FlaskForm):
    # The service checks every answer (one set of rules); the form only caps what it reads.
    organisation_name = StringField(
        "Organisation name",
        widget=GovTextInput(),
        description="The name people know your organisation by. It is shown to council officers.",
        render_kw={"autocomplete": "organization", "spellcheck": "false"},
        validators=[Length(max=1000)],
    )
    contact_name = StringField(
        "Your full name",
        widget=GovTextInput(),
        render_kw={"autocomplete": "name", "spellcheck": "false"},
        validators=[Length(max=1000)],
    )
    email = StringField(
        "Your email address",
        widget=GovTextInput(),
        description="Use your work address. We will send a link to it to confirm it and set your password.",
        render_kw={"autocomplete": "email", "spellcheck": "false", "type": "email"},
        validators=[Length(max=1000)],
    )
    submit = SubmitField("Register", widget=GovSubmitInput())


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for(role_home_endpoint(current_user.role)))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            registration.register(
                organisation_name=form.organisation_name.data,
                contact_name=form.contact_name.data,
                email=form.email.data,
                ip=client_ip(),
            )
        except FieldErrors as error:
            for name, message in error.errors.items():
                getattr(form, name).errors.append(message)
        else:
            # The same answer whether or not the address had an account already.
            return render_template("auth/register_sent.html", email=form.email.data.strip())
    return render_template("auth/register.html", form=form)
