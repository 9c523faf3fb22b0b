"""The benchmark's X-SQL-Statements header (portal.instrumentation): present and exact when switched on, absent when
off (the default)."""

from portal.extensions import db
from portal.models import Role
from tests.conftest import make_app
from tests.helpers import count_queries, sign_in


def test_the_header_is_off_by_default(client, user_factory):
    user = user_factory(Role.OFFICER)
    sign_in(client, user.email)
    response = client.get("/account/")
    assert response.status_code == 200
    assert "X-SQL-Statements" not in response.headers


def test_the_header_counts_the_statements_of_each_request(app, database_url, user_factory):
    counted_app = make_app(database_url, SQL_STATEMENT_HEADER=True)
    client = counted_app.test_client()
    user = user_factory(Role.OFFICER)
    sign_in(client, user.email)

    with counted_app.app_context():
        engine = db.engine
    with count_queries(engine) as counter:
        response = client.get("/account/")
    assert response.status_code == 200
    # The signed-in page reads the session and the user at least: a count of 0 would mean nothing was counted.
    assert counter.count >= 2
    assert response.headers["X-SQL-Statements"] == str(counter.count)

    # A page that sends no SQL says 0: the counter starts afresh with each request.
    with count_queries(engine) as counter:
        static = client.get("/static/app.js")
    assert counter.count == 0
    assert static.headers["X-SQL-Statements"] == "0"
