"""The AP directory in a real browser: axe-core on the list and a provider page, filters live through htmx (the
results change in place and the address bar follows), and the same filters as a plain form without JavaScript."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.clock import london_today
from portal.extensions import db
from portal.models import Area, DeliveryMode, Lot, Need, Provider, Role
from tests.e2e.helpers import axe, page_url, sign_in
from tests.factories import make_lot
from tests.factories_dps import admit, days, make_provider, make_submitted_application, require, suspend, upload


def _directory(app) -> dict[str, int]:
    today = london_today()
    with app.app_context():
        lot1, lot2 = make_lot(1, "Full Time Education Provision"), make_lot(2, "Part Time Education Provision")
        require(lot2, "public-liability", "safeguarding-policy")
        autism = make_provider(
            "Autism Centre",
            needs=(Need.AUTISM, Need.SLCN),
            areas=(Area.NORTH,),
            modes=(DeliveryMode.ON_SITE,),
            registered=True,
            ages=(7, 16),
            ofsted_urn="140001",
            dsl_name="Dana Lead",
            dsl_email="dsl@autism.example",
            summary="Small classes and a key adult for each child.",
            sites=(("Main site", "1 High Street, Ruislip", "HA4 7AA"),),
        )
        admit(autism, lot1)
        admit(autism, lot2)
        upload(autism, "public-liability", expires_on=today + days(12))
        upload(autism, "safeguarding-policy", expires_on=today - days(3))
        suspend(autism, lot1, starts_on=today - days(1), ends_on=today + days(20), reason="Concern being looked into")
        semh = make_provider(
            "Semh Online", needs=(Need.SEMH,), areas=(Area.SOUTH,), modes=(DeliveryMode.ONLINE,), ages=(11, 16)
        )
        admit(semh, lot2)
        return {"Autism Centre": autism.id, "Semh Online": semh.id}


def test_the_directory_and_a_provider_page_pass_axe_and_filters_work_live(app, page, user_factory):
    ids = _directory(app)
    sign_in(page, user_factory(Role.OFFICER))
    page.get_by_role("link", name="Directory").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alternative provision directory")
    results = page.locator("#directory-results")
    expect(results).to_contain_text("2 providers")
    axe(page)

    # A marker that a full page load would wipe: the filters must swap the results in place.
    page.evaluate("window.stillTheSamePage = true")
    page.locator("#need").select_option("semh")
    expect(results).to_contain_text("1 provider")
    expect(results).not_to_contain_text("Autism Centre")
    expect(page).to_have_url(re.compile(r"/directory\?.*need=semh"))
    page.locator("#need").select_option("")
    page.locator("#q").fill("autism")
    expect(results).to_contain_text("1 provider")
    expect(results).to_contain_text("Autism Centre")
    expect(page).to_have_url(re.compile(r"/directory\?q=autism&"))
    page.locator("#age").fill("5")
    expect(results).to_contain_text("No providers match")
    page.locator("#age").fill("ten")
    expect(results).to_contain_text("Enter the child's age as a whole number")
    assert page.evaluate("window.stillTheSamePage") is True
    axe(page)

    # A bad filter in the address: the whole page with the error summary (axe needs JavaScript, so it is checked here).
    page.goto("/directory?age=old")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the child's age as a whole number")
    axe(page)

    page.goto("/directory")
    page.get_by_role("link", name="Autism Centre").click()
    expect(page).to_have_url(page_url(page, f"/directory/{ids['Autism Centre']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Autism Centre")
    expect(page.locator("main")).to_contain_text("Missing or expired: Safeguarding policy")
    axe(page)


def test_an_officer_opens_an_application_from_the_provider_page_and_it_passes_axe(app, page, user_factory):
    ids = _directory(app)
    with app.app_context():
        provider = db.session.get(Provider, ids["Autism Centre"])
        lots = list(db.session.scalars(sa.select(Lot).order_by(Lot.number)))
        application_id = make_submitted_application(provider=provider, lots=lots).id
    sign_in(page, user_factory(Role.OFFICER))
    page.goto(f"/directory/{ids['Autism Centre']}")
    page.get_by_role("link", name=f"Application {application_id}").click()
    expect(page).to_have_url(page_url(page, f"/directory/applications/{application_id}"))
    expect(page.locator("main")).to_contain_text("Our answer for Full Time Education Provision, question 1")
    expect(page.get_by_role("button", name="Decide application")).to_have_count(0)
    axe(page)


def test_without_javascript_the_filters_are_a_plain_form(app, no_js_page, user_factory):
    page = no_js_page
    _directory(app)
    sign_in(page, user_factory(Role.MANAGER))
    page.goto("/directory")
    expect(page.locator("#directory-results")).to_contain_text("2 providers")
    page.locator("#area").select_option("south")
    page.locator("#age").fill("12")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/directory\?.*area=south.*age=12"))
    expect(page.locator("#directory-results")).to_contain_text("1 provider")
    expect(page.locator("#directory-results")).to_contain_text("Semh Online")
    expect(page.locator("#area")).to_have_value("south")  # the filters stay as chosen

    page.locator("#age").fill("old")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the child's age as a whole number")
    expect(page.locator("#age")).to_have_value("old")
