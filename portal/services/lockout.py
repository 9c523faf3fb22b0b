"""Account lockout: 10 failed sign-ins for one email address within 15 minutes lock it for 15 minutes.

Failures are counted per email address whether or not an account has it, so an unknown email is answered exactly
like a known one. The count is one atomic upsert, so concurrent attempts are all counted.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.models import SignInFailures
from portal.models.base import utcnow

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)


def email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def locked_until(email: str) -> datetime | None:
    row = db.session.get(SignInFailures, email_key(email), populate_existing=True)
    if row is None or row.locked_until is None or row.locked_until <= utcnow():
        return None
    return row.locked_until


def record_failure(email: str) -> bool:
    """Count a failed sign-in; commit; return True if this failure locked the address."""
    key, now = email_key(email), utcnow()
    window_over = SignInFailures.window_started_at < now - WINDOW
    # While locked, attempts are refused before they get here; any that race past are not counted.
    locked_now = sa.and_(SignInFailures.locked_until.is_not(None), SignInFailures.locked_until > now)
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(SignInFailures)
        .values(email_key=key, failures=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=[SignInFailures.email_key],
            set_={
                "failures": sa.case(
                    (locked_now, SignInFailures.failures), (window_over, 1), else_=SignInFailures.failures + 1
                ),
                "window_started_at": sa.case(
                    (sa.and_(window_over, sa.not_(locked_now)), now), else_=SignInFailures.window_started_at
                ),
            },
        )
        .returning(SignInFailures.failures)
    )
    failures = db.session.execute(statement).scalar_one()
    locked = False
    if failures >= MAX_FAILURES:
        # The attempt that reached the limit locks and restarts the count; the row stays locked against the rest.
        result = db.session.execute(
            sa.update(SignInFailures)
            .where(SignInFailures.email_key == key, SignInFailures.failures >= MAX_FAILURES)
            .values(failures=0, window_started_at=now, locked_until=now + LOCK_DURATION)
            .execution_options(synchronize_session=False)
        )
        locked = result.rowcount == 1
    db.session.commit()
    return locked


def clear_failures(email: str) -> None:
    """A successful sign-in forgets earlier failures. The caller commits."""
    db.session.execute(sa.delete(SignInFailures).where(SignInFailures.email_key == email_key(email)))
