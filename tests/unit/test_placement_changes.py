"""Varying a placement (its history of old and new values), the unregistered provider's full-time line, and ending a
placement with a destination: portal.services.placement_changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Destination,
    Notification,
    OutboxMessage,
    Placement,
    PlacementChange,
    PlacementStatus,
    ResponsibleParty,
    Site,
)
from portal.services import placement_changes
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from portal.services.placement_changes import Variation
from tests.factories import make_user
from tests.factories_calloff import CHILD_IDENTIFIERS, make_child
from tests.factories_placements import awarded_referral, make_placement, placed

NOW = datetime(2027, 2, 1, 10, tzinfo=UTC)  # a Monday, in the placement (started 11 January 2027)
REASON = "The child is ready for more hours"


def _sites(placement: Placement) -> list[Site]:
    return list(db.session.scalars(sa.select(Site).where(Site.provider_id == placement.provider_id).order_by(Site.id)))


def _changes(placement_id: int) -> dict[str, PlacementChange]:
    rows = db.session.scalars(sa.select(PlacementChange).where(PlacementChange.placement_id == placement_id))
    return {row.field: row for row in rows}


def _vary(awarded, placement, by=None, *, reason=REASON, version=None, **fields):
    changes = replace(Variation.of(placement), **fields)
    return placement_changes.vary(
        placement.id,
        by or awarded.officer,
        changes,
        version=placement.version if version is None else version,
        reason=reason,
        now=NOW,
        ip="192.0.2.1",
    )


# ---- Varying --------------------------------------------------------------------------------------------------------


def test_a_variation_keeps_one_history_row_per_field_with_old_and_new_values_as_people_read_them(app_context):
    awarded, placement = placed()
    main, farm = _sites(placement)
    version = placement.version

    rows = _vary(
        awarded,
        placement,
        site_ids=[main.id, farm.id],
        hours_per_week="20",
        expected_sessions=["mon-am", "mon-pm", "tue-am"],
        rate="130.50",
        total_cost="7830",
        planned_end_date=date(2027, 5, 28),
    )
    db.session.commit()

    assert [r.field for r in rows] == [
        "sites",
        "hours_per_week",
        "expected_sessions",
        "rate",
        "total_cost",
        "planned_end_date",
    ]
    saved = _changes(placement.id)
    assert (saved["sites"].old_value, saved["sites"].new_value) == ("Main site", "Main site, Farm site")
    assert (saved["hours_per_week"].old_value, saved["hours_per_week"].new_value) == ("15 hours", "20 hours")
    assert saved["expected_sessions"].new_value == "Monday morning, Monday afternoon, Tuesday morning"
    assert saved["expected_sessions"].old_value.startswith("Monday morning, Monday afternoon, Tuesday morning, ")
    assert (saved["rate"].old_value, saved["rate"].new_value) == ("£120.00", "£130.50")
    assert (saved["total_cost"].old_value, saved["total_cost"].new_value) == ("£7,200.00", "£7,830.00")
    assert (saved["planned_end_date"].old_value, saved["planned_end_date"].new_value) == ("2 April 2027", "28 May 2027")
    assert all(r.reason == REASON and r.changed_by_id == awarded.officer.id and r.changed_at == NOW for r in rows)

    db.session.expire_all()
    placement = db.session.get(Placement, placement.id)
    assert placement.site_ids == {main.id, farm.id}
    assert placement.hours_per_week == Decimal("20.0") and placement.rate == Decimal("130.50")
    assert placement.expected_sessions == "mon-am mon-pm tue-am"
    assert placement.planned_end_date == date(2027, 5, 28)
    assert placement.version == version + 1
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.PLACEMENT_VARIED)).one()
    assert event.reason == REASON and event.subject_id == placement.id and event.actor_id == awarded.officer.id
    assert event.details["fields"] == [r.field for r in rows]


def test_changing_only_the_sites_moves_the_version_on(app_context):
    awarded, placement = placed()
    _main, farm = _sites(placement)
    version = placement.version

    _vary(awarded, placement, site_ids=[farm.id])
    db.session.commit()

    db.session.expire_all()
    placement = db.session.get(Placement, placement.id)
    assert placement.site_ids == {farm.id} and placement.version == version + 1
    assert _changes(placement.id)["sites"].new_value == "Farm site"


def test_the_provider_and_a_responsible_dsl_elsewhere_are_told_without_the_child(app_context):
    awarded, placement = placed(responsible_party=ResponsibleParty.SERVICE)
    service = placement.service
    service.dsl_name, service.dsl_email = "Sam Service", "dsl@council.example"
    db.session.commit()

    _vary(awarded, placement, hours_per_week="18")
    db.session.commit()

    notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == awarded.provider_user.id)).all()
    assert len(notes) == 1 and "P0" in notes[0].subject and "Hours per week: 15 hours -> 18 hours" in notes[0].body
    emails = {m.to_address: m for m in db.session.scalars(sa.select(OutboxMessage))}
    assert set(emails) == {awarded.provider_user.email, "dsl@council.example"}
    for message in emails.values():
        for identifier in CHILD_IDENTIFIERS:
            assert identifier not in message.body and identifier not in message.subject


def test_the_provider_dsl_is_not_emailed_twice_when_the_provider_is_responsible_and_no_change_is_refused(app_context):
    awarded, placement = placed()
    with pytest.raises(DomainError) as refused:
        _vary(awarded, placement)
    assert refused.value.message == "Change at least one thing"
    assert not _changes(placement.id)

    _vary(awarded, placement, sessions="Monday to Thursday, 9am to 12pm")
    # The provider holds responsibility: its DSL (dsl@placing-provider.example) hears too, being the responsible one.
    assert sorted(m.to_address for m in db.session.scalars(sa.select(OutboxMessage))) == sorted(
        [awarded.provider_user.email, "dsl@placing-provider.example"]
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"site_ids": []}, "sites", "Choose at least one site the child will attend"),
        ({"hours_per_week": ""}, "hours_per_week", "Enter the hours a week"),
        ({"hours_per_week": "0"}, "hours_per_week", "The hours a week must be more than 0"),
        ({"hours_per_week": "41"}, "hours_per_week", "The hours a week must be 40 or fewer"),
        ({"hours_per_week": "lots"}, "hours_per_week", "The hours a week must be a number, like 5 or 2.5"),
        ({"sessions": "  "}, "sessions", "Enter the sessions in words, like Monday to Friday, 9am to 12pm"),
        ({"sessions": "x" * 201}, "sessions", "The sessions must be 200 characters or fewer"),
        ({"expected_sessions": []}, "expected_sessions", "Choose at least one session the child is expected at"),
        ({"expected_sessions": ["sat-am"]}, "expected_sessions", "Choose sessions from Monday to Friday"),
        ({"rate_type": "week"}, "rate_type", "Select whether it is a day rate"),
        ({"rate": "0"}, "rate", "The rate must be more than £0"),
        ({"rate": "12.345"}, "rate", "no more than 2 decimal places"),
        ({"units_per_week": "8"}, "units_per_week", "How many days a week must be 7 or fewer"),
        ({"total_cost": "a lot"}, "total_cost", "The total cost must be an amount in pounds"),
        ({"planned_end_date": None}, "planned_end_date", "Enter the planned end date"),
        ({"planned_end_date": date(2027, 1, 10)}, "planned_end_date", "on or after the start date, 11 January 2027"),
    ],
)
def test_each_field_is_checked(app_context, fields, field, message):
    awarded, placement = placed()
    with pytest.raises(FieldErrors) as refused:
        _vary(awarded, placement, **fields)
    assert message in refused.value.errors[field]
    assert not _changes(placement.id)


def test_a_site_of_another_provider_and_a_missing_or_long_reason_are_refused(app_context):
    awarded, placement = placed()
    other = awarded_referral(
        officer=awarded.officer, lot=awarded.lot, child=make_child(awarded.officer, upn="B123456789012")
    )
    foreign = _sites(make_placement(other))[0]

    with pytest.raises(FieldErrors) as refused:
        _vary(awarded, placement, site_ids=[foreign.id], reason="")
    assert refused.value.errors == {
        "sites": f"Choose from {placement.provider.name}'s sites",
        "reason": "Enter why the placement is changing",
    }
    with pytest.raises(FieldErrors) as refused:
        _vary(awarded, placement, hours_per_week="16", reason="x" * 2001)
    assert refused.value.errors == {"reason": "The reason must be 2,000 characters or fewer"}


def test_a_stale_version_is_a_conflict_and_nothing_is_saved(app_context):
    awarded, placement = placed()
    with pytest.raises(Conflict):
        _vary(awarded, placement, hours_per_week="20", version=placement.version - 1)
    db.session.rollback()
    assert not _changes(placement.id)
    assert db.session.get(Placement, placement.id).hours_per_week == Decimal("15.0")


def test_only_officers_of_the_service_vary_and_nobody_once_it_has_ended(app_context):
    awarded, placement = placed()
    with pytest.raises(NotFound):
        _vary(awarded, placement, by=make_user("officer"), hours_per_week="20")
    with pytest.raises(NotAllowed):
        _vary(awarded, placement, by=awarded.provider_user, hours_per_week="20")
    with pytest.raises(NotAllowed):
        _vary(awarded, placement, by=make_user("manager"), hours_per_week="20")

    placement_changes.end(
        placement.id,
        awarded.officer,
        ended_on=date(2027, 1, 29),
        destination=Destination.HOME_SCHOOL,
        reason="Aims met",
        version=placement.version,
        now=NOW,
    )
    db.session.commit()
    with pytest.raises(IllegalTransition):
        _vary(awarded, placement, hours_per_week="20")
    with pytest.raises(IllegalTransition):
        placement_changes.end(
            placement.id,
            awarded.officer,
            ended_on=date(2027, 1, 29),
            destination=Destination.OTHER,
            reason="Again",
            version=placement.version,
            now=NOW,
        )


# ---- The unregistered provider's full-time line (placement_setup.registration_refusal) -------------------------------


def _full_time_pupils(count: int):
    """An unregistered provider with ``count`` other children placed full time, and a part-time placement there."""
    first = awarded_referral(registered=False, child=make_child(make_user("officer"), upn="C000000000000"))
    make_placement(first, full_time=True)
    for n in range(1, count + 1):
        awarded = awarded_referral(
            officer=first.officer,
            lot=first.lot,
            provider=first.provider,
            provider_user=first.provider_user,
            child=make_child(first.officer, upn=f"C{n:012d}"),
        )
        placement = make_placement(awarded, full_time=n < count)
    return awarded, placement


@pytest.mark.parametrize(("others", "refused"), [(3, False), (4, True)])
def test_a_variation_may_not_make_an_unregistered_provider_educate_5_pupils_full_time(app_context, others, refused):
    awarded, placement = _full_time_pupils(others)
    if refused:
        with pytest.raises(DomainError) as refusal:
            _vary(awarded, placement, full_time=True)
        assert refusal.value.field == "full_time" and "educate 5 pupils full time" in refusal.value.message
        assert not _changes(placement.id)
    else:
        assert [r.field for r in _vary(awarded, placement, full_time=True)] == ["full_time"]


@pytest.mark.parametrize("need", ["looked_after", "ehc_plan"])
def test_a_variation_may_not_make_a_looked_after_child_or_one_with_an_ehc_plan_full_time(app_context, need):
    awarded = awarded_referral(registered=False, child=make_child(make_user("officer"), **{need: True}))
    placement = make_placement(awarded)
    with pytest.raises(DomainError) as refused:
        _vary(awarded, placement, full_time=True)
    assert refused.value.field == "full_time" and "cannot educate them full time" in refused.value.message
    assert not _changes(placement.id)
    # Other changes to the part-time placement are fine, and so is full time with a registered provider.
    _vary(awarded, placement, hours_per_week="10")
    placement.provider.registered = True
    assert [r.field for r in _vary(awarded, placement, full_time=True)] == ["full_time"]


# ---- Ending ---------------------------------------------------------------------------------------------------------


def _end(awarded, placement, **fields):
    values = {
        "ended_on": date(2027, 1, 29),
        "destination": Destination.NEW_MAINSTREAM,
        "reason": "A place came up at a new school",
        "version": placement.version,
        "now": NOW,
    }
    values.update(fields)
    return placement_changes.end(placement.id, awarded.officer, **values)


def test_ending_records_the_date_destination_reason_and_who_and_tells_the_provider(app_context):
    awarded, placement = placed()
    _end(awarded, placement, destination="a new mainstream school")
    db.session.commit()

    db.session.expire_all()
    ended = db.session.get(Placement, placement.id)
    assert ended.status is PlacementStatus.ENDED and ended.ended_on == date(2027, 1, 29)
    assert ended.destination is Destination.NEW_MAINSTREAM and ended.end_reason == "A place came up at a new school"
    assert ended.ended_by_id == awarded.officer.id and ended.ended_at == NOW
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.PLACEMENT_ENDED)).one()
    assert event.details["destination"] == "a new mainstream school" and event.details["ended_on"] == "2027-01-29"
    note = db.session.scalars(sa.select(Notification).where(Notification.user_id == awarded.provider_user.id)).one()
    assert "has ended" in note.subject and "29 January 2027" in note.body
    for identifier in CHILD_IDENTIFIERS:
        assert identifier not in note.body


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"destination": None}, {"destination": "Choose where the child went next"}),
        ({"destination": "the moon"}, {"destination": "Choose where the child went next"}),
        (
            {"ended_on": None, "reason": ""},
            {"ended_on": "Enter the date the placement ended", "reason": "Enter why the placement ended"},
        ),
        (
            {"ended_on": date(2027, 1, 8)},
            {"ended_on": "The end date must be on or after the start date, 11 January 2027"},
        ),
        (
            {"ended_on": date(2027, 2, 2)},
            {
                "ended_on": "The end date must be today or in the past. To end it later, change the planned end date instead"
            },
        ),
        ({"reason": "x" * 2001}, {"reason": "The reason must be 2,000 characters or fewer"}),
    ],
)
def test_ending_checks_each_field_and_needs_a_destination(app_context, fields, errors):
    awarded, placement = placed()
    with pytest.raises(FieldErrors) as refused:
        _end(awarded, placement, **fields)
    assert refused.value.errors == errors
    assert db.session.get(Placement, placement.id).status is PlacementStatus.ACTIVE


def test_ending_today_is_allowed_and_a_stale_version_is_a_conflict(app_context):
    awarded, placement = placed()
    with pytest.raises(Conflict):
        _end(awarded, placement, version=placement.version + 1)
    _end(awarded, placement, ended_on=date(2027, 2, 1))
    assert placement.status is PlacementStatus.ENDED
