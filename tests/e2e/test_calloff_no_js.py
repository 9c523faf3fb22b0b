"""The call-off with JavaScript disabled: every step is a plain form. A provider makes an offer (one submission refused,
the message next to the field and what was typed kept), the officer scores both offers and awards (one award refused
for want of a rationale), and the winner then sees the child while the other provider sees its outcome.

The referral is published by the factories, and the second provider's offer is written to the database, so the test
is only the part people do through forms."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.clock import london_today
from portal.extensions import db
from portal.models import Offer, OfferStatus, RateType, Referral, ReferralStatus
from portal.services.referrals import reference
from tests.e2e.helpers import sign_in
from tests.factories_calloff import (
    CHILD_FIRST_NAME,
    CHILD_IDENTIFIERS,
    CHILD_LAST_NAME,
    CHILD_UPN,
    make_offer,
    published_call_off,
)

FIRST, SECOND = "Offering provider 1", "Offering provider 2"


def set_up(app) -> SimpleNamespace:
    """A referral published to two providers; the second has made its offer (£110 a day, 5 days, 12 weeks)."""
    with app.app_context():
        call = published_call_off(providers=2)
        make_offer(
            call.referral,
            call.providers[1],
            call.provider_users[1],
            rate_type=RateType.DAY,
            rate=Decimal("110.00"),
            units_per_week=Decimal("5"),
            total=Decimal("6600.00"),
        )
        aims = [aim.description for aim in call.referral.aims]
        return SimpleNamespace(
            referral_id=call.referral.id,
            reference=reference(call.referral),
            aims=aims,
            officer=SimpleNamespace(email=call.officer.email, role=call.officer.role),
            first=SimpleNamespace(email=call.provider_users[0].email, role=call.provider_users[0].role),
            second=SimpleNamespace(email=call.provider_users[1].email, role=call.provider_users[1].role),
        )


def success(page: Page, text: str) -> None:
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(text)


def assert_anonymous(page: Page) -> None:
    html = page.content().lower()
    found = [identifier for identifier in CHILD_IDENTIFIERS if identifier.lower() in html]
    assert not found, f"{page.url} gives the child away: {found}"


def label(page: Page, text: str):
    return page.get_by_label(text, exact=True)


def provider_makes_an_offer(page: Page, data: SimpleNamespace) -> None:
    page.goto(f"/provider/opportunities/{data.referral_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Referral {data.reference}")
    assert_anonymous(page)
    for position, aim in enumerate(data.aims, start=1):
        label(page, f"Aim {position}: {aim}").fill(f"Our plan for aim {position}: a key adult and small groups.")
    start = london_today() + timedelta(days=40)
    dates = page.get_by_role("group", name="Start date")
    for part, value in (("Day", start.day), ("Month", start.month), ("Year", start.year)):
        dates.get_by_label(part, exact=True).fill(str(value))
    label(page, "Hours a week").fill("15")
    label(page, "Sessions").fill("Monday to Friday, 9am to 12pm")
    label(page, "Location").fill("Our Uxbridge site")
    label(page, "Staffing ratio").fill("1:2")
    label(page, "Transport").fill("A taxi for the first week, then a bus pass")
    label(page, "Delivery and staffing").fill("A qualified teacher and a mentor")
    label(page, "Safeguarding arrangements").fill("The DSL is on site every day")
    page.get_by_role("group", name="How you charge").get_by_label("A day rate", exact=True).check()
    label(page, "Rate").fill("120.00")
    label(page, "How many days, sessions or hours a week").fill("5")
    label(page, "Total for the whole placement").fill("720.00")  # a week's worth, not 12 weeks'
    page.get_by_role("button", name="Send your offer").click()

    # Refused: the message next to the total, in the summary, and everything typed is still there.
    expect(page.get_by_role("heading", level=1)).to_have_text("Make an offer")
    expect(page.locator("#total-error")).to_contain_text("The total should be £7,200.00")
    expect(page.locator(".govuk-error-summary")).to_contain_text("The total should be £7,200.00")
    expect(label(page, "Rate")).to_have_value("120.00")
    expect(label(page, "Staffing ratio")).to_have_value("1:2")
    expect(label(page, "Aim 1: " + data.aims[0])).to_have_value("Our plan for aim 1: a key adult and small groups.")
    assert_anonymous(page)

    label(page, "Total for the whole placement").fill("7200.00")
    page.get_by_role("button", name="Send your offer").click()
    success(page, "Offer made. The council can see it now.")
    expect(page.locator("#your-response-heading")).to_have_text("Your offer")
    assert_anonymous(page)


def officer_scores(page: Page, provider: str, value: str, criteria: list[str]) -> None:
    page.get_by_role("link", name=f"Score of the offer from {provider}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Offer from {provider}")
    for criterion in criteria:
        page.get_by_role("group", name=criterion).get_by_label(value, exact=True).check()
    page.get_by_role("button", name="Save scores").click()
    success(page, f"Scores saved for {provider}'s offer.")


def test_offer_scoring_and_award_work_without_javascript(app, new_page):
    data = set_up(app)

    provider = new_page(java_script_enabled=False)
    sign_in(provider, data.first)
    provider_makes_an_offer(provider, data)

    # Both invited providers have offered: evaluation is open before the deadline.
    officer = new_page(java_script_enabled=False)
    sign_in(officer, data.officer)
    officer.goto(f"/officer/referrals/{data.referral_id}")
    expect(officer.locator("#offers-status")).to_have_text("2 offers from 2 invited providers. Evaluating.")
    criteria = [f"Aim {n}: {aim}" for n, aim in enumerate(data.aims, start=1)] + [
        "Delivery and staffing",
        "Safeguarding",
    ]
    officer_scores(officer, FIRST, "5: excellent", criteria)
    officer_scores(officer, SECOND, "2: weak", criteria)

    award = officer.get_by_role("group", name="Which offer do you award?")
    choice = f"{FIRST}: rank 1, total 97.50 (quality 70.00, price 27.50)"
    award.get_by_label(choice, exact=True).check()
    officer.get_by_role("button", name="Award").click()
    expect(officer.locator("#rationale-error")).to_contain_text("Write the rationale for the award")
    expect(
        officer.get_by_role("group", name="Which offer do you award?").get_by_label(choice, exact=True)
    ).to_be_checked()

    label(officer, "Rationale").fill("The best plan for every aim, at a fair price.")
    officer.get_by_role("button", name="Award").click()
    success(officer, f"Referral {data.reference} awarded to {FIRST}.")
    expect(officer.locator(".govuk-summary-card", has_text="Awarded to")).to_contain_text(f"{FIRST} (total £7,200.00)")

    provider.reload()
    expect(provider.locator("#your-response-heading")).to_have_text("The placement is awarded to you")
    expect(provider.locator("#your-response")).to_contain_text(f"{CHILD_FIRST_NAME} {CHILD_LAST_NAME}")
    expect(provider.locator("#your-response")).to_contain_text(CHILD_UPN)

    other = new_page(java_script_enabled=False)
    sign_in(other, data.second)
    other.goto(f"/provider/opportunities/{data.referral_id}")
    expect(other.locator("#your-response-heading")).to_have_text("Not successful")
    expect(other.get_by_role("table", name="Your scores")).to_contain_text("2 out of 5")
    assert_anonymous(other)

    with app.app_context():
        assert db.session.get(Referral, data.referral_id).status is ReferralStatus.AWARDED
        statuses = {offer.provider.name: offer.status for offer in db.session.scalars(sa.select(Offer))}
        assert statuses == {FIRST: OfferStatus.AWARDED, SECOND: OfferStatus.UNSUCCESSFUL}
