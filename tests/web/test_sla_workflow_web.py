"""The SLA workflow through the test client: the manager's queue (approve and return inline with htmx, and as plain
forms), editing and sending a draft, varying and terminating; the provider's list, acceptance and return; access per
object (another provider's SLA is a 404); 409 pages for a refused state or a stale version; and the queue's
statement count whatever the number of SLAs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import render_template

from portal import clock
from portal.extensions import db
from portal.models import OutboxMessage, Role, Sla, SlaComment, SlaStatus
from portal.services.sla_workflow import kpi_field, rate_field
from tests.factories import ProviderFactory, make_lots, make_user
from tests.factories_slas import make_sla, make_template
from tests.helpers import count_queries, csrf_token, start_session

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true", "HX-Target": "sla-row-1"}


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def world(app):
    with app.app_context():
        make_template()
        lots = make_lots(2)
        provider = ProviderFactory(name="Bright Futures")
        other = ProviderFactory(name="Elsewhere Learning")
        return {
            "lots": [lot.id for lot in lots],
            "provider": provider.id,
            "other": other.id,
            "user": make_user(Role.PROVIDER, provider=provider).email,
            "outsider": make_user(Role.PROVIDER, provider=other).email,
            "manager": make_user(Role.MANAGER).email,
            "officer": make_user(Role.OFFICER).email,
        }


def _sla(app, world, status: SlaStatus, provider: str = "provider", **fields) -> int:
    with app.app_context():
        from portal.models import Lot, Provider

        lots = [db.session.get(Lot, lot_id) for lot_id in world["lots"]]
        return make_sla(db.session.get(Provider, world[provider]), lots, status=status, **fields).id


def _get(app, sla_id: int) -> Sla:
    with app.app_context():
        sla = db.session.get(Sla, sla_id)
        _ = (sla.lots, sla.comments, sla.kpis)
        db.session.expunge_all()
        return sla


def _client(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


def _post(client, url: str, data: dict | None = None, headers: dict | None = None):
    return client.post(url, data={"csrf_token": csrf_token(client), **(data or {})}, headers=headers or {})


# ---- The queue ------------------------------------------------------------------------------------------------------


def test_the_queue_shows_accepted_slas_with_inline_actions(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    _sla(app, world, SlaStatus.APPROVED, provider="other")
    client = _client(app, world["manager"])
    page = _text(client.get("/manager/slas"))
    assert 'id="sla-row-%d"' % sla_id in page
    assert f'action="/manager/slas/{sla_id}/approve"' in page and f'hx-post="/manager/slas/{sla_id}/approve"' in page
    assert f'action="/manager/slas/{sla_id}/return"' in page
    assert "Elsewhere Learning" not in page  # the approved one is on another tab
    assert "Elsewhere Learning" in _text(client.get("/manager/slas?tab=in-force"))
    assert "end within 90 days" not in page


def test_plain_approve_redirects_back_and_approves(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    version = _get(app, sla_id).version
    client = _client(app, world["manager"])
    response = _post(
        client, f"/manager/slas/{sla_id}/approve", {"version": version, "next": "/manager/slas?tab=awaiting-approval"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/manager/slas?tab=awaiting-approval"
    assert _get(app, sla_id).status is SlaStatus.APPROVED
    with app.app_context():
        user_mail = db.session.scalars(
            sa.select(OutboxMessage.subject).where(OutboxMessage.to_address == world["user"])
        )
        assert list(user_mail) == ["Your SLA (version 1) has been approved"]


def test_a_next_to_another_site_is_ignored(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    client = _client(app, world["manager"])
    response = _post(
        client, f"/manager/slas/{sla_id}/approve", {"version": _get(app, sla_id).version, "next": "//evil.example/"}
    )
    assert response.headers["Location"] == "/manager/slas"


def test_htmx_approve_answers_the_row(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    client = _client(app, world["manager"])
    response = _post(client, f"/manager/slas/{sla_id}/approve", {"version": _get(app, sla_id).version}, HTMX)
    assert response.status_code == 200
    body = _text(response).strip()
    assert body.startswith(f'<tr class="govuk-table__row" id="sla-row-{sla_id}">') and "<html" not in body
    assert "Approved version 1 of the SLA of Bright Futures" in body and "Active" in body
    assert "/approve" not in body  # no more actions on an approved row
    assert _get(app, sla_id).status is SlaStatus.APPROVED


def test_a_stale_approval_is_a_409_page_or_a_row_with_the_message(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    stale = _get(app, sla_id).version - 1
    client = _client(app, world["manager"])
    plain = _post(client, f"/manager/slas/{sla_id}/approve", {"version": stale})
    assert plain.status_code == 409 and "Someone else changed this SLA" in _text(plain)
    row = _post(client, f"/manager/slas/{sla_id}/approve", {"version": stale}, HTMX)
    assert row.status_code == 409 and "Someone else changed this SLA" in _text(row)
    assert _get(app, sla_id).status is SlaStatus.ACCEPTED


def test_approving_a_draft_is_refused_with_409(app, world):
    sla_id = _sla(app, world, SlaStatus.DRAFT)
    client = _client(app, world["manager"])
    response = _post(client, f"/manager/slas/{sla_id}/approve", {"version": _get(app, sla_id).version})
    assert response.status_code == 409 and "An SLA that is draft cannot become approved" in _text(response)
    assert _get(app, sla_id).status is SlaStatus.DRAFT


def test_a_provider_cannot_approve(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    client = _client(app, world["user"])
    response = _post(client, f"/manager/slas/{sla_id}/approve", {"version": _get(app, sla_id).version})
    assert response.status_code == 403
    assert _get(app, sla_id).status is SlaStatus.ACCEPTED


def test_return_with_comments_needs_a_comment_plain_and_htmx(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    version = _get(app, sla_id).version
    client = _client(app, world["manager"])
    plain = _post(client, f"/manager/slas/{sla_id}/return", {"version": version, "comment": "   "})
    assert plain.status_code == 200
    page = _text(plain)
    assert "There is a problem" in page and f'href="#comment-{sla_id}"' in page and "Enter your comments" in page
    row = _post(client, f"/manager/slas/{sla_id}/return", {"version": version, "comment": "x" * 2001}, HTMX)
    assert row.status_code == 200 and "2000 characters or fewer" in _text(row) and "x" * 2001 in _text(row)
    assert _get(app, sla_id).status is SlaStatus.ACCEPTED

    done = _post(client, f"/manager/slas/{sla_id}/return", {"version": version, "comment": "Fix lot 2's rates"}, HTMX)
    assert done.status_code == 200 and "Returned version 1" in _text(done)
    sla = _get(app, sla_id)
    assert sla.status is SlaStatus.DRAFT and [c.comment for c in sla.comments] == ["Fix lot 2's rates"]


def test_the_expiring_count_links_to_its_tab(app, world, monkeypatch):
    _sla(app, world, SlaStatus.APPROVED)
    monkeypatch.setattr(clock, "now", lambda: datetime(2028, 12, 1, 10, tzinfo=UTC))
    client = _client(app, world["manager"])
    page = _text(client.get("/manager/slas"))
    assert re.search(r'href="/manager/slas\?tab=expiring">1 SLA ends within 90 days</a>', page)
    expiring = _text(client.get("/manager/slas?tab=expiring"))
    assert "Bright Futures" in expiring and ">Expiring</strong>" in expiring


def test_the_queues_statement_count_does_not_grow_with_rows(app, world):
    client = _client(app, world["manager"])
    client.get("/manager/slas?tab=all")  # warm up (first request work)

    def add(count: int):
        with app.app_context():
            from portal.models import Lot

            lots = [db.session.get(Lot, lot_id) for lot_id in world["lots"]]
            for _ in range(count):
                make_sla(ProviderFactory(), lots, status=SlaStatus.ACCEPTED)

    def statements(tab: str) -> int:
        with app.app_context(), count_queries(db.engine) as counter:
            response = client.get(f"/manager/slas?tab={tab}")
        assert response.status_code == 200
        return counter.count

    add(2)
    few = {tab: statements(tab) for tab in ("awaiting-approval", "all")}
    add(28)
    many = {tab: statements(tab) for tab in ("awaiting-approval", "all")}
    assert few == many
    assert _text(client.get("/manager/slas?tab=all")).count('class="govuk-table__row" id="sla-row-') == 25


# ---- Editing, sending, varying, terminating -------------------------------------------------------------------------


def test_the_manager_edits_and_sends_a_draft(app, world):
    sla_id = _sla(app, world, SlaStatus.DRAFT, caps=(None, None, None))
    lot1, lot2 = world["lots"]
    client = _client(app, world["manager"])
    page = _text(client.get(f"/manager/slas/{sla_id}/edit"))
    assert f'name="{rate_field(lot1, "day")}"' in page and "Lot 1: Lot title 1" in page
    version = _get(app, sla_id).version
    data = {"version": version, **{kpi_field(kpi.kind): "90" for kpi in _get(app, sla_id).kpis}}
    data.update({rate_field(lot1, "day"): "-3", rate_field(lot1, "session"): "60", rate_field(lot2, "hour"): "abc"})
    refused = _post(client, f"/manager/slas/{sla_id}/edit", data)
    assert refused.status_code == 200
    text = _text(refused)
    assert "There is a problem" in text and "must be more than £0" in text and "must be an amount in pounds" in text
    assert 'value="-3"' in text and 'value="abc"' in text  # what was typed stays
    assert _get(app, sla_id).lots[0].max_session_rate is None  # nothing saved

    for lot in (lot1, lot2):
        data.update({rate_field(lot, "day"): "200", rate_field(lot, "session"): "100", rate_field(lot, "hour"): "40"})
    saved = _post(client, f"/manager/slas/{sla_id}/edit", data)
    assert saved.status_code == 302 and saved.headers["Location"] == f"/manager/slas/{sla_id}/edit"
    assert _get(app, sla_id).lots[1].max_hour_rate == Decimal("40.00")

    stale = _post(client, f"/manager/slas/{sla_id}/edit", data)  # the version sent before the save
    assert stale.status_code == 409 and "Someone else changed this SLA" in _text(stale)

    data["version"] = _get(app, sla_id).version
    data["send_now"] = "Save and send to the provider"
    sent = _post(client, f"/manager/slas/{sla_id}/edit", data)
    assert sent.status_code == 302 and sent.headers["Location"] == f"/slas/{sla_id}"
    assert _get(app, sla_id).status is SlaStatus.SENT


def test_sending_an_incomplete_draft_shows_what_is_missing(app, world):
    sla_id = _sla(app, world, SlaStatus.DRAFT, caps=(Decimal("100"), None, Decimal("20")))
    client = _client(app, world["manager"])
    response = _post(client, f"/manager/slas/{sla_id}/send", {"version": _get(app, sla_id).version})
    assert response.status_code == 200
    assert "Enter the maximum session rate for Lot 1: Lot title 1" in _text(response)
    assert _get(app, sla_id).status is SlaStatus.DRAFT


def test_an_accepted_sla_cannot_be_edited_only_varied(app, world):
    sla_id = _sla(app, world, SlaStatus.ACCEPTED)
    client = _client(app, world["manager"])
    page = client.get(f"/manager/slas/{sla_id}/edit")
    assert page.status_code == 409 and "cannot be edited" in _text(page) and 'name="lot_' not in _text(page)
    lot1 = world["lots"][0]
    posted = _post(
        client, f"/manager/slas/{sla_id}/edit", {"version": _get(app, sla_id).version, rate_field(lot1, "day"): "1"}
    )
    assert posted.status_code == 409
    assert _get(app, sla_id).lots[0].max_day_rate == Decimal("500.00")
    assert client.post(f"/manager/slas/{sla_id}/vary", data={"csrf_token": csrf_token(client)}).status_code == 409


def test_varying_an_approved_sla_makes_a_new_draft(app, world):
    sla_id = _sla(app, world, SlaStatus.APPROVED)
    client = _client(app, world["manager"])
    response = _post(client, f"/manager/slas/{sla_id}/vary")
    with app.app_context():
        draft_id = db.session.scalar(sa.select(Sla.id).where(Sla.previous_id == sla_id))
    assert response.status_code == 302 and response.headers["Location"] == f"/manager/slas/{draft_id}/edit"
    again = _post(client, f"/manager/slas/{sla_id}/vary")
    assert again.status_code == 409 and f'href="/manager/slas/{draft_id}/edit"' in _text(again)
    assert _get(app, sla_id).status is SlaStatus.APPROVED


def test_terminating_needs_a_date_and_a_reason(app, world):
    sla_id = _sla(app, world, SlaStatus.APPROVED)
    client = _client(app, world["manager"])
    assert client.get(f"/manager/slas/{sla_id}/terminate").status_code == 200
    version = _get(app, sla_id).version
    refused = _post(client, f"/manager/slas/{sla_id}/terminate", {"version": version, "reason": "Closing down"})
    assert refused.status_code == 200 and "Enter the last day of the SLA" in _text(refused)
    assert "Closing down" in _text(refused)
    late = _post(
        client,
        f"/manager/slas/{sla_id}/terminate",
        {"version": version, "reason": "Closing down", "terminated_on": ["1", "1", "2030"]},
    )
    assert late.status_code == 200 and "on or before the end of the term, 23 February 2029" in _text(late)
    done = _post(
        client,
        f"/manager/slas/{sla_id}/terminate",
        {"version": version, "reason": "Closing down", "terminated_on": ["31", "7", "2026"]},
    )
    assert done.status_code == 302
    sla = _get(app, sla_id)
    assert sla.status is SlaStatus.TERMINATED and sla.terminated_on == date(2026, 7, 31)
    assert client.get(f"/manager/slas/{sla_id}/terminate").status_code == 409


def test_manager_actions_on_an_sla_that_does_not_exist_are_404(app, world):
    client = _client(app, world["manager"])
    assert client.get("/manager/slas/999/edit").status_code == 404
    assert _post(client, "/manager/slas/999/approve", {"version": 1}).status_code == 404


# ---- The provider's side ----------------------------------------------------------------------------------------


def test_the_provider_lists_its_versions_with_a_banner(app, world):
    _sla(app, world, SlaStatus.APPROVED)
    sent_id = _sla(app, world, SlaStatus.SENT)
    _sla(app, world, SlaStatus.APPROVED, provider="other")
    client = _client(app, world["user"])
    page = _text(client.get("/provider/slas"))
    assert "Version 2 of your SLA is waiting for you to accept it" in page
    assert f'href="/provider/slas/{sent_id}/accept"' in page
    assert page.index("Version 2") < page.index(">Version 1<")
    assert page.count('class="govuk-table__row"') == 3  # the header and its own two versions, not the other's


def test_the_provider_accepts_with_a_signatory(app, world):
    sla_id = _sla(app, world, SlaStatus.SENT)
    client = _client(app, world["user"])
    page = client.get(f"/provider/slas/{sla_id}/accept")
    assert page.status_code == 200 and "I accept this SLA on behalf of Bright Futures" in _text(page)
    version = _get(app, sla_id).version
    refused = _post(client, f"/provider/slas/{sla_id}/accept", {"version": version, "signatory_role": "Director"})
    assert refused.status_code == 200
    assert "Enter the name of the person accepting the SLA" in _text(refused) and 'value="Director"' in _text(refused)
    done = _post(
        client,
        f"/provider/slas/{sla_id}/accept",
        {"version": version, "signatory_name": "Alex Lee", "signatory_role": "Director"},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/provider/slas"
    sla = _get(app, sla_id)
    assert sla.status is SlaStatus.ACCEPTED and sla.signatory_name == "Alex Lee" and sla.accepted_ip == "127.0.0.1"
    again = client.get(f"/provider/slas/{sla_id}/accept")
    assert again.status_code == 409 and "nothing to accept" in _text(again)


def test_another_providers_sla_is_a_404(app, world):
    sla_id = _sla(app, world, SlaStatus.SENT)
    client = _client(app, world["outsider"])
    version = _get(app, sla_id).version
    assert client.get(f"/provider/slas/{sla_id}/accept").status_code == 404
    data = {"version": version, "signatory_name": "A", "signatory_role": "B", "comment": "No"}
    assert _post(client, f"/provider/slas/{sla_id}/accept", data).status_code == 404
    assert _post(client, f"/provider/slas/{sla_id}/return", data).status_code == 404
    assert _get(app, sla_id).status is SlaStatus.SENT
    assert f"/slas/{sla_id}" not in _text(client.get("/provider/slas"))


def test_the_provider_returns_a_sent_sla_with_comments(app, world):
    sla_id = _sla(app, world, SlaStatus.SENT)
    client = _client(app, world["user"])
    version = _get(app, sla_id).version
    refused = _post(client, f"/provider/slas/{sla_id}/return", {"version": version, "comment": ""})
    assert (
        refused.status_code == 200
        and "Enter your comments" in _text(refused)
        and "There is a problem" in _text(refused)
    )
    done = _post(client, f"/provider/slas/{sla_id}/return", {"version": version, "comment": "Our hourly rate is 45"})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(SlaComment.comment)).all() == ["Our hourly rate is 45"]
    assert _get(app, sla_id).status is SlaStatus.DRAFT
    stale = _post(
        client, f"/provider/slas/{sla_id}/accept", {"version": version, "signatory_name": "A", "signatory_role": "B"}
    )
    assert stale.status_code == 409


# ---- The actions on the SLA page ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "who", "shown", "hidden"),
    [
        (SlaStatus.DRAFT, "manager", ["/edit", "/send"], ["/approve", "/accept"]),
        (SlaStatus.ACCEPTED, "manager", ["/approve", "/return"], ["/edit", "/vary"]),
        (SlaStatus.APPROVED, "manager", ["/vary", "/terminate"], ["/approve", "/edit"]),
        (SlaStatus.SENT, "user", ["/provider/slas/{id}/accept", "/provider/slas/{id}/return"], ["/manager/"]),
        (SlaStatus.SENT, "outsider", [], ["/accept", "/return"]),
        (SlaStatus.APPROVED, "user", [], ["/accept", "/vary"]),
    ],
)
def test_the_sla_pages_actions(app, world, status, who, shown, hidden):
    sla_id = _sla(app, world, status)
    with app.app_context(), app.test_request_context(f"/slas/{sla_id}"):
        from portal.models import User

        user = db.session.scalar(sa.select(User).where(User.email == world[who]))
        html = render_template(
            "slas/partials/sla_actions.html", sla=db.session.get(Sla, sla_id), current_user=user, today=NOW.date()
        )
    for url in shown:
        assert url.format(id=sla_id) in html
    for url in hidden:
        assert url not in html
