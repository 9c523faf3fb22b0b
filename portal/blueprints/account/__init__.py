"""Your account: password, email, two-factor, recovery codes, and the browsers you are signed in on."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, logout_user

from portal.access import ALL_ROLES, roles
from portal.blueprints.auth.forms import ActionForm, ChangeEmailForm, ChangePasswordForm, PasswordConfirmForm
from portal.extensions import db
from portal.services import accounts, audit, sessions, two_factor
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError
from portal.web import client_ip

bp = Blueprint("account", __name__, url_prefix="/account")


def _show_error(form, error: DomainError, default_field: str):
    getattr(form, error.field if error.field and hasattr(form, error.field) else default_field).errors.append(
        error.message
    )


@bp.get("/")
@roles(*ALL_ROLES)
def home():
    return render_template(
        "account/home.html",
        open_sessions=sessions.open_sessions(current_user),
        recovery_codes_left=two_factor.recovery_codes_left(current_user) if current_user.two_factor_enabled else 0,
        action_form=ActionForm(),
    )


@bp.route("/password", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data, ip=client_ip())
        except DomainError as error:
            _show_error(form, error, "password")
        else:
            flash("Your password has been changed. You have been signed out on your other devices.", "success")
            return redirect(url_for("account.home"))
    return render_template("account/change_password.html", form=form)


@bp.route("/email", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def change_email():
    form = ChangeEmailForm(data={"version": current_user.version})
    conflict = None
    if form.validate_on_submit():
        try:
            accounts.change_email(
                current_user, form.current_password.data, form.email.data, ip=client_ip(), version=form.version.data
            )
        except Conflict as error:
            # What was typed stays (but the password); the version becomes the account's now, so sending again works.
            db.session.rollback()
            form.version.data = str(current_user.version)
            conflict = error.message
        except DomainError as error:
            _show_error(form, error, "email")
        else:
            flash(f"Your email address is now {current_user.email}.", "success")
            return redirect(url_for("account.home"))
    return (
        render_template("account/change_email.html", form=form, conflict=conflict),
        409 if conflict else 200,
    )


@bp.route("/two-factor/turn-off", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def turn_off_two_factor():
    if current_user.two_factor_required or not current_user.two_factor_enabled:
        return redirect(url_for("account.home"))
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        try:
            accounts.require_password(current_user, form.current_password.data)
            two_factor.turn_off(current_user)
        except DomainError as error:
            _show_error(form, error, "current_password")
        else:
            audit.record(Events.TWO_FACTOR_TURNED_OFF, actor=current_user, ip=client_ip())
            db.session.commit()
            flash("Two-factor authentication is off.", "success")
            return redirect(url_for("account.home"))
    return render_template("account/turn_off_two_factor.html", form=form)


@bp.route("/recovery-codes", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def new_recovery_codes():
    if not current_user.two_factor_enabled:
        return redirect(url_for("account.home"))
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        try:
            accounts.require_password(current_user, form.current_password.data)
        except DomainError as error:
            _show_error(form, error, "current_password")
        else:
            codes = two_factor.replace_recovery_codes(current_user)
            audit.record(Events.RECOVERY_CODES_REPLACED, actor=current_user, ip=client_ip())
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes, form=None)
    return render_template("account/new_recovery_codes.html", form=form)


@bp.post("/sign-out-everywhere")
@roles(*ALL_ROLES)
def sign_out_everywhere():
    if ActionForm().validate_on_submit():
        accounts.sign_out_everywhere(current_user, ip=client_ip())
        logout_user()
        flash("You have been signed out on every device, this one too.", "success")
    return redirect(url_for("auth.login"))
