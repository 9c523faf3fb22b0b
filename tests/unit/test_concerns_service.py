"""Safeguarding concerns (portal.services.concerns): who sees one, who raises and closes it, what is sent at once and
what never is; and the council services' DSLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Commissioner,
    Concern,
    ConcernStatus,
    CouncilService,
    Notification,
    OnRoll,
    OutboxMessage,
    Placement,
    ProvisionRole,
    ResponsibleParty,
    User,
)
from portal.services import concerns
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed, NotFound
from tests.factories import make_user
from tests.factories_calloff import CHILD_IDENTIFIERS
from tests.factories_placements import Awarded, placed

NOW = datetime(2027, 2, 10, 10, tzinfo=UTC)
DETAILS = "Told staff at break that an adult at home hit them"
SUMMARY = "Disclosure at break time"


@dataclass
class Cast:
    awarded: Awarded
    placement: Placement
    officer: User
    other_officer: User
    raiser: User
    colleague: User
    dsl: User
    manager: User
    stranger: User


def _cast(**placement_fields) -> Cast:
    awarded, placement = placed(**placement_fields)
    officer = awarded.officer
    return Cast(
        awarded=awarded,
        placement=placement,
        officer=officer,
        other_officer=make_user("officer", service=officer.service),
        raiser=awarded.provider_user,
        colleague=make_user("provider", provider=awarded.provider),
        # The provider holds responsibility (the child is on its roll): its DSL has an account.
        dsl=make_user("provider", provider=awarded.provider, email="dsl@placing-provider.example"),
        manager=make_user("manager"),
        stranger=make_user("provider"),
    )


def _raise(cast: Cast, by: User | None = None, **fields) -> Concern:
    values = {"summary": SUMMARY, "details": DETAILS, "action_taken": "Told the DSL in person", "now": NOW}
    values.update(fields)
    concern = concerns.raise_concern(cast.placement.id, by or cast.raiser, **values)
    db.session.commit()
    return concern


def _no_child_or_details(*texts: str) -> None:
    for text in texts:
        for identifier in (*CHILD_IDENTIFIERS, DETAILS, SUMMARY):
            assert identifier not in text, f"{identifier!r} in {text!r}"


def test_a_concern_goes_at_once_to_the_officer_and_the_dsl_without_the_child_or_the_details(app_context):
    cast = _cast()
    concern = _raise(cast)
    assert concern.status is ConcernStatus.OPEN
    notes = db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()
    assert {n.user_id for n in notes} == {cast.officer.id, cast.dsl.id}
    mails = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {m.to_address for m in mails} == {cast.officer.email, "dsl@placing-provider.example"}
    reference = f"P{cast.placement.id:05d}"
    for message in [*notes, *mails]:
        assert reference in message.subject
        assert f"/placements/{cast.placement.id}/concerns/{concern.id}" in message.body
        _no_child_or_details(message.subject, message.body)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.CONCERN_RAISED))
    assert event.details == {"placement_id": cast.placement.id}


def test_a_dsl_with_no_account_is_emailed_at_their_address(app_context):
    awarded, placement = placed(
        on_roll=OnRoll.HOME_SCHOOL,
        provision_role=ProvisionRole.SUPPLEMENTARY,
        commissioner=Commissioner.COUNCIL,
        responsible_party=ResponsibleParty.SERVICE,
    )
    service = db.session.get(CouncilService, placement.service_id)
    service.dsl_name, service.dsl_email = "Sam Lead", "Safeguarding@Council.example"
    db.session.commit()
    concerns.raise_concern(placement.id, awarded.provider_user, summary=SUMMARY, details=DETAILS, now=NOW)
    db.session.commit()
    mails = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {m.to_address for m in mails} == {awarded.officer.email, "safeguarding@council.example"}
    to_dsl = next(m for m in mails if m.to_address == "safeguarding@council.example")
    assert awarded.officer.email in to_dsl.body  # who to ask for the details
    _no_child_or_details(to_dsl.subject, to_dsl.body)
    # No account: nothing in anyone else's notification list.
    assert {n.user_id for n in db.session.scalars(sa.select(Notification))} == {awarded.officer.id}


def test_the_dsl_account_is_found_whatever_the_case_of_the_address(app_context):
    awarded, placement = placed(
        on_roll=OnRoll.HOME_SCHOOL,
        provision_role=ProvisionRole.SUPPLEMENTARY,
        commissioner=Commissioner.COUNCIL,
        responsible_party=ResponsibleParty.SERVICE,
    )
    service = db.session.get(CouncilService, placement.service_id)
    service.dsl_name, service.dsl_email = "Sam Lead", "Sam.Lead@Council.example"
    db.session.commit()
    lead = make_user("manager", email="sam.lead@council.example")
    assert concerns.is_dsl(placement, lead)
    concern = concerns.raise_concern(placement.id, awarded.provider_user, summary=SUMMARY, details=DETAILS, now=NOW)
    db.session.commit()
    assert lead.id in {n.user_id for n in db.session.scalars(sa.select(Notification))}
    assert concerns.may_see(concern, placement, lead)


def test_with_no_dsl_recorded_the_managers_are_told(app_context):
    awarded, placement = placed(
        on_roll=OnRoll.HOME_SCHOOL,
        provision_role=ProvisionRole.SUPPLEMENTARY,
        commissioner=Commissioner.COUNCIL,
        responsible_party=ResponsibleParty.SERVICE,
    )
    manager = make_user("manager")
    concerns.raise_concern(placement.id, awarded.provider_user, summary=SUMMARY, details=DETAILS, now=NOW)
    db.session.commit()
    assert {n.user_id for n in db.session.scalars(sa.select(Notification))} == {awarded.officer.id, manager.id}


def test_the_officer_raising_a_concern_tells_the_dsl_not_themselves(app_context):
    cast = _cast()
    _raise(cast, by=cast.officer)
    assert {n.user_id for n in db.session.scalars(sa.select(Notification))} == {cast.dsl.id}


def test_who_sees_a_concern(app_context):
    cast = _cast()
    concern = _raise(cast)
    seen = {
        "officer": cast.officer,
        "raiser": cast.raiser,
        "dsl": cast.dsl,
        "manager": cast.manager,
    }
    unseen = {
        "other officer of the service": cast.other_officer,
        "colleague at the provider": cast.colleague,
        "another provider": cast.stranger,
    }
    for who, user in seen.items():
        assert concerns.may_see(concern, cast.placement, user), who
        assert [c.id for c in concerns.visible_concerns(cast.placement, user)] == [concern.id], who
        assert concerns.get_concern(cast.placement, concern.id, user).id == concern.id
    for who, user in unseen.items():
        assert not concerns.may_see(concern, cast.placement, user), who
        assert concerns.visible_concerns(cast.placement, user) == [], who
        with pytest.raises(NotFound):
            concerns.get_concern(cast.placement, concern.id, user)


def test_the_list_shows_the_raisers_own_concerns_newest_first(app_context):
    cast = _cast()
    first = _raise(cast)
    second = _raise(cast, by=cast.colleague, now=datetime(2027, 2, 11, 10, tzinfo=UTC))
    third = _raise(cast, by=cast.other_officer, now=datetime(2027, 2, 12, 10, tzinfo=UTC))
    assert [c.id for c in concerns.visible_concerns(cast.placement, cast.officer)] == [third.id, second.id, first.id]
    assert [c.id for c in concerns.visible_concerns(cast.placement, cast.colleague)] == [second.id]
    assert [c.id for c in concerns.visible_concerns(cast.placement, cast.other_officer)] == [third.id]
    assert concerns.open_counts([cast.placement.id]) == {cast.placement.id: 3}


def test_who_raises(app_context):
    cast = _cast()
    assert concerns.may_raise(cast.placement, cast.raiser)
    assert concerns.may_raise(cast.placement, cast.other_officer)
    assert not concerns.may_raise(cast.placement, cast.manager)
    with pytest.raises(NotAllowed):
        concerns.raise_concern(cast.placement.id, cast.manager, summary=SUMMARY, details=DETAILS, now=NOW)
    with pytest.raises(NotFound):
        concerns.raise_concern(cast.placement.id, cast.stranger, summary=SUMMARY, details=DETAILS, now=NOW)


def test_a_concern_is_checked_field_by_field(app_context):
    cast = _cast()
    with pytest.raises(FieldErrors) as refused:
        concerns.raise_concern(
            cast.placement.id, cast.raiser, summary="x" * 201, details=" ", action_taken="y" * 5001, now=NOW
        )
    assert set(refused.value.errors) == {"summary", "details", "action_taken"}
    with pytest.raises(FieldErrors) as empty:
        concerns.raise_concern(cast.placement.id, cast.raiser, summary="", details="Something", now=NOW)
    assert set(empty.value.errors) == {"summary"}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Concern)) == 0


def test_closing_a_concern(app_context):
    cast = _cast()
    concern = _raise(cast)
    with pytest.raises(NotAllowed):
        concerns.close_concern(cast.placement.id, concern.id, cast.raiser, outcome="Done", now=NOW)
    with pytest.raises(NotFound):
        concerns.close_concern(cast.placement.id, concern.id, cast.colleague, outcome="Done", now=NOW)
    with pytest.raises(DomainError, match="Enter the outcome"):
        concerns.close_concern(cast.placement.id, concern.id, cast.dsl, outcome=" ", now=NOW)
    closed = concerns.close_concern(cast.placement.id, concern.id, cast.dsl, outcome="Referred to MASH", now=NOW)
    db.session.commit()
    assert closed.status is ConcernStatus.CLOSED and closed.closed_by_id == cast.dsl.id
    assert closed.outcome == "Referred to MASH"
    with pytest.raises(IllegalTransition):
        concerns.close_concern(cast.placement.id, concern.id, cast.manager, outcome="Again", now=NOW)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.CONCERN_CLOSED))
    assert event.actor_id == cast.dsl.id


# --- The council services' DSLs --------------------------------------------------------------------------------------


def test_the_manager_sets_a_services_dsl(app_context):
    manager = make_user("manager")
    officer = make_user("officer")
    service = db.session.get(CouncilService, officer.service_id)
    seen = concerns.dsl_fingerprint(service)
    with pytest.raises(NotAllowed):
        concerns.set_service_dsl(
            service.id, officer, dsl_name="A", dsl_role="", dsl_email="a@b.example", dsl_phone="1", seen=seen
        )
    with pytest.raises(FieldErrors) as refused:
        concerns.set_service_dsl(
            service.id, manager, dsl_name="", dsl_role="", dsl_email="not an email", dsl_phone="", seen=seen
        )
    assert set(refused.value.errors) == {"dsl_name", "dsl_email", "dsl_phone"}
    concerns.set_service_dsl(
        service.id,
        manager,
        dsl_name="Sam Lead",
        dsl_role="Head of Inclusion",
        dsl_email="Sam.Lead@Council.example",
        dsl_phone="01895 250000",
        seen=seen,
    )
    db.session.commit()
    assert service.dsl_email == "sam.lead@council.example"
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.SERVICE_DSL_CHANGED))
    with pytest.raises(Conflict):
        concerns.set_service_dsl(
            service.id, manager, dsl_name="B", dsl_role="", dsl_email="b@b.example", dsl_phone="2", seen=seen
        )
