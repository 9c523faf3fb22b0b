"""Signing in (password, then two-factor), setting up two-factor, signing out, staying signed in."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal import devices
from portal.access import ALL_ROLES, public, role_home_endpoint, roles
from portal.blueprints.auth.forms import ActionForm, ContinueForm, SetUpTwoFactorForm, SignInForm, TwoFactorForm
from portal.extensions import limiter
from portal.models import User
from portal.services import accounts, sessions, two_factor
from portal.services.errors import DomainError
from portal.signin import END_MESSAGES, Stage, begin_pending, clear_pending, pending_user, set_pending_stage
from portal.web import client_ip, user_agent

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = "Enter a correct email address and password"
WRONG_CODE = "The code is not correct, or it has been used already. Enter a new code from your app"
NEXT_KEY = "next_after_sign_in"


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, never a scheme-relative //host URL. Control characters and
    whitespace are refused too: a browser drops tabs and line breaks ("/\t/evil" is "//evil" to it), and a CR or LF
    in a Location header would be a header injection (werkzeug raises, which would be a 500)."""
    if not target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _finish_sign_in(user: User, method: str, message: str | None = None):
    """Every factor checked: a new session (nothing from before survives), then the page they wanted or home."""
    next_url = session.get(NEXT_KEY)
    device = devices.device_for(user.email)
    accounts.complete_sign_in(user, ip=client_ip(), user_agent=user_agent(), method=method, device=device)
    session.clear()
    login_user(user)
    if message:
        flash(message, "info")
    response = redirect(next_url or url_for(role_home_endpoint(user.role)))
    devices.remember(response, user.email)
    return response


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(role_home_endpoint(current_user.role)))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = accounts.check_credentials(
                form.email.data, form.password.data, ip=client_ip(), device=devices.device_for(form.email.data)
            )
        except DomainError as error:
            form.email.errors.append(error.message)
            return render_template("auth/sign_in.html", form=form)
        if user is None:
            # One message for every failure, against the email field: it never says which part was wrong.
            form.email.errors.append(WRONG_CREDENTIALS)
            return render_template("auth/sign_in.html", form=form)
        next_url = _safe_next(request.args.get("next"))
        if user.two_factor_enabled:
            begin_pending(user, Stage.TWO_FACTOR)
        elif user.two_factor_required:
            begin_pending(user, Stage.SET_UP)
        else:
            session[NEXT_KEY] = next_url
            return _finish_sign_in(user, method="password")
        session[NEXT_KEY] = next_url
        return redirect(url_for("auth.two_factor_code" if user.two_factor_enabled else "auth.two_factor_set_up"))
    return render_template("auth/sign_in.html", form=form)


@bp.route("/sign-in/two-factor", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["TWO_FACTOR_RATE_LIMIT"], methods=["POST"])
def two_factor_code():
    user = pending_user(Stage.TWO_FACTOR)
    if user is None:
        return redirect(url_for("auth.login"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        code = form.code.data
        if two_factor.verify_code(user, code):
            return _finish_sign_in(user, method="authenticator app")
        if two_factor.use_recovery_code(user, code, ip=client_ip()):
            left = two_factor.recovery_codes_left(user)
            message = (
                f"You signed in with a recovery code. You have {left} left: "
                "make new ones from Your account if you are running out."
            )
            return _finish_sign_in(user, method="recovery code", message=message)
        try:
            accounts.record_failed_attempt(
                user.email, user, ip=client_ip(), reason="wrong two-factor code", device=devices.device_for(user.email)
            )
        except DomainError as error:
            clear_pending()
            flash(error.message, "info")
            return redirect(url_for("auth.login"))
        form.code.errors.append(WRONG_CODE)
    return render_template("auth/two_factor.html", form=form)


@bp.route("/two-factor/set-up", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["TWO_FACTOR_RATE_LIMIT"], methods=["POST"])
def two_factor_set_up():
    """Set up two-factor: mandatory half-way through signing in (providers, managers), or by choice (officers)."""
    user = current_user if current_user.is_authenticated else pending_user(Stage.SET_UP)
    if user is None:
        return redirect(url_for("auth.login"))
    if user.two_factor_enabled:
        return redirect(url_for("account.home"))
    form = SetUpTwoFactorForm()
    if not user.totp_secret:
        # A secret not yet confirmed is kept, so reloading the page does not change the QR code.
        two_factor.start_set_up(user)
    elif form.validate_on_submit():
        try:
            codes = two_factor.confirm_set_up(user, form.code.data, ip=client_ip())
        except DomainError as error:
            form.code.errors.append(error.message)
        else:
            if not current_user.is_authenticated:
                set_pending_stage(Stage.RECOVERY_CODES)
            return render_template("auth/recovery_codes.html", codes=codes, form=ContinueForm())
    uri = two_factor.provisioning_uri(user, user.totp_secret)
    return render_template(
        "auth/two_factor_set_up.html",
        form=form,
        qr_code=two_factor.qr_code_svg(uri),
        secret=two_factor.formatted_secret(user.totp_secret),
        mandatory=user.two_factor_required,
    )


@bp.post("/two-factor/recovery-codes-saved")
@public
def recovery_codes_saved():
    """The user has saved their recovery codes: finish the sign-in that set up two-factor."""
    if current_user.is_authenticated:
        flash("Two-factor authentication is on.", "success")
        return redirect(url_for("account.home"))
    user = pending_user(Stage.RECOVERY_CODES)
    if user is None or not ContinueForm().validate_on_submit():
        return redirect(url_for("auth.login"))
    return _finish_sign_in(user, method="authenticator app (set up)")


@bp.post("/sign-out")
@roles(*ALL_ROLES)
def logout():
    idle = request.form.get("reason") == "idle"  # sent by the timeout warning when its countdown ends
    accounts.sign_out(current_user, ip=client_ip())
    logout_user()
    session.clear()
    flash(END_MESSAGES[sessions.EndReason.IDLE] if idle else "You have signed out.", "info" if idle else "success")
    return redirect(url_for("auth.login"))


@bp.post("/session/extend")
@roles(*ALL_ROLES)
def extend_session():
    """'Stay signed in' from the timeout warning: restarts the idle clock. htmx gets 204; a plain form goes back."""
    if not ActionForm().validate_on_submit():
        return redirect(url_for("pages.index"))
    sessions.extend_session(current_user.current_session)
    if request.headers.get("HX-Request"):
        return "", 204
    return redirect(_safe_next(request.form.get("back")) or url_for(role_home_endpoint(current_user.role)))


# Forgotten passwords and emailed links, and a provider registering itself, register their routes on this blueprint.
from portal.blueprints.auth import passwords, register  # noqa: E402, F401
