"""Single-use tokens on the forms that create something, so a double click, a retry or the back button never makes a
second record (issue 10).

A create form's template puts ``{{ submission_token_field() }}`` beside its CSRF token: a fresh random token each
time the form is drawn (shown again after a refusal, it gets a new one, since the refused send claimed nothing). Its
route is decorated with ``@single_submit(form)``, which refuses a POST whose token is not one the portal could have
drawn (400) and sends a repeat of a send already made to what it made, before the route checks anything else. The
route calls ``claim(token, user, form)`` just before the insert, in the same transaction, and ``made(claimed, url)``
with where the new record is before it commits.

A send with no token at all (a page drawn before this was deployed, a script) is taken as before, unguarded: every
form the portal draws has one, so a double click in a browser is always caught, and a client that leaves it out
could as well draw a fresh token for each send. (To refuse it instead, make ``_unguarded`` return False.)

The claim is a row of ``form_submissions`` whose primary key is the token. A second send of the same form collides
with it (on PostgreSQL it waits for the first one's transaction and collides once that commits) and raises
AlreadySent: nothing of that send is kept and the person is sent to what the first send made, with a message.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

import sqlalchemy as sa
from flask import Flask, flash, redirect, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db, htmx
from portal.models import FormSubmission, User
from portal.models.base import utcnow

TOKEN_FIELD = "submission_token"
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")

ALREADY_SENT = "This form was already sent, so nothing new was made. This is what it made."
ALREADY_SENT_ELSEWHERE = "This form was already sent, so nothing new was made."
BAD_TOKEN_PAGE = (
    "Your form could not be sent",
    "A part the portal adds to the form had been changed, so it was not accepted and nothing was saved. "
    "Go back, reload the page and send it again.",
)


class AlreadySent(Exception):
    """The form's token was claimed before: ``location`` is what that send made (None if it is not this person's)."""

    def __init__(self, location: str | None):
        super().__init__(location)
        self.location = location


class BadToken(Exception):
    """The form came without a token the portal could have drawn."""


def single_submit(form: str):
    """Mark a route as one whose form creates something: a POST's token must be well-formed, and a token claimed
    before is answered by sending the person to what that send made (a quick look; ``claim`` is what guarantees it,
    for two sends that arrive together). ``view.single_submit_form`` names the form, so tests can list these routes.
    """

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if request.method == "POST" and not _unguarded(token := sent_token()):
                if not _well_formed(token):
                    raise BadToken()
                earlier = db.session.get(FormSubmission, token)
                if earlier is not None:
                    user = current_user if current_user.is_authenticated else None
                    raise AlreadySent(_location_for(earlier, user, form))
            return view(*args, **kwargs)

        guarded.single_submit_form = form
        return guarded

    return decorate


def _unguarded(token) -> bool:
    """A send without a token: taken as it was before tokens, unguarded (see the module's notes)."""
    return token is None


def _well_formed(token) -> bool:
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def _location_for(earlier: FormSubmission, user: User | None, form: str) -> str | None:
    """Where the earlier send's record is, only for the same person's same form."""
    user_id = user.id if user is not None else None
    return earlier.location if earlier.user_id == user_id and earlier.form == form else None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def sent_token() -> str | None:
    """The token the request's form carried."""
    return request.form.get(TOKEN_FIELD)


@dataclass
class Claim:
    """A token claimed by this request (the row is in its transaction, not yet committed)."""

    token: str
    user_id: int | None
    form: str
    # Tells this request's claim from one a concurrent send of the same form made after this one's was rolled back.
    created_at: datetime


def claim(token: str | None, user: User | None, form: str) -> Claim | None:
    """Claim the token for this send, in the caller's transaction (a rollback gives it back); None for a send without
    one (unguarded).

    Raises BadToken for a malformed token, and AlreadySent if it was claimed before; the caller's transaction is left
    as it was. On PostgreSQL a claim made by a transaction still running waits for it: once it commits this is
    AlreadySent, if it rolls back this claim goes through."""
    if _unguarded(token):
        return None
    if not _well_formed(token):
        raise BadToken()
    claimed = Claim(token=token, user_id=user.id if user is not None else None, form=form, created_at=utcnow())
    _insert(claimed, location=None)
    return claimed


def made(claimed: Claim | None, location: str) -> None:
    """Record where the new record is (a local path), before the caller commits. A service that rolled back on its
    own (to retry after losing a race of its own) took the claim with it: it is claimed again, so it still holds."""
    if claimed is None:
        return
    # RETURNING tells whether a row was written (the driver's rowcount is not reliable on every database).
    updated = db.session.execute(
        sa.update(FormSubmission)
        .where(FormSubmission.token == claimed.token, FormSubmission.created_at == claimed.created_at)
        .values(location=location)
        .returning(FormSubmission.token)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if updated is None:
        _insert(claimed, location=location)


def _insert(claimed: Claim, *, location: str | None) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on the token (the primary key): no error aborts the caller's transaction
    and no savepoint is needed (SQLite's driver would commit an outermost one). No row inserted: AlreadySent."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted = db.session.execute(
        insert(FormSubmission)
        .values(
            token=claimed.token,
            user_id=claimed.user_id,
            form=claimed.form,
            location=location,
            created_at=claimed.created_at,
        )
        .on_conflict_do_nothing()
        .returning(FormSubmission.token)
    ).scalar_one_or_none()
    if inserted is not None:
        return
    earlier = db.session.get(FormSubmission, claimed.token, populate_existing=True)
    location = None
    if earlier is not None and earlier.user_id == claimed.user_id and earlier.form == claimed.form:
        location = earlier.location
    raise AlreadySent(location)


# How long a claimed token is kept. A form can be sent only with its page's CSRF token, which lives as long as the
# sign-in session (SESSION_ABSOLUTE_HOURS, 12 by default): a week is far past the last moment a repeat could come.
KEEP_CLAIMS = timedelta(days=7)


def forget_old_claims(now: datetime | None = None, keep: timedelta = KEEP_CLAIMS) -> int:
    """Delete the claims older than ``keep``; return how many. Does not commit."""
    cutoff = (now or utcnow()) - keep
    deleted = db.session.execute(
        sa.delete(FormSubmission)
        .where(FormSubmission.created_at < cutoff)
        .returning(FormSubmission.token)
        .execution_options(synchronize_session=False)
    )
    return len(deleted.all())


def submission_token_field() -> Markup:
    """The hidden input of a create form: a fresh token each time the form is drawn."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(TOKEN_FIELD, new_token())


def init_submissions(app: Flask) -> None:
    app.jinja_env.globals["submission_token_field"] = submission_token_field

    def handle_already_sent(error: AlreadySent):
        db.session.rollback()
        location = error.location or "/"
        flash(ALREADY_SENT if error.location else ALREADY_SENT_ELSEWHERE, "info")
        if htmx:
            # An htmx form would swap the next page into a fragment: have the browser go there instead.
            return "", 200, {"HX-Redirect": location}
        return redirect(location, 303)

    def handle_bad_token(error: BadToken):
        from portal.errors import render_error

        db.session.rollback()
        return render_error(400, *BAD_TOKEN_PAGE)

    app.register_error_handler(AlreadySent, handle_already_sent)
    app.register_error_handler(BadToken, handle_bad_token)
