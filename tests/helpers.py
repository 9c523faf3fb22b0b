"""Helpers shared by the test suites: a SQL statement counter, CSRF tokens, signing in, a route that fails on purpose."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import pyotp
import sqlalchemy as sa
from flask import Blueprint, abort

from portal.access import public
from portal.services import accounts

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
DEFAULT_PASSWORD = "correct horse battery staple"
# The two-factor secret of factory providers and managers (officers have none unless a test gives them one).
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T = TypeVar("T")


@dataclass
class QueryCounter:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries(engine: sa.Engine):
    """Count the SQL statements sent to the database inside the block (for the no-N+1 checks of list pages)."""
    counter = QueryCounter()

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        counter.statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


def csrf_token(client, path: str = "/accessibility") -> str:
    """The CSRF token of the client's session, read from a page's meta tag as a browser would."""
    response = client.get(path)
    match = CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no CSRF meta tag on {path}"
    return match.group(1)


def totp_code(secret: str = TEST_TOTP_SECRET, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + steps_ahead * 30)


def sign_in(client, email: str, password: str = DEFAULT_PASSWORD, totp_secret: str = TEST_TOTP_SECRET):
    """Sign in through the forms, answering the two-factor step if the account has one. Returns the last response."""
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})
    if response.status_code == 302 and response.headers["Location"] == "/sign-in/two-factor":
        response = submit_two_factor(client, totp_secret)
    return response


def start_session(client, email: str) -> None:
    """Sign ``email`` in without the sign-in forms, for tests about something else: the session the forms end with,
    made by the same service (accounts.complete_sign_in) and stored as Flask-Login stores it. The forms themselves are
    driven by sign_in (tests/web/test_sign_in.py, test_two_factor.py, the browser journeys). About 30 ms less a
    sign-in, and the suite signs in hundreds of times."""
    with client.application.app_context():
        user = accounts.find_user_by_email(email)  # as the sign-in form finds them
        assert user is not None and user.active, f"{email} is not an active user: it could not sign in"
        token = accounts.complete_sign_in(user, ip="127.0.0.1", user_agent="test client", method="password").token
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True


def submit_two_factor(client, secret: str = TEST_TOTP_SECRET):
    """Send a code from the authenticator; if this step's code was used already (a second sign-in within 30 seconds),
    the next step's code, which the drift allowance accepts."""
    token = csrf_token(client, "/sign-in/two-factor")
    for steps_ahead in (0, 1):
        data = {"code": totp_code(secret, steps_ahead), "csrf_token": token}
        response = client.post("/sign-in/two-factor", data=data)
        if response.status_code == 302:
            return response
    return response


# Only the apps the tests build for error pages register this blueprint; the real app never has it.
failing_routes = Blueprint("failing", __name__, url_prefix="/_test")


@failing_routes.get("/abort/<int:code>")
@public
def abort_with(code: int):
    abort(code)


@failing_routes.get("/crash")
@public
def crash():
    raise RuntimeError("a bug the user must never see")


def create_empty_postgresql_database(url: str) -> str:
    """Make the PostgreSQL database ``url`` names afresh (dropped first if a failed run left it) and return its URL."""
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


def drop_postgresql_database(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def empty_database(suite_url: str, suffix: str, folder):
    """An empty database of the suite's kind beside the suite's own, removed afterwards: a new SQLite file in
    ``folder``, or a new PostgreSQL database named after the suite's with ``_<suffix>``."""
    url = sa.make_url(suite_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / f'{suffix}.sqlite3'}"
        return
    scratch = create_empty_postgresql_database(url.set(database=f"{url.database}_{suffix}"))
    try:
        yield scratch
    finally:
        drop_postgresql_database(scratch)


def all_at_once(count: int, action: Callable[[int], T], timeout: float = 120) -> list[T]:
    """Run ``action(0)`` … ``action(count - 1)`` in as many threads released together by a barrier, and return their
    results in that order. Fails with the threads' exceptions, which would otherwise vanish."""
    start = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait(timeout=30)
            results[n] = action(n)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not errors, errors
    return results
