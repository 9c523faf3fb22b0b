"""OCDS award notices (portal.services.ocds): the release package of a quarter's call-off awards validates against the
OCDS 1.1.5 release package schema and codelists shipped in tests/data/ocds-1.1.5 (no network), holds the right awards
with the right values and dates, and carries nothing about the child."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from portal.extensions import db
from portal.models import AimResponse, Invitation, OfferStatus, Score
from portal.services import ocds
from tests.factories import make_lot, make_user
from tests.factories_calloff import CHILD_FIRST_NAME, CHILD_IDENTIFIERS, make_child, make_offer
from tests.factories_dps import admit, make_provider
from tests.factories_placements import awarded_referral, make_placement
from tests.helpers import count_queries

OCDS_DIR = Path(__file__).resolve().parent.parent / "data" / "ocds-1.1.5"
PUBLISHED = datetime(2027, 4, 2, 9, 30, tzinfo=UTC)
IN_Q1_2027 = datetime(2027, 2, 15, 11, 0, tzinfo=UTC)


# ---- Validation against the shipped schema and codelists -------------------------------------------------------------


def _load(name: str) -> dict:
    return json.loads((OCDS_DIR / name).read_text(encoding="utf-8"))


def _validator() -> Draft4Validator:
    package_schema = _load("release-package-schema.json")
    release_schema = _load("release-schema.json")
    # The package schema's $ref names the release schema by its published URL: serve it from the local copy.
    registry = Registry().with_resource(release_schema["id"], Resource.from_contents(release_schema, DRAFT4))
    return Draft4Validator(package_schema, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


def _codes(name: str) -> set[str]:
    with (OCDS_DIR / "codelists" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return {row["Code"] for row in csv.DictReader(handle)}


def _is_rfc3339(text: str) -> bool:
    # jsonschema checks "date-time" only with an optional package installed: check the dates here instead.
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None and "T" in text


def assert_valid_ocds(package: dict) -> None:
    """Schema errors (with their paths), then every codelist value the package uses, then every date."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(package)]
    assert not errors, "\n".join(errors)
    # A $ref that did not resolve would pass silently if the releases were never checked: prove they are.
    assert "releases" in _load("release-package-schema.json")["required"]

    tags, initiation, award_status, currency = (
        _codes("releaseTag"),
        _codes("initiationType"),
        _codes("awardStatus"),
        _codes("currency"),
    )
    methods, categories, roles, tender_status = (
        _codes("method"),
        _codes("procurementCategory"),
        _codes("partyRole"),
        _codes("tenderStatus"),
    )
    schemes = _codes("itemClassificationScheme")
    assert _is_rfc3339(package["publishedDate"])
    for release in package["releases"]:
        assert set(release["tag"]) <= tags
        assert release["initiationType"] in initiation
        assert _is_rfc3339(release["date"])
        tender = release["tender"]
        assert tender["procurementMethod"] in methods
        assert tender["mainProcurementCategory"] in categories
        assert tender["status"] in tender_status
        for item in tender.get("items", []):
            assert item["classification"]["scheme"] in schemes
        for party in release["parties"]:
            assert set(party["roles"]) <= roles, party["roles"]
        party_ids = {party["id"] for party in release["parties"]}
        assert len(party_ids) == len(release["parties"]), "party ids must be unique in a release"
        assert release["buyer"]["id"] in party_ids
        for award in release["awards"]:
            assert award["status"] in award_status
            assert award["value"]["currency"] in currency
            assert _is_rfc3339(award["date"])
            for key in ("startDate", "endDate"):
                if key in award["contractPeriod"]:
                    assert _is_rfc3339(award["contractPeriod"][key])
            for supplier in award["suppliers"]:
                assert supplier["id"] in party_ids


def test_the_validator_catches_a_bad_package():
    # The checks above must be able to fail: a release missing its ocid and with a wrong tag.
    bad = {
        "uri": "https://example.org/x.json",
        "version": "1.1",
        "publishedDate": "2027-04-02T09:30:00Z",
        "publisher": {"name": "A council"},
        "releases": [{"id": "1", "date": "2027-01-01T00:00:00Z", "tag": "award", "initiationType": "tender"}],
    }
    errors = list(_validator().iter_errors(bad))
    messages = " ".join(error.message for error in errors)
    assert "'ocid' is a required property" in messages
    assert any(list(error.absolute_path)[-1:] == ["tag"] for error in errors)


# ---- Data ------------------------------------------------------------------------------------------------------------


def _award(*, at: datetime, child=None, lot=None, provider=None, **offer_fields):
    awarded = awarded_referral(child=child, lot=lot, provider=provider, **offer_fields)
    awarded.referral.awarded_at = at
    db.session.commit()
    return awarded


@pytest.fixture
def officer(app_context):
    return make_user("officer")


@pytest.fixture
def child(officer):
    return make_child(officer)


def test_an_empty_quarter_has_nothing_to_publish(app_context, officer, child):
    # The schema requires at least one release, so an empty quarter is refused rather than exported invalid.
    _award(at=datetime(2027, 4, 1, 9, tzinfo=UTC), child=child, lot=make_lot(1))  # Q2, not Q1
    with pytest.raises(ocds.NoAwards, match=r"Q1 2027 \(January to March\)"):
        ocds.release_package(2027, 1, published_at=PUBLISHED)


def test_the_package_header(app_context, officer, child):
    _award(at=IN_Q1_2027, child=child, lot=make_lot(1))
    package = ocds.release_package(2027, 1, published_at=PUBLISHED)
    assert package["version"] == "1.1"
    assert package["publishedDate"] == "2027-04-02T09:30:00Z"
    assert package["publisher"] == {"name": app_context.config["COUNCIL_NAME"]}
    assert package["uri"] == app_context.config["BASE_URL"] + "/manager/award-notices/2027-Q1.json"
    assert_valid_ocds(package)


def test_one_award_has_its_lot_provider_value_and_dates(app_context, officer, child):
    lot = make_lot(2, "Part Time Education Provision")
    provider = make_provider(
        "Bright Futures AP", legal_name="Bright Futures Learning Ltd", company_number="09876543", charity_number=""
    )
    admit(provider, lot)
    awarded = _award(
        at=IN_Q1_2027,
        child=child,
        lot=lot,
        provider=provider,
        start_date=date(2027, 3, 1),
        total=Decimal("8456.78"),
    )
    # A second, unsuccessful offer counts as a tenderer.
    rival = make_provider("Other AP")
    admit(rival, lot)
    make_offer(awarded.referral, rival, make_user("provider", provider=rival), status=OfferStatus.UNSUCCESSFUL)

    package = ocds.release_package(2027, 1, published_at=PUBLISHED)

    assert_valid_ocds(package)
    [release] = package["releases"]
    referral_id = awarded.referral.id
    assert release["ocid"] == f"ocds-xxxxxx-R{referral_id:05d}"
    assert release["tag"] == ["award"]
    assert release["initiationType"] == "tender"
    assert release["date"] == "2027-02-15T11:00:00Z"
    assert release["tender"]["title"] == "Alternative provision: Lot 2"
    assert release["tender"]["description"] == "Lot 2: Part Time Education Provision"
    assert release["tender"]["procurementMethod"] == "selective"
    assert release["tender"]["mainProcurementCategory"] == "services"
    assert release["tender"]["numberOfTenderers"] == 2
    council, supplier = release["parties"]
    assert council["roles"] == ["buyer", "procuringEntity"]
    assert release["buyer"] == {"id": council["id"], "name": app_context.config["COUNCIL_NAME"]}
    assert supplier == {
        "id": "GB-COH-09876543",
        "name": "Bright Futures AP",
        "roles": ["supplier"],
        "identifier": {"scheme": "GB-COH", "id": "09876543", "legalName": "Bright Futures Learning Ltd"},
    }
    [award] = release["awards"]
    assert award["status"] == "active"
    assert award["date"] == "2027-02-15T11:00:00Z"
    assert Decimal(str(award["value"]["amount"])) == Decimal("8456.78")
    assert award["value"]["currency"] == "GBP"
    assert award["suppliers"] == [{"id": "GB-COH-09876543", "name": "Bright Futures AP"}]
    # 12 weeks from Monday 1 March 2027: the last day is Sunday 23 May 2027 (British Summer Time by then).
    assert award["contractPeriod"] == {
        "startDate": "2027-03-01T00:00:00+00:00",
        "endDate": "2027-05-23T23:59:59+01:00",
    }


def test_a_provider_with_no_numbers_gets_a_local_id_and_a_charity_its_number(app_context, officer, child):
    lot = make_lot(1)
    plain = _award(at=IN_Q1_2027, child=child, lot=lot)
    charity = make_provider("Charity AP", charity_number="1234567", legal_name="")
    admit(charity, lot)
    _award(at=IN_Q1_2027.replace(hour=12), child=child, lot=lot, provider=charity, total=Decimal("5000.00"))

    package = ocds.release_package(2027, 1, published_at=PUBLISHED)

    assert_valid_ocds(package)
    first, second = package["releases"]
    assert first["parties"][1]["id"] == f"provider-{plain.provider.id}"
    assert "identifier" not in first["parties"][1]
    assert second["parties"][1]["identifier"] == {"scheme": "GB-CHC", "id": "1234567", "legalName": "Charity AP"}
    assert second["awards"][0]["value"]["amount"] == 5000


def test_the_quarter_follows_london_days_and_only_awards_count(app_context, officer, child):
    lot = make_lot(1)
    # 23:30 UTC on 31 December 2026 is still 31 December in London (GMT): Q4 2026.
    q4 = _award(at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC), child=child, lot=lot)
    # Midnight in London on 1 January: Q1.
    first = _award(at=datetime(2027, 1, 1, 0, 0, tzinfo=UTC), child=child, lot=lot)
    # 23:30 UTC on 31 March 2027 is 00:30 on 1 April in London (BST): Q2, not Q1.
    q2 = _award(at=datetime(2027, 3, 31, 23, 30, tzinfo=UTC), child=child, lot=lot)
    # 22:30 UTC on 31 March 2027 is 23:30 in London: still Q1.
    last = _award(at=datetime(2027, 3, 31, 22, 30, tzinfo=UTC), child=child, lot=lot)
    # An award in the quarter whose winning offer is not marked awarded is not an award.
    not_awarded = _award(at=IN_Q1_2027, child=child, lot=lot)
    not_awarded.offer.status = OfferStatus.SUBMITTED
    db.session.commit()

    q1_ids = [r["ocid"] for r in ocds.release_package(2027, 1, published_at=PUBLISHED)["releases"]]

    assert q1_ids == [ocds.ocid("ocds-xxxxxx", first.referral.id), ocds.ocid("ocds-xxxxxx", last.referral.id)]
    q2_ids = [r["ocid"] for r in ocds.release_package(2027, 2, published_at=PUBLISHED)["releases"]]
    assert q2_ids == [ocds.ocid("ocds-xxxxxx", q2.referral.id)]
    q4_ids = [r["ocid"] for r in ocds.release_package(2026, 4, published_at=PUBLISHED)["releases"]]
    assert q4_ids == [ocds.ocid("ocds-xxxxxx", q4.referral.id)]
    counts = ocds.award_counts(ocds.recent_quarters(date(2027, 5, 1), 3))
    assert counts == {ocds.Quarter(2027, 2): 1, ocds.Quarter(2027, 1): 2, ocds.Quarter(2026, 4): 1}


def test_the_prefix_comes_from_the_settings_and_must_be_well_formed(app_context, officer, child, monkeypatch):
    awarded = _award(at=IN_Q1_2027, child=child, lot=make_lot(1))
    monkeypatch.setitem(app_context.config, "OCDS_PREFIX", "ocds-ab12cd")
    package = ocds.release_package(2027, 1, published_at=PUBLISHED)
    assert package["releases"][0]["ocid"] == f"ocds-ab12cd-R{awarded.referral.id:05d}"
    assert_valid_ocds(package)

    monkeypatch.setitem(app_context.config, "OCDS_PREFIX", "not a prefix")
    with pytest.raises(ValueError, match="OCDS_PREFIX"):
        ocds.release_package(2027, 1, published_at=PUBLISHED)


@pytest.mark.parametrize(("year", "quarter"), [(2027, 0), (2027, 5), (1999, 1), (2201, 4)])
def test_a_quarter_out_of_range_is_refused(app_context, year, quarter):
    with pytest.raises(ocds.QuarterError):
        ocds.release_package(year, quarter, published_at=PUBLISHED)


def test_quarters():
    q = ocds.Quarter(2027, 1)
    assert (q.first_day, q.last_day) == (date(2027, 1, 1), date(2027, 3, 31))
    assert ocds.Quarter(2026, 4).last_day == date(2026, 12, 31)
    assert q.previous == ocds.Quarter(2026, 4) and ocds.Quarter(2026, 4).next == q
    assert q.filename == "award-notices-2027-Q1.json"
    assert q.label == "Q1 2027 (January to March)"
    assert ocds.quarter_of(date(2027, 9, 30)) == ocds.Quarter(2027, 3)
    assert ocds.recent_quarters(date(2027, 2, 1), 3) == [q, ocds.Quarter(2026, 4), ocds.Quarter(2026, 3)]


def test_the_statements_do_not_grow_with_the_awards(app_context, officer, child):
    lot = make_lot(1)
    _award(at=IN_Q1_2027, child=child, lot=lot)
    with count_queries(db.engine) as few:
        ocds.release_package(2027, 1, published_at=PUBLISHED)
        ocds.award_counts(ocds.recent_quarters(date(2027, 2, 1)))
    for _ in range(4):
        _award(at=IN_Q1_2027, child=child, lot=lot)
    db.session.expire_all()
    with count_queries(db.engine) as many:
        package = ocds.release_package(2027, 1, published_at=PUBLISHED)
        counts = ocds.award_counts(ocds.recent_quarters(date(2027, 2, 1)))
    assert len(package["releases"]) == 5
    assert counts[ocds.Quarter(2027, 1)] == 5
    assert many.count == few.count == 2


# ---- No personal data about the child -------------------------------------------------------------------------------


def _plant(text: str, limit: int | None = None) -> str:
    return text[:limit] if limit else text


def test_no_child_identifier_reaches_the_export(app_context, officer, child):
    """Every free-text field of the referral, its aims, the offers, scores, invitations and placement says who the
    child is; the export must say none of it."""
    planted = "About " + ", ".join(CHILD_IDENTIFIERS)
    lot = make_lot(1)
    awarded = _award(at=IN_Q1_2027, child=child, lot=lot)
    referral, offer = awarded.referral, awarded.offer
    for field in ("travel_needs", "reintegration_criteria", "profile", "deadline_reason", "award_rationale"):
        setattr(referral, field, planted)
    referral.sessions = _plant(planted, 200)
    referral.location = planted
    for aim in referral.aims:
        aim.description = aim.baseline = aim.target = aim.measure = planted
    for field in ("transport", "delivery_and_staffing", "safeguarding"):
        setattr(offer, field, planted)
    offer.sessions = _plant(planted, 200)
    offer.location = planted
    offer.staffing_ratio = CHILD_FIRST_NAME[:40]
    db.session.execute(sa.update(AimResponse).where(AimResponse.offer_id == offer.id).values(response=planted))
    db.session.add(Score(offer_id=offer.id, criterion="delivery", score=4, comment=planted, scored_by_id=officer.id))
    db.session.add(
        Invitation(referral_id=referral.id, round=referral.round, provider_id=offer.provider_id, decline_reason=planted)
    )
    db.session.commit()
    make_placement(awarded, reintegration_criteria=planted, sessions=_plant(planted, 200))

    package = ocds.release_package(2027, 1, published_at=PUBLISHED)
    text = json.dumps(package, ensure_ascii=False)

    # The award is there (so an empty export cannot pass) ...
    assert len(package["releases"]) == 1
    assert awarded.provider.name in text
    # ... and nothing that identifies the child.
    lowered = text.lower()
    found = [identifier for identifier in CHILD_IDENTIFIERS if identifier.lower() in lowered]
    assert not found, f"child identifiers in the OCDS export: {found}"
    assert_valid_ocds(package)


def test_the_scan_finds_a_planted_identifier(app_context, officer, child):
    """The scan above must be able to fail: plant the name where the export does publish text (the lot's title)."""
    lot = make_lot(1, f"Lot for {CHILD_IDENTIFIERS[0]}")
    _award(at=IN_Q1_2027, child=child, lot=lot)
    text = json.dumps(ocds.release_package(2027, 1, published_at=PUBLISHED)).lower()
    assert [i for i in CHILD_IDENTIFIERS if i.lower() in text] == [CHILD_IDENTIFIERS[0]]
