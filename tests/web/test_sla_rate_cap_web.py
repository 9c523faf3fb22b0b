"""The SLA's rate cap through the provider's offer form (plain posts): at the cap the offer is made; over it the form
comes back (200) with the cap named next to the rate and what was typed kept; without an SLA in force for the lot the
page says why (409). Nothing is saved when refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.clock import london_today
from portal.extensions import db
from portal.models import Offer, SlaStatus
from portal.services import slas
from tests.factories_calloff import published_call_off
from tests.helpers import csrf_token, sign_in, start_session

CAP = "The most your SLA allows for a day rate in Lot 1 is £350.00"


@dataclass
class Setting:
    referral_id: int
    aim_ids: list[int]
    provider_id: int
    email: str
    lot_label: str


@pytest.fixture
def setting(app) -> Setting:
    """A published call-off in Lot 1; the first provider's SLA caps Lot 1 at £350 a day, £150 a session, £50 an hour."""
    with app.app_context():
        call = published_call_off()
        provider = call.providers[0]
        terms = slas.approved(provider.id).lots[0]
        terms.max_day_rate, terms.max_session_rate, terms.max_hour_rate = (
            Decimal("350.00"),
            Decimal("150.00"),
            Decimal("50.00"),
        )
        db.session.commit()
        return Setting(
            referral_id=call.referral.id,
            aim_ids=[aim.id for aim in call.referral.aims],
            provider_id=provider.id,
            email=call.provider_users[0].email,
            lot_label=call.lot.label,
        )


@pytest.fixture
def client(app, setting):
    client = app.test_client()
    start_session(client, setting.email)
    return client


def offer_data(setting: Setting, token: str, *, rate: str, total: str, rate_type: str = "day", units: str = "5"):
    start = london_today() + timedelta(days=40)
    return {
        "csrf_token": token,
        "version": "",
        **{f"aim_{aim_id}": f"Daily mentoring for aim {n}" for n, aim_id in enumerate(setting.aim_ids, start=1)},
        "start_date": [str(start.day), str(start.month), str(start.year)],
        "hours_per_week": "25",
        "sessions": "Monday to Friday",
        "location": "Our Uxbridge site",
        "staffing_ratio": "1:2",
        "transport": "Travel training",
        "delivery_and_staffing": "A qualified teacher and a mentor",
        "safeguarding": "DSL on site every day",
        "rate_type": rate_type,
        "rate": rate,
        "units_per_week": units,
        "total": total,
    }


def _offers(app, setting: Setting) -> list[Offer]:
    with app.app_context():
        found = db.session.scalars(sa.select(Offer).where(Offer.provider_id == setting.provider_id)).all()
        for offer in found:
            db.session.expunge(offer)
        return list(found)


def test_an_offer_exactly_at_the_cap_is_made(app, client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(client, base)
    response = client.post(f"{base}/offer", data=offer_data(setting, token, rate="350", total="21000"))
    assert response.status_code == 302 and response.headers["Location"] == base
    [offer] = _offers(app, setting)
    assert offer.rate == Decimal("350.00") and offer.total == Decimal("21000.00")


def test_an_offer_over_the_cap_comes_back_with_the_cap_next_to_the_rate_and_nothing_saved(app, client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(client, base)
    response = client.post(f"{base}/offer", data=offer_data(setting, token, rate="350.01", total="21000.60"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page and "<title>Error:" in page
    assert f'href="#rate">{CAP}' in page  # in the error summary, linked to the rate
    rate_group = page[page.index('id="rate-error"') - 600 : page.index('id="rate-error"') + 300]
    assert CAP in rate_group and 'value="350.01"' in page  # next to the field, with what was typed
    assert _offers(app, setting) == []


def test_a_session_rate_over_its_cap_names_the_session_cap(app, client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(client, base)
    data = offer_data(setting, token, rate_type="session", rate="160", units="10", total="19200")
    page = client.post(f"{base}/offer", data=data).get_data(as_text=True)
    assert "The most your SLA allows for a session rate in Lot 1 is £150.00" in page
    assert _offers(app, setting) == []


def test_a_revision_over_the_cap_is_refused_and_the_offer_stays_as_it_was(app, client, setting):
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(client, base)
    assert client.post(f"{base}/offer", data=offer_data(setting, token, rate="300", total="18000")).status_code == 302
    [offer] = _offers(app, setting)
    data = offer_data(setting, token, rate="400", total="24000") | {"version": str(offer.version)}
    response = client.post(f"{base}/offer", data=data)
    assert response.status_code == 200 and CAP in response.get_data(as_text=True)
    [kept] = _offers(app, setting)
    assert kept.rate == Decimal("300.00") and kept.version == offer.version


def test_without_an_sla_in_force_the_offer_is_refused_with_409_saying_why(app, client, setting):
    with app.app_context():
        sla = slas.approved(setting.provider_id)
        sla.status = SlaStatus.TERMINATED
        sla.terminated_on = london_today() - timedelta(days=1)
        sla.termination_reason = "Ended in a test"
        db.session.commit()
    base = f"/provider/opportunities/{setting.referral_id}"
    token = csrf_token(client, base)
    response = client.post(f"{base}/offer", data=offer_data(setting, token, rate="100", total="6000"))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert (
        f"Your organisation has no service level agreement in force for {setting.lot_label}, so it cannot make "
        "offers in it." in page.replace("&#39;", "'")
    )
    assert _offers(app, setting) == []


def test_the_reason_no_sla_in_force_is_shown_wherever_standing_is(app):
    """The manager's provider page, the directory's provider page and its results, and the provider's home page."""
    from tests.factories import make_lot, make_user
    from tests.factories_dps import admit, make_provider

    with app.app_context():
        lot = make_lot(1)
        provider = make_provider("Unsigned Provider")
        admit(provider, lot, sla=False)
        manager = make_user("manager")
        provider_user = make_user("provider", provider=provider)
        provider_id, manager_email, provider_email = provider.id, manager.email, provider_user.email
    manager_client = app.test_client()
    sign_in(manager_client, manager_email)
    page = manager_client.get(f"/manager/providers/{provider_id}").get_data(as_text=True)
    assert "No SLA in force for this lot" in page
    page = manager_client.get(f"/directory/{provider_id}").get_data(as_text=True)
    assert "No SLA in force for this lot" in page and "Can be invited" not in page
    page = manager_client.get("/directory?q=Unsigned").get_data(as_text=True)
    assert "No SLA in force: " in page
    provider_client = app.test_client()
    sign_in(provider_client, provider_email)
    page = provider_client.get("/provider/").get_data(as_text=True)
    assert "no SLA in force for this lot" in page and "invited to opportunities" not in page.split("Your lots")[1][:300]
