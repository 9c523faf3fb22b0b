"""The account pages in a real browser: axe-core on each, the invitation form with and without JavaScript, and the
users search live through htmx (and as a plain GET form without it)."""

from __future__ import annotations

from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Role, TokenPurpose, User
from portal.services import account_tokens
from tests.e2e.helpers import axe, page_url, sign_in
from tests.factories import CouncilServiceFactory, ProviderFactory


def _issue(app, user_id, purpose) -> str:
    with app.app_context():
        raw = account_tokens.issue(db.session.get(User, user_id), purpose)
        db.session.commit()
        return f"/set-password/{raw}"


def test_forgotten_password_pages(page):
    page.goto("/sign-in")
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    axe(page)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
    page.locator("#email").fill("nobody@example.org")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    axe(page)


def test_set_password_pages(app, page, user_factory):
    user = user_factory(Role.OFFICER, password_hash=None)
    path = _issue(app, user.id, TokenPurpose.INVITATION)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set your password")
    axe(page)
    page.locator("#password").fill("password1234")
    page.locator("#confirm").fill("password1234")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#password-error")).to_contain_text("list of common passwords")
    axe(page)
    page.locator("#password").fill("a long and unusual password")
    page.locator("#confirm").fill("a long and unusual password")
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your password is set. Sign in.")
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has been used already")
    axe(page)


def test_manager_users_pages_and_live_search(app, page, user_factory):
    user_factory(Role.OFFICER, name="Alice Archer")
    user_factory(Role.PROVIDER, name="Bob Baker", password_hash=None)
    sign_in(page, user_factory(Role.MANAGER))
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    axe(page)

    # Typing filters the results in place (htmx) and the address bar follows.
    page.locator("#q").fill("alice")
    expect(page.locator("#user-results")).to_contain_text("1 user")
    expect(page.locator("#user-results")).not_to_contain_text("Bob Baker")
    expect(page).to_have_url(page_url(page, "/manager/users?q=alice&role="))
    page.locator("#role").select_option("provider")
    expect(page.locator("#user-results")).to_contain_text("No users match")
    axe(page)

    page.goto("/manager/users")
    page.get_by_role("link", name="Bob Baker").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bob Baker")
    axe(page)


def test_the_invitation_form_names_the_missing_organisation(app, page, user_factory):
    with app.app_context():
        CouncilServiceFactory(name="SEND")
        ProviderFactory(name="Acme Learning")
    sign_in(page, user_factory(Role.MANAGER))
    page.goto("/manager/users/invite")
    axe(page)
    page.locator("#email").fill("pat@acme.example")
    page.locator("#name").fill("Pat Provider")
    page.get_by_label("Provider", exact=True).check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#provider-error")).to_contain_text("Select the provider the person works for")
    expect(page.locator("#email")).to_have_value("pat@acme.example")  # what was typed is kept
    axe(page)


def test_without_javascript_the_form_shows_every_organisation_and_search_is_a_plain_form(app, no_js_page, user_factory):
    page = no_js_page
    with app.app_context():
        CouncilServiceFactory(name="SEND")
    user_factory(Role.OFFICER, name="Alice Archer")
    sign_in(page, user_factory(Role.MANAGER))
    page.goto("/manager/users/invite")
    expect(page.locator("#service")).to_be_visible()
    expect(page.locator("#provider")).to_be_visible()
    page.locator("#email").fill("olu@council.example")
    page.locator("#name").fill("Olu Officer")
    page.get_by_label("Council officer").check()
    page.locator("#service").select_option("SEND")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Olu Officer")

    page.goto("/manager/users")
    page.locator("#q").fill("alice")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(page_url(page, "/manager/users?q=alice&role="))
    expect(page.locator("#user-results")).to_contain_text("1 user")


def test_provider_colleague_pages(page, user_factory):
    sign_in(page, user_factory(Role.PROVIDER))
    page.get_by_role("link", name="Colleagues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Colleagues")
    axe(page)
    page.get_by_role("link", name="Invite a colleague").click()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)
