"""The provider's side of a call-off (portal.services.offers): offers, revisions, withdrawals, declines, the total
check, the deadline by the server clock, the feed and the provider's outcome."""

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
    Offer,
    OfferStatus,
    OutboxMessage,
    RateType,
    ReferralStatus,
    Score,
)
from portal.services import offers, referrals
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotFound
from portal.services.offers import OfferDetails, Outcome, Response
from tests.factories import make_lot, make_user
from tests.factories_calloff import (
    CHILD_IDENTIFIERS,
    eligible_provider,
    make_offer,
    make_referral,
    publish,
    published_call_off,
)


def details(referral, **changes) -> OfferDetails:
    values = {
        "aim_responses": {aim.id: f"Weekly mentoring towards aim {aim.position}" for aim in referral.aims},
        "start_date": london_today() + timedelta(days=40),
        "hours_per_week": "15",
        "sessions": "Monday to Friday, 9am to 12pm",
        "location": "Our Uxbridge site",
        "staffing_ratio": "1:2",
        "transport": "Travel training for two weeks",
        "delivery_and_staffing": "A qualified teacher and a mentor",
        "safeguarding": "DSL on site every day",
        "rate_type": "day",
        "rate": "120",
        "units_per_week": "5",
        "total": "7200",  # 120 x 5 x 12 weeks
    }
    values.update(changes)
    return OfferDetails(**values)


def offer_of(call, n: int = 0) -> Offer | None:
    return db.session.scalar(sa.select(Offer).where(Offer.provider_id == call.providers[n].id))


def invitation_of(call, n: int = 0) -> Invitation:
    return db.session.scalar(sa.select(Invitation).where(Invitation.provider_id == call.providers[n].id))


def events(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == name)))


def test_an_invited_provider_makes_an_offer_and_the_officer_is_told_naming_the_provider_and_reference(app_context):
    call = published_call_off()
    referral, user = call.referral, call.provider_users[0]
    offers.make_offer(referral.id, user, details=details(referral), version=None, now=now(), ip="203.0.113.9")
    db.session.commit()

    offer = offer_of(call)
    assert offer.status is OfferStatus.SUBMITTED and offer.round == 1 and offer.submitted_by_id == user.id
    assert offer.rate == Decimal("120.00") and offer.units_per_week == Decimal("5.0")
    assert offer.total == Decimal("7200.00") and offer.rate_type is RateType.DAY
    assert {r.aim_id: r.response for r in offer.aim_responses} == {
        aim.id: f"Weekly mentoring towards aim {aim.position}" for aim in referral.aims
    }
    assert invitation_of(call).viewed_at is not None
    [event] = events(Events.OFFER_SUBMITTED)
    assert event.actor_id == user.id and event.subject_id == offer.id and event.ip_address == "203.0.113.9"

    [mail] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == call.officer.email))
    assert referrals.reference(call.referral) in mail.subject and call.providers[0].name in mail.body
    assert f"/officer/referrals/{referral.id}" in mail.body
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in mail.subject + mail.body
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(Notification.user_id == call.officer.id))


def test_revising_replaces_the_offer_deletes_its_scores_and_a_stale_version_is_refused(app_context):
    call = published_call_off()
    referral, user = call.referral, call.provider_users[0]
    offers.make_offer(referral.id, user, details=details(referral), version=None, now=now())
    db.session.commit()
    offer = offer_of(call)
    first_version = offer.version
    criterion = f"aim:{referral.aims[0].id}"
    db.session.add(Score(offer_id=offer.id, criterion=criterion, score=4, comment="Good", scored_by_id=call.officer.id))
    db.session.commit()
    officer_mails = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id)))  # the newest message so far

    revised = details(referral, rate="100", total="6000", sessions="Monday to Friday, 1pm to 4pm")
    offers.make_offer(referral.id, user, details=revised, version=first_version, now=now())
    db.session.commit()
    offer = offer_of(call)
    assert offer.rate == Decimal("100.00") and offer.total == Decimal("6000.00")
    assert offer.sessions == "Monday to Friday, 1pm to 4pm" and offer.revised_at is not None
    assert offer.version > first_version
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Score)) == 0
    assert len(events(Events.OFFER_REVISED)) == 1
    # The officer is told the scores were cleared; a revision of an unscored offer tells nobody.
    [mail] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id > officer_mails)).all()
    assert mail.to_address == call.officer.email and "score it again" in mail.subject
    offers.make_offer(referral.id, user, details=revised, version=offer.version, now=now())
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.id > officer_mails)) == 1
    offer = offer_of(call)

    with pytest.raises(Conflict):
        offers.make_offer(referral.id, user, details=details(referral), version=first_version, now=now())
    db.session.rollback()
    # A form drawn before there was an offer cannot overwrite the live one either.
    with pytest.raises(Conflict):
        offers.make_offer(referral.id, user, details=details(referral), version=None, now=now())
    db.session.rollback()
    assert offer_of(call).rate == Decimal("100.00")


def test_a_withdrawn_offer_can_be_made_again_in_the_same_row(app_context):
    call = published_call_off()
    referral, user = call.referral, call.provider_users[0]
    offers.make_offer(referral.id, user, details=details(referral), version=None, now=now())
    db.session.commit()
    offer = offer_of(call)

    with pytest.raises(Conflict):
        offers.withdraw_offer(referral.id, user, version=offer.version + 1, now=now())
    db.session.rollback()
    offers.withdraw_offer(referral.id, user, version=offer.version, now=now())
    db.session.commit()
    offer = offer_of(call)
    assert offer.status is OfferStatus.WITHDRAWN and offer.withdrawn_at is not None
    assert len(events(Events.OFFER_WITHDRAWN)) == 1
    with pytest.raises(IllegalTransition, match="nothing to withdraw"):
        offers.withdraw_offer(referral.id, user, version=offer.version, now=now())
    db.session.rollback()

    offers.make_offer(referral.id, user, details=details(referral, rate="110", total="6600"), version=None, now=now())
    db.session.commit()
    again = db.session.scalars(sa.select(Offer).where(Offer.provider_id == call.providers[0].id)).all()
    assert len(again) == 1 and again[0].id == offer.id
    assert again[0].status is OfferStatus.SUBMITTED and again[0].withdrawn_at is None
    assert again[0].total == Decimal("6600.00")
    assert len(events(Events.OFFER_SUBMITTED)) == 2


def test_declining_needs_a_reason_is_refused_with_a_live_offer_and_an_offer_clears_it(app_context):
    call = published_call_off()
    referral, user = call.referral, call.provider_users[0]
    with pytest.raises(DomainError) as error:
        offers.decline(referral.id, user, reason="   ", now=now())
    assert error.value.field == "reason"
    with pytest.raises(DomainError, match="2,000 characters"):
        offers.decline(referral.id, user, reason="x" * 2001, now=now())
    db.session.rollback()

    offers.decline(referral.id, user, reason="No places until the spring", now=now(), ip="203.0.113.9")
    db.session.commit()
    invitation = invitation_of(call)
    assert invitation.declined_at is not None and invitation.decline_reason == "No places until the spring"
    [event] = events(Events.INVITATION_DECLINED)
    assert event.reason == "No places until the spring"
    with pytest.raises(IllegalTransition, match="already"):
        offers.decline(referral.id, user, reason="Again", now=now())
    db.session.rollback()

    offers.make_offer(referral.id, user, details=details(referral), version=None, now=now())
    db.session.commit()
    invitation = invitation_of(call)
    assert invitation.declined_at is None and invitation.decline_reason == ""

    with pytest.raises(IllegalTransition, match="withdraw your offer first"):
        offers.decline(referral.id, user, reason="Changed our minds", now=now())
    db.session.rollback()
    assert invitation_of(call).declined_at is None


@pytest.mark.parametrize(
    ("rate_type", "rate", "units", "weeks", "expected", "working"),
    [
        ("day", "120.00", "5", 12, "7200.00", "£120.00 a day x 5 days a week x 12 weeks"),
        ("session", "65.50", "3", 10, "1965.00", "£65.50 a session x 3 sessions a week x 10 weeks"),
        ("hour", "33.33", "7.5", 6, "1499.85", "£33.33 an hour x 7.5 hours a week x 6 weeks"),
        ("day", "0.01", "1", 1, "0.01", "£0.01 a day x 1 day a week x 1 week"),
    ],
)
def test_the_total_is_rate_times_units_times_weeks_in_decimal(rate_type, rate, units, weeks, expected, working):
    kind = RateType(rate_type)
    assert offers.expected_total(Decimal(rate), Decimal(units), weeks) == Decimal(expected)
    offers.check_total(kind, Decimal(rate), Decimal(units), weeks, Decimal(expected))
    with pytest.raises(DomainError) as error:
        offers.check_total(kind, Decimal(rate), Decimal(units), weeks, Decimal(expected) + Decimal("0.01"))
    assert error.value.field == "total"
    assert error.value.message == f"The total should be £{Decimal(expected):,.2f}: {working}"


def test_a_wrong_total_is_refused_next_to_the_total_saying_the_right_figure(app_context):
    call = published_call_off()
    referral = call.referral
    with pytest.raises(FieldErrors) as error:
        offers.make_offer(
            referral.id, call.provider_users[0], details=details(referral, total="7000"), version=None, now=now()
        )
    assert error.value.errors == {"total": "The total should be £7,200.00: £120.00 a day x 5 days a week x 12 weeks"}
    db.session.rollback()
    assert offer_of(call) is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the rate"),
        ("abc", "The rate must be an amount in pounds, like 120 or 120.50"),
        ("12.345", "The rate must be in pounds and pence, with no more than 2 decimal places"),
        ("-5", "The rate must be more than £0"),
        ("£-5", "The rate must be more than £0"),
        ("0", "The rate must be more than £0"),
        ("0.00", "The rate must be more than £0"),
        ("1000000.01", "The rate must be £1,000,000.00 or less"),
        ("1e3", "The rate must be an amount in pounds, like 120 or 120.50"),
        ("NaN", "The rate must be an amount in pounds, like 120 or 120.50"),
    ],
)
def test_money_is_refused_with_a_clear_message(typed, message):
    with pytest.raises(DomainError) as error:
        offers.parse_money(typed, name="rate", field="rate")
    assert error.value.message == message and error.value.field == "rate"


@pytest.mark.parametrize(
    ("typed", "value"),
    [("120", "120.00"), ("£1,234.50", "1234.50"), (" 99.9 ", "99.90"), ("1000000", "1000000.00"), ("12.300", "12.30")],
)
def test_money_is_read_as_decimal(typed, value):
    parsed = offers.parse_money(typed, name="rate", field="rate")
    assert isinstance(parsed, Decimal) and parsed == Decimal(value) and str(parsed) == value


def test_every_wrong_field_is_named_at_once_in_the_forms_order(app_context):
    call = published_call_off()
    referral = call.referral
    first_aim = referral.aims[0]
    bad = details(
        referral,
        aim_responses={first_aim.id: ""},
        start_date=london_today() - timedelta(days=1),
        hours_per_week="lots",
        sessions="",
        staffing_ratio="two to one",
        safeguarding="x" * 5001,
        rate_type=None,
        rate="12.345",
        units_per_week="0",
        total="abc",
    )
    with pytest.raises(FieldErrors) as error:
        offers.make_offer(referral.id, call.provider_users[0], details=bad, version=None, now=now())
    assert list(error.value.errors) == [
        f"aim_{first_aim.id}",
        f"aim_{referral.aims[1].id}",
        "start_date",
        "hours_per_week",
        "sessions",
        "staffing_ratio",
        "safeguarding",
        "rate_type",
        "rate",
        "units_per_week",
        "total",
    ]
    assert error.value.errors["start_date"] == "The start date must be today or in the future"
    assert error.value.errors["staffing_ratio"] == "Enter the staffing ratio as staff to children, like 1:2"
    assert error.value.errors["units_per_week"] == "How many days, sessions or hours a week must be more than 0"


def test_units_a_week_are_capped_by_the_rate_type(app_context):
    call = published_call_off()
    referral = call.referral
    with pytest.raises(FieldErrors) as error:
        offers.make_offer(
            referral.id,
            call.provider_users[0],
            details=details(referral, units_per_week="8", total="11520"),
            version=None,
            now=now(),
        )
    assert error.value.errors == {"units_per_week": "How many days a week must be 7 or fewer"}


def test_an_offer_one_second_before_the_deadline_is_accepted_and_one_second_after_is_refused(app_context):
    call = published_call_off()
    referral = call.referral
    deadline = referral.deadline
    offers.make_offer(
        referral.id,
        call.provider_users[0],
        details=details(referral),
        version=None,
        now=deadline - timedelta(seconds=1),
    )
    db.session.commit()
    assert offer_of(call, 0).status is OfferStatus.SUBMITTED

    for moment in (deadline, deadline + timedelta(seconds=1)):
        with pytest.raises(IllegalTransition, match=r"Offers closed at \d+ \w+ \d{4} at 5:00pm"):
            offers.make_offer(referral.id, call.provider_users[1], details=details(referral), version=None, now=moment)
        db.session.rollback()
    assert offer_of(call, 1) is None
    # Revising, withdrawing and declining close at the same moment.
    late = deadline + timedelta(seconds=1)
    offer = offer_of(call, 0)
    with pytest.raises(IllegalTransition):
        offers.make_offer(
            referral.id, call.provider_users[0], details=details(referral), version=offer.version, now=late
        )
    with pytest.raises(IllegalTransition):
        offers.withdraw_offer(referral.id, call.provider_users[0], version=offer.version, now=late)
    with pytest.raises(IllegalTransition):
        offers.decline(referral.id, call.provider_users[1], reason="Too late", now=late)
    db.session.rollback()
    assert offer_of(call, 0).status is OfferStatus.SUBMITTED and invitation_of(call, 1).declined_at is None


def test_a_provider_that_was_not_invited_cannot_see_or_offer(app_context):
    call = published_call_off()
    referral = call.referral
    outsider = eligible_provider(make_lot(2), "Other lot provider")
    outsider_user = make_user("provider", provider=outsider)
    with pytest.raises(NotFound):
        offers.opportunity(referral.id, outsider.id, now=now())
    with pytest.raises(NotFound):
        offers.make_offer(referral.id, outsider_user, details=details(referral), version=None, now=now())
    with pytest.raises(NotFound):
        offers.decline(referral.id, outsider_user, reason="Not for us", now=now())
    with pytest.raises(NotFound):
        offers.withdraw_offer(referral.id, outsider_user, version=1, now=now())
    # Nor a draft, nor a referral that does not exist.
    draft = make_referral(call.officer, call.lot, child=referral.child)
    with pytest.raises(NotFound):
        offers.opportunity(draft.id, call.providers[0].id, now=now())
    with pytest.raises(NotFound):
        offers.opportunity(999_999, call.providers[0].id, now=now())
    assert offers.feed(outsider.id, now=now()).total == 0


@pytest.mark.parametrize("status", [ReferralStatus.AWARDED, ReferralStatus.WITHDRAWN, ReferralStatus.OFF_DPS])
def test_no_offer_once_the_referral_is_awarded_withdrawn_or_off_the_dps(app_context, status):
    call = published_call_off()
    referral = call.referral
    referral.status = status
    db.session.commit()
    with pytest.raises(IllegalTransition):
        offers.make_offer(referral.id, call.provider_users[0], details=details(referral), version=None, now=now())
    with pytest.raises(IllegalTransition):
        offers.decline(referral.id, call.provider_users[0], reason="No", now=now())
    db.session.rollback()
    assert offer_of(call) is None


def test_a_provider_not_invited_to_the_new_round_cannot_offer_but_still_sees_its_old_round(app_context):
    call = published_call_off()
    referral = call.referral
    # Round 2 invites only the first provider (the second is not eligible any more).
    referral.round = 2
    db.session.add(Invitation(referral_id=referral.id, round=2, provider_id=call.providers[0].id, invited_at=now()))
    db.session.commit()
    found = offers.opportunity(referral.id, call.providers[1].id, now=now())
    assert found.invitation.round == 1 and found.outcome is Outcome.CLOSED_WITHOUT_AWARD and not found.open
    with pytest.raises(IllegalTransition, match="new round"):
        offers.make_offer(referral.id, call.provider_users[1], details=details(referral), version=None, now=now())
    db.session.rollback()
    assert offers.feed(call.providers[1].id, now=now()).total == 0
    assert offers.feed(call.providers[1].id, now=now(), closed=True).total == 1
    assert offers.feed(call.providers[0].id, now=now()).total == 1


def test_the_feed_lists_open_invitations_newest_first_with_the_response_and_closed_ones_with_the_outcome(app_context):
    lot = make_lot(1)
    officer = make_user("officer")
    mine = eligible_provider(lot, "Mine")
    user = make_user("provider", provider=mine)
    first = make_referral(officer, lot)
    publish(first, officer, now=now() - timedelta(hours=3))
    second = make_referral(officer, lot, child=first.child)
    publish(second, officer, now=now() - timedelta(hours=2))
    third = make_referral(officer, lot, child=first.child)
    publish(third, officer, now=now() - timedelta(hours=1))

    page = offers.feed(mine.id, now=now())
    assert [row.referral.id for row in page.items] == [third.id, second.id, first.id]
    assert {row.response for row in page.items} == {Response.INVITED}

    offers.make_offer(second.id, user, details=details(second), version=None, now=now())
    offers.decline(third.id, user, reason="Full", now=now())
    db.session.commit()
    responses = {row.referral.id: row.response for row in offers.feed(mine.id, now=now()).items}
    assert responses == {third.id: Response.DECLINED, second.id: Response.OFFERED, first.id: Response.INVITED}

    # Close them: an award to this provider, an award elsewhere, a withdrawal.
    offer = db.session.scalar(sa.select(Offer).where(Offer.referral_id == second.id))
    offer.status = OfferStatus.AWARDED
    second.status = ReferralStatus.AWARDED
    third.status = ReferralStatus.AWARDED
    first.status = ReferralStatus.WITHDRAWN
    db.session.commit()
    assert offers.feed(mine.id, now=now()).total == 0
    closed = {row.referral.id: row.outcome for row in offers.feed(mine.id, now=now(), closed=True).items}
    assert closed == {
        second.id: Outcome.AWARDED_TO_YOU,
        third.id: Outcome.AWARDED_ELSEWHERE,
        first.id: Outcome.WITHDRAWN,
    }


def test_past_the_deadline_a_referral_moves_to_closed_awaiting_a_decision(app_context):
    call = published_call_off()
    later = call.referral.deadline + timedelta(seconds=1)
    assert offers.feed(call.providers[0].id, now=later).total == 0
    [row] = offers.feed(call.providers[0].id, now=later, closed=True).items
    assert row.outcome is Outcome.AWAITING_DECISION
    assert referrals.describe_deadline(row.referral, later).startswith("Closed at")


def test_an_unsuccessful_provider_gets_only_its_own_scores(app_context):
    call = published_call_off()
    referral = call.referral
    winner = make_offer(referral, call.providers[0], call.provider_users[0], total=Decimal("6000.00"))
    loser = make_offer(referral, call.providers[1], call.provider_users[1])
    keys = [c.key for c in offers.scoring.criteria(referral)]
    for offer, score in ((winner, 5), (loser, 3)):
        for key in keys:
            db.session.add(
                Score(offer_id=offer.id, criterion=key, score=score, comment=f"c{score}", scored_by_id=call.officer.id)
            )
    winner.status = OfferStatus.AWARDED
    loser.status = OfferStatus.UNSUCCESSFUL
    referral.status = ReferralStatus.AWARDED
    db.session.commit()

    found = offers.opportunity(referral.id, call.providers[1].id, now=now())
    assert found.outcome is Outcome.NOT_SUCCESSFUL
    assert found.result.offer.id == loser.id
    assert set(found.result.scores.values()) == {3}
    assert found.result.quality == Decimal("42.00")  # 3/5 x 70
    assert found.result.price == Decimal("25.00")  # 6000 / 7200 x 30
    assert found.result.total == Decimal("67.00")
    won = offers.opportunity(referral.id, call.providers[0].id, now=now())
    assert won.outcome is Outcome.AWARDED_TO_YOU and won.result is None


def test_the_first_view_is_recorded_once(app_context):
    call = published_call_off()
    found = offers.opportunity(call.referral.id, call.providers[0].id, now=now())
    assert found.response is Response.INVITED
    first = now() - timedelta(minutes=5)
    offers.mark_viewed(found, first)
    offers.mark_viewed(found, now())
    db.session.commit()
    assert invitation_of(call).viewed_at == first
    assert offers.opportunity(call.referral.id, call.providers[0].id, now=now()).response is Response.VIEWED
