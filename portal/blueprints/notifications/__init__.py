"""In-portal notifications: the list, "Mark all as read", and the bell in the header (an htmx fragment)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from portal.access import ALL_ROLES, roles
from portal.extensions import htmx
from portal.pagination import govuk_pagination
from portal.services import notifications

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def unread_notification_count() -> int | None:
    """The signed-in user's unread count, counted once per request (one COUNT query) and only if a template asks."""
    if not current_user.is_authenticated:
        return None
    if "unread_notification_count" not in g:
        try:
            g.unread_notification_count = notifications.unread_count(current_user.id)
        except SQLAlchemyError:
            # An error page after a database failure still renders: the bell just shows no count.
            g.unread_notification_count = None
    return g.unread_notification_count


@bp.app_context_processor
def inject_unread_count():
    if not current_user.is_authenticated:
        return {}
    return {"unread_notification_count": unread_notification_count}


@bp.get("/")
@roles(*ALL_ROLES)
def index():
    result = notifications.page_of_notifications(current_user.id, request.args.get("page", 1, type=int))
    pagination = govuk_pagination(
        result.page, result.pages, lambda number: url_for("notifications.index", page=number)
    )
    return render_template("notifications/index.html", notifications=result, pagination=pagination)


@bp.post("/read")
@roles(*ALL_ROLES)
def mark_all_read():
    marked = notifications.mark_all_read(current_user.id)
    g.pop("unread_notification_count", None)
    if marked:
        flash(f"{marked} notification{'s' if marked != 1 else ''} marked as read.", "success")
    return redirect(url_for("notifications.index"))


@bp.get("/count")
@roles(*ALL_ROLES)
def count():
    """The bell, for htmx to refresh in place. Anyone opening the address in a browser gets the list instead."""
    if not htmx:
        return redirect(url_for("notifications.index"))
    return render_template("notifications/partials/bell.html")
