"""The notification list, "Mark all as read", and the bell in the header (a page and an htmx fragment)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from portal.extensions import db
from portal.models import Notification, Role
from portal.models.base import utcnow
from tests.helpers import count_queries, start_session

SUBJECT = re.compile(r'<h2 class="govuk-heading-s[^"]*">(.*?)</h2>', re.S)

def add_notifications(app, user_id: int, count: int, *, read: int = 0, prefix: str = "Message") -> None:
    """``count`` notifications for the user, a minute apart (the last one newest); the oldest ``read`` are read."""
    start = utcnow() - timedelta(minutes=count)
    with app.app_context():
        for i in range(count):
            db.session.add(
                Notification(
                    user_id=user_id,
                    subject=f"{prefix} {i + 1}",
                    body=f"Body of {prefix.lower()} {i + 1}.\n\nSecond paragraph.",
                    created_at=start + timedelta(minutes=i),
                    read_at=start if i < read else None,
                )
            )
        db.session.commit()


def text(html: str) -> str:
    """What a screen reader reads: the text without tags, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split()).replace(" ,", ",")


def bell(html: str) -> str:
    match = re.search(r'<span id="notification-bell".*?</a>\s*</span>', html, re.S)
    assert match, "no bell on the page"
    return match.group(0)


def signed_in_officer(app, client, user_factory):
    user = user_factory(Role.OFFICER)
    start_session(client, user.email)
    return user


def test_the_bell_in_the_header_shows_the_unread_count(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 4, read=1)
    add_notifications(app, user_factory(Role.OFFICER).id, 5)  # someone else's

    html = client.get("/officer/").get_data(as_text=True)

    the_bell = bell(html)
    assert text(the_bell) == "Notifications, 3 unread"
    assert '<span class="app-bell__count">3</span>' in the_bell
    assert 'href="/notifications/"' in the_bell
    assert 'hx-get="/notifications/count"' in the_bell and 'hx-trigger="every 60s"' in the_bell
    assert 'hx-swap="outerHTML' in the_bell


def test_with_nothing_unread_the_bell_is_a_plain_link(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 2, read=2)

    the_bell = bell(client.get("/officer/").get_data(as_text=True))

    assert text(the_bell) == "Notifications"
    assert "app-bell__count" not in the_bell


def test_the_count_endpoint_returns_only_the_bell_for_htmx(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 2)

    response = client.get("/notifications/count", headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = response.get_data(as_text=True).strip()
    assert html.startswith('<span id="notification-bell"') and html.endswith("</span>")
    assert "<html" not in html and "govuk-header" not in html
    assert text(html) == "Notifications, 2 unread"

    add_notifications(app, user.id, 1, prefix="Later")
    assert text(client.get("/notifications/count", headers={"HX-Request": "true"}).get_data(as_text=True)) == (
        "Notifications, 3 unread"
    )


def test_the_count_address_opened_without_htmx_goes_to_the_list(app, client, user_factory):
    signed_in_officer(app, client, user_factory)
    response = client.get("/notifications/count")
    assert response.status_code == 302 and response.headers["Location"] == "/notifications/"


def test_the_list_shows_only_the_users_own_notifications_newest_first(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 3, read=1, prefix="Mine")
    add_notifications(app, user_factory(Role.OFFICER).id, 3, prefix="Theirs")
    add_notifications(app, user_factory(Role.PROVIDER).id, 3, prefix="Provider")

    html = client.get("/notifications/").get_data(as_text=True)

    assert "Theirs" not in html and "Provider" not in html
    assert [text(s) for s in SUBJECT.findall(html)] == ["Unread Mine 3", "Unread Mine 2", "Mine 1"]
    assert "3 notifications, 2 unread." in text(html)
    assert "<p class=\"govuk-body\">Second paragraph.</p>" in html


def test_the_list_paginates_25_a_page(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 30)

    first = client.get("/notifications/").get_data(as_text=True)
    second = client.get("/notifications/?page=2").get_data(as_text=True)

    assert [text(s) for s in SUBJECT.findall(first)] == [f"Unread Message {n}" for n in range(30, 5, -1)]
    assert [text(s) for s in SUBJECT.findall(second)] == [f"Unread Message {n}" for n in range(5, 0, -1)]
    assert "<title>Notifications (page 1 of 2)" in first
    assert 'class="govuk-pagination' in first and 'href="/notifications/?page=2" rel="next"' in first
    assert 'href="/notifications/?page=1" rel="prev"' in second
    # A page out of range shows the nearest real page.
    assert "page 2 of 2" in client.get("/notifications/?page=3").get_data(as_text=True)
    assert "page 1 of 2" in client.get("/notifications/?page=0").get_data(as_text=True)


def test_an_empty_list_says_so_without_pagination(app, client, user_factory):
    signed_in_officer(app, client, user_factory)
    html = client.get("/notifications/").get_data(as_text=True)
    assert "You have no notifications" in html
    assert "govuk-pagination" not in html and "Mark all as read" not in html


def test_mark_all_read_without_javascript_empties_the_count(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    other = user_factory(Role.OFFICER)
    add_notifications(app, user.id, 3)
    add_notifications(app, other.id, 2)
    page = client.get("/notifications/").get_data(as_text=True)

    # Submit the form as a browser without JavaScript would: its action, its method, its fields.
    [form] = [f for f in re.finditer(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
              if "Mark all as read" in f.group(2)]
    assert form.group(1) == "/notifications/read" and "hx-" not in form.group(0)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', form.group(2)))
    response = client.post(form.group(1), data=fields)

    assert response.status_code == 302 and response.headers["Location"] == "/notifications/"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 notifications marked as read." in html
    assert text(bell(html)) == "Notifications"
    assert "govuk-tag--blue" not in html and "Mark all as read" not in html
    with app.app_context():
        from portal.services.notifications import unread_count

        assert unread_count(other.id) == 2  # someone else's stay unread


def test_mark_all_read_needs_the_csrf_token(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 1)
    assert client.post("/notifications/read").status_code == 400
    assert text(bell(client.get("/notifications/").get_data(as_text=True))) == "Notifications, 1 unread"


def test_the_list_runs_the_same_number_of_queries_for_3_or_30_notifications(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    with app.app_context():
        engine = db.engine

    def queries_for_page() -> int:
        with count_queries(engine) as counter:
            assert client.get("/notifications/").status_code == 200
        return counter.count

    add_notifications(app, user.id, 3)
    with_3 = queries_for_page()
    add_notifications(app, user.id, 27)
    with_30 = queries_for_page()
    assert with_3 == with_30
    assert with_3 <= 5  # the session, the unread count (once, though the header and the page both show it), the page


def test_the_header_counts_once_per_page(app, client, user_factory):
    user = signed_in_officer(app, client, user_factory)
    add_notifications(app, user.id, 2)
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as counter:
        client.get("/notifications/")
    counts = [s for s in counter.statements if "count(" in s.lower() and "notifications" in s.lower()]
    assert len(counts) == 2  # the unread count and the page's total


def test_signed_out_visitors_see_no_bell(client):
    assert "notification-bell" not in client.get("/sign-in").get_data(as_text=True)
