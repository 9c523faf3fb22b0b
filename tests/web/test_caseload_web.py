"""The placement lists through the test client: the officer's caseload, the manager's placements and the provider's
today, with their flags, filters (plain GET and htmx), links, access per object, the audited names and query counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Placement, Role
from portal.services.audit import Events
from tests.factories import make_user
from tests.helpers import count_queries, sign_in
from tests.unit.test_caseload_service import TODAY, alert, concern, end, mark, marks, place, report, world

# 10:00 in London on TODAY (a Wednesday in February: GMT).
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _rows(html: str) -> list[str]:
    body = html.split('<tbody class="govuk-table__body">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", body, re.S)


def _listed_events(app) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.event == Events.CHILD_RECORDS_LISTED).order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def caseload_world(app):
    """An officer with four placements (a concern, a low attendance, an overdue review, a calm one), a colleague's
    placement in the same service, another service's, and an ended one."""
    with app.app_context():
        w = world()
        calm = place(w)
        low = place(w)
        marks(low, attended=7, absent=3)
        overdue = place(w, next_review_due=TODAY - timedelta(days=2))
        worried = place(w)
        concern(worried)
        colleague = make_user(Role.OFFICER, service=w.officer.service)
        colleagues = place(w, officer=colleague)
        other = world()
        elsewhere = place(other)
        ended = place(w)
        end(ended)
        children = {
            p.id: f"{p.referral.child.first_name} {p.referral.child.last_name}"
            for p in (calm, low, overdue, worried, colleagues, elsewhere, ended)
        }
        return {
            "officer": w.officer.email,
            "provider_user": w.provider_user.email,
            "other_provider_user": other.provider_user.email,
            "calm": calm.id,
            "low": low.id,
            "overdue": overdue.id,
            "worried": worried.id,
            "colleagues": colleagues.id,
            "elsewhere": elsewhere.id,
            "ended": ended.id,
            "names": children,
        }


def test_the_officer_sees_their_caseload_most_urgent_first_with_flags(client, app, caseload_world):
    data = caseload_world
    sign_in(client, data["officer"])
    response = client.get("/officer/placements")
    assert response.status_code == 200
    html = _text(response)
    assert "<caption" in html and '<th scope="col" class="govuk-table__header">Flags</th>' in html
    rows = _rows(html)
    order = [data["worried"], data["overdue"], data["low"], data["calm"]]
    assert len(rows) == 4
    for row, placement_id in zip(rows, order, strict=True):
        assert f'href="/placements/{placement_id}"' in row
        assert data["names"][placement_id] in row
    assert "govuk-tag--red" in rows[0] and "Concern open" in rows[0]
    assert "Review overdue" in rows[1] and "Report overdue" in rows[1]
    assert "Attendance under 90%" in rows[2] and "govuk-tag--orange" in rows[2] and "70%" in rows[2]
    assert "No sessions yet" in rows[3] and "None" in rows[3]
    for hidden in ("colleagues", "elsewhere", "ended"):
        assert f'href="/placements/{data[hidden]}"' not in html
    # The navigation links here.
    assert 'href="/officer/placements"' in html and ">Placements<" in html


def test_one_audit_event_per_page_view_names_the_children_listed(client, app, caseload_world):
    data = caseload_world
    sign_in(client, data["officer"])
    client.get("/officer/placements")
    (event,) = _listed_events(app)
    with app.app_context():
        expected = sorted(
            db.session.scalars(
                sa.select(Placement.child_id).where(
                    Placement.id.in_([data["worried"], data["overdue"], data["low"], data["calm"]])
                )
            )
        )
    assert event.details == {"child_ids": expected, "purpose": "officer caseload"}
    client.get("/officer/placements")
    assert len(_listed_events(app)) == 2


def test_the_filters_work_as_a_plain_get_form(client, app, caseload_world):
    data = caseload_world
    sign_in(client, data["officer"])
    html = _text(client.get("/officer/placements?scope=service"))
    assert f'href="/placements/{data["colleagues"]}"' in html
    assert f'href="/placements/{data["elsewhere"]}"' not in html
    html = _text(client.get("/officer/placements?status=ended"))
    assert [f'href="/placements/{data["ended"]}"' in row for row in _rows(html)] == [True]
    assert "None (ended)" in html
    html = _text(client.get("/officer/placements?flag=concern"))
    assert len(_rows(html)) == 1 and data["names"][data["worried"]] in html
    html = _text(client.get("/officer/placements?flag=any"))
    assert len(_rows(html)) == 3
    html = _text(client.get("/officer/placements?flag=absence"))
    assert "No placements match" in html
    # The chosen filters stay chosen.
    assert '<option selected value="absence">' in html or 'value="absence" selected' in html


def test_an_unknown_filter_is_shown_next_to_the_field_and_nothing_listed(client, app, caseload_world):
    sign_in(client, caseload_world["officer"])
    response = client.get("/officer/placements?flag=nonsense&status=gone")
    assert response.status_code == 200
    html = _text(response)
    assert "govuk-error-summary" in html
    assert "Select a flag from the list" in html and "Select a status from the list" in html
    assert "Correct the filters to see placements" in html
    assert _listed_events(app) == []


def test_htmx_gets_only_the_results_region(client, app, caseload_world):
    sign_in(client, caseload_world["officer"])
    response = client.get(
        "/officer/placements?flag=concern", headers={"HX-Request": "true", "HX-Target": "caseload-results"}
    )
    html = _text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="caseload-results">')
    assert "<html" not in html and "Filter placements" not in html
    assert caseload_world["names"][caseload_world["worried"]] in html
    assert "HX-Target" in response.headers["Vary"]


def test_the_manager_sees_every_officers_placements_with_filters(client, app, caseload_world, user_factory):
    data = caseload_world
    manager = user_factory(Role.MANAGER)
    sign_in(client, manager.email)
    html = _text(client.get("/manager/placements"))
    assert '<th scope="col" class="govuk-table__header">Officer</th>' in html
    assert '<th scope="col" class="govuk-table__header">Service</th>' in html
    assert len(_rows(html)) == 6
    for key in ("calm", "low", "overdue", "worried", "colleagues", "elsewhere"):
        assert f'href="/placements/{data[key]}"' in html
    with app.app_context():
        elsewhere = db.session.get(Placement, data["elsewhere"])
        provider_id, service_id, lot_id = elsewhere.provider_id, elsewhere.service_id, elsewhere.lot_id
    for query in (f"provider={provider_id}", f"service={service_id}", f"lot={lot_id}"):
        rows = _rows(_text(client.get(f"/manager/placements?{query}")))
        assert len(rows) == 1 and f'href="/placements/{data["elsewhere"]}"' in rows[0], query
    assert len(_rows(_text(client.get("/manager/placements?flag=any")))) == 3
    assert len(_rows(_text(client.get("/manager/placements?status=all")))) == 7
    assert "Select a provider from the list" in _text(client.get("/manager/placements?provider=999999"))
    (event, *_) = _listed_events(app)
    assert event.details["purpose"] == "manager oversight of placements"


def test_the_provider_sees_todays_attendance_to_record_and_reports_due(client, app):
    with app.app_context():
        w = world()
        recorded = place(w)
        mark(recorded, TODAY, "am", "/")
        mornings = place(w, expected_sessions="mon-am tue-am wed-am thu-am fri-am", next_review_due=TODAY)
        report_done = place(w, next_review_due=TODAY + timedelta(days=3))
        report(report_done, TODAY + timedelta(days=3), w.provider_user)
        ended = place(w)
        end(ended)
        theirs = place(world())
        db.session.commit()
        email, ids = w.provider_user.email, (recorded.id, mornings.id, report_done.id, ended.id, theirs.id)
    recorded_id, mornings_id, report_done_id, ended_id, theirs_id = ids
    sign_in(client, email)
    response = client.get("/provider/placements")
    assert response.status_code == 200
    html = _text(response)
    rows = _rows(html)
    assert len(rows) == 3
    by_id = {pid: next(row for row in rows if f'href="/placements/{pid}"' in row) for pid in ids[:3]}
    cells = {pid: re.findall(r"<td class=\"govuk-table__cell\">(.*?)</td>", row, re.S) for pid, row in by_id.items()}
    # Morning and afternoon are the second and third cells (after the service).
    assert "/" in cells[recorded_id][1] and "recorded for the morning" in cells[recorded_id][1]
    assert "To record" in cells[recorded_id][2]
    assert "To record" in cells[mornings_id][1] and "Not expected" in cells[mornings_id][2]
    monday = "2027-02-08"
    for pid in ids[:3]:
        assert f'href="/placements/{pid}/attendance?week={monday}"' in by_id[pid]
    assert f'href="/placements/{mornings_id}/reports/new"' in by_id[mornings_id] and "Overdue" in by_id[mornings_id]
    assert "/reports/new" not in by_id[report_done_id]
    assert "/reports/new" not in by_id[recorded_id]
    assert f'href="/placements/{ended_id}"' not in html and f'href="/placements/{theirs_id}"' not in html
    (event,) = _listed_events(app)
    assert event.details["purpose"] == "provider placements and attendance"


def test_another_providers_user_sees_none_of_these_placements(client, app, caseload_world):
    sign_in(client, caseload_world["other_provider_user"])
    html = _text(client.get("/provider/placements"))
    assert len(_rows(html)) == 1
    assert f'href="/placements/{caseload_world["elsewhere"]}"' in html
    for key in ("calm", "low", "overdue", "worried", "colleagues"):
        assert caseload_world["names"][caseload_world[key]] not in html


def test_no_placements_yet(client, app, user_factory):
    sign_in(client, user_factory(Role.PROVIDER).email)
    assert "No active placements" in _text(client.get("/provider/placements"))
    officer_client = app.test_client()
    sign_in(officer_client, user_factory(Role.OFFICER).email)
    assert "No placements match" in _text(officer_client.get("/officer/placements"))
    assert _listed_events(app) == []


def _busy_world(app, count: int) -> dict:
    """``count`` placements of one officer and provider, each with marks, a report, a concern and an alert."""
    with app.app_context():
        w = world()
        for number in range(count):
            placement = place(w, next_review_due=TODAY + timedelta(days=number % 20 - 5))
            marks(placement, attended=8, absent=number % 3)
            report(placement, placement.next_review_due, w.provider_user)
            if number % 2:
                concern(placement)
            if number % 3:
                alert(placement)
        return {"officer": w.officer.email, "provider": w.provider_user.email}


@pytest.mark.parametrize(
    ("who", "path"),
    [("officer", "/officer/placements"), ("provider", "/provider/placements"), ("manager", "/manager/placements")],
)
def test_the_number_of_statements_does_not_grow_with_the_rows(app, user_factory, who, path):
    counts = []
    for size in (2, 30):
        people = _busy_world(app, size)
        email = user_factory(Role.MANAGER).email if who == "manager" else people[who]
        client = app.test_client()
        sign_in(client, email)
        client.get(path)  # warm up: first-request work is not the page's
        with app.app_context(), count_queries(db.engine) as counter:
            response = client.get(path)
        assert response.status_code == 200
        assert len(_rows(_text(response))) == min(size, 25)
        counts.append(counter.count)
        # Start the next size from empty tables.
        with app.app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    if table.name != "document_types":
                        conn.execute(table.delete())
    assert counts[0] == counts[1], counts
