"""The migrations build the schema: up from empty to head, equal to the models, down to base and up again.

Runs on a scratch database of its own (a new SQLite file, or a new PostgreSQL database beside the test one), so the
suite's database is never dropped under the other tests.
"""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.encryption import decrypt
from portal.extensions import db
from portal.models import User
from tests.conftest import make_app
from tests.helpers import TEST_TOTP_SECRET, empty_database


@pytest.fixture
def scratch_database_url(database_url, tmp_path):
    with empty_database(database_url, "migrations", tmp_path) as url:
        yield url


def _schema_differences():
    with db.engine.connect() as conn, warnings.catch_warnings():
        # The PostgreSQL-only expression index on the audit details (migration 0012) exists nowhere else to compare.
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_migrations_up_down_and_up_again_match_the_models(scratch_database_url):
    app = make_app(scratch_database_url)
    with app.app_context():
        assert _tables() == set()

        upgrade()
        assert _tables() == set(db.metadata.tables)
        assert _schema_differences() == []

        downgrade(revision="base")
        assert _tables() == set()

        upgrade()
        assert _schema_differences() == []
        db.engine.dispose()


def test_the_schema_check_notices_a_model_the_migrations_lack(scratch_database_url):
    """The comparison above can fail: a table only in the models is reported."""
    app = make_app(scratch_database_url)
    with app.app_context():
        upgrade()
        extra = sa.Table("not_migrated", db.metadata, sa.Column("id", sa.Integer, primary_key=True))
        try:
            differences = _schema_differences()
        finally:
            db.metadata.remove(extra)
        assert [d[0] for d in differences] == ["add_table"]
        db.engine.dispose()


def test_migrations_keep_existing_rows_both_ways(scratch_database_url):
    """Users made before 0002 survive it, and going back to 0001 gives each a fresh session token."""
    app = make_app(scratch_database_url)
    with app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO council_services (id, name) VALUES (1, 'SEND')"))
            conn.execute(
                sa.text(
                    "INSERT INTO users (email, name, role, active, session_token, service_id, created_at) VALUES "
                    "('a@example.org', 'A', 'officer', true, 'old-a', 1, CURRENT_TIMESTAMP), "
                    "('b@example.org', 'B', 'officer', true, 'old-b', 1, CURRENT_TIMESTAMP)"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT email, manages_colleagues FROM users ORDER BY email")).all()
        assert [(email, bool(manages)) for email, manages in rows] == [("a@example.org", False), ("b@example.org", False)]

        downgrade(revision="0001")
        with db.engine.connect() as conn:
            tokens = conn.execute(sa.text("SELECT session_token FROM users")).scalars().all()
        assert len(tokens) == 2 and len(set(tokens)) == 2 and all(len(t) >= 40 for t in tokens)
        db.engine.dispose()


def test_migration_0017_encrypts_the_two_factor_keys_already_stored_and_going_back_decrypts_them(scratch_database_url):
    app = make_app(scratch_database_url)
    with app.app_context():
        upgrade(revision="0016")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO council_services (id, name) VALUES (1, 'SEND')"))
            conn.execute(
                sa.text(
                    "INSERT INTO users (email, name, role, active, service_id, created_at, totp_secret, version) "
                    "VALUES ('a@example.org', 'A', 'officer', true, 1, CURRENT_TIMESTAMP, :key, 1), "
                    "('b@example.org', 'B', 'officer', true, 1, CURRENT_TIMESTAMP, NULL, 1)"
                ),
                {"key": TEST_TOTP_SECRET},
            )
        upgrade()
        with db.engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT email, totp_secret FROM users")).all())
        assert stored["b@example.org"] is None
        assert TEST_TOTP_SECRET not in stored["a@example.org"] and decrypt(stored["a@example.org"]) == TEST_TOTP_SECRET
        assert db.session.scalar(sa.select(User.totp_secret).where(User.email == "a@example.org")) == TEST_TOTP_SECRET

        db.session.remove()
        downgrade(revision="0016")
        with db.engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT email, totp_secret FROM users")).all())
        assert stored == {"a@example.org": TEST_TOTP_SECRET, "b@example.org": None}
        db.engine.dispose()
