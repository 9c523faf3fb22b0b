"""Two officers award the same referral at the same moment: exactly one award is made, the other officer is told who
got there first. Each thread has its own app context and database session, as two requests would; the data is
committed first so both see it. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, Offer, OfferStatus, Referral, ReferralStatus, User
from portal.services import evaluation, referrals, scoring
from portal.services.audit import Events
from portal.services.errors import Conflict
from portal.services.evaluation import ScoreEntry
from tests.factories import make_user
from tests.factories_calloff import make_offer, published_call_off


def _scored_call_off(app) -> dict:
    """A referral past its deadline with two fully scored offers and two officers of its service; ids only."""
    with app.app_context():
        call = published_call_off()
        referral = call.referral
        colleague = make_user("officer", service=call.officer.service, name="Casey Colleague")
        offers = [make_offer(referral, p, u) for p, u in zip(call.providers, call.provider_users, strict=True)]
        moment = referral.deadline + timedelta(minutes=5)
        for offer in offers:
            entries = {c.key: ScoreEntry(4, "Good") for c in scoring.criteria(referral)}
            evaluation.save_scores(
                referral.id, offer.id, call.officer, offer_version=offer.version, entries=entries, now=moment
            )
        db.session.commit()
        return {
            "referral": referral.id,
            "version": referral.version,
            "officers": [call.officer.id, colleague.id],
            "names": [call.officer.name, colleague.name],
            "offers": [offer.id for offer in offers],
            "moment": moment,
        }


def _race(app, setting) -> tuple[list[int], list[Conflict]]:
    """Both officers award (each a different offer) in two threads started together."""
    start = threading.Barrier(2)
    won, conflicts, errors = [], [], []

    def press(n: int):
        try:
            with app.app_context():
                try:
                    officer = db.session.get(User, setting["officers"][n])
                    start.wait(timeout=10)
                    evaluation.award(
                        setting["referral"],
                        setting["offers"][n],
                        officer,
                        version=setting["version"],
                        rationale=f"Officer {n} thinks this is best value",
                        now=setting["moment"],
                    )
                    db.session.commit()
                    won.append(n)
                except Conflict as conflict:
                    db.session.rollback()
                    conflicts.append(conflict)
                finally:
                    db.session.remove()
        except Exception as error:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=press, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return won, conflicts


def _check_one_award(app, setting, won, conflicts):
    assert len(won) == 1 and len(conflicts) == 1, (won, conflicts)
    winner = won[0]
    message = conflicts[0].message
    assert message.startswith(f"Another officer ({setting['names'][winner]}) awarded this referral at ")
    assert message.endswith("while you had it open.")
    with app.app_context():
        statuses = dict(
            db.session.execute(sa.select(Offer.id, Offer.status).where(Offer.referral_id == setting["referral"])).all()
        )
        assert statuses[setting["offers"][winner]] is OfferStatus.AWARDED
        assert list(statuses.values()).count(OfferStatus.AWARDED) == 1
        assert list(statuses.values()).count(OfferStatus.UNSUCCESSFUL) == 1
        referral = db.session.get(Referral, setting["referral"])
        assert referral.status is ReferralStatus.AWARDED
        assert referral.awarded_by_id == setting["officers"][winner]
        assert referral.award_rationale == f"Officer {winner} thinks this is best value"
        assert referral.version == setting["version"] + 1
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.OFFER_AWARDED)).all()
        assert len(events) == 1


def test_two_officers_past_every_check_at_once_make_exactly_one_award(app, monkeypatch):
    """Both threads pass every check (the stage included) before either writes: only the guarded UPDATE decides."""
    setting = _scored_call_off(app)
    both_checked = threading.Barrier(2)
    original = referrals.ensure_stage
    waited = threading.local()

    def ensure_stage_then_wait(referral, action, now):
        stage = original(referral, action, now)
        if not getattr(waited, "done", False):
            waited.done = True
            both_checked.wait(timeout=10)
        return stage

    monkeypatch.setattr(referrals, "ensure_stage", ensure_stage_then_wait)
    won, conflicts = _race(app, setting)
    _check_one_award(app, setting, won, conflicts)


@pytest.mark.parametrize("attempt", range(3))
def test_two_officers_pressing_award_together_make_exactly_one_award(app, attempt):
    setting = _scored_call_off(app)
    won, conflicts = _race(app, setting)
    _check_one_award(app, setting, won, conflicts)
