"""Issue 7's enforcement: the SLA's term follows the arrangement's end; an offer needs an SLA in force for the lot and a
rate no higher than its cap (exactly at the cap is fine); admission drafts the SLA (a first one, a variation of the
approved one, or the lots added to the one being worked on)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    PA2023_DPS_CUTOFF,
    Arrangement,
    AuditEvent,
    LotOutcome,
    Offer,
    OutboxMessage,
    Regime,
    Role,
    Sla,
    SlaStatus,
    SlaTemplate,
)
from portal.services import decisions, offers, slas
from portal.services.audit import Events
from portal.services.decisions import LotAssessment
from portal.services.eligibility import eligible_providers, standing
from portal.services.errors import FieldErrors, IllegalTransition
from portal.services.offers import OfferDetails
from tests.factories import make_lot, make_lots, make_user
from tests.factories_calloff import make_referral, publish
from tests.factories_dps import TODAY, admit, days, make_provider, make_submitted_application
from tests.factories_slas import make_sla, make_template

# --- The term never runs past the arrangement's end, even when the end moves ---------------------------------------


@pytest.fixture
def lot(app_context):
    return make_lot(1, "Full Time Education Provision")


def test_moving_the_arrangements_end_earlier_moves_every_slas_end(lot):
    provider = make_provider("Moved")
    admit(provider, lot)
    sla = slas.approved(provider.id)
    arrangement = db.session.get(Arrangement, lot.arrangement_id)
    assert slas.ends_on(sla) == PA2023_DPS_CUTOFF  # a PCR 2015 DPS: its legal end, not its own 2031 end date
    new_end = date(2027, 8, 31)
    arrangement.end_date = new_end
    db.session.commit()
    db.session.expire_all()
    sla = db.session.get(Sla, sla.id)
    assert slas.ends_on(sla) == new_end
    assert [p.name for p in eligible_providers(lot, new_end)] == ["Moved"]
    assert eligible_providers(lot, new_end + days(1)) == []
    assert not standing(provider, lot, new_end + days(1)).sla_in_force
    assert slas.sla_lot_in_force(provider.id, lot.id, new_end + days(1)) is None
    assert slas.display_status(sla, new_end + days(1)) == "expired"


def test_a_change_of_regime_moves_the_end_to_the_arrangements_own_date(lot):
    """Moved onto a successor (an open framework under the Procurement Act): no PA 2023 cut-off, the arrangement's
    own end date is the term's end; moved back to a PCR 2015 DPS, the cut-off applies again."""
    provider = make_provider("Regime")
    admit(provider, lot)
    arrangement = db.session.get(Arrangement, lot.arrangement_id)
    arrangement.regime = Regime.PA2023_OPEN_FRAMEWORK
    db.session.commit()
    after_cutoff = PA2023_DPS_CUTOFF + days(30)
    assert slas.ends_on(slas.approved(provider.id)) == arrangement.end_date
    assert [p.name for p in eligible_providers(lot, after_cutoff)] == ["Regime"]
    arrangement.regime = Regime.PCR2015_DPS
    db.session.commit()
    assert slas.ends_on(slas.approved(provider.id)) == PA2023_DPS_CUTOFF
    assert eligible_providers(lot, after_cutoff) == []


def test_the_sla_never_ends_after_the_arrangement_even_when_terminated_later(lot):
    provider = make_provider("Late Termination")
    admit(provider, lot, sla=False)
    sla = make_sla(provider, [lot], status=SlaStatus.TERMINATED, terminated_on=date(2035, 1, 1))
    assert slas.ends_on(sla) == PA2023_DPS_CUTOFF
    assert eligible_providers(lot, PA2023_DPS_CUTOFF + days(1)) == []


# --- The rate cap ----------------------------------------------------------------------------------------------------

NOW = datetime.combine(TODAY, time(10), tzinfo=UTC)


@pytest.fixture
def calloff(app_context):
    """A referral in Lot 1 open for offers, published to one provider whose SLA caps Lot 1 at £350 a day, £150 a
    session and £50 an hour."""
    lot = make_lot(1, "Full Time Education Provision")
    provider = make_provider("Capped")
    admit(provider, lot, sla=False)
    make_sla(provider, [lot], caps=(Decimal("350.00"), Decimal("150.00"), Decimal("50.00")))
    user = make_user(Role.PROVIDER, provider=provider)
    officer = make_user(Role.OFFICER)
    referral = make_referral(officer, lot)
    publish(referral, officer, now=NOW - timedelta(days=1))
    return referral, provider, user


def details(referral, *, rate_type: str = "day", rate: str = "350", units: str = "5") -> OfferDetails:
    weeks = referral.duration_weeks or 0
    total = offers.expected_total(Decimal(rate), Decimal(units), weeks)
    return OfferDetails(
        aim_responses={aim.id: "We will meet this aim with a weekly plan." for aim in referral.aims},
        start_date=TODAY + days(14),
        hours_per_week="25",
        sessions="Monday to Friday",
        location="Main site",
        staffing_ratio="1:3",
        transport="None needed",
        delivery_and_staffing="Small groups",
        safeguarding="A DSL on site",
        rate_type=rate_type,
        rate=rate,
        units_per_week=units,
        total=f"{total:.2f}",
    )


def test_an_offer_exactly_at_the_cap_is_accepted(calloff):
    referral, _, user = calloff
    offer = offers.make_offer(referral.id, user, details=details(referral, rate="350.00"), version=None, now=NOW)
    db.session.commit()
    assert offer.rate == Decimal("350.00")


@pytest.mark.parametrize(
    ("rate_type", "rate", "units", "message"),
    [
        ("day", "350.01", "5", "The most your SLA allows for a day rate in Lot 1 is £350.00"),
        ("session", "151", "10", "The most your SLA allows for a session rate in Lot 1 is £150.00"),
        ("hour", "50.50", "20", "The most your SLA allows for an hourly rate in Lot 1 is £50.00"),
    ],
)
def test_an_offer_over_the_cap_is_refused_naming_the_cap(calloff, rate_type, rate, units, message):
    referral, _, user = calloff
    with pytest.raises(FieldErrors) as refused:
        offers.make_offer(
            referral.id,
            user,
            details=details(referral, rate_type=rate_type, rate=rate, units=units),
            version=None,
            now=NOW,
        )
    db.session.rollback()
    assert refused.value.errors == {"rate": message}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Offer)) == 0


def test_the_cap_is_shown_with_every_other_error_at_once(calloff):
    referral, _, user = calloff
    typed = details(referral, rate="400")
    typed = OfferDetails(**{**typed.__dict__, "location": "", "total": "1"})
    with pytest.raises(FieldErrors) as refused:
        offers.make_offer(referral.id, user, details=typed, version=None, now=NOW)
    db.session.rollback()
    assert refused.value.errors["rate"] == "The most your SLA allows for a day rate in Lot 1 is £350.00"
    assert "location" in refused.value.errors and "total" in refused.value.errors


def test_a_revision_over_the_cap_is_refused_and_the_offer_kept(calloff):
    referral, _, user = calloff
    offer = offers.make_offer(referral.id, user, details=details(referral, rate="300"), version=None, now=NOW)
    db.session.commit()
    with pytest.raises(FieldErrors):
        offers.make_offer(referral.id, user, details=details(referral, rate="360"), version=offer.version, now=NOW)
    db.session.rollback()
    assert db.session.get(Offer, offer.id).rate == Decimal("300.00")


@pytest.mark.parametrize("how", ["terminated", "draft only", "other lot"])
def test_without_an_sla_in_force_for_the_lot_an_offer_is_refused(calloff, how):
    referral, provider, user = calloff
    sla = slas.approved(provider.id)
    if how == "terminated":
        sla.status, sla.terminated_on, sla.termination_reason = SlaStatus.TERMINATED, TODAY - days(1), "Ended"
    elif how == "draft only":
        sla.status = SlaStatus.DRAFT
    else:
        other = make_lot(2)
        sla.lots[0].lot_id = other.id
    db.session.commit()
    with pytest.raises(IllegalTransition) as refused:
        offers.make_offer(referral.id, user, details=details(referral, rate="100"), version=None, now=NOW)
    db.session.rollback()
    assert refused.value.message == (
        "Your organisation has no service level agreement in force for Lot 1: Full Time Education Provision, so it "
        "cannot make offers in it."
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Offer)) == 0


# --- Admission drafts the SLA ----------------------------------------------------------------------------------------


@pytest.fixture
def manager(app_context):
    return make_user(Role.MANAGER, name="Morgan Manager")


def _admit_by_decision(provider, lots, manager, today=TODAY):
    application = make_submitted_application(provider=provider, lots=lots)
    return decisions.decide(
        application.id,
        manager,
        version=application.version,
        rejection_reason="",
        today=today,
        lots={lot.id: LotAssessment(LotOutcome.PASS) for lot in lots},
    )


def _slas(provider) -> list[Sla]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Sla).where(Sla.provider_id == provider.id).order_by(Sla.number)))


def _events(event: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


def test_admitting_drafts_a_first_sla_covering_the_lots(manager):
    make_template()
    lots = make_lots(3)
    provider = make_provider("New Provider")
    make_user(Role.PROVIDER, provider=provider)
    _admit_by_decision(provider, lots[:2], manager)
    [sla] = _slas(provider)
    assert sla.status is SlaStatus.DRAFT and sla.number == 1 and sla.previous_id is None
    assert sla.lot_ids == {lots[0].id, lots[1].id}
    assert sla.starts_on == TODAY and sla.created_by_id == manager.id
    assert {kpi.kind for kpi in sla.kpis} == set(slas.DEFAULT_KPIS)
    [event] = _events(Events.SLA_CREATED)
    assert event.actor_id == manager.id and event.subject_type == "slas" and event.subject_id == sla.id
    assert event.details["number"] == 1 and lots[0].label in event.details["lots"]
    # A draft is not in force: the provider is admitted but not yet invited, and is told so.
    assert not standing(provider, lots[0], TODAY).eligible
    user_mail = db.session.scalars(sa.select(OutboxMessage)).all()
    assert user_mail and all("service level agreement (SLA) for these lots to accept" in m.body for m in user_mail)


def test_admitting_to_a_further_lot_while_approved_makes_a_variation_with_both_lots(manager):
    lots = make_lots(2)
    provider = make_provider("Growing")
    first = make_sla(provider, [lots[0]], caps=(Decimal("300"), Decimal("150"), Decimal("50")))
    _admit_by_decision(provider, [lots[1]], manager)
    old, new = _slas(provider)
    assert old.id == first.id and old.status is SlaStatus.APPROVED  # in force until the variation is approved
    assert slas.integrity(old).intact  # and unchanged
    assert new.number == 2 and new.status is SlaStatus.DRAFT and new.previous_id == old.id
    assert new.lot_ids == {lots[0].id, lots[1].id}
    rates = {lot.lot_id: (lot.max_day_rate, lot.max_session_rate, lot.max_hour_rate) for lot in new.lots}
    assert rates[lots[0].id] == (Decimal("300.00"), Decimal("150.00"), Decimal("50.00"))  # carried over
    assert rates[lots[1].id] == (None, None, None)  # for the manager to fill in
    assert new.starts_on == old.starts_on
    assert [e.details["number"] for e in _events(Events.SLA_CREATED)] == [2]


def test_admitting_while_one_is_in_progress_adds_the_lot_to_it_and_sends_it_back_to_draft(manager):
    lots = make_lots(2)
    provider = make_provider("In Progress")
    sent = make_sla(provider, [lots[0]], status=SlaStatus.SENT)
    _admit_by_decision(provider, [lots[1]], manager)
    [sla] = _slas(provider)
    assert sla.id == sent.id and sla.lot_ids == {lots[0].id, lots[1].id}
    assert sla.status is SlaStatus.DRAFT and sla.checksum == ""  # what was sent has changed: it goes again
    assert _events(Events.SLA_CREATED) == []
    [event] = _events(Events.SLA_LOTS_ADDED)
    assert event.subject_id == sla.id and event.details["added"] == lots[1].label


def test_admitting_to_lots_an_approved_sla_covers_already_changes_nothing(manager):
    lots = make_lots(1)
    provider = make_provider("Covered")
    make_sla(provider, lots)
    admit(provider, lots[0], sla=False)  # admitted before, removed, and now admitted again
    _admit_by_decision(provider, lots, manager)
    assert [sla.status for sla in _slas(provider)] == [SlaStatus.APPROVED]
    assert _events(Events.SLA_CREATED) == []


def test_without_any_terms_admission_writes_version_1_of_the_terms_first(manager):
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaTemplate)) == 0
    lots = make_lots(1)
    provider = make_provider("First Ever")
    _admit_by_decision(provider, lots, manager)
    template = slas.current_template()
    assert template is not None and template.number == 1 and len(template.sections) >= 6
    [sla] = _slas(provider)
    assert sla.template_id == template.id and sla.status is SlaStatus.DRAFT


def test_a_rejection_drafts_no_sla(manager):
    make_template()
    lots = make_lots(1)
    provider = make_provider("Rejected")
    application = make_submitted_application(provider=provider, lots=lots)
    decisions.decide(
        application.id,
        manager,
        version=application.version,
        rejection_reason="No safeguarding policy",
        today=TODAY,
        lots={lots[0].id: LotAssessment(LotOutcome.FAIL)},
    )
    assert _slas(provider) == []
