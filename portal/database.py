"""Database engine settings that SQLAlchemy's URL cannot carry."""

from __future__ import annotations

import sqlalchemy as sa

SQLITE_BUSY_TIMEOUT_MS = 5000


def enable_sqlite_pragmas(engine: sa.Engine) -> None:
    """WAL (readers never block the writer), foreign keys enforced, and a wait instead of 'database is locked'."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
