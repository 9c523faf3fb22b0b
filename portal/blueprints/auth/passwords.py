"""Forgotten passwords and emailed links: ask for a reset link, and set a password from an invitation or reset link.

Registered on the auth blueprint (imported at the bottom of portal/blueprints/auth/__init__.py).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

from portal.access import public
from portal.blueprints.auth import bp
from portal.extensions import limiter
from portal.models import TokenPurpose
from portal.services import account_tokens, accounts, users
from portal.services.errors import DomainError
from portal.web import client_ip

PASSWORD_HINT = (
    "At least 12 characters. A few unrelated words make a strong password that is easy to remember. "
    "You can paste it from a password manager."
)


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="The address you sign in with.",
        render_kw={"autocomplete": "email", "spellcheck": "false", "type": "email"},
        validators=[InputRequired(message="Enter your email address"), Length(max=254)],
    )
    submit = SubmitField("Send me a link", widget=GovSubmitInput())

    def validate_email(self, field):
        try:
            accounts.normalise_email(field.data)
        except DomainError as error:
            field.errors.append(error.message)


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        widget=GovPasswordInput(),
        description=PASSWORD_HINT,
        render_kw={"autocomplete": "new-password"},
        validators=[InputRequired(message="Enter a new password"), Length(max=1024)],
    )
    confirm = PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        render_kw={"autocomplete": "new-password"},
        validators=[
            InputRequired(message="Confirm your new password"),
            EqualTo("password", "The passwords do not match"),
        ],
    )
    submit = SubmitField("Set password", widget=GovSubmitInput())


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        users.request_password_reset(form.email.data, ip=client_ip())
        # The same answer whether or not an account uses the address, so the page tells nobody who has an account.
        return render_template("auth/forgot_password_sent.html", email=form.email.data.strip())
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
def set_password(token: str):
    """Accept an invitation or finish a reset. Success never signs in: the user signs in (with two-factor, if their
    role has it) afterwards."""
    try:
        account_token = account_tokens.find_valid(token)
    except DomainError as error:
        return _link_not_valid(error)
    purpose = account_token.purpose
    user = account_token.user
    form = SetPasswordForm()
    if purpose is TokenPurpose.INVITATION:
        form.submit.label.text = "Set password"
    else:
        form.submit.label.text = "Reset password"
    if form.validate_on_submit():
        try:
            users.set_password_with_token(token, purpose, form.password.data, ip=client_ip())
        except (account_tokens.LinkNotValid, account_tokens.LinkExpired, account_tokens.LinkUsed) as error:
            return _link_not_valid(error)
        except DomainError as error:
            form.password.errors.append(error.message)
        else:
            flash("Your password is set. Sign in.", "success")
            return redirect(url_for("auth.login"))
    return render_template(
        "auth/set_password.html",
        form=form,
        invitation=purpose is TokenPurpose.INVITATION,
        email=user.email,
        expires_at=account_token.expires_at,
    )


def _link_not_valid(error: DomainError):
    token = getattr(error, "token", None)
    purpose = token.purpose if token is not None else None
    if isinstance(error, account_tokens.LinkExpired):
        title, status = "This link has expired", 410
    elif isinstance(error, account_tokens.LinkUsed):
        title, status = "This link has been used already", 410
    else:
        title, status = "This link is not valid", 404
    return (
        render_template(
            "auth/link_not_valid.html", title=title, message=error.message, purpose=purpose, TokenPurpose=TokenPurpose
        ),
        status,
    )
