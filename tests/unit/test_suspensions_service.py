"""Suspending a provider, lifting a suspension and removing a provider from a lot: the rules, what the provider is
told, the audit trail, and what eligible_providers() makes of each."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Admission, AuditEvent, Notification, OutboxMessage, Role, Suspension
from portal.services import suspensions
from portal.services.audit import Events
from portal.services.eligibility import eligible_providers
from portal.services.errors import DomainError, NotFound
from portal.services.suspensions import SuspensionState
from tests.factories import AdmissionFactory, ProviderFactory, SuspensionFactory, make_lots, make_user
from tests.factories_slas import make_sla

TODAY = date(2026, 6, 15)


@pytest.fixture
def manager(app_context):
    return make_user(Role.MANAGER, name="Morgan Manager")


@pytest.fixture
def setting(app_context):
    """A provider admitted to two lots since 2025, with one active user."""
    lots = make_lots(2)
    provider = ProviderFactory(name="Harbour Learning")
    user = make_user(Role.PROVIDER, provider=provider, email="pat@harbour.example")
    for lot in lots:
        AdmissionFactory(provider_id=provider.id, lot_id=lot.id, admitted_on=date(2025, 1, 6))
    make_sla(provider, lots)  # in force: eligible unless suspended
    return provider, lots, user


def _events(event: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == event)))


def _suspend(provider, by, **fields):
    values = {
        "lot_id": None,
        "reason": "Concern raised by a school",
        "starts_on": TODAY,
        "ends_on": None,
        "today": TODAY,
    }
    values.update(fields)
    return suspensions.suspend(provider.id, by, **values)


# ---- Eligibility after each change ---------------------------------------------------------------------------------


def test_a_suspension_from_one_lot_excludes_the_provider_from_its_start_date_in_that_lot_only(setting, manager):
    provider, (lot1, lot2), _ = setting
    starts = TODAY + timedelta(days=3)
    _suspend(provider, manager, lot_id=lot1.id, starts_on=starts, ends_on=starts + timedelta(days=4))

    assert provider in eligible_providers(lot1, starts - timedelta(days=1))
    assert provider not in eligible_providers(lot1, starts)
    assert provider not in eligible_providers(lot1, starts + timedelta(days=4))  # the end date is included
    assert provider in eligible_providers(lot1, starts + timedelta(days=5))
    assert provider in eligible_providers(lot2, starts)  # the other lot is untouched


def test_an_all_lots_suspension_excludes_every_lot(setting, manager):
    provider, lots, _ = setting
    _suspend(provider, manager, lot_id=None, starts_on=TODAY)
    for lot in lots:
        assert provider not in eligible_providers(lot, TODAY)
        assert provider in eligible_providers(lot, TODAY - timedelta(days=1))


def test_a_lifted_suspension_no_longer_excludes(setting, manager):
    provider, (lot1, _), _ = setting
    suspension = _suspend(provider, manager, lot_id=lot1.id, starts_on=TODAY)
    assert provider not in eligible_providers(lot1, TODAY)
    suspensions.lift(provider.id, suspension.id, manager, reason="Concern resolved", today=TODAY)
    assert provider in eligible_providers(lot1, TODAY)
    assert provider in eligible_providers(lot1, TODAY + timedelta(days=30))


def test_a_removed_provider_is_excluded_from_the_removal_date(setting, manager):
    provider, (lot1, lot2), _ = setting
    admission = db.session.scalar(sa.select(Admission).where(Admission.lot_id == lot1.id))
    suspensions.remove_from_lot(
        provider.id, admission.id, manager, reason="Repeated late attendance returns", today=TODAY
    )
    assert provider in eligible_providers(lot1, TODAY - timedelta(days=1))
    assert provider not in eligible_providers(lot1, TODAY)
    assert provider not in eligible_providers(lot1, TODAY + timedelta(days=100))
    assert provider in eligible_providers(lot2, TODAY)
    saved = db.session.get(Admission, admission.id)
    assert saved.removed_on == TODAY and saved.removed_by_id == manager.id
    assert saved.removed_reason == "Repeated late attendance returns"


# ---- Suspending ----------------------------------------------------------------------------------------------------


def test_suspending_is_audited_and_told_to_the_providers_users(setting, manager):
    provider, (lot1, _), user = setting
    colleague = make_user(Role.PROVIDER, provider=provider, email="sam@harbour.example", manages_colleagues=False)
    suspension = _suspend(
        provider,
        manager,
        lot_id=lot1.id,
        starts_on=TODAY,
        ends_on=date(2026, 7, 20),
        reason="  Safeguarding concern under investigation  ",
    )
    assert suspension.reason == "Safeguarding concern under investigation"
    assert suspension.created_by_id == manager.id and suspension.lifted_at is None
    [event] = _events(Events.PROVIDER_SUSPENDED)
    assert event.actor_id == manager.id and event.subject_type == "providers" and event.subject_id == provider.id
    assert event.reason == "Safeguarding concern under investigation"
    assert event.details["lots"] == lot1.label and event.details["ends_on"] == "2026-07-20"
    mail = db.session.scalars(sa.select(OutboxMessage)).all()
    assert sorted(m.to_address for m in mail) == ["pat@harbour.example", "sam@harbour.example"]
    assert "from 15 June 2026 to 20 July 2026" in mail[0].body and "Safeguarding concern" in mail[0].body
    assert sorted(db.session.scalars(sa.select(Notification.user_id))) == sorted([user.id, colleague.id])


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"reason": "   "}, "reason", "Enter the reason for the suspension"),
        ({"starts_on": None}, "starts_on", "Enter the date the suspension starts"),
        ({"starts_on": TODAY - timedelta(days=1)}, "starts_on", "today or later"),
        ({"starts_on": TODAY + timedelta(days=5), "ends_on": TODAY + timedelta(days=4)}, "ends_on", "same as or after"),
    ],
)
def test_a_suspension_needs_a_reason_a_start_date_and_an_end_not_before_it(setting, manager, fields, field, message):
    provider, _, _ = setting
    with pytest.raises(DomainError, match=message) as caught:
        _suspend(provider, manager, **fields)
    assert caught.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suspension)) == 0
    assert _events(Events.PROVIDER_SUSPENDED) == []


def test_a_one_day_suspension_is_allowed(setting, manager):
    provider, (lot1, _), _ = setting
    _suspend(provider, manager, lot_id=lot1.id, starts_on=TODAY, ends_on=TODAY)
    assert provider not in eligible_providers(lot1, TODAY)
    assert provider in eligible_providers(lot1, TODAY + timedelta(days=1))


def test_a_provider_can_be_suspended_only_from_a_lot_it_is_admitted_to(setting, manager):
    provider, _, _ = setting
    other_lot = make_lots(1)[0]
    with pytest.raises(DomainError, match="not admitted to that lot") as caught:
        _suspend(provider, manager, lot_id=other_lot.id)
    assert caught.value.field == "scope"
    never_admitted = ProviderFactory()
    with pytest.raises(DomainError, match="not admitted to any lot"):
        _suspend(never_admitted, manager)


def test_only_the_manager_suspends(setting):
    provider, _, _ = setting
    with pytest.raises(suspensions.NotAllowed):
        _suspend(provider, make_user(Role.OFFICER))


# ---- Lifting -------------------------------------------------------------------------------------------------------


def test_lifting_needs_a_reason_is_audited_and_told_and_happens_once(setting, manager):
    provider, _, _ = setting
    suspension = _suspend(provider, manager)
    db.session.execute(sa.delete(OutboxMessage))
    db.session.commit()
    with pytest.raises(DomainError, match="Enter the reason for lifting") as caught:
        suspensions.lift(provider.id, suspension.id, manager, reason=" ", today=TODAY)
    assert caught.value.field == "reason"

    suspensions.lift(provider.id, suspension.id, manager, reason="Investigation closed", today=TODAY)
    saved = db.session.get(Suspension, suspension.id)
    assert (
        saved.lifted_at is not None and saved.lifted_by_id == manager.id and saved.lift_reason == "Investigation closed"
    )
    assert suspensions.state_of(saved, TODAY) is SuspensionState.LIFTED
    [event] = _events(Events.SUSPENSION_LIFTED)
    assert event.reason == "Investigation closed" and event.subject_id == provider.id
    [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert mail.to_address == "pat@harbour.example" and "has been lifted" in mail.body

    with pytest.raises(DomainError, match="lifted already"):
        suspensions.lift(provider.id, suspension.id, manager, reason="Again", today=TODAY)
    assert len(_events(Events.SUSPENSION_LIFTED)) == 1


def test_a_suspension_that_has_ended_cannot_be_lifted(setting, manager):
    provider, _, _ = setting
    ended = SuspensionFactory(provider_id=provider.id, starts_on=date(2026, 1, 5), ends_on=date(2026, 1, 9))
    assert suspensions.state_of(ended, TODAY) is SuspensionState.ENDED
    with pytest.raises(DomainError, match="ended on 9 January 2026"):
        suspensions.lift(provider.id, ended.id, manager, reason="Tidy up", today=TODAY)


def test_the_state_of_a_suspension_follows_its_dates():
    suspension = Suspension(starts_on=date(2026, 6, 20), ends_on=date(2026, 6, 30), reason="x")
    assert suspensions.state_of(suspension, date(2026, 6, 19)) is SuspensionState.SCHEDULED
    assert suspensions.state_of(suspension, date(2026, 6, 20)) is SuspensionState.IN_FORCE
    assert suspensions.state_of(suspension, date(2026, 6, 30)) is SuspensionState.IN_FORCE
    assert suspensions.state_of(suspension, date(2026, 7, 1)) is SuspensionState.ENDED
    assert suspensions.ACTIONS["lift"] == {SuspensionState.SCHEDULED, SuspensionState.IN_FORCE}


def test_a_suspension_of_another_provider_is_not_found(setting, manager):
    provider, _, _ = setting
    other = ProviderFactory()
    theirs = SuspensionFactory(provider_id=other.id)
    with pytest.raises(NotFound):
        suspensions.lift(provider.id, theirs.id, manager, reason="Wrong provider", today=TODAY)
    assert db.session.get(Suspension, theirs.id).lifted_at is None


# ---- Removing ------------------------------------------------------------------------------------------------------


def test_removing_is_audited_told_and_happens_once(setting, manager):
    provider, (lot1, _), _ = setting
    admission = db.session.scalar(sa.select(Admission).where(Admission.lot_id == lot1.id))
    with pytest.raises(DomainError, match="Enter the reason for removing") as caught:
        suspensions.remove_from_lot(provider.id, admission.id, manager, reason="", today=TODAY)
    assert caught.value.field == "reason"

    suspensions.remove_from_lot(provider.id, admission.id, manager, reason="Contract breach", today=TODAY)
    [event] = _events(Events.PROVIDER_REMOVED_FROM_LOT)
    assert event.reason == "Contract breach" and event.details["lot"] == lot1.label
    [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert mail.to_address == "pat@harbour.example" and lot1.label in mail.body and "Contract breach" in mail.body

    with pytest.raises(DomainError, match="was removed from"):
        suspensions.remove_from_lot(provider.id, admission.id, manager, reason="Again", today=TODAY)
    assert len(_events(Events.PROVIDER_REMOVED_FROM_LOT)) == 1


def test_an_admission_of_another_provider_is_not_found(setting, manager):
    provider, _, _ = setting
    theirs = AdmissionFactory()
    with pytest.raises(NotFound):
        suspensions.remove_from_lot(provider.id, theirs.id, manager, reason="Wrong provider", today=TODAY)


# ---- Reading -------------------------------------------------------------------------------------------------------


def test_the_overview_has_admissions_suspensions_and_standing_per_admitted_lot(setting, manager):
    provider, (lot1, lot2), _ = setting
    _suspend(provider, manager, lot_id=lot2.id, starts_on=TODAY)
    admission = db.session.scalar(sa.select(Admission).where(Admission.lot_id == lot1.id))
    suspensions.remove_from_lot(provider.id, admission.id, manager, reason="Removed", today=TODAY - timedelta(days=1))
    view = suspensions.overview(suspensions.get_provider(provider.id), TODAY)
    assert len(view.admissions) == 2
    assert [s.lot.id for s in view.standings] == [lot2.id]
    assert view.standings[0].suspended and not view.standings[0].eligible
    assert [row.state for row in view.suspensions] == [SuspensionState.IN_FORCE]
    assert [lot.id for lot in view.admitted_lots] == [lot2.id]
