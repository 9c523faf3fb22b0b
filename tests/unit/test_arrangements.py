"""Successor arrangements (issue 8 item 7): carrying over lots and admissions, history, where new call-offs go,
re-confirmation gating eligibility, and the warnings before the legal end."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import (
    Admission,
    Arrangement,
    AuditEvent,
    Destination,
    Lot,
    Placement,
    PlacementStatus,
    Referral,
    Regime,
)
from portal.services import arrangements, eligibility, referrals, slas
from portal.services.arrangements import SuccessorDetails, add_months, end_warning
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, NotFound
from tests.factories import make_lot, make_user
from tests.factories_calloff import make_child
from tests.factories_dps import admit, make_provider
from tests.factories_placements import awarded_referral, make_placement

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TODAY = date(2026, 11, 25)


def _details(**fields) -> SuccessorDetails:
    values = {
        "name": "AP dynamic market",
        "regime": Regime.PA2023_DYNAMIC_MARKET.value,
        "start_date": date(2027, 9, 1),
        "end_date": date(2031, 8, 31),
    }
    values.update(fields)
    return SuccessorDetails(**values)


@pytest.fixture
def world(app_context, monkeypatch):
    """Two lots of one DPS; provider A admitted to both, B to lot 1 only, C removed from lot 2; one active and one
    ended placement in lot 1."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    lot1, lot2 = make_lot(1), make_lot(2)
    a, b, c = make_provider("Provider A"), make_provider("Provider B"), make_provider("Provider C")
    admit(a, lot1), admit(a, lot2), admit(b, lot1)
    admit(c, lot2, removed_on=date(2026, 1, 5))
    active = make_placement(awarded_referral(lot=lot1, provider=a))
    officer = make_user("officer")
    ended = make_placement(
        awarded_referral(lot=lot1, provider=b, officer=officer, child=make_child(officer, upn="B123456789012")),
        status=PlacementStatus.ENDED,
        ended_on=date(2027, 2, 1),
        destination=Destination.HOME_SCHOOL,
    )
    manager = make_user("manager")
    return {"lots": (lot1, lot2), "providers": (a, b, c), "active": active, "ended": ended, "manager": manager}


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_add_months_clamps_to_the_month_end():
    assert add_months(date(2029, 2, 23), -12) == date(2028, 2, 23)
    assert add_months(date(2029, 2, 23), -6) == date(2028, 8, 23)
    assert add_months(date(2028, 3, 31), -1) == date(2028, 2, 29)


def test_carrying_over_copies_lots_and_admissions_and_keeps_history(world):
    lot1, lot2 = world["lots"]
    old_arrangement = lot1.arrangement
    lots_before, admissions_before = _count(Lot), _count(Admission)
    referral_lots_before = dict(db.session.execute(sa.select(Referral.id, Referral.lot_id)).all())
    placement_lots_before = dict(db.session.execute(sa.select(Placement.id, Placement.lot_id)).all())

    successor = arrangements.set_up_successor(old_arrangement.id, _details(), world["manager"], now=NOW, ip="10.0.0.1")
    db.session.commit()

    assert _count(Lot) == lots_before + 2
    # A in two lots, B in one; C was removed before the set-up and is not carried over.
    assert _count(Admission) == admissions_before + 3
    new_lots = db.session.scalars(sa.select(Lot).where(Lot.arrangement_id == successor.id).order_by(Lot.number)).all()
    assert [(lot.number, lot.title, lot.carried_from_id) for lot in new_lots] == [
        (1, lot1.title, lot1.id),
        (2, lot2.title, lot2.id),
    ]
    carried = db.session.scalars(sa.select(Admission).where(Admission.lot_id.in_([lot.id for lot in new_lots]))).all()
    a, b, c = world["providers"]
    assert sorted((adm.provider_id, adm.lot.number) for adm in carried) == sorted([(a.id, 1), (a.id, 2), (b.id, 1)])
    assert all(adm.reconfirmed_on is None and adm.carried_from_id is not None for adm in carried)
    assert all(adm.admitted_on == date(2027, 9, 1) for adm in carried)
    # History stays with the old arrangement: referrals and placements still point at the old lots.
    assert dict(db.session.execute(sa.select(Referral.id, Referral.lot_id)).all()) == referral_lots_before
    assert dict(db.session.execute(sa.select(Placement.id, Placement.lot_id)).all()) == placement_lots_before
    assert successor.predecessor_id == old_arrangement.id
    # The active placement is listed as carried over; the ended one is not.
    assert [p.id for p in arrangements.carried_over_placements(successor)] == [world["active"].id]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.SUCCESSOR_ARRANGEMENT_SET_UP))
    assert event.subject_id == successor.id and event.details["lots"] == 2 and event.details["admissions"] == 3


def test_new_call_offs_go_to_the_successor_once_it_has_started(world, monkeypatch):
    lot1, _ = world["lots"]
    successor = arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    # Before the successor starts, call-offs stay in the old lots.
    assert {lot.arrangement_id for lot in referrals.all_lots()} == {lot1.arrangement_id}
    assert arrangements.current_arrangement(TODAY).id == lot1.arrangement_id
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 9, 1, 9, tzinfo=UTC))
    assert {lot.arrangement_id for lot in referrals.all_lots()} == {successor.id}
    assert [lot.number for lot in referrals.all_lots()] == [1, 2]
    assert arrangements.current_arrangement(date(2027, 9, 1)).id == successor.id
    # Lists that hold history still offer the old lots as filters.
    assert {lot.arrangement_id for lot in referrals.filter_choices()["lots"]} == {lot1.arrangement_id, successor.id}


def test_reconfirmation_gates_eligibility_in_the_carried_lot(world):
    lot1, _ = world["lots"]
    a, b, _ = world["providers"]
    successor = arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    new_lot1 = db.session.scalar(sa.select(Lot).where(Lot.arrangement_id == successor.id, Lot.number == 1))
    day = date(2027, 9, 6)
    # The approved SLA covering the old lot covers the carried one, but nobody has re-confirmed.
    assert db.session.scalar(sa.select(slas.in_force(a.id, new_lot1.id, day)))
    assert eligibility.eligible_providers(new_lot1, day) == []
    assert eligibility.standing(a, new_lot1, day).admitted is False

    user_a = make_user("provider", provider=a)
    assert arrangements.reconfirm(a.id, user_a, now=NOW, ip="10.0.0.2") == 2
    db.session.commit()
    assert [p.name for p in eligibility.eligible_providers(new_lot1, day)] == ["Provider A"]
    assert arrangements.awaiting_reconfirmation(a.id) == []
    assert len(arrangements.awaiting_reconfirmation(b.id)) == 1
    # Re-confirming again changes nothing.
    assert arrangements.reconfirm(a.id, user_a, now=NOW) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.event == Events.ADMISSIONS_RECONFIRMED)
        )
        == 1
    )
    # The old lot keeps its eligibility rules (until the DPS's legal end).
    assert {p.name for p in eligibility.eligible_providers(lot1, day)} == {"Provider A", "Provider B"}


def test_the_carried_sla_cover_ends_at_the_successors_legal_end_not_the_dps_cut_off(world):
    lot1, _ = world["lots"]
    a, _, _ = world["providers"]
    successor = arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    new_lot1 = db.session.scalar(sa.select(Lot).where(Lot.arrangement_id == successor.id, Lot.number == 1))
    after_cut_off = date(2029, 6, 1)
    assert db.session.scalar(sa.select(slas.in_force(a.id, new_lot1.id, after_cut_off)))
    assert not db.session.scalar(sa.select(slas.in_force(a.id, lot1.id, after_cut_off)))
    assert not db.session.scalar(sa.select(slas.in_force(a.id, new_lot1.id, date(2031, 9, 1))))


def test_another_providers_user_cannot_reconfirm(world):
    lot1, _ = world["lots"]
    a, b, _ = world["providers"]
    arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    with pytest.raises(NotFound):
        arrangements.reconfirm(a.id, make_user("provider", provider=b), now=NOW)
    assert len(arrangements.awaiting_reconfirmation(a.id)) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"regime": Regime.PCR2015_DPS.value}, "regime"),
        ({"start_date": TODAY}, "start_date"),
        ({"end_date": date(2027, 9, 1)}, "end_date"),
        ({"start_date": None}, "start_date"),
    ],
)
def test_the_successor_details_are_checked(world, fields, field):
    lot1, _ = world["lots"]
    lots_before = _count(Lot)
    with pytest.raises(FieldErrors) as refused:
        arrangements.set_up_successor(lot1.arrangement_id, _details(**fields), world["manager"], now=NOW)
    assert field in refused.value.errors
    db.session.rollback()
    assert _count(Lot) == lots_before


def test_a_second_successor_is_a_conflict(world):
    lot1, _ = world["lots"]
    arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    with pytest.raises(Conflict):
        arrangements.set_up_successor(lot1.arrangement_id, _details(name="Another"), world["manager"], now=NOW)


@pytest.mark.parametrize(
    ("day", "months"),
    [
        (date(2028, 2, 22), None),
        (date(2028, 2, 23), 12),
        (date(2028, 8, 22), 12),
        (date(2028, 8, 23), 6),
        (date(2029, 1, 22), 6),
        (date(2029, 1, 23), 1),
        (date(2029, 2, 23), 1),
    ],
)
def test_warnings_at_12_6_and_1_month_before_the_legal_end(app_context, day, months):
    dps = Arrangement(name="DPS", regime=Regime.PCR2015_DPS, start_date=date(2024, 4, 1), end_date=date(2031, 3, 31))
    db.session.add(dps)
    db.session.flush()
    assert dps.legal_end_date == date(2029, 2, 23)
    warning = end_warning(dps, day)
    assert (warning.months if warning else None) == months
    if warning:
        assert warning.days_left == (date(2029, 2, 23) - day).days


def test_no_warning_once_a_successor_is_set_up(world):
    lot1, _ = world["lots"]
    dps = lot1.arrangement
    assert end_warning(dps, date(2029, 1, 30)) is not None
    arrangements.set_up_successor(dps.id, _details(), world["manager"], now=NOW)
    db.session.commit()
    assert end_warning(dps, date(2029, 1, 30)) is None


def test_a_draft_can_name_only_a_lot_of_the_current_arrangement(world):
    from portal.services import referral_drafts

    lot1, _ = world["lots"]
    successor = arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    new_lot1 = db.session.scalar(sa.select(Lot).where(Lot.arrangement_id == successor.id, Lot.number == 1))

    def lot_error(lot_id: int, day: date) -> str | None:
        with pytest.raises(FieldErrors) as refused:  # the other fields are empty
            referral_drafts.check_provision(referral_drafts.Provision(lot_id=str(lot_id)), day)
        return refused.value.errors.get("lot")

    assert lot_error(lot1.id, TODAY) is None
    assert lot_error(new_lot1.id, TODAY) == "Select one of the lots of the current arrangement"
    assert lot_error(lot1.id, date(2027, 9, 1)) == "Select one of the lots of the current arrangement"
    assert lot_error(new_lot1.id, date(2027, 9, 1)) is None


def test_a_suspension_from_an_old_lot_holds_in_the_lot_carried_from_it(world):
    from tests.factories_dps import suspend

    lot1, _ = world["lots"]
    a, b, _ = world["providers"]
    suspend(b, lot=lot1, starts_on=date(2026, 11, 1), ends_on=None)
    successor = arrangements.set_up_successor(lot1.arrangement_id, _details(), world["manager"], now=NOW)
    db.session.commit()
    new_lot1 = db.session.scalar(sa.select(Lot).where(Lot.arrangement_id == successor.id, Lot.number == 1))
    for provider in (a, b):
        arrangements.reconfirm(provider.id, make_user("provider", provider=provider), now=NOW)
    db.session.commit()
    day = date(2027, 9, 6)
    assert eligibility.standing(b, new_lot1, day).suspended is True
    assert [p.name for p in eligibility.eligible_providers(new_lot1, day)] == ["Provider A"]
