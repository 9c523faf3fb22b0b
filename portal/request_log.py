"""One log line per request, and log records that never carry what people typed.

Every request writes one record to the ``portal.request`` logger at INFO: the request id, the signed-in user's id
(never an email), the method, the route's rule ("/officer/referrals/<int:referral_id>", never the path or query
string, which can hold a search for a child's name or an emailed link's token), the status and the duration. With
LOG_FORMAT=json (the default outside development) every record of the ``portal`` loggers is one JSON object a line;
with LOG_FORMAT=text it is a plain line for a person reading the terminal.

The request id is the proxy's ``X-Request-Id`` when it is well formed (so the load balancer's logs and ours join
up), a new uuid4 otherwise, and is sent back in the response's ``X-Request-Id``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from types import MethodType

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from flask_login import user_logged_out

LOGGER_NAME = "portal.request"
REQUEST_ID_HEADER = "X-Request-Id"
# Letters, digits, dots, underscores and hyphens only, so a header can put nothing else into a log line.
WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# The fields a request line carries, in the order they are written.
REQUEST_FIELDS = ("request_id", "user_id", "method", "route", "status", "duration_ms")
TEXT_FORMAT = "[%(asctime)s] %(levelname)s in %(name)s: %(message)s"

logger = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time (UTC), level, logger, message, and the request's fields when there
    are any. A traceback is kept (as ``exception``); record arguments are formatted into the message only."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_fields = getattr(record, "request_fields", None)
        if request_fields is not None:
            line.update(request_fields)
        elif has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id  # an error or warning inside a request joins up with its line
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class StandardErrorHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, not the one there when the app was made (a test
    harness swaps it and closes the old one). ``setStream`` still fixes a stream of its own choosing."""

    portal_handler = True  # how configure_logging finds the handler it put on, to replace it

    def __init__(self) -> None:
        super().__init__()
        self.stream = None

    @property
    def stream(self):
        return self.__dict__.get("_stream") or sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        self.__dict__["_stream"] = value


def _request_id() -> str:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    if WELL_FORMED_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = _request_id()


def _signed_in_user_id() -> int | None:
    """The user's id if this request has loaded the user; never loads it (that would be a query of its own)."""
    if "request_log_user_id" in g:  # signed out during this request: it was still theirs
        return g.request_log_user_id
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return _id_without_loading(user)


def _id_without_loading(user) -> int | None:
    # After a commit in the request the user's attributes are expired, and reading user.id would SELECT the row
    # again: the identity the session keeps for it needs no query.
    state = sa.inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return getattr(user, "id", None)


def _remember_signed_out_user(sender, user, **extra) -> None:
    if has_request_context():
        g.request_log_user_id = _id_without_loading(user)


def _add_request_id(response):
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
        g.request_log_status = response.status_code
    return response


def _write_line(error: BaseException | None) -> None:
    """At the end of every request, whatever happened: one line. An exception that escaped every handler (only
    when exceptions propagate, as under test) is a 500."""
    if "request_started" not in g:
        return  # a request context that never ran as a request (test_request_context)
    status = g.get("request_log_status", 500 if error is not None else None)
    rule = request.url_rule.rule if request.url_rule is not None else None
    fields = {
        "request_id": g.request_id,
        "user_id": _signed_in_user_id(),
        "method": request.method,
        "route": rule,
        "status": status,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
    }
    message = (
        f"{fields['method']} {rule or '(no route)'} {status} {fields['duration_ms']}ms"
        f" user={fields['user_id']} request={fields['request_id']}"
    )
    logger.info(message, extra={"request_fields": fields})


def _log_exception(app: Flask, exc_info) -> None:
    """Flask's own log_exception names ``request.path``, which for an emailed link holds its token. Name the route
    and the request id instead; never the path, the query string or the form."""
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    app.logger.error("Exception on %s [%s]", rule, request.method, exc_info=exc_info)


def configure_logging(app: Flask) -> None:
    """One handler on the ``portal`` logger (Flask's app.logger and ours below it), writing to stderr in the chosen
    format. Records still propagate, so a test's caplog and a root handler see them too. Calling it again (another
    app in the same process) replaces the handler instead of adding a second."""
    portal_logger = app.logger  # also makes Flask create it now, so its default handler can be taken off
    for handler in list(portal_logger.handlers):
        if handler is default_handler or getattr(handler, "portal_handler", False):
            portal_logger.removeHandler(handler)
    handler = StandardErrorHandler()
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else logging.Formatter(TEXT_FORMAT))
    portal_logger.addHandler(handler)
    if portal_logger.level == logging.NOTSET:  # a level set on purpose (DEBUG in debug mode) is kept
        portal_logger.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    configure_logging(app)
    # First of all before-request functions, so the duration covers the session check and access rules too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    # After-request functions run last-registered first, so at the front of the list it runs last and sees the
    # status every other one has settled on (a 304 from an ETag, say).
    app.after_request_funcs.setdefault(None, []).insert(0, _add_request_id)
    app.teardown_request(_write_line)
    user_logged_out.connect(_remember_signed_out_user)  # once per process, however many apps: blinker dedupes
    app.log_exception = MethodType(_log_exception, app)
