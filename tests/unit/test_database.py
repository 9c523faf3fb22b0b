"""The embedded SQLite default is set up for a web app: WAL, foreign keys enforced, a busy timeout."""

import pytest
import sqlalchemy as sa

from portal.database import SQLITE_BUSY_TIMEOUT_MS
from portal.extensions import db
from tests.conftest import make_app


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'pragmas.sqlite3'}")
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))")
        with pytest.raises(sa.exc.IntegrityError):
            conn.exec_driver_sql("INSERT INTO child (parent_id) VALUES (42)")
        db.engine.dispose()
