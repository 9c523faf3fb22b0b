"""Fixtures for the system tests: each module gets a scratch PostgreSQL database of its own, migrated by
`flask db upgrade`, and checks that Redis answers.

These tests run in the suite's PostgreSQL run (TEST_DATABASE_URL=postgresql://...). On the SQLite run they are
deselected, with the reason printed at the end: they are about PostgreSQL's transactions, two app servers on one
database and a shared Redis, none of which SQLite has. On the PostgreSQL run nothing is skipped: a database or Redis
that cannot be reached fails the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.conftest import make_app
from tests.helpers import drop_postgresql_database
from tests.system.servers import REDIS_URL, create_scratch_database

HERE = Path(__file__).resolve().parent
DESELECTED_REASON = (
    "tests/system: {count} deselected: they run gunicorn servers and CLI workers against PostgreSQL and Redis; "
    "they run when TEST_DATABASE_URL names a PostgreSQL database (as in .ci/run's PostgreSQL suite)"
)


_DESELECTED = pytest.StashKey[int]()


def _on_postgresql() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_collection_modifyitems(config, items):
    if _on_postgresql():
        return
    system = [item for item in items if HERE in Path(item.path).parents]
    if system:
        config.hook.pytest_deselected(items=system)
        items[:] = [item for item in items if item not in system]
        config.stash[_DESELECTED] = len(system)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    count = config.stash.get(_DESELECTED, 0)
    if count:
        terminalreporter.write_line(DESELECTED_REASON.format(count=count))


@pytest.fixture(scope="module")
def scratch_url(request):
    """A migrated, empty PostgreSQL database for this module alone (named after it), dropped at the end."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    assert url.startswith("postgresql"), "the system tests need TEST_DATABASE_URL=postgresql://..."
    name = f"{sa.make_url(url).database}_{request.module.__name__.rpartition('.')[2]}"
    scratch = create_scratch_database(url, name)
    yield scratch
    drop_postgresql_database(scratch)


@pytest.fixture(scope="module")
def scratch_app(scratch_url):
    """The app in this process, on the scratch database: to load data with the factories and to read it back."""
    app = make_app(scratch_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def scratch_engine(scratch_url):
    engine = sa.create_engine(scratch_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def redis_url():
    """The Redis the servers share. Missing Redis is a failure here, never a skip."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} cannot be reached ({error}); .ci/run starts it")
    finally:
        client.close()
    return REDIS_URL
