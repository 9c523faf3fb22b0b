"""Who may be invited to a call-off (portal.services.eligibility): admitted, not suspended, compliant, with an SLA in
force covering the lot, on the date. standing() and admissions_in_force() must agree with eligible_providers() in every
case."""

from __future__ import annotations

import pytest

from portal.models import PA2023_DPS_CUTOFF, SlaStatus
from portal.services.eligibility import admissions_in_force, eligible_providers, standing
from tests.factories import make_lot
from tests.factories_dps import LONG_AGO, TODAY, admit, days, make_provider, require, suspend, upload
from tests.factories_slas import make_sla


@pytest.fixture
def lots(app_context):
    return make_lot(1), make_lot(2)


def eligible(lot, on_date) -> list[str]:
    names = [provider.name for provider in eligible_providers(lot, on_date)]
    # The other two views of the same rules say the same thing for every admitted provider.
    for provider in eligible_providers(lot, on_date):
        assert standing(provider, lot, on_date).eligible
    return names


def agree(provider, lot, on_date) -> bool:
    """Whether the provider is eligible in the lot on the date, checked three ways that must agree."""
    by_list = provider.id in {p.id for p in eligible_providers(lot, on_date)}
    by_standing = standing(provider, lot, on_date).eligible
    in_force = [s for s in admissions_in_force([provider.id], on_date)[provider.id] if s.admission.lot_id == lot.id]
    by_admissions = bool(in_force) and in_force[0].eligible
    assert by_list == by_standing == by_admissions, (by_list, by_standing, by_admissions)
    return by_list


def test_only_providers_admitted_to_the_lot_on_the_date(lots):
    lot1, lot2 = lots
    admit(make_provider("In Lot 1"), lot1)
    admit(make_provider("In Lot 2"), lot2)
    admit(make_provider("From Tomorrow"), lot1, on=TODAY + days(1))
    make_provider("Never Admitted")
    assert eligible(lot1, TODAY) == ["In Lot 1"]
    assert eligible(lot2, TODAY) == ["In Lot 2"]
    assert eligible(lot1, TODAY + days(1)) == ["From Tomorrow", "In Lot 1"]


def test_a_removed_provider_is_eligible_until_the_day_it_is_removed(lots):
    lot1, lot2 = lots
    provider = make_provider("Removed")
    admit(provider, lot1, removed_on=TODAY)
    admit(provider, lot2)
    assert agree(provider, lot1, TODAY - days(1))
    assert not agree(provider, lot1, TODAY)
    assert not agree(provider, lot1, TODAY + days(100))
    assert agree(provider, lot2, TODAY)  # removal from one lot leaves the other alone


def test_a_lot_suspension_excludes_the_provider_from_that_lot_only_between_its_dates(lots):
    lot1, lot2 = lots
    provider = make_provider("Suspended From Lot 1")
    admit(provider, lot1)
    admit(provider, lot2)
    suspend(provider, lot1, starts_on=TODAY, ends_on=TODAY + days(10))
    assert agree(provider, lot1, TODAY - days(1))
    assert not agree(provider, lot1, TODAY)
    assert not agree(provider, lot1, TODAY + days(10))  # the end date is the last day suspended
    assert agree(provider, lot1, TODAY + days(11))
    assert agree(provider, lot2, TODAY + days(5))
    assert standing(provider, lot1, TODAY).suspended and not standing(provider, lot2, TODAY).suspended


def test_a_suspension_with_no_lot_covers_every_lot_and_no_end_date_never_ends(lots):
    lot1, lot2 = lots
    provider = make_provider("Suspended Everywhere")
    admit(provider, lot1)
    admit(provider, lot2)
    suspend(provider, None, starts_on=TODAY)
    for lot in lots:
        assert agree(provider, lot, TODAY - days(1))
        assert not agree(provider, lot, TODAY)
        assert not agree(provider, lot, TODAY + days(1000))


def test_a_lifted_suspension_no_longer_excludes(lots):
    lot1, _ = lots
    provider = make_provider("Lifted")
    admit(provider, lot1)
    suspend(provider, None, starts_on=TODAY - days(5), ends_on=TODAY + days(5), lifted=True)
    assert agree(provider, lot1, TODAY)
    assert not standing(provider, lot1, TODAY).suspended


def test_an_expired_mandatory_document_excludes_the_provider_from_the_lots_that_require_it(lots):
    lot1, lot2 = lots
    require(lot1, "public-liability")
    provider = make_provider("Insured Until Today")
    admit(provider, lot1)
    admit(provider, lot2)
    upload(provider, "public-liability", expires_on=TODAY)
    assert agree(provider, lot1, TODAY)  # valid on its expiry date
    assert not agree(provider, lot1, TODAY + days(1))
    assert standing(provider, lot1, TODAY + days(1)).missing_documents == ["Public liability insurance"]
    assert agree(provider, lot2, TODAY + days(1))  # lot 2 does not require it
    upload(provider, "public-liability", expires_on=TODAY + days(365))
    assert agree(provider, lot1, TODAY + days(1))


def test_a_missing_mandatory_document_excludes_and_another_providers_document_does_not_count(lots):
    lot1, _ = lots
    require(lot1, "public-liability", "safeguarding-policy")
    insured = make_provider("Has Both")
    upload(insured, "public-liability", expires_on=TODAY + days(100))
    upload(insured, "safeguarding-policy", expires_on=TODAY + days(100))
    uninsured = make_provider("Has One")
    upload(uninsured, "safeguarding-policy", expires_on=TODAY + days(100))
    admit(insured, lot1)
    admit(uninsured, lot1)
    assert eligible(lot1, TODAY) == ["Has Both"]
    assert not agree(uninsured, lot1, TODAY)
    assert standing(uninsured, lot1, TODAY).missing_documents == ["Public liability insurance"]


def test_a_document_without_an_expiry_date_stays_valid(lots):
    lot1, _ = lots
    require(lot1, "data-protection")
    provider = make_provider("Policy Holder")
    admit(provider, lot1)
    upload(provider, "data-protection")
    # To the last day of the arrangement (after it, no SLA is in force, so no one is eligible).
    assert agree(provider, lot1, PA2023_DPS_CUTOFF)


def test_admissions_in_force_lists_each_lot_with_its_verdicts_in_one_statement(app, lots):
    from portal.extensions import db
    from tests.helpers import count_queries

    lot1, lot2 = lots
    require(lot2, "public-liability")
    first, second = make_provider("First"), make_provider("Second")
    for provider in (first, second):
        admit(provider, lot1)
        admit(provider, lot2)
    suspend(first, lot1, starts_on=TODAY)
    ids = [first.id, second.id, 999]  # read before counting: the commits above expired the objects
    with count_queries(db.engine) as counter:
        found = admissions_in_force(ids, TODAY)
    assert counter.count == 1
    assert [(s.admission.lot.number, s.suspended, s.compliant) for s in found[first.id]] == [
        (1, True, True),
        (2, False, False),
    ]
    assert [(s.admission.lot.number, s.eligible) for s in found[second.id]] == [(1, True), (2, False)]
    assert found[999] == []
    assert admissions_in_force([], TODAY) == {}


def test_a_type_only_for_registered_schools_is_not_asked_of_an_unregistered_provider(app_context):
    """A lot may require the Ofsted report: a registered school without one is excluded, an unregistered provider
    is not (it has no Ofsted report to give)."""
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.models import Admission, DocumentType, LotDocumentRequirement, Provider
    from tests.factories import LotFactory

    today = TODAY
    lot = LotFactory(number=7, title="Registered schools")
    ofsted = db.session.scalar(sa.select(DocumentType).where(DocumentType.code == "ofsted-report"))
    db.session.add(LotDocumentRequirement(lot_id=lot.id, document_type_id=ofsted.id))
    school = Provider(name="Registered School", registered=True)
    tutors = Provider(name="Unregistered Tutors", registered=False)
    db.session.add_all([school, tutors])
    db.session.flush()
    for provider in (school, tutors):
        db.session.add(Admission(provider_id=provider.id, lot_id=lot.id, admitted_on=today))
    db.session.commit()
    for provider in (school, tutors):
        make_sla(provider, [lot], starts_on=today)

    assert [p.name for p in eligible_providers(lot, today)] == ["Unregistered Tutors"]
    assert standing(school, lot, today).missing_documents == ["Latest Ofsted report"]
    assert standing(tutors, lot, today).compliant


# --- The SLA condition (issue 7) -----------------------------------------------------------------------------------


def test_no_sla_means_not_eligible_and_standing_says_why(lots):
    lot1, _ = lots
    provider = make_provider("No Agreement")
    admit(provider, lot1, sla=False)
    assert not agree(provider, lot1, TODAY)
    found = standing(provider, lot1, TODAY)
    assert found.admitted and not found.suspended and found.compliant and not found.sla_in_force
    make_sla(provider, [lot1], starts_on=LONG_AGO)
    assert agree(provider, lot1, TODAY)
    assert standing(provider, lot1, TODAY).sla_in_force


def test_an_sla_for_another_lot_does_not_count(lots):
    lot1, lot2 = lots
    provider = make_provider("Lot 2 Agreement")
    admit(provider, lot1, sla=False)
    admit(provider, lot2, sla=False)
    make_sla(provider, [lot2], starts_on=LONG_AGO)
    assert not agree(provider, lot1, TODAY)
    assert agree(provider, lot2, TODAY)
    # Another provider's SLA for the lot does not count either.
    other = make_provider("Other")
    admit(other, lot1)
    assert eligible(lot1, TODAY) == ["Other"]


def test_an_sla_is_in_force_from_its_start_to_the_arrangements_legal_end(lots):
    lot1, _ = lots
    provider = make_provider("Starts Later")
    admit(provider, lot1, sla=False)
    make_sla(provider, [lot1], starts_on=TODAY + days(1))
    assert not agree(provider, lot1, TODAY)
    assert agree(provider, lot1, TODAY + days(1))
    # The test arrangement is a PCR 2015 DPS ending in 2031: its legal end (and the SLA's) is 23 February 2029.
    assert agree(provider, lot1, PA2023_DPS_CUTOFF)
    assert not agree(provider, lot1, PA2023_DPS_CUTOFF + days(1))  # expired


def test_a_terminated_sla_is_in_force_until_its_termination_day(lots):
    lot1, lot2 = lots
    ended = make_provider("Terminated Last Week")
    ending = make_provider("Terminating Next Week")
    for provider, on in ((ended, TODAY - days(7)), (ending, TODAY + days(7))):
        admit(provider, lot1, sla=False)
        make_sla(provider, [lot1], status=SlaStatus.TERMINATED, terminated_on=on, termination_reason="Ended")
    assert not agree(ended, lot1, TODAY)
    assert agree(ended, lot1, TODAY - days(7))  # the termination day is the last day in force
    assert agree(ending, lot1, TODAY)
    assert agree(ending, lot1, TODAY + days(7))
    assert not agree(ending, lot1, TODAY + days(8))


@pytest.mark.parametrize("status", [SlaStatus.DRAFT, SlaStatus.SENT, SlaStatus.ACCEPTED, SlaStatus.SUPERSEDED])
def test_an_sla_not_approved_is_not_in_force(lots, status):
    lot1, _ = lots
    provider = make_provider(f"SLA {status.value}")
    admit(provider, lot1, sla=False)
    make_sla(provider, [lot1], status=status, starts_on=LONG_AGO)
    assert not agree(provider, lot1, TODAY)
    assert not standing(provider, lot1, TODAY).sla_in_force


def test_a_superseded_version_gives_way_to_the_approved_one(lots):
    lot1, lot2 = lots
    provider = make_provider("Varied")
    admit(provider, lot1, sla=False)
    admit(provider, lot2, sla=False)
    first = make_sla(provider, [lot1, lot2], status=SlaStatus.SUPERSEDED)
    make_sla(provider, [lot2], previous_id=first.id)  # the variation in force dropped lot 1
    assert not agree(provider, lot1, TODAY)
    assert agree(provider, lot2, TODAY)


def test_admissions_in_force_still_one_statement_with_the_sla_column(app, lots):
    from portal.extensions import db
    from tests.helpers import count_queries

    lot1, lot2 = lots
    with_sla, without = make_provider("With"), make_provider("Without")
    admit(with_sla, lot1)
    admit(with_sla, lot2, sla=False)  # the approved SLA covers lot 1 only
    admit(without, lot1, sla=False)
    ids = [with_sla.id, without.id]
    with count_queries(db.engine) as counter:
        found = admissions_in_force(ids, TODAY)
    assert counter.count == 1
    assert [(s.admission.lot.number, s.sla_in_force, s.eligible) for s in found[ids[0]]] == [
        (1, True, True),
        (2, False, False),
    ]
    assert [(s.sla_in_force, s.eligible) for s in found[ids[1]]] == [(False, False)]
