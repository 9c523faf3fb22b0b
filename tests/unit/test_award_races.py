"""An offer that comes in while an officer is awarding: evaluation can open before the deadline (every provider has
answered), and a provider that declined may still make an offer until then. The award must not go to a ranking that
never saw that offer. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from portal.clock import now
from portal.extensions import db
from portal.models import Invitation, Offer, OfferStatus, Referral, ReferralStatus, User
from portal.services import evaluation, offers, referrals, scoring
from portal.services.errors import Conflict
from portal.services.evaluation import ScoreEntry
from portal.services.referrals import Stage
from tests.factories_calloff import make_offer, published_call_off
from tests.unit.test_offers_service import details


def _early_evaluation(app) -> dict:
    """Two scored offers and a third provider that declined: evaluating before the deadline. Ids only."""
    with app.app_context():
        call = published_call_off(providers=3)
        referral = call.referral
        made = [make_offer(referral, call.providers[n], call.provider_users[n]) for n in range(2)]
        invitation = db.session.scalar(sa.select(Invitation).where(Invitation.provider_id == call.providers[2].id))
        invitation.declined_at, invitation.decline_reason = now(), "No places"
        db.session.commit()
        moment = now()
        assert referrals.stage_of(referral, moment) is Stage.EVALUATING
        for offer in made:
            entries = {c.key: ScoreEntry(4, "Good") for c in scoring.criteria(referral)}
            evaluation.save_scores(
                referral.id, offer.id, call.officer, offer_version=offer.version, entries=entries, now=moment
            )
        db.session.commit()
        return {
            "referral": referral.id,
            "version": referral.version,
            "officer": call.officer.id,
            "offer": made[0].id,
            "latecomer": call.provider_users[2].id,
        }


def test_an_offer_arriving_while_the_officer_awards_stops_the_award(app, monkeypatch):
    setting = _early_evaluation(app)
    original_rank = scoring.rank
    arrived = []

    def offer_arrives(app_):
        with app_.app_context():
            try:
                user = db.session.get(User, setting["latecomer"])
                referral = db.session.get(Referral, setting["referral"])
                offers.make_offer(referral.id, user, details=details(referral), version=None, now=now())
                db.session.commit()
                arrived.append(True)
            finally:
                db.session.remove()

    def rank_then_an_offer_arrives(referral, in_round):
        ranked = original_rank(referral, in_round)
        if not arrived:  # the award has read and ranked the offers; now the latecomer's offer commits
            thread = threading.Thread(target=offer_arrives, args=(app,))
            thread.start()
            thread.join(timeout=30)
        return ranked

    monkeypatch.setattr(scoring, "rank", rank_then_an_offer_arrives)
    with app.app_context():
        officer = db.session.get(User, setting["officer"])
        with pytest.raises(Conflict) as error:
            evaluation.award(
                setting["referral"],
                setting["offer"],
                officer,
                version=setting["version"],
                rationale="Best value",
                now=now(),
            )
        db.session.rollback()
        assert arrived == [True]
        assert "An offer came in while you were awarding" in error.value.message
        referral = db.session.get(Referral, setting["referral"])
        assert referral.status is ReferralStatus.OPEN
        statuses = db.session.scalars(sa.select(Offer.status).where(Offer.referral_id == referral.id)).all()
        assert sorted(statuses) == [OfferStatus.SUBMITTED] * 3
