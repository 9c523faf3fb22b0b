"""Account lockout: 10 failed sign-ins for one email address within 15 minutes lock it for 15 minutes.

Failures are counted per email address whether or not an account has it, so an unknown email is answered exactly
like a known one. The count is one atomic upsert, so concurrent attempts are all counted.

A known device (portal.devices: a browser where the person has signed in fully before) has a count of its own for
the address, so a stranger who locks the address by guessing does not lock its owner out of their own browser.
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


def failure_key(email: str, device: str | None = None) -> str:
    """The row that counts the failures: the address's, or that of the address on one known device."""
    if device is None:
        return email_key(email)
    return hashlib.sha256(f"{email.strip().lower()}\n{device}".encode()).hexdigest()


def locked_until(email: str, device: str | None = None) -> datetime | None:
    row = db.session.get(SignInFailures, failure_key(email, device), populate_existing=True)
    if row is None or row.locked_until is None or row.locked_until <= utcnow():
        return None
    return row.locked_until


def record_failure(email: str, device: str | None = None) -> bool:
    """Count a failed sign-in (on the known ``device``'s count, if any); commit; return True if this failure locked
    the address (for that device only, if any)."""
    key, now = failure_key(email, device), utcnow()
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


def clear_failures(email: str, device: str | None = None) -> None:
    """A successful sign-in forgets the failures counted where it was made: on its known device, or else for the
    address. So the owner signing in on their own browser does not give a stranger's guesses a fresh count. The
    caller commits."""
    db.session.execute(sa.delete(SignInFailures).where(SignInFailures.email_key == failure_key(email, device)))
