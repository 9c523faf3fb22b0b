"""The manager's audit page: the search by record (and with the other filters), the chain checked on demand, and the
search's events as CSV (BOM, one row per event found, the chain's columns). Only the manager may use either."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, Role
from portal.security import DOWNLOAD_CSP
from portal.services import audit
from portal.services.audit import Events, RecordRef, parse_record
from tests.helpers import count_queries, sign_in

BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Subject:
    """Anything audit.record can name as the subject: a table name and an id."""

    def __init__(self, table: str, ident: int):
        self.__tablename__ = table
        self.id = ident


@pytest.fixture
def manager_client(app, user_factory):
    manager = user_factory(Role.MANAGER)
    client = app.test_client()
    assert sign_in(client, manager.email).status_code == 302
    return client


@pytest.fixture
def trail(app) -> dict[str, int]:
    """A small trail: a child's record viewed through referral 12, the child in a list, other records' events."""
    made = {}
    with app.app_context():

        def add(name, event, minutes, **fields):
            entry = audit.record(event, **fields)
            entry.occurred_at = BASE + timedelta(minutes=minutes)
            db.session.flush()
            made[name] = entry.id

        add("viewed", Events.CHILD_RECORD_VIEWED, 0, actor_label="olive@example.test", subject=Subject("children", 7),
            referral_id=12, purpose="referral page")  # fmt: skip
        add("listed", Events.CHILD_RECORDS_LISTED, 1, actor_label="olive@example.test", child_ids=[3, 7, 70],
            purpose="caseload")  # fmt: skip
        add("other_list", Events.CHILD_RECORDS_LISTED, 2, actor_label="olive@example.test", child_ids=[70, 17],
            purpose="caseload")  # fmt: skip
        add(
            "published",
            Events.REFERRAL_PUBLISHED,
            3,
            actor_label="olive@example.test",
            subject=Subject("referrals", 12),
        )
        add("other_referral", Events.REFERRAL_PUBLISHED, 4, actor_label="olive@example.test",
            subject=Subject("referrals", 120))  # fmt: skip
        add("placement", Events.PLACEMENT_CREATED, 5, actor_label="pat@example.test", subject=Subject("placements", 12))
        add("sign_in", Events.SIGN_IN_SUCCEEDED, 60 * 24 * 3, actor_label="pat@example.test")
        db.session.commit()
    return made


def shown_ids(app, page: str) -> set[int]:
    """The events listed on the page, matched by their time (each fixture event has its own minute)."""
    times = set(re.findall(r'<td class="govuk-table__cell">([^<]*\d{4}[^<]*)</td>', page))
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent)).all()
        from portal.formatting import london_datetime

        return {row.id for row in rows if london_datetime(row.occurred_at) in times}


# --- Parsing what the manager types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("R00012", RecordRef("referrals", 12)),
        ("r12", RecordRef("referrals", 12)),
        ("P00012", RecordRef("placements", 12)),
        ("placements 12", RecordRef("placements", 12)),
        ("placement 12", RecordRef("placements", 12)),
        ("Child 7", RecordRef("children", 7)),
        ("children #7", RecordRef("children", 7)),
        ("provider 3", RecordRef("providers", 3)),
        ("compliance document 4", RecordRef("compliance_documents", 4)),
    ],
)
def test_parse_record(app_context, typed, expected):
    assert parse_record(typed) == expected


@pytest.mark.parametrize("typed", ["12", "X00012", "nonsense 4", "child", "child seven"])
def test_parse_record_refuses_what_it_cannot_read(app_context, typed):
    with pytest.raises(ValueError):
        parse_record(typed)


# --- The search -------------------------------------------------------------------------------------------------------


def test_search_by_child_finds_the_views_of_the_childs_record_and_the_lists_that_showed_it(app, manager_client, trail):
    page = manager_client.get("/manager/audit?record=child+7").get_data(as_text=True)
    assert "2 events" in page
    assert shown_ids(app, page) == {trail["viewed"], trail["listed"]}


def test_search_by_referral_reference_finds_its_events_and_the_child_views_through_it(app, manager_client, trail):
    page = manager_client.get("/manager/audit?record=R00012").get_data(as_text=True)
    assert shown_ids(app, page) == {trail["viewed"], trail["published"]}


def test_search_by_placement(app, manager_client, trail):
    page = manager_client.get("/manager/audit?record=P00012").get_data(as_text=True)
    assert shown_ids(app, page) == {trail["placement"]}


def test_record_combines_with_person_event_and_dates(app, manager_client, trail):
    page = manager_client.get(
        "/manager/audit?record=child+7&event=child+records+listed&actor=olive&date_from=10+3+2026&date_to=10+3+2026"
    ).get_data(as_text=True)
    assert shown_ids(app, page) == {trail["listed"]}
    page = manager_client.get("/manager/audit?record=child+7&actor=pat").get_data(as_text=True)
    assert "No events match" in page
    page = manager_client.get("/manager/audit?actor=pat&date_from=13+3+2026").get_data(as_text=True)
    assert shown_ids(app, page) == {trail["sign_in"]}


def test_an_unreadable_record_is_an_error_next_to_the_field_with_what_was_typed(manager_client, trail):
    response = manager_client.get("/manager/audit?record=the+blue+one")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "govuk-error-summary" in page and 'href="#record"' in page
    assert "Enter a record as a reference such as R00012" in page
    assert 'value="the blue one"' in page
    assert "Correct the filters to see events" in page


def test_a_too_long_record_is_refused(manager_client):
    page = manager_client.get("/manager/audit?record=" + "x" * 61).get_data(as_text=True)
    assert "Record must be 60 characters or fewer" in page


def test_the_record_search_keeps_to_two_statements(app, manager_client, trail):
    manager_client.get("/manager/audit?record=child+7")
    with app.app_context(), count_queries(db.engine) as few:
        manager_client.get("/manager/audit?record=child+7")
    with app.app_context():
        for n in range(30):
            audit.record(Events.CHILD_RECORDS_LISTED, actor_label=f"x{n}@example.test", child_ids=[7], purpose="p")
        db.session.commit()
    with app.app_context(), count_queries(db.engine) as many:
        page = manager_client.get("/manager/audit?record=child+7").get_data(as_text=True)
    assert "32 events" in page
    assert many.count == few.count


# --- The chain, checked on demand --------------------------------------------------------------------------------------


def test_the_chain_is_checked_only_when_asked(app, manager_client, trail):
    page = manager_client.get("/manager/audit").get_data(as_text=True)
    assert "The audit trail is intact" not in page
    assert 'href="/manager/audit?verify=1"' in page
    page = manager_client.get("/manager/audit?verify=1").get_data(as_text=True)
    # The trail and the manager's sign-in.
    assert f"The audit trail is intact: {len(trail) + 1} events checked." in page


def test_the_check_keeps_the_filters(manager_client, trail):
    page = manager_client.get("/manager/audit?actor=olive").get_data(as_text=True)
    assert 'href="/manager/audit?verify=1&amp;actor=olive"' in page


def test_a_broken_chain_is_named_on_the_page(app, manager_client, trail):
    with app.app_context():
        db.session.execute(sa.text("UPDATE audit_events SET reason = 'edited' WHERE id = :id"), {"id": trail["listed"]})
        db.session.commit()
    page = manager_client.get("/manager/audit?verify=1").get_data(as_text=True)
    assert "The audit trail has been tampered with" in page
    with app.app_context():
        seq = db.session.get(AuditEvent, trail["listed"]).seq
    assert f"event seq {seq} (id {trail['listed']}) was changed" in page
    assert "The audit trail is intact" not in page


# --- The CSV -------------------------------------------------------------------------------------------------------------


def read_csv(response) -> tuple[list[str], list[dict]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_csv_has_the_searchs_events_with_the_chain(app, manager_client, trail):
    page = manager_client.get("/manager/audit?record=child+7").get_data(as_text=True)
    assert 'href="/manager/audit.csv?record=child+7"' in page
    response = manager_client.get("/manager/audit.csv?record=child+7")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-trail.csv"' in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    header, rows = read_csv(response)
    assert "Seq" in header and "Hash" in header and "Previous hash" in header
    with app.app_context():
        found = audit.search_events(record=RecordRef("children", 7)).total
        chained = {e.id: e for e in db.session.scalars(sa.select(AuditEvent))}
    assert len(rows) == found == 2
    # Chain order (the manager's sign-in is seq 1).
    assert [row["Seq"] for row in rows] == [str(chained[trail["viewed"]].seq), str(chained[trail["listed"]].seq)]
    assert int(rows[0]["Seq"]) < int(rows[1]["Seq"])
    viewed = chained[trail["viewed"]]
    assert rows[0]["Hash"] == viewed.hash and rows[0]["Previous hash"] == viewed.prev_hash != ""
    assert rows[1]["Previous hash"] == viewed.hash
    assert rows[0]["Event"] == Events.CHILD_RECORD_VIEWED and rows[0]["Subject type"] == "children"
    assert "Referral id: 12" in rows[0]["Details"]


def test_the_csv_without_filters_has_every_event(manager_client, trail):
    _, rows = read_csv(manager_client.get("/manager/audit.csv"))
    # The trail, and the manager's own sign-in.
    assert len(rows) == len(trail) + 1
    assert [int(row["Seq"]) for row in rows] == list(range(1, len(rows) + 1))


def test_the_csv_neutralises_formulas(app, manager_client):
    with app.app_context():
        audit.record(Events.SIGN_IN_FAILED, actor_label='=HYPERLINK("http://evil")', reason="+1")
        db.session.commit()
    _, rows = read_csv(manager_client.get("/manager/audit.csv?event=sign-in+failed"))
    assert len(rows) == 1
    assert rows[0]["Who"] == '\'=HYPERLINK("http://evil")' and rows[0]["Reason"] == "'+1"


def test_the_csv_hides_secret_looking_details(app, manager_client):
    with app.app_context():
        audit.record(Events.PASSWORD_RESET, actor_label="x@example.test", reset_token="s3cr3t")
        db.session.commit()
    body = manager_client.get("/manager/audit.csv?event=password+reset").get_data(as_text=True)
    assert "s3cr3t" not in body and "Reset token: [hidden]" in body


def test_a_csv_with_wrong_filters_goes_back_to_the_page(manager_client):
    response = manager_client.get("/manager/audit.csv?record=the+blue+one")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/manager/audit?record=the")


@pytest.mark.parametrize("role", [Role.OFFICER, Role.PROVIDER], ids=lambda r: r.value)
@pytest.mark.parametrize("path", ["/manager/audit?record=child+7&verify=1", "/manager/audit.csv"])
def test_only_the_manager_may_search_or_export(app, user_factory, role, path):
    user = user_factory(role)
    client = app.test_client()
    sign_in(client, user.email)
    response = client.get(path)
    assert response.status_code == 403
    assert "text/csv" not in response.headers["Content-Type"]
