"""Helpers shared by the test suites: a SQL statement counter, CSRF tokens, signing in, a route that fails on purpose."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Blueprint, abort

from portal.access import public

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
DEFAULT_PASSWORD = "correct horse battery staple"


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


def sign_in(client, email: str, password: str = DEFAULT_PASSWORD, follow_redirects: bool = False):
    token = csrf_token(client, "/sign-in")
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=follow_redirects,
    )


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
