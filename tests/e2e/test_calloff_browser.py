"""A call-off from referral to award in a real browser, one browser context per person: the officer writes and publishes
a referral through the forms; three invited providers answer (two offers, one decline) while the officer's page shows
each answer without a reload (htmx polls the live section); evaluation opens once everyone has answered; the officer
scores both offers and awards one; the winner then sees the child, the loser only its own outcome and scores.

axe-core (WCAG 2.2 A/AA) runs on every page shown, forms with errors included, and again after each live update.
Before the award no provider page may contain anything that identifies the child (CHILD_IDENTIFIERS).
The same call-off without JavaScript (plain forms only) is in test_calloff_no_js.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.clock import london_today
from portal.extensions import db
from portal.models import Offer, OfferStatus, Referral, ReferralStatus, Role
from tests.e2e.helpers import axe, sign_in
from tests.factories import make_lot, make_user
from tests.factories_calloff import (
    CHILD_DATE_OF_BIRTH,
    CHILD_FIRST_NAME,
    CHILD_IDENTIFIERS,
    CHILD_LAST_NAME,
    CHILD_SCHOOL,
    CHILD_UPN,
    eligible_provider,
)

LOT = "Lot 1: Full Time Education Provision"
WINNER, LOSER, DECLINER = "Bright Futures", "New Leaf", "Harbour Learning"
AIM = "Attend a full morning of lessons"
DECLINE_REASON = "No places until the spring term"
LOSER_COMMENT = "Meets the aim, but the plan for the first weeks lacks detail"
RATIONALE = "Bright Futures meets every aim with a qualified teacher every day, for a price close to the lowest."
# The live section polls every 10 seconds: an answer shows within one poll (plus the time the request takes).
LIVE_UPDATE = 15_000


@dataclass
class People:
    officer: SimpleNamespace
    providers: dict[str, SimpleNamespace]


def _person(user) -> SimpleNamespace:
    return SimpleNamespace(email=user.email, role=user.role)


def set_up(app) -> People:
    """Lot 1 with three admitted providers, each with a user, and an officer: nothing else."""
    with app.app_context():
        lot = make_lot(1, "Full Time Education Provision")
        officer = make_user(Role.OFFICER, name="Olive Officer")
        providers = {}
        for name in (WINNER, LOSER, DECLINER):
            provider = eligible_provider(lot, name)
            providers[name] = _person(make_user(Role.PROVIDER, provider=provider, name=f"{name} contact"))
        return People(officer=_person(officer), providers=providers)


# ---- Helpers --------------------------------------------------------------------------------------------------------


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def fill_date(page: Page, group: str, day: date) -> None:
    fieldset = page.get_by_role("group", name=group)
    fieldset.get_by_label("Day", exact=True).fill(str(day.day))
    fieldset.get_by_label("Month", exact=True).fill(str(day.month))
    fieldset.get_by_label("Year", exact=True).fill(str(day.year))


def menu(page: Page, item: str) -> None:
    page.get_by_role("navigation", name="Menu").get_by_role("link", name=item, exact=True).click()


def choose(page: Page, group: str, label: str) -> None:
    page.get_by_role("group", name=group).get_by_label(label, exact=True).check()


def success(page: Page, text: str) -> None:
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(text)


def assert_anonymous(page: Page) -> None:
    """Nothing on the page (its HTML, hidden parts included) identifies the child."""
    html = page.content()
    found = [identifier for identifier in CHILD_IDENTIFIERS if identifier.lower() in html.lower()]
    assert not found, f"{page.url} gives the child away: {found}"


def checked(page: Page) -> None:
    """axe, and nothing that identifies the child: every provider page before the award."""
    assert_anonymous(page)
    axe(page)


def task_list(page: Page, reference: str) -> None:
    expect(heading(page)).to_have_text(f"Draft referral {reference} for {CHILD_FIRST_NAME} {CHILD_LAST_NAME}")
    axe(page)


def completed(page: Page, section: str) -> None:
    item = page.locator(".govuk-task-list__item").filter(has=page.get_by_text(section, exact=True))
    expect(item.locator(".govuk-task-list__status")).to_have_text("Completed")


def open_section(page: Page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    expect(heading(page)).to_have_text(title)
    axe(page)


def save_section(page: Page, reference: str, section: str) -> None:
    page.get_by_role("button", name="Save and continue").click()
    success(page, f"{section} saved")
    task_list(page, reference)
    completed(page, section)


def fill_offer(page: Page, *, rate: str, total: str) -> None:
    """Fill the offer form (a day rate, 5 days a week for the referral's 12 weeks)."""
    page.get_by_label(f"Aim 1: {AIM}", exact=True).fill(
        "A key adult meets the child at the door and builds up to full mornings."
    )
    fill_date(page, "Start date", london_today() + timedelta(days=35))
    page.get_by_label("Hours a week", exact=True).fill("15")
    page.get_by_label("Sessions", exact=True).fill("Monday to Friday, 9am to 12pm")
    page.get_by_label("Location", exact=True).fill("Our Uxbridge site")
    page.get_by_label("Staffing ratio", exact=True).fill("1:3")
    page.get_by_label("Transport", exact=True).fill("A bus pass, and a travel buddy for the first fortnight")
    page.get_by_label("Delivery and staffing", exact=True).fill("A qualified teacher and a mentor every morning")
    page.get_by_label("Safeguarding arrangements", exact=True).fill(
        "The DSL is on site every day; every adult has an enhanced DBS"
    )
    choose(page, "How you charge", "A day rate")
    page.get_by_label("Rate", exact=True).fill(rate)
    page.get_by_label("How many days, sessions or hours a week", exact=True).fill("5")
    page.get_by_label("Total for the whole placement", exact=True).fill(total)


def open_opportunity(page: Page, reference: str) -> None:
    """From the provider's feed of open referrals to the referral's page."""
    menu(page, "Opportunities")
    expect(heading(page)).to_have_text("Opportunities")
    expect(page.locator("#opportunity-results")).to_contain_text("1 referral open for offers")
    checked(page)
    page.get_by_role("link", name=f"Referral {reference}").click()
    expect(heading(page)).to_have_text(f"Referral {reference}")
    expect(page.locator("main")).to_contain_text(AIM)
    checked(page)


def score(page: Page, provider: str, value: str, comment: str = "") -> None:
    """From the referral page's ranked table, score every criterion of the provider's offer and save."""
    page.get_by_role("link", name=f"Score of the offer from {provider}").click()
    expect(heading(page)).to_have_text(f"Offer from {provider}")
    expect(page.get_by_role("heading", name="Score this offer")).to_be_visible()
    axe(page)
    for criterion in (f"Aim 1: {AIM}", "Delivery and staffing", "Safeguarding"):
        choose(page, criterion, value)
        if comment:
            page.get_by_label(f"Comment on {criterion}", exact=True).fill(comment)
    page.get_by_role("button", name="Save scores").click()
    success(page, f"Scores saved for {provider}'s offer.")
    axe(page)


# ---- 1: the officer writes and publishes the referral -------------------------------------------------------------


def officer_writes_the_referral(page: Page) -> str:
    """From the referral list to a draft with every section completed; returns the draft's reference."""
    menu(page, "Referrals")
    expect(heading(page)).to_have_text("Referrals")
    axe(page)
    page.get_by_role("link", name="Start a new referral").click()
    expect(heading(page)).to_have_text("Start a new referral")
    axe(page)

    # Once with mistakes: each is shown next to its field, and what was typed is kept.
    page.get_by_label("First name", exact=True).fill(CHILD_FIRST_NAME)
    page.get_by_label("Unique pupil number (UPN)", exact=True).fill("A123456789013")  # the wrong check letter
    page.get_by_role("button", name="Continue").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter the child's last name")
    expect(summary).to_contain_text("Enter the child's date of birth")
    expect(page.locator("#upn-error")).to_be_visible()
    expect(page.get_by_label("First name", exact=True)).to_have_value(CHILD_FIRST_NAME)
    axe(page)

    page.get_by_label("Last name", exact=True).fill(CHILD_LAST_NAME)
    fill_date(page, "Date of birth", CHILD_DATE_OF_BIRTH)
    page.get_by_label("Unique pupil number (UPN)", exact=True).fill(CHILD_UPN)
    choose(page, "Gender", "Female")
    page.get_by_label("Home school", exact=True).fill(CHILD_SCHOOL)
    choose(page, "On-roll status", "On roll at home school")
    choose(page, "Does the child have an education, health and care (EHC) plan?", "No")
    choose(page, "Is the child looked after by a local authority?", "No")
    choose(page, "Exclusion status", "At risk of exclusion")
    page.get_by_role("button", name="Continue").click()
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text(re.compile(r"Draft referral R\d+ started"))
    reference = re.search(r"R\d+", banner.inner_text()).group(0)
    task_list(page, reference)
    completed(page, "Child's details")

    open_section(page, "Provision needed")
    choose(page, "Which lot is the provision in?", LOT)
    page.get_by_label("Hours per week", exact=True).fill("15")
    page.get_by_label("Sessions", exact=True).fill("Monday to Friday mornings")
    fill_date(page, "Start date", london_today() + timedelta(days=35))
    page.get_by_label("How many weeks?", exact=True).fill("12")
    page.get_by_label("Location", exact=True).fill("Central area, within 30 minutes by bus")
    page.get_by_label("Travel needs (optional)", exact=True).fill("Can travel independently by bus")
    page.get_by_label("Reintegration criteria", exact=True).fill("Attends 90% of sessions for six weeks")
    save_section(page, reference, "Provision needed")

    open_section(page, "Aims")
    aim = page.get_by_role("group", name="Aim 1")
    aim.get_by_label("What is the aim?", exact=True).fill(AIM)
    aim.get_by_label("Baseline", exact=True).fill("Attends 40% of mornings")
    aim.get_by_label("Target", exact=True).fill("Attends 90% of mornings by the end of the placement")
    aim.get_by_label("How will it be measured?", exact=True).fill("Weekly attendance returns")
    save_section(page, reference, "Aims")

    open_section(page, "Profile for providers")
    choose(page, "Needs", "Social, emotional and mental health")
    choose(page, "Needs", "Anxiety and emotionally based school avoidance")
    choose(page, "Area", "Central (Uxbridge, Hillingdon, Cowley)")
    page.get_by_label("Profile", exact=True).fill(
        "A bright, anxious pupil who has been out of school for a term and enjoys practical work."
    )
    save_section(page, reference, "Profile for providers")
    expect(page.get_by_role("heading", name="Ready to publish")).to_be_visible()
    return reference


def officer_publishes(page: Page, reference: str) -> None:
    page.get_by_role("link", name="Check and publish").click()
    expect(heading(page)).to_have_text("Check and publish the referral")
    expect(page.locator("main")).to_contain_text("3 providers in Lot 1: Full Time Education Provision will be invited")
    axe(page)
    page.get_by_role("button", name="Publish referral").click()  # the default deadline and weighting
    success(page, f"Referral {reference} published: 3 providers invited")
    expect(heading(page)).to_have_text(f"Referral {reference}")
    expect(page.locator("#offers-status")).to_have_text("0 offers from 3 invited providers. Open.")
    axe(page)


# ---- The journey ----------------------------------------------------------------------------------------------------


def test_a_call_off_from_referral_to_award(app, new_page):
    people = set_up(app)
    officer = new_page()
    sign_in(officer, people.officer)
    reference = officer_writes_the_referral(officer)
    officer_publishes(officer, reference)

    # 2: the officer's page stays open, polling, while the providers answer in their own browsers.
    live = officer.locator("#referral-offers")
    status = officer.locator("#offers-status")
    offers_table = officer.get_by_role("table", name="The offers in this round, oldest first")
    invited_table = officer.get_by_role("table", name="Every provider invited to this round and how it answered")
    expect(live).to_contain_text("this section updates itself every 10 seconds")
    expect(live).to_contain_text("No offers yet.")
    officer.evaluate("window.e2eSamePage = true")  # gone if the page were loaded again
    loads = []
    officer.on("framenavigated", lambda frame: loads.append(frame.url) if frame == officer.main_frame else None)

    winner = new_page()
    sign_in(winner, people.providers[WINNER])
    open_opportunity(winner, reference)
    expect(winner.get_by_role("heading", name="Make an offer")).to_be_visible()
    fill_offer(winner, rate="120.00", total="7000.00")  # not 120 x 5 x 12
    winner.get_by_role("button", name="Send your offer").click()
    expect(heading(winner)).to_have_text("Make an offer")
    summary = winner.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The total should be £7,200.00")
    expect(winner.locator("#total-error")).to_contain_text("The total should be £7,200.00")
    expect(winner.get_by_label("Rate", exact=True)).to_have_value("120.00")
    checked(winner)
    winner.get_by_label("Total for the whole placement", exact=True).fill("7200.00")
    winner.get_by_role("button", name="Send your offer").click()
    success(winner, "Offer made. The council can see it now.")
    expect(winner.locator("#your-response-heading")).to_have_text("Your offer")
    checked(winner)

    # The offer appears on the officer's page without a reload.
    expect(status).to_have_text("1 offer from 3 invited providers. Open.", timeout=LIVE_UPDATE)
    expect(offers_table).to_contain_text(WINNER)
    expect(offers_table).to_contain_text("£7,200.00")
    expect(invited_table.get_by_role("row", name=re.compile(WINNER))).to_contain_text("Offer made")
    axe(officer)

    loser = new_page()
    sign_in(loser, people.providers[LOSER])
    open_opportunity(loser, reference)
    fill_offer(loser, rate="110.00", total="6600.00")
    loser.get_by_role("button", name="Send your offer").click()
    success(loser, "Offer made.")
    checked(loser)

    decliner = new_page()
    sign_in(decliner, people.providers[DECLINER])
    open_opportunity(decliner, reference)
    decliner.get_by_label("Why are you declining?", exact=True).fill(DECLINE_REASON)
    decliner.get_by_role("button", name="Decline this referral").click()
    success(decliner, "You have declined this referral.")
    checked(decliner)

    # Both offers and the decline, still without a reload; everyone has answered, so evaluation is open.
    expect(status).to_have_text("2 offers from 3 invited providers, 1 declined. Evaluating.", timeout=LIVE_UPDATE)
    expect(offers_table).to_contain_text(LOSER)
    expect(offers_table).to_contain_text("£6,600.00")
    expect(invited_table.get_by_role("row", name=re.compile(DECLINER))).to_contain_text(DECLINE_REASON)
    expect(live.get_by_role("heading", name="Ranked offers")).to_be_visible()
    expect(live).not_to_contain_text("this section updates itself")  # polling stops once offers are closed
    assert officer.evaluate("window.e2eSamePage") is True
    assert loads == [], f"the officer's page was loaded again: {loads}"
    axe(officer)

    # 3: scoring and the award.
    score(officer, WINNER, "5: excellent")
    score(officer, LOSER, "3: satisfactory", LOSER_COMMENT)
    ranking = officer.get_by_role("table", name="Offers ranked by total score, best first")
    rows = ranking.locator("tbody tr")
    for row, cells in enumerate((["1", WINNER, "70.00", "27.50", "97.50"], ["2", LOSER, "42.00", "30.00", "72.00"])):
        for column, text in enumerate(cells):
            expect(rows.nth(row).locator("td").nth(column)).to_have_text(text)
    choose(officer, "Which offer do you award?", f"{WINNER}: rank 1, total 97.50 (quality 70.00, price 27.50)")
    officer.get_by_label("Rationale", exact=True).fill(RATIONALE)
    officer.get_by_role("button", name="Award").click()
    success(officer, f"Referral {reference} awarded to {WINNER}.")
    awarded = officer.locator(".govuk-summary-card", has_text="Awarded to")
    expect(awarded).to_contain_text(f"{WINNER} (total £7,200.00)")
    expect(awarded).to_contain_text(RATIONALE)
    axe(officer)

    # 4: the winner sees the child; the loser sees its outcome and its own scores, and still nothing of the child.
    menu(winner, "Opportunities")
    winner.get_by_role("link", name="Closed", exact=True).click()
    expect(winner.locator("#opportunity-results")).to_contain_text("1 closed referral")
    expect(winner.locator("#opportunity-results")).to_contain_text("Awarded to you")
    axe(winner)
    winner.get_by_role("link", name=f"Referral {reference}").click()
    expect(winner.get_by_role("heading", name="The placement is awarded to you")).to_be_visible()
    child = winner.locator("#your-response")
    expect(child).to_contain_text(f"{CHILD_FIRST_NAME} {CHILD_LAST_NAME}")
    expect(child).to_contain_text(CHILD_UPN)
    expect(child).to_contain_text("14 March 2012")
    axe(winner)

    loser.reload()
    expect(loser.get_by_role("heading", name="Not successful")).to_be_visible()
    scores = loser.get_by_role("table", name="Your scores")
    expect(scores).to_contain_text("3 out of 5")
    expect(scores).to_contain_text(LOSER_COMMENT)
    expect(loser.locator("#your-response")).to_contain_text("72.00 out of 100")
    expect(loser.locator("main")).not_to_contain_text(WINNER)  # nor who won
    checked(loser)

    decliner.reload()
    expect(decliner.get_by_role("heading", name="Awarded to another provider")).to_be_visible()
    checked(decliner)

    with app.app_context():
        referral = db.session.scalar(sa.select(Referral))
        assert referral.status is ReferralStatus.AWARDED
        statuses = {offer.provider.name: offer.status for offer in db.session.scalars(sa.select(Offer))}
        assert statuses == {WINNER: OfferStatus.AWARDED, LOSER: OfferStatus.UNSUCCESSFUL}
