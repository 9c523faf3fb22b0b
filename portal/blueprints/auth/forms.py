from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

# Longer than any password the policy accepts (portal.services.passwords): refused before it is hashed.
PASSWORD_TOO_LONG = "Password must be 1024 characters or fewer"


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address"), Length(max=254)],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password"), Length(max=1024)],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class TwoFactorForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        widget=GovTextInput(),
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "params": {"classes": "govuk-input--width-10"}},
        description="The 6-digit code changes every 30 seconds. A recovery code looks like 1a2b3-c4d5e.",
        validators=[InputRequired(message="Enter the code from your authenticator app"), Length(max=20)],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SetUpTwoFactorForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        widget=GovTextInput(),
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "params": {"classes": "govuk-input--width-10"}},
        description="Enter the 6-digit code the app shows after you add this account.",
        validators=[InputRequired(message="Enter the 6-digit code from your authenticator app"), Length(max=20)],
    )
    submit = SubmitField("Turn on two-factor authentication", widget=GovSubmitInput())


class ContinueForm(FlaskForm):
    submit = SubmitField("I have saved my recovery codes", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        render_kw={"autocomplete": "current-password"},
        validators=[InputRequired(message="Enter your current password"), Length(max=1024, message=PASSWORD_TOO_LONG)],
    )
    password = PasswordField(
        "New password",
        widget=GovPasswordInput(),
        description="At least 12 characters. A few unrelated words make a strong password that is easy to remember.",
        render_kw={"autocomplete": "new-password"},
        validators=[InputRequired(message="Enter a new password"), Length(max=1024)],
    )
    confirm = PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        render_kw={"autocomplete": "new-password"},
        validators=[
            InputRequired(message="Confirm your new password"),
            Length(max=1024, message=PASSWORD_TOO_LONG),
            EqualTo("password", "The passwords do not match"),
        ],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())


class ChangeEmailForm(FlaskForm):
    # The account's version the page was drawn from: a change from a stale page is refused (issue 10).
    version = HiddenField()
    email = StringField(
        "New email address",
        widget=GovTextInput(),
        render_kw={"autocomplete": "email", "spellcheck": "false", "type": "email"},
        validators=[InputRequired(message="Enter your new email address"), Length(max=254)],
    )
    current_password = PasswordField(
        "Your password",
        widget=GovPasswordInput(),
        render_kw={"autocomplete": "current-password"},
        validators=[InputRequired(message="Enter your password"), Length(max=1024, message=PASSWORD_TOO_LONG)],
    )
    submit = SubmitField("Change email address", widget=GovSubmitInput())


class PasswordConfirmForm(FlaskForm):
    """A sensitive action (two-factor off, new recovery codes) asks for the password again."""

    current_password = PasswordField(
        "Your password",
        widget=GovPasswordInput(),
        render_kw={"autocomplete": "current-password"},
        validators=[InputRequired(message="Enter your password"), Length(max=1024, message=PASSWORD_TOO_LONG)],
    )
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class ActionForm(FlaskForm):
    """A button that POSTs (sign out everywhere, stay signed in): the CSRF token is all it carries."""

