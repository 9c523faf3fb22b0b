"""Scoring, the award, a new round and commissioning off the DPS (portal.services.evaluation)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.clock import london_today, now
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Invitation,
    Notification,
    OffDpsRequest,
    OffDpsStatus,
    Offer,
    OfferStatus,
    OutboxMessage,
    Referral,
    ReferralStatus,
    Score,
)
from portal.services import evaluation, referrals, scoring
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed
from portal.services.evaluation import ScoreEntry, field_name
from portal.services.referrals import Stage
from tests.factories import make_user
from tests.factories_calloff import (
    CHILD_IDENTIFIERS,
    make_offer,
    make_referral,
    published_call_off,
)

RATIONALE = "Best value: strong on every aim at a fair price."


def _after_deadline(referral):
    return referral.deadline + timedelta(seconds=1)


def _entries(referral, value: int, comment: str = "") -> dict[str, ScoreEntry]:
    return {c.key: ScoreEntry(value, comment or f"Comment scoring {value}") for c in scoring.criteria(referral)}


def _score(call, offer, value: int, moment, comment: str = ""):
    evaluation.save_scores(
        call.referral.id,
        offer.id,
        call.officer,
        offer_version=offer.version,
        entries=_entries(call.referral, value, comment),
        now=moment,
    )
    db.session.commit()


def _evaluating(providers: int = 2, totals=("7200.00", "9000.00")):
    """A published referral with an offer from each provider (in order, with these totals), after its deadline."""
    call = published_call_off(providers=providers)
    offers = [
        make_offer(call.referral, provider, user, total=Decimal(total), rate=Decimal(total) / 60)
        for provider, user, total in zip(call.providers, call.provider_users, totals, strict=False)
    ]
    return call, offers, _after_deadline(call.referral)


def _stored(referral_id: int) -> tuple[ReferralStatus, list[OfferStatus], int]:
    db.session.expire_all()
    referral = db.session.get(Referral, referral_id)
    statuses = list(
        db.session.scalars(sa.select(Offer.status).where(Offer.referral_id == referral_id).order_by(Offer.id))
    )
    awards = db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.event == Events.OFFER_AWARDED)
    )
    return referral.status, statuses, awards


def _mail_to(user) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == user.email).order_by(OutboxMessage.id)))


# ---- Scoring -------------------------------------------------------------------------------------------------------


def test_scoring_opens_only_when_the_referral_is_being_evaluated(app_context):
    call = published_call_off()
    offer = make_offer(call.referral, call.providers[0], call.provider_users[0])
    before = call.referral.deadline - timedelta(seconds=1)
    with pytest.raises(IllegalTransition) as error:
        evaluation.save_scores(
            call.referral.id,
            offer.id,
            call.officer,
            offer_version=offer.version,
            entries=_entries(call.referral, 3),
            now=before,
        )
    assert "cannot score" in error.value.message and "still coming in" in error.value.message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Score)) == 0

    _score(call, offer, 4, _after_deadline(call.referral))
    stored = db.session.scalars(sa.select(Score).where(Score.offer_id == offer.id)).all()
    assert sorted(s.criterion for s in stored) == sorted(c.key for c in scoring.criteria(call.referral))
    assert {s.score for s in stored} == {4} and {s.scored_by_id for s in stored} == {call.officer.id}
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.OFFER_SCORED))
    assert event.subject_id == offer.id and event.actor_id == call.officer.id


def test_scoring_needs_every_criterion_a_score_from_0_to_5_and_a_comment_for_0_or_1(app_context):
    call, (offer, _), moment = _evaluating()
    keys = [c.key for c in scoring.criteria(call.referral)]
    entries = {keys[0]: ScoreEntry(0, ""), keys[1]: ScoreEntry(6, "x"), keys[2]: ScoreEntry(1, "Too few staff")}
    with pytest.raises(FieldErrors) as error:
        evaluation.save_scores(
            call.referral.id, offer.id, call.officer, offer_version=offer.version, entries=entries, now=moment
        )
    errors = error.value.errors
    assert "a score of 0 or 1 needs a comment" in errors[field_name("comment", keys[0])]
    assert "from 0 to 5" in errors[field_name("score", keys[1])]
    assert field_name("score", keys[2]) not in errors and field_name("comment", keys[2]) not in errors
    assert errors[field_name("score", keys[3])] == "Choose a score from 0 to 5 for Safeguarding"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Score)) == 0


def test_rescoring_replaces_the_scores_and_a_revised_offer_is_a_conflict(app_context):
    call, (offer, _), moment = _evaluating()
    _score(call, offer, 2, moment)
    _score(call, offer, 5, moment)
    assert {s.score for s in db.session.scalars(sa.select(Score).where(Score.offer_id == offer.id))} == {5}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Score)) == len(scoring.criteria(call.referral))

    stale = offer.version
    offer.safeguarding = "Revised by the provider"
    db.session.commit()
    with pytest.raises(Conflict) as error:
        evaluation.save_scores(
            call.referral.id,
            offer.id,
            call.officer,
            offer_version=stale,
            entries=_entries(call.referral, 1),
            now=moment,
        )
    assert "Offering provider 1 changed this offer" in error.value.message
    db.session.rollback()
    assert {s.score for s in db.session.scalars(sa.select(Score).where(Score.offer_id == offer.id))} == {5}


def test_only_officers_of_the_referrals_service_score_or_award(app_context):
    call, (offer, _), moment = _evaluating()
    other = make_user("officer")
    manager = make_user("manager")
    for user in (other, manager):
        with pytest.raises(NotAllowed):
            evaluation.save_scores(
                call.referral.id,
                offer.id,
                user,
                offer_version=offer.version,
                entries=_entries(call.referral, 3),
                now=moment,
            )
        with pytest.raises(NotAllowed):
            evaluation.award(
                call.referral.id, offer.id, user, version=call.referral.version, rationale=RATIONALE, now=moment
            )


# ---- The award: refused transitions ---------------------------------------------------------------------------------


def test_award_is_refused_for_a_draft_and_before_the_deadline_and_nothing_is_stored(app_context):
    call = published_call_off(providers=3)
    offer = make_offer(call.referral, call.providers[0], call.provider_users[0])
    before = call.referral.deadline - timedelta(seconds=1)
    with pytest.raises(IllegalTransition) as error:
        evaluation.award(
            call.referral.id, offer.id, call.officer, version=call.referral.version, rationale=RATIONALE, now=before
        )
    assert error.value.message.startswith("You cannot award this referral now. Offers are still coming in")
    db.session.rollback()
    assert _stored(call.referral.id) == (ReferralStatus.OPEN, [OfferStatus.SUBMITTED], 0)

    draft = make_referral(call.officer, call.lot, child=call.referral.child)
    with pytest.raises(IllegalTransition) as error:
        evaluation.award(draft.id, offer.id, call.officer, version=draft.version, rationale=RATIONALE, now=before)
    assert "has not been published" in error.value.message
    db.session.rollback()
    assert db.session.get(Referral, draft.id).status is ReferralStatus.DRAFT


@pytest.mark.parametrize("end", ["withdrawn", "off-DPS"])
def test_award_is_refused_once_withdrawn_or_commissioned_off_the_dps(app_context, end):
    call, (offer, other), moment = _evaluating()
    _score(call, offer, 4, moment)
    _score(call, other, 4, moment)
    call.referral.status = ReferralStatus(end)
    db.session.commit()
    with pytest.raises(IllegalTransition) as error:
        evaluation.award(
            call.referral.id, offer.id, call.officer, version=call.referral.version, rationale=RATIONALE, now=moment
        )
    why = "has been withdrawn" if end == "withdrawn" else "off the DPS"
    assert error.value.message.startswith("You cannot award this referral now.") and why in error.value.message
    db.session.rollback()
    assert _stored(call.referral.id) == (ReferralStatus(end), [OfferStatus.SUBMITTED] * 2, 0)


def test_a_second_award_is_refused_naming_who_awarded_it_and_when(app_context):
    call, (offer, other), moment = _evaluating()
    colleague = make_user("officer", service=call.officer.service, name="Casey Colleague")
    _score(call, offer, 4, moment)
    _score(call, other, 4, moment)
    seen_version = call.referral.version
    evaluation.award(call.referral.id, offer.id, colleague, version=seen_version, rationale=RATIONALE, now=moment)
    db.session.commit()

    with pytest.raises(Conflict) as error:
        evaluation.award(call.referral.id, other.id, call.officer, version=seen_version, rationale="Mine", now=moment)
    assert error.value.message.startswith("Another officer (Casey Colleague) awarded this referral at ")
    assert error.value.message.endswith("while you had it open.")
    db.session.rollback()
    with pytest.raises(IllegalTransition) as error:  # a page loaded after the award
        evaluation.award(
            call.referral.id, other.id, call.officer, version=call.referral.version, rationale="Mine", now=moment
        )
    assert "awarded already" in error.value.message
    db.session.rollback()
    assert _stored(call.referral.id) == (ReferralStatus.AWARDED, [OfferStatus.AWARDED, OfferStatus.UNSUCCESSFUL], 1)
    assert db.session.get(Referral, call.referral.id).award_rationale == RATIONALE


def test_award_needs_a_rationale_every_offer_scored_and_a_live_offer_of_this_round(app_context):
    call, (offer, other), moment = _evaluating()
    _score(call, offer, 4, moment)
    with pytest.raises(DomainError) as error:
        evaluation.award(
            call.referral.id, offer.id, call.officer, version=call.referral.version, rationale=RATIONALE, now=moment
        )
    assert error.value.field == "offer_id"
    assert error.value.message == "Score every offer before you award. Not fully scored yet: Offering provider 2"
    db.session.rollback()

    _score(call, other, 3, moment)
    for blank in ("", "   "):
        with pytest.raises(DomainError) as error:
            evaluation.award(
                call.referral.id, offer.id, call.officer, version=call.referral.version, rationale=blank, now=moment
            )
        assert error.value.field == "rationale"
    with pytest.raises(DomainError) as error:
        evaluation.award(
            call.referral.id, offer.id, call.officer, version=call.referral.version, rationale="x" * 5001, now=moment
        )
    assert error.value.field == "rationale" and "5000 characters" in error.value.message
    with pytest.raises(DomainError) as error:
        evaluation.award(
            call.referral.id, None, call.officer, version=call.referral.version, rationale=RATIONALE, now=moment
        )
    assert error.value.field == "offer_id"
    with pytest.raises(Conflict):
        evaluation.award(
            call.referral.id, offer.id, call.officer, version=call.referral.version - 1, rationale=RATIONALE, now=moment
        )
    db.session.rollback()
    assert _stored(call.referral.id) == (ReferralStatus.OPEN, [OfferStatus.SUBMITTED] * 2, 0)


def test_an_offer_of_another_referral_or_withdrawn_cannot_be_awarded(app_context):
    call, (offer, other, withdrawn), moment = _evaluating(providers=3, totals=("7200.00", "9000.00", "8000.00"))
    withdrawn.status = OfferStatus.WITHDRAWN
    db.session.query(Invitation).filter_by(provider_id=call.providers[2].id).update({"declined_at": moment})
    db.session.commit()
    _score(call, offer, 4, moment)
    _score(call, other, 4, moment)
    with pytest.raises(IllegalTransition) as error:
        evaluation.award(
            call.referral.id, withdrawn.id, call.officer, version=call.referral.version, rationale=RATIONALE, now=moment
        )
    assert error.value.field == "offer_id" and "not in the running" in error.value.message
    db.session.rollback()
    elsewhere = make_referral(call.officer, call.lot, child=call.referral.child)
    foreign = make_offer(elsewhere, call.providers[0], call.provider_users[0], round=0)
    with pytest.raises(DomainError) as error:
        evaluation.award(
            call.referral.id, foreign.id, call.officer, version=call.referral.version, rationale=RATIONALE, now=moment
        )
    assert error.value.field == "offer_id"
    db.session.rollback()
    assert db.session.get(Referral, call.referral.id).status is ReferralStatus.OPEN


# ---- The award: what it stores and who is told -----------------------------------------------------------------------


def test_award_marks_the_winner_and_the_unsuccessful_and_tells_each_only_what_is_theirs(app_context):
    call = published_call_off(providers=4)
    referral = call.referral
    winner = make_offer(referral, call.providers[0], call.provider_users[0], total=Decimal("9000.00"))
    loser = make_offer(referral, call.providers[1], call.provider_users[1], total=Decimal("7200.00"))
    declined = db.session.scalars(sa.select(Invitation).where(Invitation.provider_id == call.providers[2].id)).one()
    declined.declined_at = now()
    db.session.commit()
    # The fourth provider never answers: the referral is evaluated after the deadline.
    moment = _after_deadline(referral)
    _score(call, winner, 5, moment, comment="Winner comment: excellent mentoring")
    _score(call, loser, 1, moment, comment="Loser comment: too few staff on site")
    before = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id)))

    done = evaluation.award(
        referral.id, winner.id, call.officer, version=referral.version, rationale=RATIONALE, now=moment, ip="192.0.2.7"
    )
    db.session.commit()

    assert done.winner.id == winner.id and [o.id for o in done.unsuccessful] == [loser.id]
    db.session.expire_all()
    stored = db.session.get(Referral, referral.id)
    assert stored.status is ReferralStatus.AWARDED and stored.award_rationale == RATIONALE
    assert stored.awarded_by_id == call.officer.id and stored.awarded_at == moment
    assert referrals.stage_of(stored, moment) is Stage.AWARDED
    assert db.session.get(Offer, winner.id).status is OfferStatus.AWARDED
    assert db.session.get(Offer, loser.id).status is OfferStatus.UNSUCCESSFUL
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.OFFER_AWARDED))
    assert event.reason == RATIONALE and event.details["offer_id"] == winner.id and event.ip_address == "192.0.2.7"
    # Winner: quality 70.00 + price 24.00 (7200 / 9000 x 30).
    assert event.details["total"] == "94.00"

    new_mail = list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id > before)))
    for message in new_mail:
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in message.subject + message.body, (identifier, message.subject)
    for note in db.session.scalars(sa.select(Notification)):
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in note.subject + note.body

    (to_winner,) = _mail_to(call.provider_users[0])[-1:]
    reference = referrals.reference(referral)
    assert to_winner.subject == f"You have been awarded referral {reference}"
    assert "sign in to see the child's details" in to_winner.body.lower()
    (to_loser,) = [m for m in _mail_to(call.provider_users[1]) if "not successful" in m.subject]
    assert "Loser comment: too few staff on site" in to_loser.body
    assert "Winner comment" not in to_loser.body and "Offering provider 1" not in to_loser.body
    assert "9,000" not in to_loser.body and "9000" not in to_loser.body
    # Loser: quality 1 x 4 / 20 x 70 = 14.00, price 30.00 (the cheapest), total 44.00.
    assert "Quality score: 14.00 out of 70" in to_loser.body
    assert "Price score: 30.00 out of 30" in to_loser.body and "Total: 44.00 out of 100" in to_loser.body
    for silent in (call.provider_users[2], call.provider_users[3]):
        (closed,) = [m for m in _mail_to(silent) if m.id > before]
        assert closed.subject == f"Referral {reference} has closed"
    assert len(new_mail) == 4


def test_the_unique_index_on_awarded_offers_backs_up_the_guarded_update(app_context):
    call, (offer, other), moment = _evaluating()
    _score(call, offer, 4, moment)
    _score(call, other, 4, moment)
    # A state the service never makes: another offer of the referral awarded while it is still open.
    other.status = OfferStatus.AWARDED
    db.session.commit()
    with pytest.raises(Conflict):
        evaluation.award(
            call.referral.id, offer.id, call.officer, version=call.referral.version, rationale=RATIONALE, now=moment
        )
    db.session.rollback()
    assert _stored(call.referral.id) == (ReferralStatus.OPEN, [OfferStatus.SUBMITTED, OfferStatus.AWARDED], 0)


# ---- A new round ----------------------------------------------------------------------------------------------------


def test_after_republishing_only_the_new_rounds_offers_can_be_scored_and_awarded(app_context):
    call, (old, _), moment = _evaluating()
    referral = call.referral
    referrals.republish(
        referral.id,
        call.officer,
        version=referral.version,
        deadline_date=london_today(moment) + timedelta(days=10),
        now=moment,
    )
    db.session.commit()
    assert referral.round == 2
    fresh = make_offer(referral, call.providers[1], call.provider_users[1])
    later = _after_deadline(referral)
    with pytest.raises(IllegalTransition):
        evaluation.save_scores(
            referral.id, old.id, call.officer, offer_version=old.version, entries=_entries(referral, 3), now=later
        )
    db.session.rollback()
    _score(call, fresh, 3, later)
    with pytest.raises(IllegalTransition):
        evaluation.award(referral.id, old.id, call.officer, version=referral.version, rationale=RATIONALE, now=later)
    db.session.rollback()
    evaluation.award(referral.id, fresh.id, call.officer, version=referral.version, rationale=RATIONALE, now=later)
    db.session.commit()
    db.session.expire_all()
    # The first round's offers are kept as they were, for the record.
    assert db.session.get(Offer, old.id).status is OfferStatus.SUBMITTED
    assert db.session.get(Offer, fresh.id).status is OfferStatus.AWARDED
    view = evaluation.live_view(db.session.get(Referral, referral.id), later)
    assert [r.number for r in view.earlier] == [1] and view.awarded.id == fresh.id


def test_the_live_view_gives_each_invited_providers_response(app_context):
    call = published_call_off(providers=4)
    referral = call.referral
    make_offer(referral, call.providers[0], call.provider_users[0])
    withdrawn = make_offer(referral, call.providers[3], call.provider_users[3])
    withdrawn.status = OfferStatus.WITHDRAWN
    invitations = {i.provider_id: i for i in db.session.scalars(sa.select(Invitation))}
    invitations[call.providers[1].id].declined_at = now()
    invitations[call.providers[1].id].decline_reason = "No places until spring"
    invitations[call.providers[2].id].viewed_at = now()
    db.session.commit()
    view = evaluation.live_view(referral, now())
    assert view.stage is Stage.OPEN and view.ranking == []
    responses = {row.invitation.provider.name: row.response.value for row in view.current.invitations}
    assert responses == {
        "Offering provider 1": "offered",
        "Offering provider 2": "declined",
        "Offering provider 3": "viewed",
        "Offering provider 4": "offer withdrawn",
    }
    assert [o.provider.name for o in view.live_offers] == ["Offering provider 1"]
    assert view.status_text == "1 offer from 4 invited providers, 1 declined. Open."


# ---- Off the DPS ----------------------------------------------------------------------------------------------------


def _request(call, moment, reason="No offer can meet the medical needs"):
    made = evaluation.request_off_dps(
        call.referral.id, call.officer, version=call.referral.version, reason=reason, now=moment
    )
    db.session.commit()
    return made


def test_asking_for_off_dps_needs_evaluation_a_reason_and_one_request_at_a_time(app_context):
    call = published_call_off()
    manager = make_user("manager", name="Morgan Manager")
    make_user("manager", active=False)
    with pytest.raises(IllegalTransition) as error:
        evaluation.request_off_dps(call.referral.id, call.officer, version=call.referral.version, reason="x", now=now())
    assert "cannot request off-DPS" in error.value.message
    db.session.rollback()
    moment = _after_deadline(call.referral)
    with pytest.raises(DomainError) as error:
        evaluation.request_off_dps(
            call.referral.id, call.officer, version=call.referral.version, reason=" ", now=moment
        )
    assert error.value.field == "reason"
    with pytest.raises(NotAllowed):
        evaluation.request_off_dps(
            call.referral.id, make_user("officer"), version=call.referral.version, reason="x", now=moment
        )
    db.session.rollback()

    made = _request(call, moment)
    assert made.status is OffDpsStatus.PENDING and made.requested_by_id == call.officer.id
    (to_manager,) = _mail_to(manager)
    assert f"/manager/off-dps/{made.id}" in to_manager.body and "No offer can meet the medical needs" in to_manager.body
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in to_manager.subject + to_manager.body
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.subject.like("Approval needed%"))
        )
        == 1
    )  # the inactive manager is not told
    with pytest.raises(IllegalTransition) as error:
        _request(call, moment, reason="Again")
    assert "already waiting for the manager" in error.value.message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OffDpsRequest)) == 1
    assert db.session.scalar(sa.select(AuditEvent.reason).where(AuditEvent.event == Events.OFF_DPS_REQUESTED)) == (
        "No offer can meet the medical needs"
    )


def test_the_manager_refuses_with_a_note_and_the_officer_is_told(app_context):
    call = published_call_off()
    manager = make_user("manager")
    moment = _after_deadline(call.referral)
    made = _request(call, moment)
    with pytest.raises(DomainError) as error:
        evaluation.decide_off_dps(made.id, manager, approve=False, note="  ", now=moment)
    assert error.value.field == "note"
    with pytest.raises(DomainError) as error:
        evaluation.decide_off_dps(made.id, manager, approve=None, note="", now=moment)
    assert error.value.field == "decision"
    with pytest.raises(NotAllowed):
        evaluation.decide_off_dps(made.id, call.officer, approve=True, note="", now=moment)
    db.session.rollback()

    evaluation.decide_off_dps(made.id, manager, approve=False, note="Try a new round first", now=moment)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(OffDpsRequest, made.id)
    assert stored.status is OffDpsStatus.REFUSED and stored.decided_by_id == manager.id
    assert stored.decision_note == "Try a new round first"
    assert db.session.get(Referral, call.referral.id).status is ReferralStatus.OPEN
    (told,) = [m for m in _mail_to(call.officer) if m.subject.startswith("Refused")]
    assert "Try a new round first" in told.body
    with pytest.raises(IllegalTransition) as error:
        evaluation.decide_off_dps(made.id, manager, approve=True, note="", now=moment)
    assert "was refused" in error.value.message
    db.session.rollback()
    # A new request can be made once the last one is decided.
    assert _request(call, moment).status is OffDpsStatus.PENDING


def test_approval_closes_the_referral_off_the_dps_and_tells_the_providers_and_the_officer(app_context):
    call, offers, moment = _evaluating()
    manager = make_user("manager")
    made = _request(call, moment)
    evaluation.decide_off_dps(made.id, manager, approve=True, note="", now=moment)
    db.session.commit()
    db.session.expire_all()
    referral = db.session.get(Referral, call.referral.id)
    assert referral.status is ReferralStatus.OFF_DPS
    assert referrals.stage_of(referral, moment) is Stage.OFF_DPS
    assert db.session.get(OffDpsRequest, made.id).status is OffDpsStatus.APPROVED
    for user in call.provider_users:
        (closed,) = [m for m in _mail_to(user) if "has closed" in m.subject]
        assert "without an award" in closed.body
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in closed.body
    assert [m.subject for m in _mail_to(call.officer) if m.subject.startswith("Approved")]
    assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.event == Events.OFF_DPS_APPROVED))
    # Nothing more can happen to it.
    with pytest.raises(IllegalTransition) as error:
        evaluation.award(referral.id, offers[0].id, call.officer, version=referral.version, rationale="x", now=moment)
    assert "off the DPS" in error.value.message


def test_approval_is_refused_once_the_referral_is_no_longer_being_evaluated(app_context):
    call = published_call_off()
    manager = make_user("manager")
    moment = _after_deadline(call.referral)
    made = _request(call, moment)
    referrals.republish(
        call.referral.id,
        call.officer,
        version=call.referral.version,
        deadline_date=london_today(moment) + timedelta(days=10),
        now=moment,
    )
    db.session.commit()
    with pytest.raises(IllegalTransition) as error:
        evaluation.decide_off_dps(made.id, manager, approve=True, note="", now=moment)
    assert "Offers are still coming in" in error.value.message
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(OffDpsRequest, made.id).status is OffDpsStatus.PENDING
    assert db.session.get(Referral, call.referral.id).status is ReferralStatus.OPEN
    # It can still be refused (closing the request).
    evaluation.decide_off_dps(made.id, manager, approve=False, note="Republished instead", now=moment)
    db.session.commit()
    assert db.session.get(OffDpsRequest, made.id).status is OffDpsStatus.REFUSED
