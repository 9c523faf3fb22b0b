"""The SLA page and its printable copy through the test client: who may see which SLA, what the page shows, the
printable view's content and print stylesheet, and a statement count that does not grow with lots, sections or
versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import Role, SlaComment, SlaStatus, SlaTemplateSection
from tests.factories import ProviderFactory, make_lots, make_user
from tests.factories_slas import make_sla, make_template
from tests.helpers import count_queries, start_session

NOW = datetime(2026, 11, 10, 10, tzinfo=UTC)


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@dataclass
class World:
    provider_id: int
    sla_id: int
    previous_id: int
    draft_id: int
    manager: str
    provider_user: str
    other_provider_user: str
    officer: str
    signer: str


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        template = make_template(title="AP DPS terms 2026")
        template.sections[0].body = 'Qualified staff. <script>alert("x")</script> [bad](javascript:alert(1))'
        db.session.commit()
        provider = ProviderFactory(name="Brook Learning")
        other = ProviderFactory(name="Other Provider")
        lots = make_lots(2)
        manager = make_user(Role.MANAGER, name="Mina Manager")
        signer = make_user(Role.PROVIDER, provider=provider, name="Sam Signer")
        first = make_sla(provider, lots[:1], status=SlaStatus.SUPERSEDED, template_id=template.id)
        current = make_sla(
            provider,
            lots,
            previous_id=first.id,
            template_id=template.id,
            caps=(Decimal("180.00"), Decimal("95.50"), Decimal("1250.00")),
            accepted_by_id=signer.id,
            approved_by_id=manager.id,
            signatory_name="Pat Director",
            signatory_role="Head of Centre",
            accepted_ip="203.0.113.7",
        )
        db.session.add(
            SlaComment(
                sla_id=current.id,
                by_id=manager.id,
                returned_from=SlaStatus.ACCEPTED,
                comment="Please check the hourly rate.",
                at=datetime(2024, 3, 1, 9, tzinfo=UTC),
            )
        )
        db.session.commit()
        draft = make_sla(provider, lots, status=SlaStatus.DRAFT, previous_id=current.id, template_id=template.id)
        for lot in draft.lots:
            lot.max_day_rate = lot.max_session_rate = lot.max_hour_rate = None
        db.session.commit()
        return World(
            provider_id=provider.id,
            sla_id=current.id,
            previous_id=first.id,
            draft_id=draft.id,
            manager=manager.email,
            provider_user=signer.email,
            other_provider_user=make_user(Role.PROVIDER, provider=other).email,
            officer=make_user(Role.OFFICER).email,
            signer=signer.email,
        )


def _client(app, email: str):
    client = app.test_client()
    start_session(client, email)
    return client


# ---- Access ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/print"])
def test_the_manager_and_the_providers_own_users_see_it(app, world, suffix):
    assert _client(app, world.manager).get(f"/slas/{world.sla_id}{suffix}").status_code == 200
    assert _client(app, world.provider_user).get(f"/slas/{world.sla_id}{suffix}").status_code == 200


@pytest.mark.parametrize("suffix", ["", "/print"])
def test_another_providers_users_get_not_found(app, world, suffix):
    client = _client(app, world.other_provider_user)
    response = client.get(f"/slas/{world.sla_id}{suffix}")
    assert response.status_code == 404
    assert "Brook Learning" not in _text(response)
    # The same as for an SLA that does not exist: nothing is confirmed.
    assert client.get(f"/slas/{world.sla_id + 1000}{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", ["", "/print"])
def test_officers_are_refused_by_role(app, world, suffix):
    response = _client(app, world.officer).get(f"/slas/{world.sla_id}{suffix}")
    assert response.status_code == 403
    assert "Brook Learning" not in _text(response)


def test_a_missing_sla_is_not_found_for_the_manager(app, world):
    assert _client(app, world.manager).get(f"/slas/{world.sla_id + 1000}").status_code == 404


# ---- The page ----------------------------------------------------------------------------------------------------------


def test_the_page_shows_the_whole_sla(app, world):
    page = _text(_client(app, world.manager).get(f"/slas/{world.sla_id}"))
    assert '<h1 class="govuk-heading-l">Brook Learning</h1>' in page
    assert re.search(rf'Version 2, varying <a class="govuk-link" href="/slas/{world.previous_id}">version 1</a>', page)
    assert '<strong class="govuk-tag govuk-tag--green">Active</strong>' in page
    # The term ends on the DPS's legal end, before the arrangement's own end date, and says why.
    assert "1 April 2024 to 23 February 2029" in page
    assert "the DPS must end by 23 February 2029" in page
    # Rates per lot, as money.
    assert "Lot 1: Lot title 1" in page and "Lot 2: Lot title 2" in page
    assert page.count("£180.00") == 2 and page.count("£95.50") == 2 and page.count("£1,250.00") == 2
    # KPIs with their targets (and the performance partial).
    assert "Attendance recorded the same day" in page and "95%" in page
    assert "KPI performance so far" in page
    # The terms, each section rendered safely.
    assert "Version 1 of the terms: AP DPS terms 2026." in page or "of the terms: AP DPS terms 2026." in page
    for heading in ("Service standards", "Reporting", "Safeguarding", "Data protection", "Invoicing", "Termination"):
        assert f". {heading}</h3>" in page
    assert "<strong>the same day</strong>" in page
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    # Signatures and approval.
    assert "Pat Director, Head of Centre" in page
    assert f"by Sam Signer ({world.signer})" in page
    assert "Mina Manager, Vulnerable Learners Support Manager" in page
    # Comments, the checksum and the other versions.
    assert "Please check the hourly rate." in page
    assert "This version reads exactly as it was sent (SHA-256" in page
    assert f'href="/slas/{world.draft_id}">Version 3</a>' in page
    assert f'href="/slas/{world.previous_id}">Version 1</a>' in page
    assert f'href="/slas/{world.sla_id}/print"' in page
    assert 'media="print"' in page


def test_the_ip_address_of_the_acceptance_is_shown_to_the_manager_only(app, world):
    assert "203.0.113.7" in _text(_client(app, world.manager).get(f"/slas/{world.sla_id}"))
    provider_page = _text(_client(app, world.provider_user).get(f"/slas/{world.sla_id}"))
    assert "Pat Director" in provider_page
    assert "203.0.113.7" not in provider_page
    assert "203.0.113.7" not in _text(_client(app, world.provider_user).get(f"/slas/{world.sla_id}/print"))


def test_a_draft_shows_rates_not_set_and_no_checksum_yet(app, world):
    page = _text(_client(app, world.manager).get(f"/slas/{world.draft_id}"))
    assert page.count(">not set</td>") == 6
    assert "This version has not been sent yet" in page
    assert "Not accepted yet" in page and "Not approved yet" in page
    assert '<strong class="govuk-tag govuk-tag--grey">Draft</strong>' in page


def test_a_changed_sla_is_flagged(app, world):
    with app.app_context():
        db.session.execute(
            sa.update(SlaTemplateSection)
            .where(SlaTemplateSection.heading == "Invoicing")
            .values(body="Invoice weekly, in advance.")
        )
        db.session.commit()
    page = _text(_client(app, world.manager).get(f"/slas/{world.sla_id}"))
    assert "This version does not read as it was sent" in page
    assert "This version reads exactly as it was sent" not in page


def test_a_terminated_sla_shows_its_date_and_reason(app, world):
    with app.app_context():
        sla = make_sla(
            ProviderFactory(name="Ending Ltd"),
            make_lots(1),
            status=SlaStatus.TERMINATED,
            terminated_on=date(2026, 12, 31),
            terminated_at=datetime(2026, 11, 1, 12, tzinfo=UTC),
            termination_reason="Removed from the DPS after an inspection.",
        )
        sla_id = sla.id
    page = _text(_client(app, world.manager).get(f"/slas/{sla_id}"))
    assert "Termination" in page
    assert "31 December 2026" in page
    assert "Removed from the DPS after an inspection." in page
    assert "Active (terminating)" in page
    assert "1 April 2024 to 31 December 2026" in page


def test_an_sla_ending_within_90_days_is_flagged(app, world, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: datetime(2028, 12, 20, 10, tzinfo=UTC))
    page = _text(_client(app, world.manager).get(f"/slas/{world.sla_id}"))
    assert "Expiring soon" in page
    monkeypatch.setattr(clock, "now", lambda: NOW)
    assert "Expiring soon" not in _text(_client(app, world.manager).get(f"/slas/{world.sla_id}"))


def test_the_page_changes_nothing(app, world):
    client = _client(app, world.manager)
    client.get(f"/slas/{world.sla_id}")  # the session's first page after signing in
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as counter:
        assert client.get(f"/slas/{world.sla_id}").status_code == 200
        assert client.get(f"/slas/{world.sla_id}/print").status_code == 200
    writes = [s for s in counter.statements if re.match(r"\s*(INSERT|UPDATE|DELETE)", s, re.I) and "sla" in s.lower()]
    assert writes == []


# ---- The printable view ------------------------------------------------------------------------------------------------


def test_the_printable_view_has_the_whole_sla_and_no_chrome(app, world):
    page = _text(_client(app, world.provider_user).get(f"/slas/{world.sla_id}/print"))
    for heading in ("Service standards", "Reporting", "Safeguarding", "Data protection", "Invoicing", "Termination"):
        assert f". {heading}</h3>" in page
    assert page.count("£180.00") == 2 and page.count("£1,250.00") == 2
    assert "Pat Director, Head of Centre" in page
    assert "Mina Manager, Vulnerable Learners Support Manager" in page
    assert "Attendance recorded the same day" in page and "95%" in page
    assert "1 April 2024 to 23 February 2029" in page
    # A print stylesheet, a print button that needs JavaScript (so hidden without it), the checksum at the foot.
    assert re.search(r'<link rel="stylesheet" href="/static/print\.css[^"]*" media="print">', page)
    assert "data-print-page hidden" in page
    assert "Print or save as PDF" in page
    with app.app_context():
        from portal.models import Sla

        stored = db.session.get(Sla, world.sla_id).checksum
    assert f'SHA-256 checksum of this version as sent: <code class="app-checksum">{stored}</code>' in page
    # No navigation, header or footer.
    assert "govuk-service-navigation" not in page
    assert "govuk-header" not in page
    assert "govuk-footer" not in page
    assert "govuk-phase-banner" not in page
    assert "<script>alert" not in page


def test_the_print_stylesheet_hides_the_chrome_and_keeps_rows_together(app):
    response = app.test_client().get("/static/print.css")
    css = _text(response)
    response.close()
    assert "@media print" in css
    for selector in (".govuk-header", ".govuk-footer", ".govuk-service-navigation", ".govuk-button", ".app-no-print"):
        assert selector in css
    assert "page-break-inside: avoid" in css and "break-after: avoid" in css


# ---- Statements ----------------------------------------------------------------------------------------------------------


def _statements(app, client, sla_id: int, suffix: str = "") -> int:
    client.get(f"/slas/{sla_id}{suffix}")
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as counter:
        assert client.get(f"/slas/{sla_id}{suffix}").status_code == 200
    return counter.count


@pytest.mark.parametrize("suffix", ["", "/print"])
def test_the_statement_count_does_not_grow_with_lots_sections_or_versions(app, world, suffix):
    with app.app_context():
        small_sla = make_sla(ProviderFactory(name="Small"), make_lots(1)).id
        big_template = make_template()
        big_template.sections += [
            SlaTemplateSection(position=n, heading=f"Extra {n}", body=f"Body {n}") for n in range(7, 20)
        ]
        db.session.commit()
        big_provider = ProviderFactory(name="Big")
        lots = make_lots(5)
        previous = None
        for _ in range(4):
            older = make_sla(
                big_provider,
                lots,
                status=SlaStatus.SUPERSEDED,
                template_id=big_template.id,
                previous_id=previous,
            )
            previous = older.id
        big_sla = make_sla(big_provider, lots, template_id=big_template.id, previous_id=previous).id
    client = _client(app, world.manager)
    small = _statements(app, client, small_sla, suffix)
    big = _statements(app, client, big_sla, suffix)
    assert big == small
    page = _text(client.get(f"/slas/{big_sla}{suffix}"))
    assert "Extra 19" in page and "Lot 5: Lot title 5" in page
