"""Publishing, stages and withdrawal of referrals (portal.services.referrals)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.clock import london_today, now
from portal.extensions import db
from portal.models import AuditEvent, Invitation, OutboxMessage, ReferralStatus
from portal.services import referrals
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed
from portal.services.referrals import PublishTerms, Stage
from tests.factories import make_lot, make_user
from tests.factories_calloff import (
    CHILD_IDENTIFIERS,
    eligible_provider,
    make_offer,
    make_referral,
    publish,
    published_call_off,
)
from tests.factories_dps import admit, make_provider, require, suspend


def invited_ids(referral) -> set[int]:
    return set(db.session.scalars(sa.select(Invitation.provider_id).where(Invitation.referral_id == referral.id)))


def test_publishing_invites_exactly_the_eligible_providers_and_emails_each_without_the_child(app_context):
    lot1, lot2 = make_lot(1), make_lot(2)
    today = london_today()
    officer = make_user("officer")
    good = [eligible_provider(lot1, "Good one"), eligible_provider(lot1, "Good two")]
    users = [make_user("provider", provider=p) for p in good]
    suspended = eligible_provider(lot1, "Suspended")
    suspend(suspended, lot1, starts_on=today - timedelta(days=3))
    removed = make_provider("Removed")
    admit(removed, lot1, removed_on=today - timedelta(days=1))
    other_lot = eligible_provider(lot2, "Other lot")
    non_compliant = eligible_provider(lot1, "No insurance")
    make_user("provider", provider=non_compliant)
    require(lot1, "public-liability")
    for provider in good:  # the two good ones hold the document
        from tests.factories_dps import add_document

        add_document(provider, "public-liability")

    referral = make_referral(officer, lot1)
    publish(referral, officer)

    assert invited_ids(referral) == {p.id for p in good}
    assert not invited_ids(referral) & {suspended.id, removed.id, other_lot.id, non_compliant.id}
    mails = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert sorted(m.to_address for m in mails) == sorted(u.email for u in users)
    for mail in mails:
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in mail.subject + mail.body
    db.session.refresh(referral)
    assert referral.status is ReferralStatus.OPEN and referral.round == 1
    # Born in March 2012: Reception in September 2016, so Year 10 in the school year that starts in September 2026.
    school_year_start = today.year if today.month >= 9 else today.year - 1
    assert referral.profile_year_group == f"Year {school_year_start - 2016}"
    assert referral.profile_age == today.year - 2012 - ((today.month, today.day) < (3, 14))


def test_publishing_needs_every_part_and_a_reason_for_a_short_deadline(app_context):
    lot = make_lot(1)
    officer = make_user("officer")
    referral = make_referral(officer, None, aims=0, profile="")
    terms = PublishTerms(deadline_date=london_today() + timedelta(days=10), leaks_checked=True)
    with pytest.raises(FieldErrors) as error:
        referrals.publish(referral.id, officer, version=referral.version, terms=terms, now=now())
    assert {"lot", "aims", "profile"} <= set(error.value.errors)

    ready = make_referral(officer, lot, child=referral.child)
    short = PublishTerms(deadline_date=london_today() + timedelta(days=3), leaks_checked=True)
    with pytest.raises(DomainError) as error:
        referrals.publish(ready.id, officer, version=ready.version, terms=short, now=now())
    assert error.value.field == "deadline_reason"
    db.session.rollback()
    assert db.session.get(type(ready), ready.id).status is ReferralStatus.DRAFT


def test_a_profile_naming_the_child_needs_the_officer_to_confirm(app_context):
    lot = make_lot(1)
    officer = make_user("officer")
    referral = make_referral(officer, lot, profile="Zephyrine is a bright pupil")
    terms = PublishTerms(deadline_date=london_today() + timedelta(days=10))
    with pytest.raises(DomainError) as error:
        referrals.publish(referral.id, officer, version=referral.version, terms=terms, now=now())
    assert error.value.field == "leaks_checked"


def test_only_officers_of_the_referrals_service_may_publish_and_a_stale_version_is_refused(app_context):
    lot = make_lot(1)
    officer = make_user("officer")
    other = make_user("officer")
    referral = make_referral(officer, lot)
    terms = PublishTerms(deadline_date=london_today() + timedelta(days=10), leaks_checked=True)
    with pytest.raises(NotAllowed):
        referrals.publish(referral.id, other, version=referral.version, terms=terms, now=now())
    with pytest.raises(Conflict):
        referrals.publish(referral.id, officer, version=referral.version - 1, terms=terms, now=now())


def test_stage_opens_for_evaluation_at_the_deadline_or_once_every_provider_has_answered(app_context):
    call = published_call_off()
    referral = call.referral
    moment = now()
    assert referrals.stage_of(referral, moment) is Stage.OPEN
    assert referrals.stage_of(referral, referral.deadline) is Stage.EVALUATING
    assert referrals.stage_of(referral, referral.deadline - timedelta(seconds=1)) is Stage.OPEN

    make_offer(referral, call.providers[0], call.provider_users[0])
    assert referrals.stage_of(referral, moment) is Stage.OPEN
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.provider_id == call.providers[1].id))
    invitation.declined_at = moment
    db.session.commit()
    assert referrals.stage_of(referral, moment) is Stage.EVALUATING
    # The SQL says the same as Python.
    page = referrals.search(referrals.ReferralFilters(stage=Stage.EVALUATING), now=moment)
    assert [row.referral.id for row in page.items] == [referral.id]
    assert page.items[0].offers == 1 and page.items[0].invited == 2
    assert referrals.search(referrals.ReferralFilters(stage=Stage.OPEN), now=moment).total == 0


def test_an_open_referral_cannot_be_published_again_or_republished_before_evaluation(app_context):
    call = published_call_off()
    referral = call.referral
    with pytest.raises(IllegalTransition) as error:
        publish(referral, call.officer)
    assert "cannot publish" in error.value.message
    db.session.rollback()
    with pytest.raises(IllegalTransition):
        referrals.republish(
            referral.id,
            call.officer,
            version=referral.version,
            deadline_date=london_today() + timedelta(days=10),
            now=now(),
        )


def test_republishing_opens_a_new_round_and_keeps_the_old_invitations(app_context):
    call = published_call_off()
    referral = call.referral
    later = referral.deadline + timedelta(seconds=1)
    newcomer = eligible_provider(call.lot, "Newcomer")
    referrals.republish(
        referral.id,
        call.officer,
        version=referral.version,
        deadline_date=london_today(later) + timedelta(days=10),
        now=later,
    )
    db.session.commit()
    assert referral.round == 2
    rounds = db.session.execute(sa.select(Invitation.round, Invitation.provider_id)).all()
    assert {(1, p.id) for p in call.providers} <= set(rounds)
    assert (2, newcomer.id) in set(rounds)
    assert referrals.stage_of(referral, later) is Stage.OPEN


def test_withdrawing_needs_a_reason_and_tells_the_invited_providers(app_context):
    call = published_call_off()
    referral = call.referral
    with pytest.raises(DomainError) as error:
        referrals.withdraw(referral.id, call.officer, version=referral.version, reason=" ", now=now())
    assert error.value.field == "reason"
    db.session.rollback()
    before = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))
    referrals.withdraw(referral.id, call.officer, version=referral.version, reason="Child moved away", now=now())
    db.session.commit()
    assert referral.status is ReferralStatus.WITHDRAWN
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == before + 2
    assert db.session.scalar(sa.select(AuditEvent.reason).where(AuditEvent.event == "referral withdrawn")) == (
        "Child moved away"
    )
    with pytest.raises(IllegalTransition):
        referrals.withdraw(referral.id, call.officer, version=referral.version, reason="Again", now=now())
