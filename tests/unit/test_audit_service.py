"""Reading the audit trail: filters, London dates, pages, order, and what is shown of an event's details."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.extensions import db
from portal.models import AuditEvent, Role
from portal.services import audit
from portal.services.audit import Events, search_events, shown_details
from tests.factories import make_user
from tests.helpers import count_queries

BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def add(event=Events.SIGN_IN_SUCCEEDED, at=BASE, **fields) -> AuditEvent:
    entry = audit.record(event, **fields)
    entry.occurred_at = at
    db.session.commit()
    return entry


def ids(page) -> list[int]:
    return [entry.id for entry in page.items]


def test_no_filters_gives_every_event_newest_first_ties_by_id(app_context):
    old = add(at=BASE - timedelta(days=1))
    tie_first = add(at=BASE)
    tie_second = add(at=BASE)
    new = add(at=BASE + timedelta(minutes=1))
    page = search_events()
    assert ids(page) == [new.id, tie_second.id, tie_first.id, old.id]
    assert page.total == 4 and page.pages == 1 and page.page == 1


def test_filters_by_event(app_context):
    refused = add(Events.ACCESS_REFUSED)
    add(Events.SIGN_IN_FAILED)
    add(Events.SIGN_IN_SUCCEEDED)
    page = search_events(event=Events.ACCESS_REFUSED)
    assert ids(page) == [refused.id]
    assert page.total == 1


def test_filters_by_part_of_the_actor_label_ignoring_case(app_context):
    alice = add(actor_label="alice.jones@council.gov.uk")
    add(actor_label="bob@provider.example")
    add(actor_label="anonymous")
    assert ids(search_events(actor="  ALICE.Jones@COUNCIL ")) == [alice.id]
    assert ids(search_events(actor="gov.uk")) == [alice.id]
    assert search_events(actor="carol").total == 0


def test_actor_text_is_matched_literally_not_as_a_pattern(app_context):
    add(actor_label="alice@example.org")
    underscored = add(actor_label="a_b@example.org")
    assert search_events(actor="%").total == 0
    assert ids(search_events(actor="a_b")) == [underscored.id]


def test_actor_filter_also_finds_events_of_a_user_by_their_current_email(app_context):
    user = make_user(Role.MANAGER, email="old.name@council.gov.uk")
    before = add(actor=user)  # labelled with the email of the time
    user.email = "new.name@council.gov.uk"
    db.session.commit()
    after = add(actor=user)
    assert ids(search_events(actor="new.name")) == [after.id, before.id]
    assert ids(search_events(actor="old.name")) == [before.id]


def test_date_range_is_london_calendar_days_in_summer_time(app_context):
    # 1 July 2026 in London (BST, UTC+1) runs from 30 June 23:00 UTC to 1 July 23:00 UTC.
    last_of_june = add(at=datetime(2026, 6, 30, 22, 59, tzinfo=UTC))  # 23:59 BST on 30 June
    first_minute = add(at=datetime(2026, 6, 30, 23, 0, tzinfo=UTC))  # 00:00 BST on 1 July
    last_minute = add(at=datetime(2026, 7, 1, 22, 59, tzinfo=UTC))  # 23:59 BST on 1 July
    next_day = add(at=datetime(2026, 7, 1, 23, 0, tzinfo=UTC))  # 00:00 BST on 2 July
    one_day = search_events(date_from=date(2026, 7, 1), date_to=date(2026, 7, 1))
    assert ids(one_day) == [last_minute.id, first_minute.id]
    assert ids(search_events(date_to=date(2026, 6, 30))) == [last_of_june.id]
    assert ids(search_events(date_from=date(2026, 7, 2))) == [next_day.id]


def test_date_range_in_winter_is_utc_days(app_context):
    add(at=datetime(2026, 1, 14, 23, 59, tzinfo=UTC))
    inside = add(at=datetime(2026, 1, 15, 0, 0, tzinfo=UTC))
    last = add(at=datetime(2026, 1, 16, 23, 59, 59, tzinfo=UTC))
    add(at=datetime(2026, 1, 17, 0, 0, tzinfo=UTC))
    assert ids(search_events(date_from=date(2026, 1, 15), date_to=date(2026, 1, 16))) == [last.id, inside.id]


def test_filters_combine(app_context):
    wanted = add(Events.ACCESS_REFUSED, actor_label="pat@provider.example", at=datetime(2026, 5, 5, 9, tzinfo=UTC))
    add(Events.ACCESS_REFUSED, actor_label="sam@provider.example", at=datetime(2026, 5, 5, 9, tzinfo=UTC))
    add(Events.SIGN_IN_FAILED, actor_label="pat@provider.example", at=datetime(2026, 5, 5, 9, tzinfo=UTC))
    add(Events.ACCESS_REFUSED, actor_label="pat@provider.example", at=datetime(2026, 5, 6, 9, tzinfo=UTC))
    page = search_events(event=Events.ACCESS_REFUSED, actor="pat", date_from=date(2026, 5, 5), date_to=date(2026, 5, 5))
    assert ids(page) == [wanted.id]


def test_pages_count_and_slice_newest_first(app_context):
    entries = [add(at=BASE + timedelta(minutes=n)) for n in range(7)]
    newest_first = [entry.id for entry in reversed(entries)]
    first = search_events(per_page=3)
    assert (first.total, first.pages, first.page) == (7, 3, 1)
    assert ids(first) == newest_first[:3]
    assert not first.has_previous and first.has_next
    last = search_events(page=3, per_page=3)
    assert ids(last) == newest_first[6:]
    assert last.has_previous and not last.has_next


@pytest.mark.parametrize(("asked", "given"), [(0, 1), (-4, 1), (99, 2)])
def test_a_page_out_of_range_is_the_nearest_page(app_context, asked, given):
    for n in range(4):
        add(at=BASE + timedelta(minutes=n))
    page = search_events(page=asked, per_page=3)
    assert page.page == given
    assert page.items


def test_an_empty_trail_is_one_empty_page(app_context):
    page = search_events(event=Events.ACCOUNT_LOCKED)
    assert (page.total, page.pages, page.page, page.items) == (0, 1, 1, [])


def test_one_count_and_one_select_with_the_actor_joined(app_context):
    user = make_user(Role.OFFICER)
    for n in range(12):
        add(actor=user, at=BASE + timedelta(minutes=n))
    email = user.email
    db.session.expunge_all()
    with count_queries(db.engine) as counter:
        page = search_events(actor="example", per_page=10)
        emails = {entry.actor.email for entry in page.items}  # must not load each actor
    assert counter.count == 2, counter.statements
    assert emails == {email}


def test_shown_details_hide_anything_that_looks_secret(app_context):
    entry = add(method="authenticator app", password="hunter2", recovery_code="1a2b3-c4d5e", sessions_ended=2)
    lines = dict(shown_details(entry))
    assert lines == {
        "Method": "authenticator app",
        "Password": "[hidden]",
        "Recovery code": "[hidden]",
        "Sessions ended": "2",
    }


def test_every_event_name_is_listed_once(app_context):
    names = Events.all()
    assert Events.ACCESS_REFUSED in names
    assert len(names) == len(set(names)) and names == sorted(names)
