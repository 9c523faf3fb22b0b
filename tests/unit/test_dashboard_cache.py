"""The dashboard's cache: a hit reads no aggregates, a commit that writes a watched row makes the next read compute
afresh, an unwatched write does not, and open concerns are read live."""

from __future__ import annotations

from datetime import date

from portal.extensions import db
from portal.models import Concern, ConcernStatus, Notification
from portal.services import cache, oversight
from tests.factories import make_user
from tests.helpers import count_queries
from tests.unit.test_oversight import PERIOD, TODAY, build


def test_a_hit_is_cheap_and_a_watched_commit_invalidates(app_context):
    built = build()
    filters = oversight.Filters(period=PERIOD)
    first = oversight.dashboard(filters, TODAY)
    with count_queries(db.engine) as hit:
        again = oversight.dashboard(filters, TODAY)
    assert len(hit.statements) == 1  # open concerns and overdue reviews, live, in one statement
    assert again.referrals_made == first.referrals_made and again.open_concerns == first.open_concerns
    # A write to a table the figures do not read keeps the cache.
    generation = cache._store.generation()
    db.session.add(Notification(user_id=built["officer"].id, subject="s", body="b"))
    db.session.commit()
    assert cache._store.generation() == generation
    # A committed concern bumps the generation, and is counted at once (open concerns are read live).
    placement_id = db.session.scalar(db.select(Concern.placement_id).limit(1))
    db.session.add(
        Concern(
            placement_id=placement_id,
            status=ConcernStatus.OPEN,
            raised_by_id=built["officer"].id,
            summary="S",
            details="D",
        )
    )
    db.session.commit()
    assert cache._store.generation() > generation
    assert oversight.dashboard(filters, TODAY).open_concerns == first.open_concerns + 1


def test_the_cached_figures_hold_no_database_rows(app_context):
    build()
    result = oversight.dashboard(oversight.Filters(period=PERIOD), date(2027, 3, 15))
    assert all(isinstance(lot, oversight.LotLabel) for lot, _ in result.providers_per_lot)
    assert make_user("manager").id  # the session still works after reading from the cache
