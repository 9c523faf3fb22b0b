"""Fixtures for every suite. The schema is built by the migrations, on SQLite by default or on the PostgreSQL named
by TEST_DATABASE_URL. Each test starts with empty tables (rows are deleted after it), so a live server thread and
concurrent threads see real commits."""

from __future__ import annotations

import os
import sqlite3

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

os.environ["PORTAL_ENV"] = "test"
# A data key of this run's own (not the development one, which production refuses), so the production servers the
# system tests start (tests/system/servers.py, with this environment) read the two-factor keys the tests stored.
os.environ.setdefault("DATA_ENCRYPTION_KEY", Fernet.generate_key().decode())


def _isolate_this_worker() -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker has a PostgreSQL database of its own,
    ``<name>_gw0`` and so on, and the system tests' servers a Redis database of their own (7 for gw0, 8 for gw1...).
    Both are written back to the environment, so everything that reads them (the system tests' servers, the scratch
    databases named after the test database) uses the worker's. SQLite needs nothing: each worker has its own
    temporary folder."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        parsed = sa.make_url(url)
        os.environ["TEST_DATABASE_URL"] = parsed.set(database=f"{parsed.database}_{worker}").render_as_string(False)
    os.environ.setdefault("SYSTEM_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{7 + int(worker.removeprefix('gw'))}")


_isolate_this_worker()

from argon2 import PasswordHasher  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db, limiter  # noqa: E402
from portal.services import passwords  # noqa: E402

# The suite signs in and sets passwords a few thousand times, and argon2id at the production cost (19 MiB, two passes)
# takes about 30 ms of CPU each time: a minute of each run. So the tests hash at a test cost, as Django's test
# settings do, before any factory or demo user is made; the servers the system tests start use the production cost.
# `production_password_hashing` puts the production hasher back for the tests of the hashing itself.
PRODUCTION_HASHING = (passwords._hasher, passwords._DUMMY_HASH)
_test_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, hash_len=32, salt_len=16)
passwords._hasher, passwords._DUMMY_HASH = _test_hasher, _test_hasher.hash("no account has this password")
from tests.factories import make_user  # noqa: E402
from tests.helpers import create_empty_postgresql_database  # noqa: E402

# The real SMTP server on loopback (aiosmtpd) that mail tests deliver to.
pytest_plugins = ["tests.smtp_server"]

TEST_CONFIG = {
    # High enough that signing in many times in one test run never trips it; the rate-limit test sets its own.
    "LOGIN_RATE_LIMIT": "10000 per minute",
    "SERVER_NAME": None,
}


# A test database need not outlive a power cut, so its commits do not wait for the disk to flush: SQLite in WAL mode
# with synchronous=NORMAL (0.57 ms to 0.02 ms a commit here), PostgreSQL with synchronous_commit off (1.9 ms to
# 0.2 ms). What another connection or a killed app process sees is unchanged; the portal itself keeps the defaults.
@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_commits_without_waiting_for_the_disk(dbapi_connection, _connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _reset_database(url: str) -> None:
    """Start from an empty database: the migrations, not create_all(), make the schema."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "postgresql" and os.environ.get("PYTEST_XDIST_WORKER"):
        create_empty_postgresql_database(url)  # the worker's own, made afresh
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
            # See _sqlite_commits_without_waiting_for_the_disk.
            conn.execute(sa.text(f'ALTER DATABASE "{engine.url.database}" SET synchronous_commit = off'))
        else:
            for table in sa.inspect(conn).get_table_names():
                conn.execute(sa.text(f'DROP TABLE "{table}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def make_app(database_url: str, **overrides):
    return create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **overrides})


@pytest.fixture(scope="session")
def app(database_url):
    from flask_migrate import upgrade

    _reset_database(database_url)
    app = make_app(database_url)
    with app.app_context():
        upgrade()
    return app


# Rows the migrations put in (reference data every deployment has) stay between tests.
REFERENCE_TABLES = {"document_types"}


def delete_all_rows(app) -> None:
    """Delete every row but the reference data (also for a test that loads and empties the database more than once)."""
    with app.app_context():
        db.session.remove()
        tables = [table for table in reversed(db.metadata.sorted_tables) if table.name not in REFERENCE_TABLES]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # One round trip instead of one a table: 1.5 ms instead of 7.6 ms after every test.
                conn.exec_driver_sql(";".join(f'DELETE FROM "{table.name}"' for table in tables))
            else:
                for table in tables:
                    conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Delete every row after each test that used the database, but the reference data."""
    yield
    if "app" not in request.fixturenames:
        return
    delete_all_rows(request.getfixturevalue("app"))
    limiter.reset()


@pytest.fixture
def production_password_hashing(monkeypatch):
    """argon2id at the cost the portal runs with, instead of the suite's test cost."""
    monkeypatch.setattr(passwords, "_hasher", PRODUCTION_HASHING[0])
    monkeypatch.setattr(passwords, "_DUMMY_HASH", PRODUCTION_HASHING[1])


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def user_factory(app):
    """make(role, **fields) -> a committed, detached User whose password is tests.helpers.DEFAULT_PASSWORD.

    The app context is pushed only while making the user: a context left pushed would be shared by the test
    client's requests (Flask reuses an active context), and with it flask.g and the database session.
    """

    def make(role, **fields):
        with app.app_context():
            user = make_user(role, **fields)
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def fetch(app):
    """fetch(Model, id) -> a fresh, detached copy of a row, read outside any request."""

    def get(model, ident):
        with app.app_context():
            obj = db.session.get(model, ident)
            if obj is not None:
                db.session.expunge(obj)
            return obj

    return get
