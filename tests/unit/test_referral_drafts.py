"""Writing a draft referral (portal.services.referral_drafts): the child recorded once per UPN, the draft's sections
with their messages, stale versions, and who may change a draft and when."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Area, AuditEvent, Child, ExclusionStatus, Need, Referral, ReferralStatus
from portal.services import children, referral_drafts
from portal.services.audit import Events
from portal.services.errors import Conflict, DomainError, FieldErrors, IllegalTransition, NotAllowed
from portal.services.referral_drafts import AimText, ChildDetails, Profile, Provision, Section, Status
from tests.factories import make_lot, make_user
from tests.factories_calloff import CHILD_UPN, make_referral, published_call_off

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 2)


def valid_upn(rest: str) -> str:
    """A UPN whose check letter matches ``rest`` (11 digits and a last character)."""
    return children.upn_check_letter("A" + rest) + rest


def details(**changes) -> ChildDetails:
    values = {
        "first_name": "Ada",
        "last_name": "Okonkwo",
        "date_of_birth": date(2012, 5, 20),
        "upn": valid_upn("987654321098"),
        "gender": "female",
        "home_school": "Brookfield High",
        "on_roll_status": "on roll at home school",
        "ehc_plan": False,
        "looked_after": True,
        "exclusion_status": "at risk of exclusion",
    }
    values.update(changes)
    return ChildDetails(**values)


def provision(lot, **changes) -> Provision:
    values = {
        "lot_id": str(lot.id),
        "hours_per_week": "12.5",
        "sessions": "Monday to Friday mornings",
        "start_date": date(2027, 1, 11),
        "duration_weeks": "12",
        "location": "Within 30 minutes of Uxbridge by bus",
        "travel_needs": "",
        "reintegration_criteria": "Attends 90% of sessions for six weeks",
    }
    values.update(changes)
    return Provision(**values)


def aim(n: int, **changes) -> AimText:
    values = {
        "description": f"Aim {n}",
        "baseline": f"Baseline {n}",
        "target": f"Target {n}",
        "measure": f"Measure {n}",
    }
    values.update(changes)
    return AimText(**values)


def events(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)))


def errors_of(call) -> dict[str, str]:
    with pytest.raises(FieldErrors) as error:
        call()
    db.session.rollback()
    return error.value.errors


# ---- Starting a referral: the child --------------------------------------------------------------------------------


def test_starting_a_referral_records_the_child_and_a_draft_for_the_officers_service(app_context):
    officer = make_user("officer")
    typed = valid_upn("987654321098")
    started = referral_drafts.start_referral(details(upn=f" {typed[:5].lower()} {typed[5:]} "), officer, now=NOW)
    db.session.commit()

    referral, child = started.referral, started.child
    assert not started.reused
    assert child.upn == valid_upn("987654321098")  # spaces gone, upper case
    assert (child.first_name, child.looked_after, child.home_school) == ("Ada", True, "Brookfield High")
    assert child.exclusion_date is None and child.created_by_id == officer.id
    assert referral.status is ReferralStatus.DRAFT
    assert (referral.service_id, referral.officer_id, referral.child_id) == (officer.service_id, officer.id, child.id)
    [recorded] = events(Events.CHILD_RECORDED)
    [created] = events(Events.REFERRAL_CREATED)
    assert (recorded.subject_type, recorded.subject_id) == ("children", child.id)
    assert (created.subject_type, created.subject_id, created.actor_id) == ("referrals", referral.id, officer.id)
    # The trail names the child by id, never by name.
    assert "Ada" not in str(recorded.details) + str(created.details)


def test_a_child_already_recorded_with_the_upn_is_reused_never_recorded_twice(app_context):
    officer, colleague = make_user("officer"), make_user("officer")
    first = referral_drafts.start_referral(details(), officer, now=NOW)
    db.session.commit()

    typed = valid_upn("987654321098")
    second = referral_drafts.start_referral(
        details(first_name="Adaeze", upn=f"{typed[:4]} {typed[4:8]} {typed[8:]}".lower()), colleague, now=NOW
    )
    db.session.commit()

    assert second.reused and second.child.id == first.child.id
    assert second.referral.id != first.referral.id
    assert db.session.scalar(sa.select(sa.func.count(Child.id))) == 1
    # The record stays as recorded: the officer checks it on the next page.
    assert db.session.get(Child, first.child.id).first_name == "Ada"
    assert len(events(Events.CHILD_RECORDED)) == 1 and len(events(Events.REFERRAL_CREATED)) == 2
    assert referral_drafts.referral_count_for(first.child.id) == 2


def test_a_upn_whose_check_letter_does_not_match_is_refused_next_to_the_upn(app_context):
    officer = make_user("officer")
    right = valid_upn("987654321098")
    wrong = ("B" if right[0] != "B" else "C") + right[1:]
    errors = errors_of(lambda: referral_drafts.start_referral(details(upn=wrong), officer, now=NOW))
    assert list(errors) == ["upn"] and "check letter" in errors["upn"]
    assert errors_of(lambda: referral_drafts.start_referral(details(upn="A12345"), officer, now=NOW))["upn"] == (
        "A UPN is 13 characters: a letter, 11 digits, and a digit or letter"
    )
    assert db.session.scalar(sa.select(sa.func.count(Referral.id))) == 0


def test_every_missing_answer_about_the_child_is_named_at_once(app_context):
    officer = make_user("officer")
    errors = errors_of(lambda: referral_drafts.start_referral(ChildDetails(), officer, now=NOW))
    assert errors == {
        "first_name": "Enter the child's first name",
        "last_name": "Enter the child's last name",
        "date_of_birth": "Enter the child's date of birth",
        "upn": "Enter the child's unique pupil number (UPN)",
        "gender": "Select the child's gender",
        "home_school": "Enter the child's home school, or select that they have no school",
        "on_roll_status": "Select the child's on-roll status",
        "ehc_plan": "Select yes if the child has an education, health and care (EHC) plan",
        "looked_after": "Select yes if the child is looked after",
        "exclusion_status": "Select the child's exclusion status",
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_name": "A" * 101}, "first_name", "First name must be 100 characters or fewer"),
        ({"last_name": "B" * 101}, "last_name", "Last name must be 100 characters or fewer"),
        ({"home_school": "S" * 201}, "home_school", "Home school must be 200 characters or fewer"),
        ({"date_of_birth": TODAY}, "date_of_birth", "Date of birth must be in the past"),
        ({"date_of_birth": date(2025, 1, 1)}, "date_of_birth", "The child must be aged 2 to 25"),
        ({"date_of_birth": date(2000, 11, 1)}, "date_of_birth", "The child must be aged 2 to 25"),
        (
            {"no_school": True, "on_roll_status": "not on a school roll"},
            "home_school",
            "Either enter the child's home school or select that they have no school",
        ),
        (
            {"no_school": True, "home_school": "", "on_roll_status": "on roll at home school"},
            "on_roll_status",
            "A child with no school cannot be on the roll of a home school",
        ),
        ({"gender": "unknown"}, "gender", "Select the child's gender"),
        ({"exclusion_status": "suspended"}, "exclusion_date", "Enter the date of the suspension"),
        (
            {"exclusion_status": "permanently excluded", "exclusion_date": TODAY + timedelta(days=1)},
            "exclusion_date",
            "The date of the permanent exclusion must be today or in the past",
        ),
    ],
)
def test_the_childs_details_are_checked_with_a_message_next_to_the_field(app_context, changes, field, message):
    officer = make_user("officer")
    errors = errors_of(lambda: referral_drafts.start_referral(details(**changes), officer, now=NOW))
    assert list(errors) == [field]
    assert errors[field].startswith(message)


def test_ages_two_and_twenty_five_are_allowed_and_an_exclusion_date_is_kept_only_when_it_applies(app_context):
    assert referral_drafts.check_child(details(date_of_birth=date(2024, 11, 2)), TODAY)["date_of_birth"]
    assert referral_drafts.check_child(details(date_of_birth=date(2000, 11, 3)), TODAY)["date_of_birth"]
    dated = referral_drafts.check_child(details(exclusion_status="suspended", exclusion_date=date(2026, 10, 20)), TODAY)
    assert dated["exclusion_status"] is ExclusionStatus.SUSPENDED and dated["exclusion_date"] == date(2026, 10, 20)
    undated = referral_drafts.check_child(details(exclusion_status="none", exclusion_date=date(2026, 10, 20)), TODAY)
    assert undated["exclusion_date"] is None
    no_school = referral_drafts.check_child(
        details(no_school=True, home_school="", on_roll_status="not on a school roll"), TODAY
    )
    assert no_school["home_school"] == ""


def test_a_manager_cannot_start_a_referral(app_context):
    manager = make_user("manager")
    with pytest.raises(NotAllowed):
        referral_drafts.start_referral(details(), manager, now=NOW)


# ---- Changing the child ----------------------------------------------------------------------------------------------


def test_changing_the_child_checks_the_childs_version_and_records_which_fields_changed(app_context):
    officer = make_user("officer")
    started = referral_drafts.start_referral(details(), officer, now=NOW)
    db.session.commit()
    child, referral = started.child, started.referral
    version, referral_version = child.version, referral.version

    referral_drafts.update_child(
        referral.id, details(last_name="Okafor", ehc_plan=True), officer, version=version, now=NOW
    )
    db.session.commit()
    assert (child.last_name, child.ehc_plan, child.version) == ("Okafor", True, version + 1)
    assert referral.version == referral_version + 1  # a publish page drawn before the change is stale
    [changed] = events(Events.CHILD_UPDATED)
    assert changed.details["changed"] == ["ehc_plan", "last_name"]
    assert "Okafor" not in str(changed.details)

    with pytest.raises(Conflict) as error:
        referral_drafts.update_child(referral.id, details(last_name="Stale"), officer, version=version, now=NOW)
    assert "Someone else changed this child's details" in error.value.message
    db.session.rollback()
    assert db.session.get(Child, child.id).last_name == "Okafor"


def test_a_child_cannot_take_the_upn_of_another_recorded_child(app_context):
    officer = make_user("officer")
    other = referral_drafts.start_referral(details(upn=CHILD_UPN), officer, now=NOW)
    mine = referral_drafts.start_referral(details(), officer, now=NOW)
    db.session.commit()
    with pytest.raises(DomainError) as error:
        referral_drafts.update_child(
            mine.referral.id, details(upn=CHILD_UPN), officer, version=mine.child.version, now=NOW
        )
    assert error.value.field == "upn" and "Another child is already recorded with this UPN" in error.value.message
    db.session.rollback()
    assert db.session.get(Child, other.child.id).upn == CHILD_UPN


# ---- The sections ------------------------------------------------------------------------------------------------


def test_the_provision_section_is_checked_and_saved(app_context):
    officer = make_user("officer")
    lot = make_lot(1)
    referral = referral_drafts.start_referral(details(), officer, now=NOW).referral
    db.session.commit()

    saved_version = referral.version
    referral_drafts.save_provision(referral.id, provision(lot), officer, version=saved_version, now=NOW)
    db.session.commit()
    assert referral.lot_id == lot.id and referral.hours_per_week == Decimal("12.5")
    assert referral.duration_weeks == 12 and referral.start_date == date(2027, 1, 11)
    [saved] = events(Events.REFERRAL_UPDATED)
    assert saved.details["section"] == "Provision needed"
    # Saved again at the same moment from a page drawn before the first save: the version moved on all the same.
    with pytest.raises(Conflict):
        referral_drafts.save_provision(
            referral.id, provision(lot, sessions="Afternoons"), officer, version=saved_version, now=NOW
        )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"lot_id": ""}, "lot", "Select the lot"),
        ({"lot_id": "999999"}, "lot", "Select the lot"),
        ({"hours_per_week": ""}, "hours_per_week", "Enter the hours per week"),
        ({"hours_per_week": "0"}, "hours_per_week", "Hours per week must be more than 0 and no more than 40"),
        ({"hours_per_week": "40.1"}, "hours_per_week", "Hours per week must be more than 0 and no more than 40"),
        ({"hours_per_week": "12.25"}, "hours_per_week", "Enter the hours per week as a number"),
        ({"hours_per_week": "lots"}, "hours_per_week", "Enter the hours per week as a number"),
        ({"sessions": ""}, "sessions", "Say when the sessions are"),
        ({"sessions": "x" * 201}, "sessions", "Sessions must be 200 characters or fewer"),
        ({"start_date": None}, "start_date", "Enter the start date"),
        ({"start_date": TODAY - timedelta(days=1)}, "start_date", "The start date must be today or in the future"),
        ({"duration_weeks": "0"}, "duration_weeks", "Enter the number of weeks as a whole number from 1 to 52"),
        ({"duration_weeks": "53"}, "duration_weeks", "Enter the number of weeks as a whole number from 1 to 52"),
        ({"duration_weeks": ""}, "duration_weeks", "Enter how many weeks the provision is for"),
        ({"location": ""}, "location", "Enter where the provision should be"),
        ({"location": "x" * 501}, "location", "Location must be 500 characters or fewer"),
        ({"travel_needs": "x" * 5001}, "travel_needs", "Travel needs must be 5,000 characters or fewer"),
        ({"reintegration_criteria": ""}, "reintegration_criteria", "Say what would show the child is ready"),
    ],
)
def test_provision_messages(app_context, changes, field, message):
    officer = make_user("officer")
    lot = make_lot(1)
    referral = referral_drafts.start_referral(details(), officer, now=NOW).referral
    db.session.commit()
    errors = errors_of(
        lambda: referral_drafts.save_provision(
            referral.id, provision(lot, **changes), officer, version=referral.version, now=NOW
        )
    )
    assert list(errors) == [field] and errors[field].startswith(message)
    assert db.session.get(Referral, referral.id).lot_id is None


def test_aims_are_replaced_in_order_and_each_part_is_required(app_context):
    officer = make_user("officer")
    referral = make_referral(officer, make_lot(1), aims=3)

    errors = errors_of(
        lambda: referral_drafts.replace_aims(
            referral.id, [aim(1), aim(2, target="  ", measure="")], officer, version=referral.version, now=NOW
        )
    )
    assert errors == {
        "aims-1-target": "Aim 2: enter the target",
        "aims-1-measure": "Aim 2: enter how it will be measured",
    }
    errors = errors_of(
        lambda: referral_drafts.replace_aims(
            referral.id, [aim(n) for n in range(11)], officer, version=referral.version, now=NOW
        )
    )
    assert errors["aims"] == "A referral can have up to 10 aims"
    assert errors_of(
        lambda: referral_drafts.replace_aims(referral.id, [], officer, version=referral.version, now=NOW)
    ) == {"aims": "Add at least one aim"}

    referral = db.session.get(Referral, referral.id)
    drawn = referral.version
    referral_drafts.replace_aims(
        referral.id, [aim(7, description="  Reads with confidence  "), aim(8)], officer, version=drawn, now=NOW
    )
    db.session.commit()
    # Only the aims changed, yet the referral's version moved on: a page drawn before cannot overwrite them.
    with pytest.raises(Conflict):
        referral_drafts.replace_aims(referral.id, [aim(9)], officer, version=drawn, now=NOW)
    db.session.rollback()
    db.session.expire_all()
    saved = db.session.get(Referral, referral.id).aims
    assert [(a.position, a.description, a.measure) for a in saved] == [
        (1, "Reads with confidence", "Measure 7"),
        (2, "Aim 8", "Measure 8"),
    ]
    assert events(Events.REFERRAL_UPDATED)[-1].details == {"section": "Aims", "aims": 2}


def test_the_profile_is_checked_and_its_needs_replaced(app_context):
    officer = make_user("officer")
    referral = make_referral(officer, make_lot(1))  # needs: SEMH, anxiety
    assert errors_of(
        lambda: referral_drafts.save_profile(referral.id, Profile(), officer, version=referral.version, now=NOW)
    ) == {
        "needs": "Select at least one need providers will see",
        "area": "Select the area providers will see",
        "profile": "Write the anonymised profile providers will see",
    }
    assert errors_of(
        lambda: referral_drafts.save_profile(
            referral.id,
            Profile(needs=["flying"], area="north", profile="x" * 5001),
            officer,
            version=referral.version,
            now=NOW,
        )
    ) == {"needs": "Select needs from the list", "profile": "The profile must be 5,000 characters or fewer"}

    referral = db.session.get(Referral, referral.id)
    referral_drafts.save_profile(
        referral.id,
        Profile(needs=["autism", "semh"], area="south", profile="Enjoys football"),
        officer,
        version=referral.version,
        now=NOW,
    )
    db.session.commit()
    db.session.expire_all()
    saved = db.session.get(Referral, referral.id)
    assert saved.need_codes == {Need.AUTISM, Need.SEMH}
    assert (saved.area, saved.profile) == (Area.SOUTH, "Enjoys football")


def test_a_stale_version_is_refused_and_nothing_is_saved(app_context):
    officer = make_user("officer")
    lot = make_lot(1)
    referral = make_referral(officer, lot, sessions="Mornings")
    stale = referral.version - 1
    for call in (
        lambda: referral_drafts.save_provision(referral.id, provision(lot), officer, version=stale, now=NOW),
        lambda: referral_drafts.replace_aims(referral.id, [aim(1)], officer, version=stale, now=NOW),
        lambda: referral_drafts.save_profile(
            referral.id, Profile(needs=["semh"], area="north", profile="New"), officer, version=stale, now=NOW
        ),
        lambda: referral_drafts.save_provision(referral.id, provision(lot), officer, version=None, now=NOW),
    ):
        with pytest.raises(Conflict) as error:
            call()
        assert "Someone else changed this referral" in error.value.message
        db.session.rollback()
    db.session.expire_all()
    saved = db.session.get(Referral, referral.id)
    assert saved.sessions == "Mornings" and len(saved.aims) == 2 and saved.profile.startswith("A bright")


def test_a_published_referral_cannot_be_changed_as_a_draft(app_context):
    call = published_call_off()
    referral, officer = call.referral, call.officer
    for action in (
        lambda: referral_drafts.save_provision(
            referral.id, provision(call.lot), officer, version=referral.version, now=NOW
        ),
        lambda: referral_drafts.replace_aims(referral.id, [aim(1)], officer, version=referral.version, now=NOW),
        lambda: referral_drafts.save_profile(
            referral.id, Profile(needs=["semh"], area="north", profile="x"), officer, version=referral.version, now=NOW
        ),
        lambda: referral_drafts.update_child(referral.id, details(), officer, version=referral.child.version, now=NOW),
    ):
        with pytest.raises(IllegalTransition) as error:
            action()
        assert "You cannot edit this referral now" in error.value.message
        db.session.rollback()
    assert len(db.session.get(Referral, referral.id).aims) == 2


def test_only_officers_of_the_referrals_service_may_change_it(app_context):
    officer = make_user("officer")
    other = make_user("officer")  # another service
    manager = make_user("manager")
    lot = make_lot(1)
    referral = make_referral(officer, lot)
    for who in (other, manager):
        for action in (
            lambda: referral_drafts.save_provision(referral.id, provision(lot), who, version=referral.version, now=NOW),
            lambda: referral_drafts.replace_aims(referral.id, [aim(1)], who, version=referral.version, now=NOW),
            lambda: referral_drafts.save_profile(
                referral.id, Profile(needs=["semh"], area="north", profile="x"), who, version=referral.version, now=NOW
            ),
            lambda: referral_drafts.update_child(referral.id, details(), who, version=referral.child.version, now=NOW),
        ):
            with pytest.raises(NotAllowed):
                action()
            db.session.rollback()
    assert events(Events.REFERRAL_UPDATED) == []


def test_progress_follows_what_publishing_still_needs(app_context):
    officer = make_user("officer")
    lot = make_lot(1)
    started = referral_drafts.start_referral(details(), officer, now=NOW)
    db.session.commit()
    progress = referral_drafts.progress(started.referral)
    assert progress.statuses == {
        Section.CHILD: Status.COMPLETED,
        Section.PROVISION: Status.NOT_STARTED,
        Section.AIMS: Status.NOT_STARTED,
        Section.PROFILE: Status.NOT_STARTED,
    }
    assert not progress.complete and progress.completed == 1

    partial = make_referral(officer, lot, child=started.child, area=None)
    assert referral_drafts.progress(partial).statuses[Section.PROFILE] is Status.IN_PROGRESS
    complete = referral_drafts.progress(make_referral(officer, lot, child=started.child))
    assert complete.complete and complete.completed == 4


def test_the_age_shown_to_providers_comes_from_the_date_of_birth(app_context):
    officer = make_user("officer")
    referral = referral_drafts.start_referral(details(date_of_birth=date(2012, 5, 20)), officer, now=NOW).referral
    shown = referral_drafts.shown_age(referral, TODAY)
    assert (shown.age, shown.year_group) == (14, "Year 10")
