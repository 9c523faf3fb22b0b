"""Optional instrumentation for the load benchmark (bench/run.py): with SQL_STATEMENT_HEADER on, every response says
how many SQL statements its request sent, in ``X-SQL-Statements``.

Off by default, and then nothing is registered at all, so an ordinary deployment pays nothing for it.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, g, has_app_context

HEADER = "X-SQL-Statements"


def _count_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    # Statements outside a request (the CLI, app start-up) have no counter and are not counted.
    if has_app_context() and "sql_statements" in g:
        g.sql_statements += 1


def init_instrumentation(app: Flask) -> None:
    if not app.config.get("SQL_STATEMENT_HEADER"):
        return

    from portal.extensions import db

    with app.app_context():
        # The same hook the suite's count_queries() uses, so the header and the tests agree on what a statement is.
        sa.event.listen(db.engine, "before_cursor_execute", _count_statement)

    @app.before_request
    def start_counting() -> None:
        g.sql_statements = 0

    @app.after_request
    def report_count(response):
        response.headers[HEADER] = str(g.get("sql_statements", 0))
        return response
