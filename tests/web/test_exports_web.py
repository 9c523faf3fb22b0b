"""The lists as CSV: the right role only, a BOM, the header, every row the list has with the same filters (all pages),
formula injection neutralised, and no child's name."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from portal import clock
from portal.extensions import db
from portal.models import Child, Role
from portal.security import DOWNLOAD_CSP
from portal.services import exports
from tests.factories import make_user
from tests.helpers import sign_in
from tests.unit.test_caseload_service import TODAY, concern, place, world

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 10, 0, tzinfo=UTC)
EVIL = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def data(app):
    """An officer with three active placements (one with a concern) at a provider named like a formula, and a
    manager."""
    with app.app_context():
        w = world()
        w.provider.name = EVIL
        placements = [place(w) for _ in range(3)]
        concern(placements[0])
        manager = make_user(Role.MANAGER)
        db.session.commit()
        return {
            "officer": w.officer.email,
            "provider": w.provider_user.email,
            "manager": manager.email,
            "child_names": [db.session.get(Child, p.child_id).first_name for p in placements],
        }


def _csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


ROUTES = [
    ("/officer/referrals.csv", "officer", exports.REFERRAL_HEADER),
    ("/officer/placements.csv", "officer", exports.PLACEMENT_HEADER),
    ("/manager/referrals.csv", "manager", exports.REFERRAL_HEADER),
    ("/manager/placements.csv", "manager", exports.PLACEMENT_HEADER),
    ("/manager/providers.csv", "manager", exports.PROVIDER_HEADER),
    ("/manager/users.csv", "manager", exports.USER_HEADER),
    ("/provider/placements.csv", "provider", exports.PROVIDER_PLACEMENT_HEADER),
]


@pytest.mark.parametrize(("url", "who", "header"), ROUTES)
def test_the_right_role_gets_a_csv_with_a_bom_and_the_header(client, data, url, who, header):
    sign_in(client, data[who])
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    rows = _csv(response)
    assert rows[0] == list(header)
    text = response.get_data(as_text=True)
    for name in data["child_names"]:
        assert name not in text


@pytest.mark.parametrize(
    ("url", "other"),
    [(url, other) for url, who, _ in ROUTES for other in ("officer", "provider", "manager") if other != who],
)
def test_other_roles_are_refused(client, data, url, other):
    sign_in(client, data[other])
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("url", "who", "expected"),
    [
        ("/officer/referrals.csv", "officer", 4),  # the world's first referral and the three placed
        ("/officer/placements.csv", "officer", 3),
        ("/officer/placements.csv?flag=concern", "officer", 1),
        ("/manager/placements.csv", "manager", 3),
        ("/manager/placements.csv?flag=concern", "manager", 1),
        ("/manager/referrals.csv", "manager", 4),
        ("/provider/placements.csv", "provider", 3),
    ],
)
def test_row_count_equals_the_lists_total_for_the_same_filters(client, data, url, who, expected):
    sign_in(client, data[who])
    rows = _csv(client.get(url))[1:]
    assert len(rows) == expected
    list_url = url.replace(".csv", "")
    page = client.get(list_url).get_data(as_text=True)
    noun = "referral" if "referrals" in url else ("active placement" if who == "provider" else "placement")
    assert f">{expected} {noun}{'s' if expected != 1 else ''}</h2>" in page


def test_row_count_spans_every_page(client, data, app):
    with app.app_context():
        for number in range(30):
            make_user(Role.OFFICER, name=f"Bulk officer {number:02d}")
        db.session.commit()
    sign_in(client, data["manager"])
    rows = _csv(client.get("/manager/users.csv?role=officer"))[1:]
    assert len(rows) == 31  # more than the list's page of 25
    assert all(row[2] == "Council officer" for row in rows)


def test_a_formula_in_the_data_is_neutralised(client, data):
    sign_in(client, data["manager"])
    for url in ("/manager/placements.csv", "/manager/providers.csv"):
        rows = _csv(client.get(url))[1:]
        cells = [cell for row in rows for cell in row]
        assert "'" + EVIL in cells
        assert EVIL not in cells


def test_the_list_links_to_its_csv_with_its_filters(client, data):
    sign_in(client, data["manager"])
    page = client.get("/manager/placements?flag=concern").get_data(as_text=True)
    assert 'href="/manager/placements.csv?flag=concern"' in page


def test_refused_filters_are_a_400(client, data):
    sign_in(client, data["manager"])
    assert client.get("/manager/users.csv?role=wizard").status_code == 400
