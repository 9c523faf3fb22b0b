"""The portal as gunicorn serves it in tests/system/test_crash.py (``tests.system.crash_app:app``), with a test-only
hook that holds one request at a named point of its transaction, so the test can SIGKILL the worker exactly there.

Why it is safe: it lives under tests/, which pip never installs (pyproject packages only ``portal*``); production
serves ``wsgi:app``, which never imports it; and it refuses to load unless PORTAL_TEST_CRASH_DIR names a directory.
Even loaded, it holds a request only when the test has written the point's name to ``<dir>/armed``, and only once:
the first worker to rename that file takes it.

The points, in a transaction that changes offers (only awarding does, in these tests):
- ``flushed``: right after its first flush (the referral and offer updates sent, no audit event, notification or
  outbox message yet);
- ``before_commit``: everything flushed (all of it in the database, uncommitted), before COMMIT;
- ``after_commit``: committed, before the response is sent.
When held, the worker writes its pid to ``<dir>/paused`` and sleeps; if nobody kills it within HOLD_SECONDS the
request fails, so a broken test cannot hang.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.models import Offer
from wsgi import app  # noqa: F401  (what gunicorn serves)

CRASH_DIR = Path(os.environ["PORTAL_TEST_CRASH_DIR"])
HOLD_SECONDS = 30
_WROTE_OFFERS = "crash_test_wrote_offers"


def _take(point: str) -> bool:
    """Whether the test armed this point; the first worker to rename the file holds, nobody else."""
    armed = CRASH_DIR / "armed"
    try:
        if armed.read_text().strip() != point:
            return False
        os.rename(armed, CRASH_DIR / f"taken-by-{os.getpid()}")
    except FileNotFoundError:
        return False
    return True


def _hold(point: str) -> None:
    pending = CRASH_DIR / f"paused-{os.getpid()}"
    pending.write_text(f"{os.getpid()} {point}")
    os.replace(pending, CRASH_DIR / "paused")  # appears whole, pid included
    time.sleep(HOLD_SECONDS)
    raise RuntimeError(f"crash test: worker {os.getpid()} held at {point} was not killed within {HOLD_SECONDS} s")


def _changes_offers(session: Session) -> bool:
    return any(isinstance(obj, Offer) for obj in (*session.new, *session.dirty))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    # new and dirty still show what this flush wrote.
    if _changes_offers(session):
        first = not session.info.get(_WROTE_OFFERS)
        session.info[_WROTE_OFFERS] = True
        if first and _take("flushed"):
            _hold("flushed")


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_WROTE_OFFERS) or _changes_offers(session):
        if (CRASH_DIR / "armed").exists():
            session.flush()  # what COMMIT would flush, sent now, so every row of the request is written uncommitted
        if _take("before_commit"):
            _hold("before_commit")


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE_OFFERS, False) and _take("after_commit"):
        _hold("after_commit")


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    session.info.pop(_WROTE_OFFERS, None)
