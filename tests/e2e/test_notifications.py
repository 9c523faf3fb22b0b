"""The notification bell and list in a real browser: live refresh by htmx, the page with JavaScript off, axe-core."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Notification, Role
from portal.models.base import utcnow
from portal.services import sessions
from tests.e2e.helpers import axe, page_url, sign_in


def bell_name(text: str) -> re.Pattern:
    """The link's accessible name; chromium puts spaces round the visually hidden parts ("Notifications , 3 unread")."""
    return re.compile(r"^\s*" + r"\s*".join(map(re.escape, text.split())).replace(",", r"\s*,") + r"\s*$")


def add_notifications(app, user_id: int, count: int, prefix: str = "Message") -> None:
    with app.app_context():
        for i in range(count):
            db.session.add(
                Notification(
                    user_id=user_id,
                    subject=f"{prefix} {i + 1}",
                    body=f"Body {i + 1}.",
                    created_at=utcnow() - timedelta(minutes=count - i),
                )
            )
        db.session.commit()


def test_the_bell_refreshes_itself_every_minute(app, page, user_factory):
    user = user_factory(Role.OFFICER)
    add_notifications(app, user.id, 1)
    page.clock.install()
    sign_in(page, user)
    bell = page.locator("#notification-bell a")
    expect(bell).to_have_accessible_name(bell_name("Notifications, 1 unread"))
    title = page.title()

    add_notifications(app, user.id, 2, prefix="Later")
    with page.expect_response("**/notifications/count"):
        page.clock.fast_forward("01:01")
    expect(bell).to_have_accessible_name(bell_name("Notifications, 3 unread"))
    assert page.title() == title
    assert page.locator("#notification-bell").count() == 1


def test_when_the_session_has_ended_the_refresh_takes_the_whole_page_to_sign_in(app, page, user_factory):
    user = user_factory(Role.OFFICER)
    page.clock.install()
    sign_in(page, user)
    with app.app_context():
        sessions.end_all_sessions(user, sessions.EndReason.SIGNED_OUT_EVERYWHERE)
        db.session.commit()

    with page.expect_response("**/sign-in**"):
        page.clock.fast_forward("01:01")

    # Not the sign-in form swapped into the header: the page itself is the sign-in page, saying why.
    expect(page).to_have_url(page_url(page, "/sign-in"))
    expect(page.locator("#notification-bell")).to_have_count(0)
    expect(page.locator(".govuk-notification-banner")).to_contain_text("signed out on every device")


def test_the_list_and_the_bell_pass_axe(app, page, user_factory):
    user = user_factory(Role.OFFICER)
    add_notifications(app, user.id, 30)
    sign_in(page, user)
    page.locator("#notification-bell a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.locator(".govuk-pagination")).to_be_visible()
    axe(page)


def test_mark_all_read_works_with_javascript_off(app, no_js_page, user_factory):
    user = user_factory(Role.OFFICER)
    add_notifications(app, user.id, 2)
    sign_in(no_js_page, user)
    no_js_page.get_by_role("link", name=bell_name("Notifications, 2 unread")).click()
    no_js_page.get_by_role("button", name="Mark all as read").click()
    expect(no_js_page.locator(".govuk-notification-banner")).to_contain_text("2 notifications marked as read.")
    expect(no_js_page.locator("#notification-bell a")).to_have_accessible_name(bell_name("Notifications"))
