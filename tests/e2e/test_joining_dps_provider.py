"""The provider's side of joining the DPS in a real browser: registering, the task list and its sections (with errors
shown), documents and uploading, check your answers; axe-core (WCAG 2.2 A/AA) on each page, no console errors
(a CSP violation would be one)."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Role
from tests.e2e.helpers import axe
from tests.e2e.helpers import sign_in as browser_sign_in
from tests.factories import LotFactory, LotQuestionFactory
from tests.factories_dps import require


def test_registering_in_the_browser(page):
    page.goto("/sign-in")
    page.get_by_role("link", name="register your organisation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register your organisation")
    axe(page)
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
    page.get_by_label("Organisation name").fill("Browser Learning")
    page.get_by_label("Your full name").fill("Bea Browser")
    page.get_by_label("Your email address").fill("bea@browser.example")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    axe(page)


def test_the_application_pages_are_accessible(app, page, user_factory, tmp_path):
    with app.app_context():
        lot = LotFactory(number=1, title="Full Time Education Provision")
        LotQuestionFactory(lot_id=lot.id, text="How do you keep children safe?")
        require(lot, "public-liability")
        db.session.commit()
    user = user_factory(Role.PROVIDER)
    browser_sign_in(page, user)
    axe(page)  # home with "Start your application"
    page.get_by_role("button", name="Start your application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply to join the dynamic purchasing system")
    axe(page)

    page.get_by_role("link", name="Organisation details").click()
    axe(page)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)

    page.goto("/provider/application/safeguarding-lead")
    axe(page)
    page.goto("/provider/application/offer")
    page.get_by_label("On site").check()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
    page.get_by_role("button", name="Save and change your sites").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sites")
    page.get_by_label("Site name").fill("Main site")
    page.get_by_label("Address").fill("1 High Street")
    page.get_by_label("Postcode").fill("UB8 1UW")
    page.get_by_role("button", name="Add site").click()
    expect(page.locator(".govuk-summary-list")).to_contain_text("Main site")
    axe(page)

    page.goto("/provider/application/lots")
    axe(page)
    page.get_by_label("Lot 1: Full Time Education Provision").check()
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Questions for your lots").click()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)

    page.goto("/provider/application/documents")
    axe(page)
    page.locator("main a[href*='/provider/documents/']").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Public liability insurance")
    axe(page)
    not_a_pdf = tmp_path / "policy.pdf"
    not_a_pdf.write_text("just text")
    page.get_by_label("Upload a file").set_input_files(str(not_a_pdf))
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("2020")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(".govuk-error-summary")).to_contain_text("must be a PDF, Word document (DOCX), PNG or JPEG")
    axe(page)
    pdf = tmp_path / "cover.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    expires = date.today() + timedelta(days=400)
    page.get_by_label("Upload a file").set_input_files(str(pdf))
    page.get_by_label("Day").fill(str(expires.day))
    page.get_by_label("Month").fill(str(expires.month))
    page.get_by_label("Year").fill(str(expires.year))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance documents")
    expect(page.locator("main")).to_contain_text("You have every document")

    page.goto("/provider/documents")
    axe(page)
    page.goto("/provider/application/check")
    axe(page)
    page.get_by_role("button", name="Submit application").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
