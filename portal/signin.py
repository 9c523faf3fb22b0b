"""Where Flask-Login meets the session service: loading the signed-in user, and the half-way state of a sign-in
whose password is checked but whose second factor is not yet."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import sessions

PENDING_KEY = "pending_sign_in"
# Password checked, second factor not: this half-way state lasts at most this long.
PENDING_LIFETIME = timedelta(minutes=10)


class Stage:
    TWO_FACTOR = "two-factor"
    SET_UP = "set-up"
    RECOVERY_CODES = "recovery-codes"


END_MESSAGES = {
    sessions.EndReason.IDLE: "You were signed out because you had not done anything for a while. Sign in again.",
    sessions.EndReason.ABSOLUTE: "You were signed out because you had been signed in for a long time. Sign in again.",
    sessions.EndReason.PASSWORD_CHANGED: "You were signed out because the password was changed. Sign in again.",
    sessions.EndReason.SIGNED_OUT_EVERYWHERE: "You were signed out on every device. Sign in again.",
    sessions.EndReason.DEACTIVATED: "Your account is no longer active.",
}


def init_login_manager(login_manager: LoginManager) -> None:
    login_manager.session_protection = None  # server-side sessions do this job; Flask-Login's would log noise
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)


# htmx requests the page makes on a timer, not because the person did something (the ids of the polling elements,
# which carry data-background-poll so app.js does not count them either): the bell, the provider's opportunities
# feed and the officer's live offer list.
BACKGROUND_TRIGGERS = frozenset({"notification-bell", "opportunity-results", "referral-offers"})


def _load_user(token: str) -> User | None:
    config = current_app.config
    user, ended_because = sessions.load_session(
        token,
        idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        absolute=timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]),
        touch=request.headers.get("HX-Trigger") not in BACKGROUND_TRIGGERS,
    )
    if user is None:
        g.session_ended_because = ended_because
        session.pop("_user_id", None)
    else:
        # Read with the session (see sessions.load_session); marking notifications read pops it from g.
        unread = getattr(user.current_session, "unread_notifications", None)
        if unread is not None:
            g.unread_notification_count = unread
    return user


def _unauthorized():
    if pending_user(Stage.SET_UP) is not None:
        return redirect(url_for("auth.two_factor_set_up"))
    if pending_user(Stage.TWO_FACTOR) is not None:
        return redirect(url_for("auth.two_factor_code"))
    message = END_MESSAGES.get(g.get("session_ended_because"), "Sign in to see that page.")
    flash(message, "info")
    if request.headers.get("HX-Request"):
        # An htmx request must not swap the sign-in page into a fragment: the whole page goes there instead.
        return "", 204, {"HX-Redirect": url_for("auth.login")}
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def begin_pending(user: User, stage: str) -> None:
    """Password checked: remember who, and what is still to do, in a fresh session."""
    session.clear()
    session[PENDING_KEY] = {"user_id": user.id, "stage": stage, "since": utcnow().isoformat()}


def pending_user(stage: str) -> User | None:
    """The user half-way through signing in at this stage, if that state is recent and the account still active."""
    pending = session.get(PENDING_KEY)
    if not pending or pending.get("stage") != stage:
        return None
    if utcnow() - datetime.fromisoformat(pending["since"]) > PENDING_LIFETIME:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending["user_id"])
    return user if user is not None and user.active else None


def set_pending_stage(stage: str) -> None:
    session[PENDING_KEY] = {**session[PENDING_KEY], "stage": stage}


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)
