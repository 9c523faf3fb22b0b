"""Isolation on the provider's side of a call-off: before award no provider receives the child's identity in any page,
fragment, email or notification, nor any other provider's offer; after award only the winner sees the child (each view
audited), and an unsuccessful provider sees its own scores and nobody else's.

The whole flow goes through the test client, and every response body is kept and searched."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal import clock
from portal.clock import london_today
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Notification,
    Offer,
    OfferStatus,
    OutboxMessage,
    Referral,
    ReferralStatus,
    User,
)
from portal.services import evaluation, scoring
from portal.services.audit import Events
from portal.services.evaluation import ScoreEntry
from tests.factories_calloff import CHILD_FIRST_NAME, CHILD_IDENTIFIERS, CHILD_LAST_NAME, CHILD_UPN, published_call_off
from tests.helpers import count_queries, csrf_token, start_session

HX = {"HX-Request": "true", "HX-Target": "opportunity-results"}
# What only each provider wrote: neither may ever reach the other.
PHRASE = {0: "Kingfisher Nurture Programme", 1: "Blue Heron Outdoor Learning"}
COMMENT = {0: "Loser comment: a thoughtful plan", 1: "Winner comment: outstanding safeguarding"}


@dataclass
class Provider:
    """One provider's signed-in browser, keeping every response it received."""

    client: object
    user_id: int
    provider_id: int
    email: str
    seen: list[tuple[str, str]] = field(default_factory=list)

    def get(self, path: str, **kwargs):
        response = self.client.get(path, **kwargs)
        self.seen.append((f"GET {path} {kwargs.get('headers', '')}", response.get_data(as_text=True)))
        return response

    def post(self, path: str, data: dict, **kwargs):
        response = self.client.post(path, data=data, **kwargs)
        self.seen.append((f"POST {path}", response.get_data(as_text=True)))
        return response

    def token(self, path: str) -> str:
        return csrf_token(self.client, path)


@dataclass
class Flow:
    referral_id: int
    aim_ids: list[int]
    officer_id: int
    providers: list[Provider]


@pytest.fixture
def flow(app) -> Flow:
    with app.app_context():
        call = published_call_off(providers=3)
        ids = (call.referral.id, [a.id for a in call.referral.aims], call.officer.id)
        people = [(u.id, u.provider_id, u.email) for u in call.provider_users]
    providers = []
    for user_id, provider_id, email in people:
        client = app.test_client()
        start_session(client, email)
        providers.append(Provider(client=client, user_id=user_id, provider_id=provider_id, email=email))
    return Flow(referral_id=ids[0], aim_ids=ids[1], officer_id=ids[2], providers=providers)


def offer_data(flow: Flow, n: int, token: str, **changes) -> dict:
    start = london_today() + timedelta(days=40)
    data = {
        "csrf_token": token,
        "version": "",
        **{f"aim_{aim_id}": f"{PHRASE[n]} for aim {i}" for i, aim_id in enumerate(flow.aim_ids, start=1)},
        "start_date": [str(start.day), str(start.month), str(start.year)],
        "hours_per_week": "15",
        "sessions": "Monday to Friday, 9am to 12pm",
        "location": f"{PHRASE[n]} base",
        "staffing_ratio": "1:2",
        "transport": "Travel training",
        "delivery_and_staffing": f"{PHRASE[n]}: a teacher and a mentor",
        "safeguarding": "DSL on site every day",
        "rate_type": "day",
        "rate": "120" if n == 0 else "100",
        "units_per_week": "5",
        "total": "7200" if n == 0 else "6000",
    }
    data.update(changes)
    return data


def _offer(app, flow: Flow, n: int) -> Offer:
    with app.app_context():
        offer = db.session.scalar(
            sa.select(Offer).where(
                Offer.referral_id == flow.referral_id, Offer.provider_id == flow.providers[n].provider_id
            )
        )
        db.session.expunge(offer)
        return offer


def _assert_no_child(seen: list[tuple[str, str]]) -> None:
    for label, body in seen:
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in body, f"{identifier!r} in {label}"


def _assert_not_seen(seen: list[tuple[str, str]], *texts: str) -> None:
    for label, body in seen:
        for text in texts:
            assert text not in body, f"{text!r} in {label}"


def _walk_the_provider_flow(app, flow: Flow):
    """Feed, fragment, referral page, offer form, an invalid offer, an offer, a revision, a withdrawal and a new offer
    by the first provider; an offer by the second; a decline by the third; every closed tab."""
    base = f"/provider/opportunities/{flow.referral_id}"
    first, second, third = flow.providers

    second.get(base)
    response = second.post(f"{base}/offer", data=offer_data(flow, 1, second.token(base)))
    assert response.status_code == 302

    assert first.get("/provider/opportunities").status_code == 200
    assert first.get("/provider/opportunities", headers=HX).status_code == 200
    assert first.get(base).status_code == 200
    assert first.get(f"{base}/offer").status_code == 200
    token = first.token(base)
    assert first.post(f"{base}/offer", data=offer_data(flow, 0, token, total="1")).status_code == 200
    assert first.post(f"{base}/offer", data=offer_data(flow, 0, token)).status_code == 302
    assert first.get(base).status_code == 200
    assert first.get(f"{base}/offer").status_code == 200
    version = _offer(app, flow, 0).version
    data = offer_data(flow, 0, token, version=str(version), transport=f"{PHRASE[0]} minibus")
    assert first.post(f"{base}/offer", data=data).status_code == 302
    version = _offer(app, flow, 0).version
    assert first.post(f"{base}/offer", data=data).status_code == 409  # stale
    assert first.post(f"{base}/offer/withdraw", data={"csrf_token": token, "version": version}).status_code == 302
    assert first.get(base).status_code == 200
    data = offer_data(flow, 0, token, version=str(_offer(app, flow, 0).version))
    assert first.post(f"{base}/offer", data=data).status_code == 302
    assert first.post(f"{base}/decline", data={"csrf_token": token, "reason": "Full"}).status_code == 409

    third.get(base)
    token = third.token(base)
    assert third.post(f"{base}/decline", data={"csrf_token": token, "reason": ""}).status_code == 200
    assert third.post(f"{base}/decline", data={"csrf_token": token, "reason": "No places"}).status_code == 302
    for provider in flow.providers:
        provider.get(base)
        provider.get("/provider/opportunities")
        provider.get("/provider/opportunities", headers=HX)
        provider.get("/provider/opportunities?show=closed")
        provider.get("/provider/opportunities?show=closed", headers=HX)
        provider.get("/notifications")


def _mail_and_notifications_to_providers(app, flow: Flow) -> list[tuple[str, str]]:
    with app.app_context():
        emails = [p.email for p in flow.providers]
        user_ids = [p.user_id for p in flow.providers]
        mails = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address.in_(emails))).all()
        notes = db.session.scalars(sa.select(Notification).where(Notification.user_id.in_(user_ids))).all()
        found = [(f"email to {m.to_address}", f"{m.subject}\n{m.body}") for m in mails]
        found += [(f"notification to user {n.user_id}", f"{n.subject}\n{n.body}") for n in notes]
        assert mails and notes  # the invitations at least
        return found


def test_before_award_no_provider_receives_the_child_or_another_providers_offer(app, flow):
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as queries:
        _walk_the_provider_flow(app, flow)
    first, second, third = flow.providers
    assert len(first.seen) > 15 and all(body for _, body in first.seen)
    # The flow really happened (so the searches below searched real pages).
    assert any(PHRASE[0] in body for _, body in first.seen)
    assert any(PHRASE[1] in body for _, body in second.seen)
    assert any("Your reason: No places" in body for _, body in third.seen)

    for provider in flow.providers:
        _assert_no_child(provider.seen)
    _assert_not_seen(first.seen, PHRASE[1], "£6,000.00")
    _assert_not_seen(second.seen, PHRASE[0], "£7,200.00")
    _assert_not_seen(third.seen, PHRASE[0], PHRASE[1])
    # The child's row is not even read while serving providers.
    assert not [s for s in queries.statements if re.search(r"FROM children\b", s)]

    messages = _mail_and_notifications_to_providers(app, flow)
    _assert_no_child(messages)
    _assert_not_seen(messages, PHRASE[0], PHRASE[1])


def _award_to_second_provider(app, flow: Flow) -> None:
    """The officer scores both offers and awards the second provider's through the services (every invited provider
    has answered, so evaluation is open before the deadline)."""
    with app.app_context():
        referral = db.session.get(Referral, flow.referral_id)
        officer = db.session.get(User, flow.officer_id)
        moment = clock.now()
        made = {}
        for n, score in ((0, 3), (1, 5)):
            offer = db.session.scalar(
                sa.select(Offer).where(
                    Offer.referral_id == referral.id, Offer.provider_id == flow.providers[n].provider_id
                )
            )
            entries = {criterion.key: ScoreEntry(score, COMMENT[n]) for criterion in scoring.criteria(referral)}
            evaluation.save_scores(
                referral.id, offer.id, officer, offer_version=offer.version, entries=entries, now=moment
            )
            made[n] = offer.id
        db.session.commit()
        evaluation.award(
            referral.id,
            made[1],
            officer,
            version=referral.version,
            rationale="Best value for money: the highest quality score at a lower price",
            now=moment,
        )
        db.session.commit()
        assert db.session.get(Offer, made[0]).status is OfferStatus.UNSUCCESSFUL
        assert db.session.get(Referral, referral.id).status is ReferralStatus.AWARDED


def _child_views(app, user_id: int) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORD_VIEWED, AuditEvent.actor_id == user_id)
        ).all()
        for event in events:
            db.session.expunge(event)
        return list(events)


def test_after_award_only_the_winner_sees_the_child_and_the_loser_sees_only_its_own_scores(app, flow):
    _walk_the_provider_flow(app, flow)
    _award_to_second_provider(app, flow)
    base = f"/provider/opportunities/{flow.referral_id}"
    loser, winner, decliner = flow.providers

    assert _child_views(app, winner.user_id) == []
    page = winner.get(base).get_data(as_text=True)
    assert "The placement is awarded to you" in page
    assert f"{CHILD_FIRST_NAME} {CHILD_LAST_NAME}" in page and CHILD_UPN in page and "14 March 2012" in page
    with app.app_context():
        officer = db.session.get(User, flow.officer_id)
        assert officer.email in page and officer.name in page and officer.service.name in page
    [view] = _child_views(app, winner.user_id)
    assert view.details["purpose"] == "awarded provider" and view.details["referral_id"] == flow.referral_id
    assert view.subject_type == "children"
    winner.get(base)
    assert len(_child_views(app, winner.user_id)) == 2  # every view is recorded
    closed = winner.get("/provider/opportunities?show=closed").get_data(as_text=True)
    assert "Awarded to you" in closed

    before = len(loser.seen)
    page = loser.get(base).get_data(as_text=True)
    assert "Not successful" in page and COMMENT[0] in page and "3 out of 5" in page
    # Its own scores: quality 3/5 x 70 = 42.00; price 6000 / 7200 x 30 = 25.00; total 67.00.
    assert "42.00 out of 70" in page and "25.00 out of 30" in page and "67.00 out of 100" in page
    loser.get("/provider/opportunities?show=closed")
    loser.get("/provider/opportunities?show=closed", headers=HX)
    loser.get(f"{base}/offer")
    assert "Not successful" in loser.seen[-3][1]
    decliner.get(base)
    decliner.get("/provider/opportunities?show=closed")
    assert "Awarded to another provider" in decliner.seen[-1][1]
    for provider in (loser, decliner):
        _assert_no_child(provider.seen)
        _assert_not_seen(provider.seen, PHRASE[1], COMMENT[1], "5 out of 5", "£6,000.00", "Best value for money")
    assert len(loser.seen) > before
    assert _child_views(app, loser.user_id) == [] and _child_views(app, decliner.user_id) == []
    # The loser cannot change anything now.
    token = loser.token(base)
    assert loser.post(f"{base}/offer", data=offer_data(flow, 0, token)).status_code == 409
    _assert_no_child(loser.seen)
    with app.app_context():
        assert db.session.get(Offer, _offer(app, flow, 0).id).total == Decimal("7200.00")
    # The award's emails and notifications: nobody is sent the child; the loser gets its own scores, not the winner's.
    messages = _mail_and_notifications_to_providers(app, flow)
    _assert_no_child(messages)
    to_loser = [body for label, body in messages if loser.email in label]
    assert any(COMMENT[0] in body for body in to_loser)
    _assert_not_seen([(label, body) for label, body in messages if loser.email in label], COMMENT[1], PHRASE[1])
