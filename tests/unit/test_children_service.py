"""The child's identity (portal.services.children): the UPN check letter, age and year group, the identity-leak
warning, and the audited read."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, Child
from portal.services import children
from tests.factories import make_lot, make_user
from tests.factories_calloff import CHILD_UPN, make_referral


@pytest.mark.parametrize(
    "upn",
    [
        CHILD_UPN,
        "a123 4567 89012",  # spaces and lower case are normalised away
        # A temporary UPN ends in a letter, counted by its place in the 23-letter alphabet.
        children.upn_check_letter("?12345678901A") + "12345678901A",
    ],
)
def test_valid_upns(upn):
    assert children.upn_problem(children.normalise_upn(upn)) is None


@pytest.mark.parametrize(
    ("upn", "message"),
    [
        ("", "Enter the child's unique pupil number"),
        ("A12345678901", "13 characters"),
        ("B123456789012", "check letter"),  # one character changed
        ("A123456789013", "check letter"),
        ("1123456789012", "a letter, 11 digits"),
        ("A1234567890I2", "a letter, 11 digits"),
        ("I123456789012", "a letter, 11 digits"),  # I, O and S are never check letters
        ("A12345678901O", "a letter, 11 digits"),
    ],
)
def test_invalid_upns_say_what_is_wrong(upn, message):
    assert message in children.upn_problem(upn)


def test_the_check_letter_changes_with_every_character():
    base = "123456789012"
    letters = {children.upn_check_letter("?" + base[:i] + str((int(base[i]) + 1) % 10) + base[i + 1 :]) for i in range(12)}
    assert children.upn_check_letter("?" + base) not in letters


@pytest.mark.parametrize(
    ("born", "on", "year"),
    [
        # Born September 2011 to August 2012: Reception in September 2016, Year 10 in 2026/27.
        (date(2012, 3, 14), date(2026, 11, 25), "Year 10"),
        (date(2012, 8, 31), date(2026, 11, 25), "Year 10"),
        (date(2011, 9, 1), date(2026, 11, 25), "Year 10"),
        (date(2012, 9, 1), date(2026, 11, 25), "Year 9"),  # the eldest of the next cohort
        (date(2012, 3, 14), date(2027, 7, 20), "Year 10"),  # the school year runs to August
        (date(2012, 3, 14), date(2027, 9, 1), "Year 11"),
        (date(2021, 12, 1), date(2026, 11, 25), "Reception"),
        (date(2023, 1, 1), date(2026, 11, 25), "Early years"),
        (date(2009, 3, 1), date(2026, 11, 25), "Year 13"),
        (date(2008, 3, 1), date(2026, 11, 25), "Post-18"),
    ],
)
def test_year_group(born, on, year):
    assert children.year_group(born, on) == year


def test_age_counts_birthdays():
    assert children.age_on(date(2012, 3, 14), date(2026, 3, 13)) == 13
    assert children.age_on(date(2012, 3, 14), date(2026, 3, 14)) == 14


def _child(**fields) -> Child:
    values = {"first_name": "Will", "last_name": "Ng", "date_of_birth": date(2012, 3, 4), "upn": CHILD_UPN}
    values.update(fields)
    return Child(**values)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Will attends most mornings", ["the child's first name (Will)"]),
        ("willing and able", []),  # whole words only
        ("Known to staff as NG.", ["the child's last name (Ng)"]),
        ("Born 4 March 2012.", ["the child's date of birth"]),
        ("born 04/03/2012", ["the child's date of birth"]),
        ("born 4.3.12", ["the child's date of birth"]),
        ("DOB: 2012-03-04", ["the child's date of birth"]),
        ("on March 4th, 2012", ["the child's date of birth"]),
        ("born 4th of Mar 2012", ["the child's date of birth"]),
        ("born 14 March 2012", []),
        ("UPN a123 4567 89012 on file", ["the child's UPN"]),
        ("An anxious pupil who enjoys art", []),
    ],
)
def test_identity_leaks(text, found):
    assert children.identity_leaks(_child(), text) == found


def test_profile_leaks_names_each_part_that_identifies_the_child(app_context):
    officer = make_user("officer")
    referral = make_referral(officer, make_lot(1), profile="Zephyrine enjoys music")
    referral.aims[1].baseline = "Since 14/03/2012 ..."
    leaks = children.profile_leaks(referral)
    assert set(leaks) == {"profile", "aim 2"}
    assert leaks["profile"] == ["the child's first name (Zephyrine)"]
    assert leaks["aim 2"] == ["the child's date of birth"]


def test_every_read_of_a_childs_record_is_audited(app_context):
    officer = make_user("officer")
    referral = make_referral(officer, make_lot(1))
    for _ in range(2):
        child = children.read_child(referral, officer, ip="192.0.2.1", purpose="referral page")
    db.session.commit()
    assert child.upn == CHILD_UPN
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == "child record viewed")).all()
    assert len(events) == 2
    assert events[0].actor_id == officer.id and events[0].subject_id == child.id
    assert events[0].details == {"referral_id": referral.id, "purpose": "referral page"}
