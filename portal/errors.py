"""Error pages in the house style: a title, a sentence of what to do, never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("There is a problem with the request", "The page could not handle what was sent. Go back and try again."),
    403: (
        "You do not have permission to see this page",
        "Your account cannot open this page. If you think it should, contact the commissioning manager.",
    ),
    404: ("Page not found", "If you typed the web address, check it is correct. If you pasted it, check you copied all of it."),
    405: ("This action is not available here", "The page does not accept that kind of request. Go back and try again."),
    413: (
        "The file or form is too large",
        "What you sent was larger than the portal accepts. Make it smaller and try again.",
    ),
    429: (
        "Too many attempts",
        "You have tried this too many times in a short time. Wait a few minutes, then try again.",
    ),
    500: (
        "Sorry, there is a problem with the service",
        "Try again later. Nothing you saved before this page appeared has been lost.",
    ),
}

CSRF_PAGE = (
    "Your form could not be sent",
    "The page had been open too long or came from another site, so the form was not accepted. "
    "Go back, reload the page and send it again.",
)


def render_error(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def record_access_refused(app: Flask) -> None:
    """Audit a 403 in a transaction of its own (whatever the request had pending is dropped). The path only, never
    the query string, which could hold a token. A failure here is logged and never hides the 403 page."""
    from flask import request
    from flask_login import current_user

    from portal.extensions import db
    from portal.services import audit
    from portal.web import client_ip

    try:
        user = current_user._get_current_object() if current_user.is_authenticated else None
        label = user.email if user is not None else "anonymous"
        db.session.rollback()
        audit.record(
            audit.Events.ACCESS_REFUSED,
            actor=user,
            actor_label=label,
            ip=client_ip(),
            method=request.method,
            path=request.path,
        )
        db.session.commit()
    except Exception:
        app.logger.exception("Could not record a refused access in the audit trail")
        try:
            db.session.rollback()
        except Exception:
            app.logger.exception("Could not roll back after failing to record a refused access")


def init_error_pages(app: Flask) -> None:
    def handle_http_error(error: HTTPException):
        if error.code == 403:
            record_access_refused(app)
        title, message = ERROR_PAGES.get(error.code, (error.name, error.description))
        response = render_error(error.code, title, message)
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            return (*response, {"Allow": ", ".join(sorted(error.valid_methods))})
        return response

    def handle_csrf_error(error: CSRFError):
        app.logger.warning("CSRF refused: %s", error.description)
        return render_error(400, *CSRF_PAGE)

    def handle_server_error(error: InternalServerError):
        # Flask logs the original exception; the user sees only the page.
        return render_error(500, *ERROR_PAGES[500])

    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_server_error)
