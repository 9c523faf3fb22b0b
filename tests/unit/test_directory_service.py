"""The AP directory's rules (portal.services.directory): who is listed, each filter and their combinations, pages,
the suspended / non-compliant flags, and who may read a provider's page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.models import Area, DeliveryMode, Need, Role
from portal.services import directory
from portal.services.directory import DirectoryFilters
from portal.services.errors import NotFound
from tests.factories import make_lot, make_user
from tests.factories_dps import TODAY, admit, days, make_provider, require, suspend, upload


def names(filters: DirectoryFilters = DirectoryFilters(), **kwargs) -> list[str]:
    page = directory.search(filters, on_date=TODAY, **kwargs)
    return [entry.provider.name for entry in page.items]


@pytest.fixture
def lots(app_context):
    return make_lot(1, "Full time"), make_lot(2, "Part time")


def test_lists_providers_admitted_today_once_each_and_no_one_else(lots):
    lot1, lot2 = lots
    both = make_provider("Both Lots")
    admit(both, lot1)
    admit(both, lot2)
    admit(make_provider("Leaving Next Week"), lot1, removed_on=TODAY + days(7))
    admit(make_provider("Removed Today"), lot1, removed_on=TODAY)
    admit(make_provider("Removed Last Year"), lot1, removed_on=TODAY - days(365))
    admit(make_provider("Admitted Tomorrow"), lot1, on=TODAY + days(1))
    make_provider("Never Admitted")

    assert names() == ["Both Lots", "Leaving Next Week"]
    entry = directory.search(DirectoryFilters(), on_date=TODAY).items[0]
    assert [lot.number for lot in entry.lots] == [1, 2]


def test_a_provider_removed_from_one_lot_shows_only_the_other(lots):
    lot1, lot2 = lots
    provider = make_provider("Half Removed")
    admit(provider, lot1, removed_on=TODAY - days(1))
    admit(provider, lot2)
    assert names(DirectoryFilters(lot_id=lot1.id)) == []
    assert names(DirectoryFilters(lot_id=lot2.id)) == ["Half Removed"]
    assert [lot.number for lot in directory.search(DirectoryFilters(), on_date=TODAY).items[0].lots] == [2]


def test_filter_by_lot(lots):
    lot1, lot2 = lots
    admit(make_provider("One"), lot1)
    admit(make_provider("Two"), lot2)
    assert names(DirectoryFilters(lot_id=lot1.id)) == ["One"]
    assert names(DirectoryFilters(lot_id=lot2.id)) == ["Two"]


@pytest.mark.parametrize(
    "filters, expected",
    [
        (DirectoryFilters(need=Need.AUTISM), ["Autism Centre"]),
        (DirectoryFilters(need=Need.SEMH), ["Autism Centre", "Semh Online"]),
        (DirectoryFilters(need=Need.MEDICAL), []),
        (DirectoryFilters(area=Area.NORTH), ["Autism Centre"]),
        (DirectoryFilters(area=Area.SOUTH), ["Semh Online"]),
        (DirectoryFilters(delivery_mode=DeliveryMode.ONLINE), ["Semh Online"]),
        (DirectoryFilters(delivery_mode=DeliveryMode.ON_SITE), ["Autism Centre"]),
        (DirectoryFilters(registered=True), ["Autism Centre"]),
        (DirectoryFilters(registered=False), ["Semh Online"]),
    ],
    ids=[
        "need",
        "need-both",
        "need-none",
        "area-north",
        "area-south",
        "online",
        "on-site",
        "registered",
        "unregistered",
    ],
)
def test_filter_by_need_area_delivery_mode_and_registration(lots, filters, expected):
    lot1, _ = lots
    admit(
        make_provider(
            "Autism Centre",
            needs=(Need.AUTISM, Need.SEMH),
            areas=(Area.NORTH, Area.CENTRAL),
            modes=(DeliveryMode.ON_SITE,),
            registered=True,
        ),
        lot1,
    )
    admit(
        make_provider(
            "Semh Online", needs=(Need.SEMH,), areas=(Area.SOUTH,), modes=(DeliveryMode.ONLINE,), registered=False
        ),
        lot1,
    )
    # Registration not stated: matched by neither registered nor unregistered.
    admit(make_provider("Unknown Status", registered=None), lot1)
    assert names(filters) == expected


@pytest.mark.parametrize(
    "age, expected",
    [
        (10, ["Up To Eleven"]),
        (11, ["Eleven To Sixteen", "Up To Eleven"]),
        (16, ["Eleven To Sixteen", "Sixteen Plus"]),
        (17, ["Sixteen Plus"]),
    ],
)
def test_filter_by_a_childs_age_includes_both_ends_of_the_range(lots, age, expected):
    lot1, _ = lots
    admit(make_provider("Eleven To Sixteen", ages=(11, 16)), lot1)
    admit(make_provider("Sixteen Plus", ages=(16, None)), lot1)
    admit(make_provider("Up To Eleven", ages=(None, 11)), lot1)
    admit(make_provider("No Ages Given", ages=(None, None)), lot1)
    assert names(DirectoryFilters(age=age)) == expected
    assert "No Ages Given" in names()


def test_name_search_matches_part_of_the_name_or_legal_name_in_any_case(lots):
    lot1, _ = lots
    admit(make_provider("Brookfield Learning", legal_name="Brookfield Trust Ltd"), lot1)
    admit(make_provider("Colne Tutors"), lot1)
    admit(make_provider("100% Outdoors"), lot1)
    assert names(DirectoryFilters(q="brook")) == ["Brookfield Learning"]
    assert names(DirectoryFilters(q="TRUST")) == ["Brookfield Learning"]
    assert names(DirectoryFilters(q="  tutors ")) == ["Colne Tutors"]
    assert names(DirectoryFilters(q="%")) == ["100% Outdoors"]  # a LIKE wildcard is searched for, not obeyed
    assert names(DirectoryFilters(q="nobody")) == []


def test_filters_combine(lots):
    lot1, lot2 = lots
    admit(make_provider("Match", needs=(Need.SEMH,), areas=(Area.SOUTH,), registered=False, ages=(11, 16)), lot2)
    admit(make_provider("Wrong Lot", needs=(Need.SEMH,), areas=(Area.SOUTH,), registered=False, ages=(11, 16)), lot1)
    admit(make_provider("Wrong Area", needs=(Need.SEMH,), areas=(Area.NORTH,), registered=False, ages=(11, 16)), lot2)
    admit(make_provider("Too Young", needs=(Need.SEMH,), areas=(Area.SOUTH,), registered=False, ages=(5, 11)), lot2)
    admit(make_provider("Registered", needs=(Need.SEMH,), areas=(Area.SOUTH,), registered=True, ages=(11, 16)), lot2)
    filters = DirectoryFilters(lot_id=lot2.id, need=Need.SEMH, area=Area.SOUTH, registered=False, age=14)
    assert names(filters) == ["Match"]
    assert names(DirectoryFilters(lot_id=lot2.id, need=Need.SEMH, q="wrong")) == ["Wrong Area"]


def test_results_come_by_name_twenty_a_page(lots):
    lot1, _ = lots
    for number in range(45):
        admit(make_provider(f"{'abcdefghij'[number % 10]}{'ABC'[number % 3]} provider {number:02d}"), lot1)
    first = directory.search(DirectoryFilters(), on_date=TODAY)
    assert (first.total, first.pages, len(first.items)) == (45, 3, 20)
    third = directory.search(DirectoryFilters(), on_date=TODAY, page=3)
    assert len(third.items) == 5
    everyone = [
        e.provider.name for p in (1, 2, 3) for e in directory.search(DirectoryFilters(), on_date=TODAY, page=p).items
    ]
    assert everyone == sorted(everyone, key=str.lower)  # case-insensitive order, no one twice or missed
    assert len(set(everyone)) == 45
    assert directory.search(DirectoryFilters(), on_date=TODAY, page=99).page == 3  # past the end: the last page


def test_an_empty_directory_is_one_empty_page(lots):
    result = directory.search(DirectoryFilters(), on_date=TODAY)
    assert (result.total, result.pages, result.items) == (0, 1, [])


def test_each_entry_says_in_which_lots_it_is_suspended_or_not_compliant_today(lots):
    lot1, lot2 = lots
    require(lot2, "public-liability")
    suspended = make_provider("Suspended From One")
    admit(suspended, lot1)
    admit(suspended, lot2)
    upload(suspended, "public-liability", expires_on=TODAY + days(100))
    suspend(suspended, lot1, starts_on=TODAY - days(3), ends_on=TODAY + days(3))
    expired = make_provider("Expired Insurance")
    admit(expired, lot1)
    admit(expired, lot2)
    upload(expired, "public-liability", expires_on=TODAY - days(1))
    lifted = make_provider("Lifted Suspension")
    admit(lifted, lot1)
    suspend(lifted, None, starts_on=TODAY - days(3), lifted=True)

    entries = {e.provider.name: e for e in directory.search(DirectoryFilters(), on_date=TODAY).items}
    assert [lot.number for lot in entries["Suspended From One"].suspended_lots] == [1]
    assert entries["Suspended From One"].non_compliant_lots == []
    assert entries["Expired Insurance"].suspended_lots == []
    assert [lot.number for lot in entries["Expired Insurance"].non_compliant_lots] == [2]
    assert entries["Lifted Suspension"].suspended_lots == entries["Lifted Suspension"].non_compliant_lots == []


def test_the_offer_is_shown_in_the_vocabularys_order(lots):
    lot1, _ = lots
    admit(make_provider("Ordered", needs=(Need.POST16, Need.SEMH), areas=(Area.SOUTH, Area.NORTH)), lot1)
    entry = directory.search(DirectoryFilters(), on_date=TODAY).items[0]
    assert entry.needs == [Need.SEMH, Need.POST16]
    assert entry.areas == [Area.NORTH, Area.SOUTH]


# ---- One provider's page -------------------------------------------------------------------------------------------


def test_officers_read_admitted_and_formerly_admitted_providers_only(lots):
    lot1, _ = lots
    officer, manager = make_user(Role.OFFICER), make_user(Role.MANAGER)
    admitted, former, applicant = make_provider("Admitted"), make_provider("Former"), make_provider("Applicant")
    admit(admitted, lot1)
    admit(former, lot1, removed_on=TODAY - days(30))

    assert directory.provider_record(admitted.id, viewer=officer, on_date=TODAY).admitted_now
    record = directory.provider_record(former.id, viewer=officer, on_date=TODAY)
    assert not record.admitted_now and [a.removed_on for a in record.admissions] == [TODAY - days(30)]
    with pytest.raises(NotFound):
        directory.provider_record(applicant.id, viewer=officer, on_date=TODAY)
    assert directory.provider_record(applicant.id, viewer=manager, on_date=TODAY).admissions == []
    with pytest.raises(NotFound):
        directory.provider_record(999_999, viewer=manager, on_date=TODAY)


def test_the_record_has_standings_current_documents_and_suspensions(lots):
    lot1, lot2 = lots
    require(lot1, "public-liability")
    require(lot2, "public-liability", "safeguarding-policy")
    provider = make_provider("Record")
    admit(provider, lot1)
    admit(provider, lot2)
    old = upload(
        provider, "public-liability", expires_on=TODAY - days(10), uploaded_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    new = upload(provider, "public-liability", expires_on=TODAY + days(20))
    first = suspend(provider, lot2, starts_on=TODAY - days(100), ends_on=TODAY - days(90))
    second = suspend(provider, None, starts_on=TODAY - days(10), lifted=True)

    record = directory.provider_record(provider.id, viewer=make_user(Role.OFFICER), on_date=TODAY)
    assert [(s.lot.number, s.eligible, s.missing_documents) for s in record.standings] == [
        (1, True, []),
        (2, False, ["Safeguarding policy"]),
    ]
    assert [d.document.id for d in record.documents] == [new.id]  # the replaced one is not current
    assert old.id not in [d.document.id for d in record.documents]
    assert record.documents[0].label == "Expires in 20 days"
    assert [s.id for s in record.suspensions] == [second.id, first.id]
    assert directory.suspension_state(second, TODAY) == "Lifted"
    assert directory.suspension_state(first, TODAY) == "Ended"
