"""axe-core (WCAG 2.2 A and AA rules) on every kind of page, and the error pages in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.errors import CSRF_PAGE, ERROR_PAGES
from portal.extensions import db
from portal.models import Role
from portal.services import mail, outbox
from tests.e2e.helpers import axe, page_url, sign_in, submit_sign_in
from tests.helpers import DEFAULT_PASSWORD


def test_sign_in_page(page):
    page.goto("/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    axe(page)


def test_sign_in_page_with_errors(page):
    submit_sign_in(page, "nobody@example.org", "wrong")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)


def test_sign_in_page_with_missing_fields(page):
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe(page)


def test_accessibility_statement(page):
    page.goto("/accessibility")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accessibility statement")
    axe(page)


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_home_page(page, user_factory, role):
    sign_in(page, user_factory(role))
    axe(page)


def test_undelivered_mail_page_and_the_banner_on_the_manager_home(page, app, user_factory, smtp_server):
    smtp_server.handler.refuse.add("gone@school.example")
    with app.app_context():
        mail.queue_email("gone@school.example", "Attendance alert", "Not shown on the page")
        db.session.commit()
        assert outbox.send_due(smtp_server.mail_config(app)).given_up == 1
    sign_in(page, user_factory(Role.MANAGER))
    banner = page.locator("#undelivered-mail-warning")
    expect(banner).to_contain_text("1 email could not be delivered")
    axe(page)

    banner.get_by_role("link", name="1 email could not be delivered").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Undelivered emails")
    expect(page.get_by_role("table")).to_contain_text("gone@school.example")
    axe(page)

    page.get_by_role("button", name=re.compile(r"^Try again the email to gone@school\.example")).click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("will be sent again")
    axe(page)


def assert_error_page(page: Page, response, status: int, title: str) -> None:
    assert response is not None
    assert response.status == status, f"{response.url} answered {response.status}, not {status}"
    expect(page).to_have_title(re.compile(rf"^{re.escape(title)} – "))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".app-error-code")).to_have_text(f"Error code {status}")
    content = page.content()
    assert "Traceback" not in content
    assert "a bug the user must never see" not in content
    axe(page)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/no-such-page", 404),
        ("/sign-out", 405),  # sign out is a POST only
        ("/_test/abort/400", 400),
        ("/_test/abort/413", 413),
        ("/_test/abort/429", 429),
        ("/_test/crash", 500),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else None,
)
def test_error_page(page, path, status):
    response = page.goto(path)
    assert_error_page(page, response, status, ERROR_PAGES[status][0])


def test_forbidden_page(page, user_factory):
    sign_in(page, user_factory(Role.OFFICER))
    response = page.goto("/manager/")
    assert_error_page(page, response, 403, ERROR_PAGES[403][0])
    # Signed in still: the header offers the officer's way out.
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_csrf_error_page(page, user_factory):
    user = user_factory(Role.OFFICER)
    page.goto("/sign-in")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.locator("#email").fill(user.email)
    page.locator("#password").fill(DEFAULT_PASSWORD)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in").click()
    assert_error_page(page, navigation.value, 400, CSRF_PAGE[0])
    # The form was refused: nobody was signed in.
    page.goto("/officer/")
    expect(page).to_have_url(re.compile(re.escape(page_url(page, "/sign-in?next="))))
