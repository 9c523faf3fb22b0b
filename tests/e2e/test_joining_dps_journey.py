"""Joining the DPS from end to end in a real browser, every step through the pages people use: a provider registers,
sets a password and two-factor, applies for two lots and submits; the manager decides (one lot passes, one fails);
the provider sees the outcome and the notification; an officer finds the provider in the directory, with JavaScript
(htmx) and as a plain form without it. axe-core (WCAG 2.2 A/AA) runs on every page the JavaScript browser shows."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.clock import london_today
from portal.extensions import db
from portal.formatting import long_date
from portal.models import OutboxMessage, Role
from portal.services.decisions import DECISION_SUBJECT, clock
from portal.services.working_days import decision_due_on
from tests.e2e.helpers import axe, page_url, set_password_and_set_up_two_factor, sign_out, submit_two_factor_code
from tests.factories import LotFactory, LotQuestionFactory
from tests.factories_dps import PDF_BYTES, require
from tests.helpers import DEFAULT_PASSWORD, TEST_TOTP_SECRET

ORGANISATION = "Riverside Learning"
CONTACT = "Rae Riverside"
EMAIL = "rae@riverside.example"
PASSWORD = "copper kettle harbour seventeen"
LOT_1 = "Lot 1: Full Time Education Provision"
LOT_3 = "Lot 3: Bespoke Provision"
QUESTION_1 = "How will you plan a full timetable for each child?"
QUESTION_3 = "How do you design a package around one child?"
LOT_3_NOTES = "No evidence of staff trained to deliver one-to-one packages"
REJECTION_REASON = "The answer for Lot 3 did not show how a bespoke package is planned and reviewed."
SET_PASSWORD_LINK = re.compile(r"/set-password/([A-Za-z0-9_\-]+)")


def set_up_lots(app) -> dict[str, int]:
    """Two lots of one arrangement, a question for each, and public liability insurance required for lot 1."""
    with app.app_context():
        lot1 = LotFactory(number=1, title="Full Time Education Provision")
        lot3 = LotFactory(number=3, title="Bespoke Provision", arrangement=lot1.arrangement)
        LotQuestionFactory(lot_id=lot1.id, text=QUESTION_1)
        LotQuestionFactory(lot_id=lot3.id, text=QUESTION_3)
        require(lot1, "public-liability")
        db.session.commit()
        return {"lot1": lot1.id, "lot3": lot3.id}


def set_password_path(app) -> str:
    with app.app_context():
        bodies = db.session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.to_address == EMAIL)).all()
    assert len(bodies) == 1, f"expected one email to {EMAIL}, found {len(bodies)}"
    match = SET_PASSWORD_LINK.search(bodies[0])
    assert match, f"no set-password link in the email:\n{bodies[0]}"
    return f"/set-password/{match.group(1)}"


def sign_in_from_here(page: Page, email: str, password: str, *, secret: str | None, home: str, check=axe) -> None:
    """On the sign-in page already: sign in (with the two-factor step if the account has one) and reach ``home``."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if secret is not None:
        expect(page).to_have_url(page_url(page, "/sign-in/two-factor"))
        check(page)
        submit_two_factor_code(page, secret)
    expect(page).to_have_url(page_url(page, home))
    check(page)


def sign_out_checked(page: Page) -> None:
    sign_out(page)
    axe(page)


def task_list(page: Page) -> None:
    expect(page).to_have_url(page_url(page, "/provider/application"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply to join the dynamic purchasing system")
    axe(page)


def completed(page: Page, section: str) -> None:
    item = page.locator(".govuk-task-list__item").filter(has=page.get_by_text(section, exact=True))
    expect(item.locator(".govuk-task-list__status")).to_have_text("Completed")


def open_section(page: Page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    axe(page)


def save_and_continue(page: Page, section: str) -> None:
    page.get_by_role("button", name="Save and continue").click()
    task_list(page)
    completed(page, section)


# ---- 2: registering, a password and two-factor ----------------------------------------------------------------------


def provider_registers_and_sets_up_two_factor(app, page: Page) -> str:
    """From the sign-in page's link to the provider home page; returns the authenticator secret."""
    page.goto("/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    axe(page)
    page.get_by_role("link", name="register your organisation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register your organisation")
    axe(page)
    page.get_by_label("Organisation name").fill(ORGANISATION)
    page.get_by_label("Your full name").fill(CONTACT)
    page.get_by_label("Your email address").fill(EMAIL)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text(EMAIL)
    axe(page)

    secret = set_password_and_set_up_two_factor(page, set_password_path(app), EMAIL, PASSWORD, axe)
    expect(page.locator(".app-account__who")).to_contain_text(ORGANISATION)
    axe(page)
    return secret


# ---- 3: the application, section by section ------------------------------------------------------------------------


def provider_applies(page: Page) -> None:
    page.get_by_role("button", name="Start your application").click()
    task_list(page)

    open_section(page, "Organisation details")
    page.get_by_label("Legal name").fill(f"{ORGANISATION} Ltd")
    page.get_by_label("Company number").fill("01234567")
    page.get_by_label("Registered address").fill("1 River Road\nUxbridge")
    page.get_by_label("Postcode").fill("UB8 1UW")
    page.get_by_role("group", name="Is your organisation registered with Ofsted").get_by_label("No").check()
    page.get_by_label("A small or medium-sized enterprise").check()
    save_and_continue(page, "Organisation details")

    open_section(page, "Designated Safeguarding Lead")
    page.get_by_label("Full name").fill("Dana Lead")
    page.get_by_label("Role or job title").fill("Head of centre")
    page.get_by_label("Telephone number").fill("01895 250111")
    page.get_by_label("Email address").fill("dsl@riverside.example")
    save_and_continue(page, "Designated Safeguarding Lead")

    open_section(page, "What you offer")
    page.get_by_label("Summary of what you offer").fill("Small groups and a key adult for each autistic young person.")
    page.get_by_label("Autism", exact=True).check()
    page.get_by_label("Youngest").fill("11")
    page.get_by_label("Oldest").fill("16")
    page.get_by_label("Central (Uxbridge, Hillingdon, Cowley)").check()
    page.get_by_label("How many children can you take at once?").fill("12")
    page.get_by_label("On site", exact=True).check()
    page.get_by_role("button", name="Save and change your sites").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sites")
    axe(page)
    page.get_by_label("Site name").fill("River centre")
    page.get_by_label("Address").fill("1 River Road, Uxbridge")
    page.get_by_label("Postcode").fill("UB8 1UW")
    page.get_by_role("button", name="Add site").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("River centre added")
    expect(page.locator(".govuk-summary-list")).to_contain_text("River centre")
    axe(page)
    page.locator(".govuk-back-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What you offer")
    expect(page.get_by_label("Autism", exact=True)).to_be_checked()  # kept as a draft while the site was added
    expect(page.locator("#sites")).to_contain_text("River centre, UB8 1UW")
    axe(page)
    save_and_continue(page, "What you offer")

    open_section(page, "Lots")
    page.get_by_label(LOT_1).check()
    page.get_by_label(LOT_3).check()
    save_and_continue(page, "Lots")

    open_section(page, "Questions for your lots")
    page.get_by_label(QUESTION_1).fill("A five-day timetable of English, maths and science, reviewed each half term.")
    page.get_by_label(QUESTION_3).fill("We meet the child and family and agree the plan with the school.")
    save_and_continue(page, "Questions for your lots")

    open_section(page, "Compliance documents")
    expect(page.locator("main")).to_contain_text("Still needed: Public liability insurance")
    page.get_by_role("link", name=re.compile(r"^Upload\s*: Public liability insurance$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Public liability insurance")
    axe(page)
    expires = london_today() + timedelta(days=400)
    page.get_by_label("Upload a file").set_input_files(
        {"name": "public-liability.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    page.get_by_label("Day").fill(str(expires.day))
    page.get_by_label("Month").fill(str(expires.month))
    page.get_by_label("Year").fill(str(expires.year))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance documents")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Public liability insurance uploaded")
    expect(page.locator("main")).to_contain_text("You have every document")
    expect(page.locator("main")).to_contain_text(long_date(expires))
    axe(page)
    page.locator("main .govuk-button", has_text="Back to your application").click()
    task_list(page)
    completed(page, "Compliance documents")
    expect(page.locator("main")).to_contain_text("You have completed 6 of 6 sections.")

    page.get_by_role("link", name="Check your answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before submitting your application")
    main = page.locator("main")
    expect(main).to_contain_text(LOT_1)
    expect(main).to_contain_text(LOT_3)
    expect(main).to_contain_text("River centre, UB8 1UW")
    expect(main).to_contain_text(f"Valid (expires {long_date(expires)})")
    axe(page)
    page.get_by_role("button", name="Submit application").click()
    expect(page).to_have_url(page_url(page, "/provider/application"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your application has been submitted")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your application has been submitted")
    due = long_date(decision_due_on(london_today()))
    expect(page.locator(".govuk-inset-text")).to_contain_text(f"The council will decide by {due}.")
    axe(page)


# ---- 4: the manager decides -----------------------------------------------------------------------------------------


def manager_decides(page: Page, manager) -> None:
    sign_in_from_here(page, manager.email, DEFAULT_PASSWORD, secret=TEST_TOTP_SECRET, home="/manager/")
    page.get_by_role("link", name="Applications", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications to join the DPS")
    row = page.locator("tbody tr", has_text=ORGANISATION)
    today = london_today()
    due_on = decision_due_on(today)
    expect(row).to_contain_text(LOT_1)
    expect(row).to_contain_text(LOT_3)
    expect(row).to_contain_text(long_date(due_on))
    expect(row.locator("td").last).to_have_text(clock(due_on, today).text)  # "10 working days left" on a weekday
    axe(page)

    row.get_by_role("link", name=ORGANISATION).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ORGANISATION)
    expect(page.locator("main")).to_contain_text("Waiting for a decision")
    expect(page.locator("main")).to_contain_text("public-liability.pdf")
    axe(page)
    page.get_by_role("group", name=f"Outcome for {LOT_1}").get_by_label("Pass").check()
    page.get_by_role("group", name=f"Outcome for {LOT_3}").get_by_label("Fail").check()
    page.get_by_label(f"Notes on {LOT_3} (optional)").fill(LOT_3_NOTES)
    page.get_by_label("Reason for rejecting").fill(REJECTION_REASON)
    page.get_by_role("button", name="Decide application").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Application decided: {ORGANISATION} admitted to 1 lot and rejected for 1 lot."
    )
    expect(page.locator(".govuk-tag", has_text="Decided")).to_be_visible()
    axe(page)
    sign_out_checked(page)


# ---- 5: the provider sees the outcome -------------------------------------------------------------------------------


def provider_sees_the_outcome(page: Page, secret: str) -> None:
    sign_in_from_here(page, EMAIL, PASSWORD, secret=secret, home="/provider/")
    main = page.locator("main")
    expect(main).to_contain_text(f"{LOT_1}: admitted")
    expect(main).to_contain_text(f"{LOT_3}: not admitted. Reason: {LOT_3_NOTES}")
    # Admitted, but invited only once the SLA (drafted on admission) is accepted and approved.
    expect(main).to_contain_text(f"{LOT_1}: admitted, but not invited to new opportunities until your service level")
    # Unread: the welcome on registering, the submission's confirmation and the decision.
    bell = page.locator("#notification-bell a")
    expect(bell.locator(".app-bell__count")).to_have_text("3")
    expect(bell).to_have_accessible_name(re.compile(r"^\s*Notifications\s*,\s*3\s+unread\s*$"))

    bell.click()
    expect(page).to_have_url(page_url(page, "/notifications/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    decision = page.locator(".app-notification", has_text=DECISION_SUBJECT)
    expect(decision.locator(".govuk-tag")).to_have_text("Unread")
    expect(decision).to_contain_text(f"- {LOT_1}")
    expect(decision).to_contain_text(f"- {LOT_3}: {LOT_3_NOTES}")
    expect(decision).to_contain_text(REJECTION_REASON)
    axe(page)
    sign_out_checked(page)


# ---- 6: an officer finds the provider in the directory ---------------------------------------------------------------


def officer_finds_the_provider(page: Page, officer, lots: dict[str, int]) -> None:
    sign_in_from_here(page, officer.email, DEFAULT_PASSWORD, secret=None, home="/officer/")
    page.get_by_role("link", name="Directory").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alternative provision directory")
    results = page.locator("#directory-results")
    expect(results).to_contain_text("1 provider")
    axe(page)

    # A marker a full page load would wipe: each filter swaps only the results, and the address bar follows.
    page.evaluate("window.stillTheSamePage = true")
    page.locator("#lot").select_option(label=LOT_3)
    expect(page).to_have_url(re.compile(rf"/directory\?.*lot={lots['lot3']}(&|$)"))
    expect(results).to_contain_text("No providers match")
    expect(results).not_to_contain_text(ORGANISATION)
    axe(page)
    page.locator("#lot").select_option(label=LOT_1)
    page.locator("#need").select_option(label="Autism")
    expect(page).to_have_url(re.compile(rf"/directory\?.*lot={lots['lot1']}&need=autism(&|$)"))
    expect(results).to_contain_text("1 provider")
    card = results.locator(".govuk-summary-card", has_text=ORGANISATION)
    expect(card).to_contain_text(LOT_1)
    expect(card).not_to_contain_text(LOT_3)
    expect(card).to_contain_text("Autism")
    assert page.evaluate("window.stillTheSamePage") is True
    axe(page)

    card.get_by_role("link", name=ORGANISATION).click()
    expect(page).to_have_url(re.compile(r"/directory/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ORGANISATION)
    expect(page.locator("main")).to_contain_text(LOT_1)
    axe(page)


def officer_filters_without_javascript(page: Page, officer, lots: dict[str, int]) -> None:
    """The same filters as a plain GET form. axe-core needs JavaScript: these pages were checked above."""
    page.goto("/sign-in")
    sign_in_from_here(page, officer.email, DEFAULT_PASSWORD, secret=None, home="/officer/", check=lambda _: None)
    page.get_by_role("link", name="Directory").click()
    results = page.locator("#directory-results")
    page.locator("#lot").select_option(label=LOT_1)
    page.locator("#need").select_option(label="Autism")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(rf"/directory\?.*lot={lots['lot1']}&need=autism(&|$)"))
    expect(results).to_contain_text("1 provider")
    expect(results.get_by_role("link", name=ORGANISATION)).to_be_visible()
    expect(page.locator("#lot")).to_have_value(str(lots["lot1"]))  # the filters stay as chosen

    page.locator("#lot").select_option(label=LOT_3)
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(rf"/directory\?.*lot={lots['lot3']}&need=autism(&|$)"))
    expect(results).to_contain_text("No providers match")
    expect(results).not_to_contain_text(ORGANISATION)


def test_a_provider_joins_the_dps_and_an_officer_finds_it(app, page, no_js_page, user_factory):
    lots = set_up_lots(app)
    manager = user_factory(Role.MANAGER, name="Morgan Manager")
    officer = user_factory(Role.OFFICER, name="Olu Officer")

    secret = provider_registers_and_sets_up_two_factor(app, page)
    provider_applies(page)
    sign_out_checked(page)

    manager_decides(page, manager)
    provider_sees_the_outcome(page, secret)
    officer_finds_the_provider(page, officer, lots)
    officer_filters_without_javascript(no_js_page, officer, lots)
