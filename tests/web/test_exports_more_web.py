"""More lists as CSV (the applications queue, off-DPS requests, SLAs, council services, the provider's opportunities and
the directory): the right role only, a BOM, the header, every row the list counts with the same tab or filters (all
pages), formula injection neutralised, and no child's name."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.models import ApplicationStatus, Role
from portal.security import DOWNLOAD_CSP
from portal.services import evaluation, exports
from tests.factories import CouncilServiceFactory, make_user
from tests.factories_calloff import eligible_provider, make_referral, publish, published_call_off
from tests.factories_dps import make_submitted_application, many_providers
from tests.helpers import sign_in

EVIL = '=HYPERLINK("http://evil.example","x")'
EVIL_SHORT = "=1+1"  # fits a year group (20 characters)


@pytest.fixture
def data(app):
    """A published call-off (open for the two invited providers, the first named like a formula), a closed one, a
    pending off-DPS request on a third, two applications waiting and one decided, a council service named like a
    formula, an officer, a manager."""
    with app.app_context():
        now = clock.now()
        call = published_call_off(providers=2)
        officer, lot = call.officer, call.lot
        call.providers[0].name = EVIL
        call.referral.profile_year_group = EVIL_SHORT
        closed = make_referral(officer, lot, child=call.referral.child)
        publish(closed, officer, now=now - timedelta(days=40))
        asked = make_referral(officer, lot, child=call.referral.child)
        publish(asked, officer, now=now - timedelta(days=30))
        evaluation.request_off_dps(asked.id, officer, version=asked.version, reason=EVIL, now=now)
        for number in range(2):
            make_submitted_application(provider=eligible_provider(lot, f"Applicant {number}"), lots=[lot])
        make_submitted_application(lots=[lot], status=ApplicationStatus.DECIDED)
        CouncilServiceFactory(name=EVIL)
        manager = make_user(Role.MANAGER)
        db.session.commit()
        return {
            "officer": officer.email,
            "provider": call.provider_users[0].email,
            "manager": manager.email,
            "child_name": call.referral.child.first_name,
            "lot_id": lot.id,
        }


def _csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


ROUTES = [
    ("/manager/applications.csv", "manager", exports.APPLICATION_HEADER),
    ("/manager/off-dps.csv", "manager", exports.OFF_DPS_HEADER),
    ("/manager/slas.csv", "manager", exports.SLA_HEADER),
    ("/manager/services.csv", "manager", exports.SERVICE_HEADER),
    ("/provider/opportunities.csv", "provider", exports.OPPORTUNITY_HEADER),
    ("/directory/providers.csv", "officer", exports.DIRECTORY_HEADER),
    ("/directory/providers.csv", "manager", exports.DIRECTORY_HEADER),
]
ALLOWED = {
    "/manager/applications.csv": {"manager"},
    "/manager/off-dps.csv": {"manager"},
    "/manager/slas.csv": {"manager"},
    "/manager/services.csv": {"manager"},
    "/provider/opportunities.csv": {"provider"},
    "/directory/providers.csv": {"officer", "manager"},
}


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
    assert data["child_name"] not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "other"),
    [
        (url, other)
        for url, allowed in ALLOWED.items()
        for other in ("officer", "provider", "manager")
        if other not in allowed
    ],
)
def test_other_roles_are_refused(client, data, url, other):
    sign_in(client, data[other])
    assert client.get(url).status_code == 403


def _rows_in_table(page: str) -> int:
    body = page.split('<tbody class="govuk-table__body">', 1)[1].split("</tbody>", 1)[0]
    return body.count('<tr class="govuk-table__row"')


@pytest.mark.parametrize(
    ("url", "who", "total"),
    [
        ("/manager/applications", "manager", r">\s*(\d+) applications? waiting for a decision\s*</h2>"),
        ("/manager/applications?show=decided", "manager", r">\s*(\d+) applications? decided\s*</h2>"),
        ("/manager/off-dps", "manager", r">(\d+) requests? waiting for a decision</h2>"),
        ("/manager/slas?tab=in-force", "manager", r">In force: (\d+) SLAs?</h2>"),
        ("/manager/slas?tab=all", "manager", r">All: (\d+) SLAs?</h2>"),
        ("/manager/services", "manager", None),
        ("/provider/opportunities", "provider", r">\s*(\d+) referrals? open for offers\s*</h2>"),
        ("/provider/opportunities?show=closed", "provider", r">\s*(\d+) closed referrals?\s*</h2>"),
        ("/directory", "officer", r">(\d+) providers?</h2>"),
        ("/directory?q=applicant", "manager", r">(\d+) providers?</h2>"),
    ],
)
def test_row_count_equals_the_lists_total_for_the_same_tab_or_filters(client, data, url, who, total):
    sign_in(client, data[who])
    page = client.get(url).get_data(as_text=True)
    expected = _rows_in_table(page) if total is None else int(re.search(total, page).group(1))
    assert expected > 0
    path, _, query = url.partition("?")
    csv_url = ("/directory/providers.csv" if path == "/directory" else path + ".csv") + (f"?{query}" if query else "")
    # The list links to its CSV with the same tab or filters.
    assert f'href="{csv_url}"'.replace("&", "&amp;") in page
    rows = _csv(client.get(csv_url))[1:]
    assert len(rows) == expected


def test_the_directory_csv_spans_every_page(client, data, app):
    with app.app_context():
        many_providers(25, [data["lot_id"]], prefix="Bulk provider")
    sign_in(client, data["officer"])
    rows = _csv(client.get("/directory/providers.csv?q=bulk"))[1:]
    assert len(rows) == 25  # more than the directory's page of 20
    assert all(row[0].startswith("Bulk provider") for row in rows)


@pytest.mark.parametrize(
    ("url", "who", "evil"),
    [
        ("/manager/off-dps.csv", "manager", EVIL),
        ("/manager/slas.csv?tab=all", "manager", EVIL),
        ("/manager/services.csv", "manager", EVIL),
        ("/provider/opportunities.csv", "provider", EVIL_SHORT),
        ("/directory/providers.csv", "officer", EVIL),
    ],
)
def test_a_formula_in_the_data_is_neutralised(client, data, url, who, evil):
    sign_in(client, data[who])
    cells = [cell for row in _csv(client.get(url))[1:] for cell in row]
    assert "'" + evil in cells
    assert evil not in cells


def test_refused_directory_filters_are_a_400(client, data):
    sign_in(client, data["manager"])
    assert client.get("/directory/providers.csv?age=wizard").status_code == 400
