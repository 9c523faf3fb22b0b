"""The manager's side of joining the DPS in a real browser: axe-core on the queue, the assessment page (with and
without errors), a provider's page, the suspension form with errors and a lot's questions; deciding and suspending
work as plain forms without JavaScript."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from portal.clock import london_today
from portal.models import Role
from tests.e2e.helpers import axe, sign_in
from tests.factories import AdmissionFactory, ProviderFactory, make_lots, make_user
from tests.factories_dps import make_submitted_application


def _application(app) -> dict:
    with app.app_context():
        lots = make_lots(2)
        provider = ProviderFactory(name="Bright Futures", dsl_name="Dana Lead")
        make_user(Role.PROVIDER, provider=provider)
        application = make_submitted_application(provider=provider, lots=lots, submitted_on=date(2026, 1, 5))
        return {"application": application.id, "provider": provider.id, "lots": [lot.id for lot in lots]}


def test_deciding_an_application_passes_axe_at_every_step(app, page, user_factory):
    _application(app)
    sign_in(page, user_factory(Role.MANAGER))
    page.get_by_role("link", name="Applications", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications to join the DPS")
    expect(page.locator(".govuk-tag--red")).to_contain_text("Overdue by")
    axe(page)

    page.get_by_role("link", name="Bright Futures").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bright Futures")
    axe(page)

    page.get_by_role("group", name="Outcome for Lot 1: Lot title 1").get_by_label("Pass").check()
    page.get_by_role("group", name="Outcome for Lot 2: Lot title 2").get_by_label("Fail").check()
    page.get_by_role("button", name="Decide application").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the reason the application is rejected")
    axe(page)

    page.get_by_label("Reason for rejecting").fill("No evidence of enhanced DBS checks")
    page.get_by_role("button", name="Decide application").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Application decided")
    axe(page)


def test_deciding_works_without_javascript(app, no_js_page, user_factory):
    ids = _application(app)
    sign_in(no_js_page, user_factory(Role.MANAGER))
    no_js_page.goto(f"/manager/applications/{ids['application']}")
    no_js_page.get_by_role("group", name="Outcome for Lot 1: Lot title 1").get_by_label("Pass").check()
    no_js_page.get_by_role("group", name="Outcome for Lot 2: Lot title 2").get_by_label("Pass").check()
    no_js_page.get_by_role("button", name="Decide application").click()
    expect(no_js_page.locator(".govuk-notification-banner")).to_contain_text("admitted to 2 lots")


def test_a_provider_page_the_suspension_form_and_a_lots_questions_pass_axe(app, page, user_factory):
    today = london_today()
    with app.app_context():
        lots = make_lots(1)
        provider = ProviderFactory(name="Harbour Learning")
        AdmissionFactory(provider_id=provider.id, lot_id=lots[0].id, admitted_on=today - timedelta(days=30))
        lot_id = lots[0].id
    sign_in(page, user_factory(Role.MANAGER))
    page.get_by_role("link", name="Providers", exact=True).click()
    axe(page)
    page.get_by_role("link", name="Harbour Learning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour Learning")
    axe(page)

    page.get_by_role("link", name="Suspend provider").click()
    page.get_by_role("button", name="Suspend provider").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
    page.get_by_label("All lots").check()
    page.get_by_label("Reason").fill("Concern raised by a school")
    start = page.get_by_role("group", name="Start date")
    start.get_by_label("Day").fill(str(today.day))
    start.get_by_label("Month").fill(str(today.month))
    start.get_by_label("Year").fill(str(today.year))
    page.get_by_role("button", name="Suspend provider").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is suspended from all lots")
    expect(page.locator(".govuk-tag", has_text="In force")).to_be_visible()

    page.goto(f"/manager/lots/{lot_id}/questions")
    axe(page)
    page.get_by_label("Question", exact=True).fill("How will you meet each child's aims?")
    page.get_by_role("button", name="Add question").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Question added")
    axe(page)
