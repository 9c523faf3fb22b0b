"""Signing in and out in a real browser, with and without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.models import Role
from tests.e2e.helpers import page_url, sign_in, sign_out, submit_sign_in

HOME_PAGES = {
    Role.OFFICER: ("/officer/", "Officer home", "Referrals and placements"),
    Role.PROVIDER: ("/provider/", "Provider home", "Your organisation on the dynamic purchasing system"),
    Role.MANAGER: ("/manager/", "Manager home", "Oversight of alternative provision"),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_role_signs_in_to_its_home_page_and_signs_out(page, user_factory, role):
    user = user_factory(role, name=f"Sam {role.value.title()}")
    organisation = user.organisation_name
    path, title, heading = HOME_PAGES[role]

    sign_in(page, user)

    expect(page).to_have_url(page_url(page, path))
    expect(page).to_have_title(re.compile(rf"^{title} – "))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    account = page.locator(".app-account__who")
    expect(account).to_contain_text(f"Signed in as {user.name}")
    expect(account).to_contain_text(organisation)
    expect(account).to_be_visible()

    sign_out(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    # Signed out for real: the home page now asks to sign in again.
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))


def test_wrong_password_shows_the_error_summary_focused_and_keeps_the_email(page, user_factory):
    user = user_factory(Role.OFFICER)

    submit_sign_in(page, user.email, "not the password")

    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page).to_have_title(re.compile(r"^Error: Sign in – "))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Enter a correct email address and password")
    # GOV.UK Frontend's error summary takes focus, so screen reader users hear it first.
    expect(summary).to_be_focused()
    # The summary's link leads to the field it is about.
    summary.get_by_role("link", name="Enter a correct email address and password").click()
    expect(page.locator("#email")).to_be_focused()
    expect(page.locator("#email")).to_have_value(user.email)
    expect(page.locator("#password")).to_have_value("")


def test_signing_in_and_out_works_without_javascript(no_js_page, user_factory):
    page = no_js_page
    user = user_factory(Role.PROVIDER)

    sign_in(page, user)

    # GOV.UK Frontend marks the body when its scripts run: they did not.
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bjs-enabled\b"))
    expect(page.locator(".app-account__who")).to_contain_text(user.organisation_name)

    sign_out(page)
