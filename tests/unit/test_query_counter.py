import sqlalchemy as sa

from portal.extensions import db
from portal.models import CouncilService
from tests.helpers import count_queries


def test_counts_each_statement_sent_to_the_database(app_context):
    with count_queries(db.engine) as queries:
        db.session.execute(sa.select(1))
        db.session.scalars(sa.select(CouncilService)).all()
        db.session.execute(sa.select(CouncilService.id).where(CouncilService.name == "x"))
    assert queries.count == 3
    assert "council_services" in queries.statements[1]


def test_counts_nothing_outside_the_block(app_context):
    with count_queries(db.engine) as queries:
        pass
    db.session.execute(sa.select(1))
    assert queries.count == 0


def test_exposes_an_n_plus_one(app_context):
    """Lazy loading one relationship per row shows as one statement per row: what list-page tests look for."""
    from tests.factories import make_user

    for _ in range(3):
        make_user("officer")
    db.session.expunge_all()
    from portal.models import User

    with count_queries(db.engine) as queries:
        users = db.session.scalars(sa.select(User).options(sa.orm.lazyload(User.service))).all()
        names = [u.service.name for u in users]
    assert len(names) == 3
    assert queries.count == 1 + 3
