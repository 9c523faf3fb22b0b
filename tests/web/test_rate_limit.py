"""Sign-in attempts are rate limited per IP address."""

import os

import pytest

from portal.errors import ERROR_PAGES
from portal.extensions import limiter
from tests.conftest import make_app
from tests.helpers import csrf_token


@pytest.fixture(autouse=True)
def _memory_limiter_afterwards(database_url, app):
    """The limiter is one object shared by every app; the last app built sets its storage. Put memory back."""
    yield
    make_app(database_url)
    limiter.reset()


def test_sign_in_posts_beyond_the_limit_get_429(database_url, app):
    limited = make_app(database_url, LOGIN_RATE_LIMIT="3 per minute")
    limiter.reset()
    client = limited.test_client()
    token = csrf_token(client, "/sign-in")
    statuses = [
        client.post("/sign-in", data={"email": "a@example.org", "password": "wrong", "csrf_token": token}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    page = client.post("/sign-in", data={"email": "a@example.org", "password": "x", "csrf_token": token})
    assert ERROR_PAGES[429][0] in page.get_data(as_text=True)
    # Reading the page is not limited: only attempts are.
    assert client.get("/sign-in").status_code == 200
    # Another address is counted on its own.
    other = client.post(
        "/sign-in",
        data={"email": "a@example.org", "password": "wrong", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 200


# A Redis database of this test's own; CI runs the SQLite and PostgreSQL suites at once, each with its own.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_rate_limit_counts_can_live_in_redis(database_url, app):
    import redis

    store = redis.Redis.from_url(TEST_REDIS_URL)
    store.flushdb()
    limited = make_app(database_url, LOGIN_RATE_LIMIT="2 per minute", RATELIMIT_STORAGE_URI=TEST_REDIS_URL)
    client = limited.test_client()
    token = csrf_token(client, "/sign-in")
    data = {"email": "a@example.org", "password": "wrong", "csrf_token": token}
    assert [client.post("/sign-in", data=data).status_code for _ in range(3)] == [200, 200, 429]
    assert store.dbsize() > 0
    store.flushdb()


def test_two_factor_code_attempts_are_rate_limited(database_url, app, user_factory):
    from portal.models import Role
    from tests.helpers import DEFAULT_PASSWORD

    limited = make_app(database_url, TWO_FACTOR_RATE_LIMIT="2 per minute")
    limiter.reset()
    client = limited.test_client()
    user = user_factory(Role.MANAGER)
    token = csrf_token(client, "/sign-in")
    client.post("/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token})
    data = {"code": "000000", "csrf_token": csrf_token(client, "/sign-in/two-factor")}
    statuses = [client.post("/sign-in/two-factor", data=data).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
