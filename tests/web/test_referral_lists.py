"""The officer's and the manager's referral lists: every stage, the filters (stage, service, lot, officer), the htmx
results region, pagination that keeps the filters, and a statement count that does not grow with the rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Lot, Referral, ReferralStatus, Role, User
from portal.services import children
from tests.factories import make_lot, make_user
from tests.factories_calloff import eligible_provider, make_child, make_referral, publish
from tests.helpers import count_queries, start_session

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
HX = {"HX-Request": "true", "HX-Target": "referral-results", "HX-Current-URL": "http://localhost/officer/referrals"}
ROW = re.compile(
    r'<tr class="govuk-table__row">\s*<td class="govuk-table__cell"><a class="govuk-link" href="([^"]+)">'
    r"(R\d{5})</a>"
)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


def upn(n: int) -> str:
    rest = f"{n:012d}"
    return children.upn_check_letter("A" + rest) + rest


def _set_status(referral: Referral, status: ReferralStatus) -> None:
    referral.status = status
    db.session.commit()


@pytest.fixture
def listed(app):
    """Two services (an officer each, one with a second officer), two lots, and a referral in every stage."""
    with app.app_context():
        lot_1, lot_2 = make_lot(1, "Full Time"), make_lot(2, "Part Time")
        for name in ("Alpha", "Beta"):
            eligible_provider(lot_1, f"{name} Learning")
        eligible_provider(lot_2, "Gamma Skills")
        inclusion = make_user("officer", name="Ines Inclusion")
        colleague = make_user("officer", name="Ivan Inclusion", service=inclusion.service)
        send = make_user("officer", name="Sam Send")
        kids = [
            make_child(inclusion, first_name=first, last_name=last, upn=upn(n))
            for n, (first, last) in enumerate(
                [
                    ("Ada", "Draft"),
                    ("Ben", "Open"),
                    ("Cal", "Evaluating"),
                    ("Dee", "Withdrawn"),
                    ("Eve", "Awarded"),
                    ("Fay", "Offdps"),
                ],
                start=1,
            )
        ]
        draft = make_referral(inclusion, lot_1, child=kids[0])
        opened = publish(make_referral(inclusion, lot_1, child=kids[1]), inclusion, now=NOW)
        evaluating = publish(
            make_referral(send, lot_2, child=kids[2]), send, now=NOW - timedelta(days=20)
        )  # its deadline has passed
        withdrawn = make_referral(colleague, lot_1, child=kids[3])
        _set_status(withdrawn, ReferralStatus.WITHDRAWN)
        awarded = publish(make_referral(send, lot_1, child=kids[4]), send, now=NOW - timedelta(days=30))
        _set_status(awarded, ReferralStatus.AWARDED)
        off_dps = publish(make_referral(send, lot_2, child=kids[5]), send, now=NOW - timedelta(days=30))
        _set_status(off_dps, ReferralStatus.OFF_DPS)
        return {
            "draft": draft.id,
            "open": opened.id,
            "evaluating": evaluating.id,
            "withdrawn": withdrawn.id,
            "awarded": awarded.id,
            "off-DPS": off_dps.id,
            "inclusion": inclusion.service_id,
            "send": send.service_id,
            "lot_1": lot_1.id,
            "lot_2": lot_2.id,
            "officers": {"ines": inclusion.id, "ivan": colleague.id, "sam": send.id},
        }


def _client(app, user_factory, role):
    client = app.test_client()
    start_session(client, user_factory(role).email)
    return client


@pytest.fixture
def officer(app, user_factory):
    return _client(app, user_factory, Role.OFFICER)


@pytest.fixture
def manager(app, user_factory):
    return _client(app, user_factory, Role.MANAGER)


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


def _ids(page: str) -> list[int]:
    return [int(reference[1:]) for _, reference in ROW.findall(page)]


def _row(page: str, referral_id: int) -> str:
    return re.search(rf"<tr class=\"govuk-table__row\">\s*<td[^>]*><a[^>]*>R{referral_id:05d}</a>.*?</tr>", page, re.S)[
        0
    ]


# ---- The officer's list ------------------------------------------------------------------------------------------


def test_the_officers_list_shows_every_referral_newest_first_with_its_stage_and_counts(app, officer, listed):
    response = officer.get("/officer/referrals")
    page = _text(response)
    assert response.status_code == 200
    assert 'href="/officer/referrals/new"' in page and "Start a new referral" in page
    assert "6 referrals" in page
    order = [listed[stage] for stage in ("off-DPS", "awarded", "withdrawn", "evaluating", "open", "draft")]
    assert _ids(page) == order  # newest first

    links = dict((reference, href) for href, reference in ROW.findall(page))
    assert links[f"R{listed['draft']:05d}"] == f"/officer/referrals/{listed['draft']}/draft"
    assert links[f"R{listed['open']:05d}"] == f"/officer/referrals/{listed['open']}"

    draft = _row(page, listed["draft"])
    assert "Ada Draft" in draft and "Lot 1: Full Time" in draft and "Ines Inclusion" in draft
    assert '<strong class="govuk-tag govuk-tag--grey">Draft</strong>' in draft and "Not published" in draft
    assert "Created " in draft and "Closes" not in draft
    opened = _row(page, listed["open"])
    assert '<strong class="govuk-tag govuk-tag--blue">Open</strong>' in opened
    assert "0 of 2 invited" in opened and "12 November 2026 at 5:00pm" in opened
    evaluating = _row(page, listed["evaluating"])
    assert "Evaluating</strong>" in evaluating and "0 of 1 invited" in evaluating and "Sam Send" in evaluating
    assert "Commissioned off the DPS" in _row(page, listed["off-DPS"])
    assert "Withdrawn</strong>" in _row(page, listed["withdrawn"])
    assert "Awarded</strong>" in _row(page, listed["awarded"])


@pytest.mark.parametrize("stage", ["draft", "open", "evaluating", "awarded", "withdrawn", "off-DPS"])
def test_the_stage_filter_shows_only_that_stage(app, officer, listed, stage):
    page = _text(officer.get(f"/officer/referrals?stage={stage}"))
    assert _ids(page) == [listed[stage]]
    assert re.search(rf'<option value="{stage}" selected', page)


def test_the_service_lot_and_officer_filters_combine(app, officer, listed):
    page = _text(officer.get(f"/officer/referrals?service={listed['inclusion']}"))
    assert sorted(_ids(page)) == sorted([listed["draft"], listed["open"], listed["withdrawn"]])
    page = _text(officer.get(f"/officer/referrals?lot={listed['lot_2']}"))
    assert sorted(_ids(page)) == sorted([listed["evaluating"], listed["off-DPS"]])
    page = _text(officer.get(f"/officer/referrals?officer={listed['officers']['ivan']}"))
    assert _ids(page) == [listed["withdrawn"]]
    page = _text(officer.get(f"/officer/referrals?service={listed['send']}&lot={listed['lot_1']}&stage=awarded"))
    assert _ids(page) == [listed["awarded"]]
    none = _text(officer.get(f"/officer/referrals?officer={listed['officers']['ivan']}&stage=open"))
    assert "No referrals match" in none and _ids(none) == []


def test_a_filter_value_not_on_the_list_gets_a_message_not_an_error_page(officer, listed):
    response = officer.get("/officer/referrals?lot=abc&stage=lost")
    page = _text(response)
    assert response.status_code == 200
    assert "Select a lot from the list" in page and "Select a stage from the list" in page
    assert _ids(page) == []


def test_htmx_gets_the_results_region_alone(officer, listed):
    response = officer.get("/officer/referrals?stage=open", headers=HX)
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="referral-results">')
    assert "<html" not in page and "Filter referrals" not in page
    assert _ids(page) == [listed["open"]]
    assert "HX-Request, HX-Target" in response.headers["Vary"]
    full = _text(officer.get("/officer/referrals?stage=open"))
    assert "<html" in full and 'hx-target="#referral-results"' in full and "Filter</button>" in full


def _many(app, count: int, *, start: int = 100) -> None:
    """``count`` referrals more, across two lots, two services and three stages (drafts, open, withdrawn)."""
    with app.app_context():
        lot_1, lot_2 = make_lot(7, "Seven"), make_lot(8, "Eight")
        eligible_provider(lot_1, f"Provider {start}")
        officers = [make_user("officer", name=f"Officer {start}-{n}") for n in range(2)]
        child = make_child(officers[0], upn=upn(start))
        for n in range(count):
            officer = officers[n % 2]
            referral = make_referral(officer, lot_1 if n % 3 else lot_2, child=child)
            if n % 3 == 1:
                publish(referral, officer, now=NOW)
            elif n % 3 == 2:
                _set_status(referral, ReferralStatus.WITHDRAWN)


def test_pages_of_25_with_links_that_keep_the_filters(app, officer):
    _many(app, 60)
    page = _text(officer.get("/officer/referrals"))
    assert "60 referrals" in page and "Showing 1 to 25 of 60 (page 1 of 3)" in page and len(_ids(page)) == 25
    assert 'href="/officer/referrals?page=2"' in page
    last = _text(officer.get("/officer/referrals?page=3"))
    assert "Showing 51 to 60 of 60" in last and len(_ids(last)) == 10
    assert not set(_ids(page)) & set(_ids(last))

    with app.app_context():
        lot = db.session.scalar(sa.select(Lot.id).where(Lot.number == 7))
        officer_id = db.session.scalar(sa.select(User.id).where(User.name == "Officer 100-0"))
    # 40 in lot 7: the page links carry the filter, and so do htmx's.
    filtered = _text(officer.get(f"/officer/referrals?lot={lot}"))
    assert "40 referrals" in filtered and f'href="/officer/referrals?lot={lot}&page=2"' in filtered
    second = _text(officer.get(f"/officer/referrals?lot={lot}&page=2", headers=HX))
    assert "Showing 26 to 40 of 40" in second and len(_ids(second)) == 15
    assert f'href="/officer/referrals?lot={lot}&page=1"' in second
    combined = _text(officer.get(f"/officer/referrals?officer={officer_id}&stage=withdrawn"))
    assert "10 referrals" in combined and len(_ids(combined)) == 10


@pytest.mark.parametrize("path", ["/officer/referrals", "/manager/referrals"])
def test_the_statement_count_does_not_grow_with_the_number_of_referrals(app, officer, manager, path, listed):
    client = officer if path.startswith("/officer") else manager
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as few:
        page = _text(client.get(path))
    assert "6 referrals" in page
    _many(app, 30)
    with count_queries(engine) as many:
        page = _text(client.get(path))
    assert "36 referrals" in page and len(_ids(page)) == 25
    assert many.count == few.count, "\n".join(many.statements)
    with count_queries(engine) as filtered:
        page = _text(client.get(f"{path}?stage=open&page=1", headers=HX))
    assert len(_ids(page)) == 11
    assert filtered.count <= few.count


# ---- The manager's list ----------------------------------------------------------------------------------------


def test_the_managers_list_has_the_same_filters_and_links_to_the_managers_referral_page(app, manager, listed):
    page = _text(manager.get("/manager/referrals"))
    assert "6 referrals" in page and "Start a new referral" not in page
    links = {reference: href for href, reference in ROW.findall(page)}
    assert links[f"R{listed['draft']:05d}"] == f"/manager/referrals/{listed['draft']}"
    assert links[f"R{listed['open']:05d}"] == f"/manager/referrals/{listed['open']}"
    filtered = _text(manager.get(f"/manager/referrals?stage=evaluating&lot={listed['lot_2']}"))
    assert _ids(filtered) == [listed["evaluating"]]
    partial = _text(manager.get("/manager/referrals?stage=draft", headers={**HX}))
    assert "<html" not in partial and _ids(partial) == [listed["draft"]]


def test_each_list_is_only_for_its_role(app, officer, manager, user_factory):
    provider = _client(app, user_factory, Role.PROVIDER)
    assert officer.get("/manager/referrals").status_code == 403
    assert manager.get("/officer/referrals").status_code == 403
    assert provider.get("/officer/referrals").status_code == 403
    assert provider.get("/manager/referrals").status_code == 403
