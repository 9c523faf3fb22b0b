"""The oversight page and its CSV: manager only, filters without JavaScript and with htmx, charts with tables."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from portal import clock
from portal.csv_export import BOM
from portal.extensions import db
from tests.factories import make_lot, make_user
from tests.factories_placements import make_placement
from tests.helpers import count_queries, sign_in, start_session
from tests.unit.test_oversight import awarded, build

NOW = datetime(2027, 3, 15, 12, tzinfo=UTC)
CUSTOM = "period=custom&start=1&start=1&start=2027&end=31&end=3&end=2027"


@pytest.fixture
def manager(app, client, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    with app.app_context():
        email = make_user("manager").email
    start_session(client, email)
    return client


@pytest.mark.parametrize("role", ["officer", "provider"])
@pytest.mark.parametrize("path", ["/manager/oversight", "/manager/oversight.csv"])
def test_only_the_manager_sees_oversight(app, client, role, path):
    with app.app_context():
        email = make_user(role).email
    sign_in(client, email)
    assert client.get(path).status_code == 403


def test_the_page_with_figures_charts_and_tables(app, manager):
    with app.app_context():
        build()
    response = manager.get(f"/manager/oversight?{CUSTOM}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 January 2027 to 31 March 2027" in page
    assert 'data-figure="referrals_made">4<' in page
    assert 'data-figure="spend_committed">£10,200.50<' in page
    assert 'data-figure="attendance_rate">75%<' in page
    assert 'data-figure="reintegration_rate">50%<' in page
    assert "How this is worked out" in page
    assert page.count('role="img"') == 4
    assert page.count('<caption class="govuk-table__caption govuk-table__caption--s">') >= 4
    assert "/manager/placements?status=ended" in page
    assert "/manager/oversight.csv?" in page
    # Nothing about the children.
    assert "Marblewick" not in page


def test_htmx_gets_the_figures_region_alone(app, manager):
    response = manager.get(
        f"/manager/oversight?{CUSTOM}", headers={"HX-Request": "true", "HX-Target": "oversight-figures"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.lstrip().startswith("{#") is False and 'id="oversight-figures"' in page
    assert "<html" not in page and "Filter" not in page


def test_custom_dates_are_validated(manager):
    response = manager.get("/manager/oversight?period=custom&start=1&start=3&start=2027&end=1&end=2&end=2027")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page and "The last day must be the same as or after the first day" in page
    assert 'data-figure="' not in page
    missing = manager.get("/manager/oversight?period=custom").get_data(as_text=True)
    assert "Enter the first day of the period" in missing
    bad_lot = manager.get("/manager/oversight?period=year&lot=99999").get_data(as_text=True)
    assert "Select a lot from the list" in bad_lot


def test_default_is_this_term_or_the_year(manager):
    page = manager.get("/manager/oversight").get_data(as_text=True)
    assert "Figures for the academic year 2026/27" in page  # no term dates set


def test_csv_of_the_figures(app, manager):
    with app.app_context():
        build()
    response = manager.get(f"/manager/oversight.csv?{CUSTOM}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.get_data(as_text=True)
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows[0] == ["Figure", "Value", "Definition"]
    values = {row[0]: row[1] for row in rows[1:]}
    assert values["Period"] == "2027-01-01 to 2027-03-31"
    assert values["Referrals made"] == "4"
    assert values["Spend to date"] == "£325.00"
    assert values["Median days from award to start"] == "15.0"
    assert values["Placements ended: back to the home school"] == "1"


def test_statement_count_does_not_grow_with_data(app, manager):
    with app.app_context():
        build()
        engine = db.engine
    with count_queries(engine) as small:
        assert manager.get(f"/manager/oversight?{CUSTOM}").status_code == 200
    with app.app_context():
        officer = make_user("officer")
        lot = make_lot(3)
        for _ in range(4):
            more = awarded(
                officer, lot, published=date(2027, 1, 6), deadline=date(2027, 1, 9), awarded_on=date(2027, 1, 10)
            )
            make_placement(more, start_date=date(2027, 1, 18))
    with count_queries(engine) as large:
        page = manager.get(f"/manager/oversight?{CUSTOM}").get_data(as_text=True)
    assert 'data-figure="referrals_made">8<' in page
    assert len(large.statements) == len(small.statements)
