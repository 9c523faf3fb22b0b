"""Setting up a placement (portal.services.placement_setup): the defaults, the safeguarding rule table through the
prompt, the save, its validation, and the two guards (a second active placement; an unregistered provider)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Commissioner,
    Notification,
    OnRoll,
    OnRollStatus,
    OutboxMessage,
    Placement,
    ProvisionRole,
    RateType,
    ReferralStatus,
    ResponsibleParty,
    Site,
)
from portal.services import placement_setup
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, IllegalTransition, NotAllowed
from portal.services.placement_setup import PlacementTerms
from portal.services.placements import ALL_SESSIONS
from tests.factories import make_user
from tests.factories_calloff import CHILD_FIRST_NAME, CHILD_LAST_NAME, CHILD_SCHOOL, make_child
from tests.factories_placements import awarded_referral, make_placement

NOW = datetime(2027, 1, 5, 10, tzinfo=UTC)
P, S, N = ResponsibleParty.PROVIDER, ResponsibleParty.SCHOOL, ResponsibleParty.SERVICE

# Every combination of the three answers, and the party DOMAIN.md names (None: the answers do not fit together).
RULE_TABLE = [
    (OnRoll.PROVIDER, ProvisionRole.MAIN, Commissioner.COUNCIL, P),
    (OnRoll.PROVIDER, ProvisionRole.MAIN, Commissioner.SCHOOL, P),
    (OnRoll.PROVIDER, ProvisionRole.SUPPLEMENTARY, Commissioner.COUNCIL, P),
    (OnRoll.PROVIDER, ProvisionRole.SUPPLEMENTARY, Commissioner.SCHOOL, P),
    (OnRoll.HOME_SCHOOL, ProvisionRole.MAIN, Commissioner.COUNCIL, N),
    (OnRoll.HOME_SCHOOL, ProvisionRole.MAIN, Commissioner.SCHOOL, S),
    (OnRoll.HOME_SCHOOL, ProvisionRole.SUPPLEMENTARY, Commissioner.COUNCIL, N),
    (OnRoll.HOME_SCHOOL, ProvisionRole.SUPPLEMENTARY, Commissioner.SCHOOL, S),
    (OnRoll.OTHER_SCHOOL, ProvisionRole.MAIN, Commissioner.COUNCIL, N),
    (OnRoll.OTHER_SCHOOL, ProvisionRole.MAIN, Commissioner.SCHOOL, S),
    (OnRoll.OTHER_SCHOOL, ProvisionRole.SUPPLEMENTARY, Commissioner.COUNCIL, N),
    (OnRoll.OTHER_SCHOOL, ProvisionRole.SUPPLEMENTARY, Commissioner.SCHOOL, S),
    (OnRoll.NONE, ProvisionRole.MAIN, Commissioner.COUNCIL, N),
    (OnRoll.NONE, ProvisionRole.MAIN, Commissioner.SCHOOL, None),
    (OnRoll.NONE, ProvisionRole.SUPPLEMENTARY, Commissioner.COUNCIL, N),
    (OnRoll.NONE, ProvisionRole.SUPPLEMENTARY, Commissioner.SCHOOL, None),
]


def test_the_rule_table_has_every_combination():
    assert len({row[:3] for row in RULE_TABLE}) == 16


def _with_service_dsl(aw):
    service = aw.referral.service
    service.dsl_name, service.dsl_role = "Sam Service", "Head of inclusion"
    service.dsl_email, service.dsl_phone = "sam.service@council.example", "01895 000111"
    db.session.commit()
    return aw


def _valid_terms(aw, **overrides) -> PlacementTerms:
    site = db.session.scalars(sa.select(Site).where(Site.provider_id == aw.provider.id).order_by(Site.id)).first()
    values = dict(
        version=aw.referral.version,
        site_ids=[site.id],
        hours_per_week="15",
        sessions="Monday to Friday, 9am to 12pm",
        expected_sessions=[key for key in ALL_SESSIONS if key.endswith("am")],
        full_time=False,
        rate_type=RateType.DAY,
        rate="120.00",
        units_per_week="5",
        total_cost="7200.00",
        start_date=date(2027, 1, 11),
        planned_end_date=date(2027, 4, 2),
        reintegration_criteria="Attends 90% for six weeks",
        first_review_date=date(2027, 2, 22),
        on_roll=OnRoll.PROVIDER,
        provision_role=ProvisionRole.MAIN,
        commissioner=Commissioner.COUNCIL,
        confirmed_party=ResponsibleParty.PROVIDER,
        confirmed=True,
    )
    values.update(overrides)
    return PlacementTerms(**values)


def _create(aw, **overrides) -> Placement:
    return placement_setup.create(aw.referral.id, aw.officer, _valid_terms(aw, **overrides), now=NOW, ip="10.0.0.1")


def _errors(aw, **overrides) -> dict[str, str]:
    with pytest.raises(FieldErrors) as raised:
        _create(aw, **overrides)
    db.session.rollback()
    return raised.value.errors


# --- The rule table through the prompt -------------------------------------------------------------------------------


@pytest.mark.parametrize(("on_roll", "role", "commissioner", "party"), RULE_TABLE)
def test_the_prompt_names_the_party_of_the_rule_table(app_context, on_roll, role, commissioner, party):
    aw = _with_service_dsl(awarded_referral())
    prompt = placement_setup.responsibility_prompt(
        on_roll,
        role,
        commissioner,
        provider=aw.provider,
        service=aw.referral.service,
        school_name="Marblewick Academy",
        school_dsl_name="Sally School",
        school_dsl_email="sally@marblewick.example",
    )
    assert prompt.answered
    assert prompt.party is party
    if party is None:
        assert "A school can commission alternative provision only for a child on its roll" in prompt.why
        assert prompt.contact is None
        return
    expected = {
        P: (aw.provider.name, "Dana Lead"),
        N: (aw.referral.service.name, "Sam Service"),
        S: ("Marblewick Academy", "Sally School"),
    }[party]
    assert (prompt.contact.organisation, prompt.contact.dsl_name) == expected
    assert prompt.needs_staff_checks_confirmation is (party is S)
    assert prompt.missing_dsl == ""
    assert expected[0] in prompt.confirmation_text


def test_the_prompt_waits_for_all_three_answers(app_context):
    aw = awarded_referral()
    prompt = placement_setup.responsibility_prompt(
        OnRoll.PROVIDER, None, Commissioner.COUNCIL, provider=aw.provider, service=aw.referral.service
    )
    assert not prompt.answered and prompt.party is None and prompt.confirmation_text == ""


def test_a_service_without_a_dsl_is_named_with_what_to_do(app_context):
    aw = awarded_referral()  # the officer's service has no DSL recorded
    prompt = placement_setup.responsibility_prompt(
        OnRoll.NONE, ProvisionRole.MAIN, Commissioner.COUNCIL, provider=aw.provider, service=aw.referral.service
    )
    assert prompt.party is N
    assert "ask the manager to record the service's DSL" in prompt.missing_dsl
    # And the save is refused for it, next to the confirmation.
    errors = _errors(aw, on_roll=OnRoll.NONE, confirmed_party=N)
    assert "ask the manager to record the service's DSL" in errors["confirm_responsibility"]


# --- The defaults ------------------------------------------------------------------------------------------------------


def test_the_defaults_come_from_the_awarded_offer_and_the_child(app_context):
    aw = awarded_referral(hours_per_week=Decimal("25.0"))
    terms = placement_setup.prefill(aw.referral, aw.offer, aw.referral.child)
    assert terms.version == aw.referral.version
    assert terms.site_ids == []  # two sites: the officer chooses
    assert terms.hours_per_week == "25"
    assert terms.full_time is True  # 25 hours >= 18
    assert terms.expected_sessions == list(ALL_SESSIONS)
    assert (terms.rate_type, terms.rate, terms.units_per_week, terms.total_cost) == (
        RateType.DAY,
        "120.00",
        "5",
        "7200.00",
    )
    assert terms.start_date == date(2027, 1, 11)
    # 12 weeks from Monday 11 January: the Friday before Monday 5 April.
    assert terms.planned_end_date == date(2027, 4, 2)
    assert terms.first_review_date == date(2027, 2, 22)  # six weeks on, no term dates set
    assert terms.on_roll is OnRoll.HOME_SCHOOL
    assert terms.school_name == CHILD_SCHOOL
    assert terms.reintegration_criteria == aw.referral.reintegration_criteria


def test_part_time_hours_and_a_child_on_no_roll(app_context):
    officer = make_user("officer")
    child = make_child(officer, on_roll_status=OnRollStatus.NOT_ON_ROLL, home_school="")
    aw = awarded_referral(officer=officer, child=child)
    terms = placement_setup.prefill(aw.referral, aw.offer, child)
    assert terms.full_time is False  # 15 hours
    assert terms.on_roll is OnRoll.NONE
    assert terms.school_name == ""


def test_the_only_site_is_ticked(app_context):
    aw = awarded_referral()
    db.session.delete(aw.provider.sites[1])
    db.session.commit()
    assert placement_setup.prefill(aw.referral, aw.offer).site_ids == [aw.provider.sites[0].id]


# --- The save ---------------------------------------------------------------------------------------------------------


def test_the_placement_is_saved_with_its_sites_audited_and_the_provider_told(app_context):
    aw = awarded_referral()
    placement = _create(aw)
    db.session.commit()
    saved = db.session.get(Placement, placement.id)
    assert (saved.child_id, saved.provider_id, saved.service_id, saved.lot_id, saved.officer_id) == (
        aw.referral.child_id,
        aw.provider.id,
        aw.referral.service_id,
        aw.referral.lot_id,
        aw.referral.officer_id,
    )
    assert saved.responsible_party is P
    assert saved.responsibility_confirmed_by_id == aw.officer.id
    assert saved.responsibility_confirmed_at == NOW
    assert saved.rate == Decimal("120.00") and saved.total_cost == Decimal("7200.00")
    assert saved.expected_session_keys == {key for key in ALL_SESSIONS if key.endswith("am")}
    assert saved.site_ids == {aw.provider.sites[0].id}
    assert saved.next_review_due == date(2027, 2, 22)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.PLACEMENT_CREATED))
    assert event.subject_id == saved.id and event.actor_id == aw.officer.id
    notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == aw.provider_user.id)).all()
    assert len(notes) == 1 and f"P{saved.id:05d}" in notes[0].subject
    mails = db.session.scalars(sa.select(OutboxMessage)).all()
    # The provider's user only: the provider is the responsible party, so its DSL is not emailed separately.
    assert [m.to_address for m in mails] == [aw.provider_user.email]
    for message in mails:
        assert CHILD_FIRST_NAME not in message.body and CHILD_LAST_NAME not in message.body
        assert f"/placements/{saved.id}" in message.body


def test_the_responsible_dsl_is_emailed_when_it_is_not_the_providers(app_context):
    aw = _with_service_dsl(awarded_referral())
    placement = _create(aw, on_roll=OnRoll.HOME_SCHOOL, school_name="Marblewick Academy", confirmed_party=N)
    db.session.commit()
    assert placement.responsible_party is N
    addresses = db.session.scalars(sa.select(OutboxMessage.to_address)).all()
    assert "sam.service@council.example" in addresses
    body = db.session.scalar(
        sa.select(OutboxMessage.body).where(OutboxMessage.to_address == "sam.service@council.example")
    )
    assert CHILD_FIRST_NAME not in body and f"P{placement.id:05d}" in body


def test_the_school_holding_responsibility_needs_its_dsl_and_the_staff_checks_confirmation(app_context):
    aw = awarded_referral()
    school = dict(on_roll=OnRoll.HOME_SCHOOL, commissioner=Commissioner.SCHOOL, school_name="Marblewick Academy")
    errors = _errors(aw, confirmed_party=S, **school)
    assert set(errors) >= {"school_dsl_name", "school_dsl_email", "staff_checks_confirmed_on", "staff_checks_reference"}
    placement = _create(
        aw,
        confirmed_party=S,
        school_dsl_name="Sally School",
        school_dsl_email="Sally@Marblewick.example",
        staff_checks_confirmed_on=date(2027, 1, 4),
        staff_checks_reference="Letter from the head, 4 January",
        **school,
    )
    db.session.commit()
    assert placement.responsible_party is S
    assert placement.school_dsl_email == "sally@marblewick.example"
    assert placement.staff_checks_confirmed_on == date(2027, 1, 4)
    assert "sally@marblewick.example" in db.session.scalars(sa.select(OutboxMessage.to_address)).all()


def test_a_confirmation_must_name_the_party_the_answers_name_now(app_context):
    aw = awarded_referral()
    assert "Confirm that" in _errors(aw, confirmed=False)["confirm_responsibility"]
    # Ticked for the provider, then the answers changed to name the service: confirm again.
    aw = _with_service_dsl(aw)
    message = _errors(aw, on_roll=OnRoll.NONE, confirmed_party=P)["confirm_responsibility"]
    assert "now name" in message and aw.referral.service.name in message


def test_answers_that_do_not_fit_together_are_refused_next_to_the_commissioner(app_context):
    aw = awarded_referral()
    errors = _errors(aw, on_roll=OnRoll.NONE, commissioner=Commissioner.SCHOOL, confirmed_party=None)
    assert "only for a child on its roll" in errors["commissioner"]


def test_every_bad_field_is_reported_at_once_in_the_forms_order(app_context):
    aw = awarded_referral()
    errors = _errors(
        aw,
        site_ids=[],
        hours_per_week="41",
        sessions="x" * 201,
        expected_sessions=[],
        full_time=None,
        rate_type=None,
        rate="12.345",
        units_per_week="0",
        total_cost="",
        start_date=date(2027, 1, 11),
        planned_end_date=date(2027, 1, 8),
        first_review_date=None,
        on_roll=None,
        provision_role=None,
        commissioner=None,
        ehc_plan_reference="y" * 501,
    )
    assert list(errors) == [
        "sites",
        "hours_per_week",
        "sessions",
        "expected_sessions",
        "full_time",
        "rate_type",
        "rate",
        "units_per_week",
        "total_cost",
        "planned_end_date",
        "ehc_plan_reference",
        "first_review_date",
        "on_roll",
        "provision_role",
        "commissioner",
    ]
    assert errors["hours_per_week"] == "The hours per week must be more than 0 and no more than 40"
    assert errors["sessions"] == "The sessions must be 200 characters or fewer"
    assert errors["rate"] == "Enter the rate in pounds and pence, for example 120.00"
    assert db.session.scalar(sa.select(sa.func.count(Placement.id))) == 0


def test_only_the_providers_sites_and_a_review_within_the_dates(app_context):
    aw = awarded_referral()
    other = awarded_referral(lot=aw.lot, child=make_child(aw.officer, upn="B000000000001"))
    errors = _errors(aw, site_ids=[other.provider.sites[0].id], first_review_date=date(2027, 5, 1))
    assert errors["sites"] == f"Choose only {aw.provider.name}'s sites"
    assert "no later than the planned end" in errors["first_review_date"]


def test_only_officers_of_the_referrals_service_set_it_up(app_context):
    aw = awarded_referral()
    with pytest.raises(NotAllowed):
        placement_setup.create(aw.referral.id, make_user("officer"), _valid_terms(aw), now=NOW)


def test_a_referral_not_awarded_or_already_placed_is_refused(app_context):
    aw = awarded_referral()
    aw.referral.status = ReferralStatus.OPEN
    db.session.commit()
    with pytest.raises(IllegalTransition, match="has not been awarded"):
        _create(aw)
    db.session.rollback()
    aw.referral.status = ReferralStatus.AWARDED
    db.session.commit()
    placement = make_placement(aw)
    with pytest.raises(IllegalTransition, match=f"P{placement.id:05d}"):
        _create(aw)


def test_a_stale_version_saves_nothing(app_context):
    aw = awarded_referral()
    with pytest.raises(Conflict):
        _create(aw, version=aw.referral.version - 1)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Placement.id))) == 0


def test_the_unique_referral_is_the_backstop_when_two_save_at_once(app_context, monkeypatch):
    aw = awarded_referral()
    make_placement(aw)
    # As if the check had run before the other officer's placement was committed.
    monkeypatch.setattr(placement_setup, "placement_for_referral", lambda referral_id: None)
    with pytest.raises(Conflict, match="already been set up"):
        _create(aw, concurrent_reason="Needed for the test: the guard sees the first placement")


# --- Guard 1: a child with an active placement -----------------------------------------------------------------------


def test_a_second_active_placement_needs_a_reason(app_context):
    first = awarded_referral()
    existing = make_placement(first)
    child = first.referral.child
    second = awarded_referral(officer=first.officer, lot=first.lot, child=child)
    assert [p.id for p in placement_setup.active_placements_of_child(child.id)] == [existing.id]
    errors = _errors(second)
    assert list(errors) == ["concurrent_reason"]
    placement = _create(second, concurrent_reason="Speech and language therapy alongside the main placement")
    db.session.commit()
    assert placement.concurrent_reason.startswith("Speech and language")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.event == Events.PLACEMENT_CREATED))
    assert event.reason.startswith("Speech and language")
    assert event.details["concurrent_with"] == [f"P{existing.id:05d}"]


# --- Guard 2: an unregistered provider ---------------------------------------------------------------------------------


_UPN = iter(range(1000, 100000))


def _other_full_time_pupils(aw, count: int, **fields) -> None:
    """``count`` other children in active full-time placements with the same provider, overlapping in time."""
    for _ in range(count):
        child = make_child(aw.officer, upn=f"B{next(_UPN):012d}")
        other = awarded_referral(
            officer=aw.officer, lot=aw.lot, provider=aw.provider, provider_user=aw.provider_user, child=child
        )
        make_placement(other, full_time=True, **fields)


@pytest.mark.parametrize(("others", "refused"), [(3, False), (4, True), (5, True)], ids=["4", "5", "6"])
def test_an_unregistered_provider_may_not_educate_5_pupils_full_time(app_context, others, refused):
    aw = awarded_referral(registered=False)
    _other_full_time_pupils(aw, others)
    if refused:
        message = _errors(aw, full_time=True)["full_time"]
        assert f"would make it educate {others + 1} pupils full time" in message
        assert "must be registered as an independent school" in message
    else:
        assert _create(aw, full_time=True).full_time is True


def test_part_time_placements_and_other_dates_do_not_count(app_context):
    aw = awarded_referral(registered=False)
    _other_full_time_pupils(aw, 2)
    # Two more that ended before this one starts.
    _other_full_time_pupils(aw, 2, start_date=date(2026, 9, 7), planned_end_date=date(2026, 12, 18))
    # And this one part time is fine whatever the count.
    _other_full_time_pupils(aw, 2)
    message = _errors(aw, full_time=True)["full_time"]
    assert "5 pupils" in message
    assert _create(aw, full_time=False).full_time is False


def test_a_registered_provider_has_no_limit(app_context):
    aw = awarded_referral(registered=True)
    _other_full_time_pupils(aw, 5)
    assert _create(aw, full_time=True).full_time is True


@pytest.mark.parametrize("flag", ["looked_after", "ehc_plan"])
def test_an_unregistered_provider_may_not_take_one_looked_after_or_ehc_child_full_time(app_context, flag):
    officer = make_user("officer")
    child = make_child(officer, **{flag: True})
    aw = awarded_referral(officer=officer, child=child, registered=False)
    message = _errors(aw, full_time=True)["full_time"]
    assert ("looked after" if flag == "looked_after" else "has an EHC plan") in message
    assert "must be registered as an independent school" in message
    # Part time is allowed.
    assert _create(aw, full_time=False).full_time is False


def test_a_provider_that_has_not_said_is_treated_as_unregistered(app_context):
    officer = make_user("officer")
    aw = awarded_referral(officer=officer, child=make_child(officer, looked_after=True))
    aw.provider.registered = None
    db.session.commit()
    assert "full_time" in _errors(aw, full_time=True)
