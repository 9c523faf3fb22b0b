"""Two officers set up full-time placements with the same unregistered provider at the same moment, when it already
educates 3 pupils full time: one may go ahead (4 pupils), the other must be refused, never both (5). Each thread has
its own app context and session, as two requests would. On PostgreSQL the second waits on the provider's locked row
and is then refused with the rule; SQLite lets one transaction write at a time and refuses the other's write."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.models import Placement, User
from portal.services import placement_setup
from portal.services.errors import FieldErrors
from tests.factories_calloff import make_child
from tests.factories_placements import awarded_referral
from tests.unit.test_placement_setup import NOW, _other_full_time_pupils, _valid_terms


def test_two_officers_cannot_both_push_an_unregistered_provider_to_5_full_time_pupils(app, database_url):
    with app.app_context():
        first = awarded_referral(registered=False)
        _other_full_time_pupils(first, 3)
        second = awarded_referral(
            officer=first.officer,
            lot=first.lot,
            provider=first.provider,
            provider_user=first.provider_user,
            child=make_child(first.officer, upn="C123456789012"),
        )
        jobs = [(aw.referral.id, _valid_terms(aw, full_time=True)) for aw in (first, second)]
        officer_id, provider_id = first.officer.id, first.provider.id

    start = threading.Barrier(2)
    saved, refused, errors = [], [], []

    def set_up(referral_id, terms):
        try:
            with app.app_context():
                try:
                    officer = db.session.get(User, officer_id)
                    start.wait(timeout=10)
                    placement_setup.create(referral_id, officer, terms, now=NOW)
                    db.session.commit()
                    saved.append(referral_id)
                except (FieldErrors, OperationalError) as refusal:
                    db.session.rollback()
                    refused.append(refusal)
                finally:
                    db.session.remove()
        except Exception as error:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=set_up, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(saved) == 1 and len(refused) == 1
    if database_url.startswith("postgresql"):
        assert isinstance(refused[0], FieldErrors)
        assert "would make it educate 5 pupils full time" in refused[0].errors["full_time"]
    with app.app_context():
        full_time = db.session.scalar(
            sa.select(sa.func.count(Placement.id)).where(
                Placement.provider_id == provider_id, Placement.full_time.is_(True)
            )
        )
    assert full_time == 4
