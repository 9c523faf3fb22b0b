"""Sign in and sign out."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal.access import public, role_home_endpoint, roles
from portal.blueprints.auth.forms import SignInForm
from portal.extensions import limiter
from portal.models import Role
from portal.services import accounts

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = "Enter a correct email address and password"


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, never a scheme-relative //host URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(role_home_endpoint(current_user.role)))
    form = SignInForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            next_url = _safe_next(request.args.get("next"))
            # A new session at sign-in: nothing from before it (a fixated session, a stale flash) survives.
            session.clear()
            login_user(user)
            return redirect(next_url or url_for(role_home_endpoint(user.role)))
        # One message for every failure, shown against the email field: it never says which part was wrong.
        form.email.errors.append(WRONG_CREDENTIALS)
    return render_template("auth/sign_in.html", form=form)


@bp.post("/sign-out")
@roles(Role.OFFICER, Role.PROVIDER, Role.MANAGER)
def logout():
    accounts.end_all_sessions(current_user)
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.login"))
