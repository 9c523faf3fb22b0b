"""The manager's SLA terms through the test client: the list of versions, a new version, changing the sections of a
version no SLA uses (plain form: save, add a section, remove one, errors beside the fields, a stale form refused with
409), and a used version read only (no form; a POST is 409 and saves nothing)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Role, SlaStatus, SlaTemplate
from portal.services.audit import Events
from tests.factories import ProviderFactory, make_lots
from tests.factories_slas import make_sla, make_template
from tests.helpers import count_queries, csrf_token, sign_in, start_session

NOW = datetime(2026, 11, 10, 10, tzinfo=UTC)


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def manager(app, user_factory):
    client = app.test_client()
    start_session(client, user_factory(Role.MANAGER).email)
    return client


@pytest.fixture
def template_id(app) -> int:
    with app.app_context():
        return make_template(title="AP DPS terms").id


def _sections(app, template_id: int) -> list[tuple[int, str, str]]:
    with app.app_context():
        template = db.session.get(SlaTemplate, template_id)
        return [(s.position, s.heading, s.body) for s in template.sections]


def _version(app, template_id: int) -> int:
    with app.app_context():
        return db.session.get(SlaTemplate, template_id).version


def _form(client, template_id: int) -> dict:
    """What the page's form sends as drawn (the hidden fields and every pair)."""
    page = _text(client.get(f"/manager/sla-terms/{template_id}"))
    data: dict = {"csrf_token": csrf_token(client)}
    for name in ("version", "count"):
        data[name] = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page).group(1)
    for name, value in re.findall(
        r'<input class="govuk-input[^"]*" id="(heading_\d+)" name="\1" type="text"(?: value="([^"]*)")?', page
    ):
        data[name] = value
    for name, value in re.findall(r'<textarea [^>]*name="(body_\d+)"[^>]*>\s*([^<]*)</textarea>', page):
        data[name] = value.strip()
    return data


# ---- The list ---------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_version_and_how_many_slas_use_it(app, manager, template_id):
    with app.app_context():
        lots = make_lots(1)
        make_sla(ProviderFactory(), lots, template_id=template_id)
        make_sla(ProviderFactory(), lots, status=SlaStatus.DRAFT, template_id=template_id)
        newer = make_template(title="AP DPS terms 2027").id
    page = _text(manager.get("/manager/sla-terms"))
    assert (
        f'href="/manager/sla-terms/{newer}">Version 2</a> <strong class="govuk-tag govuk-tag--blue">Latest</strong>'
        in page
    )
    assert f'href="/manager/sla-terms/{template_id}">Version 1</a>' in page
    assert "AP DPS terms 2027" in page
    cells = re.findall(r'<td class="govuk-table__cell govuk-table__cell--numeric">(\d+)</td>', page)
    assert cells == ["0", "2"]
    assert 'action="/manager/sla-terms/new"' in page


def test_the_manager_home_links_to_the_terms(manager):
    assert 'href="/manager/sla-terms"' in _text(manager.get("/manager/"))


def test_the_list_runs_the_same_statements_whatever_the_number_of_versions(app, manager):
    def statements() -> int:
        with app.app_context():
            engine = db.engine
        with count_queries(engine) as counter:
            assert manager.get("/manager/sla-terms").status_code == 200
        return counter.count

    with app.app_context():
        make_template()
    one = statements()
    with app.app_context():
        for _ in range(8):
            make_template()
    assert statements() == one


def test_the_list_paginates(app, manager):
    with app.app_context():
        for _ in range(27):
            make_template()
    first = _text(manager.get("/manager/sla-terms"))
    assert "Version 27</a>" in first and "Version 2</a>" not in first.replace("Version 27</a>", "")
    second = _text(manager.get("/manager/sla-terms?page=2"))
    assert "Version 1</a>" in second and "Version 2</a>" in second


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.OFFICER])
def test_only_the_manager_may_use_the_terms(app, user_factory, template_id, role):
    client = app.test_client()
    sign_in(client, user_factory(role).email)
    assert client.get("/manager/sla-terms").status_code == 403
    assert client.get(f"/manager/sla-terms/{template_id}").status_code == 403
    token = csrf_token(client)
    assert client.post("/manager/sla-terms/new", data={"csrf_token": token}).status_code == 403
    response = client.post(
        f"/manager/sla-terms/{template_id}",
        data={"csrf_token": token, "version": "1", "count": "1", "heading_1": "X", "body_1": "Y"},
    )
    assert response.status_code == 403
    assert _sections(app, template_id)[0][1] == "Service standards"


# ---- A new version ----------------------------------------------------------------------------------------------------


def test_a_new_version_copies_the_latest(app, manager, template_id):
    response = manager.post("/manager/sla-terms/new", data={"csrf_token": csrf_token(manager)})
    assert response.status_code == 302
    with app.app_context():
        new = db.session.scalar(sa.select(SlaTemplate).order_by(SlaTemplate.number.desc()).limit(1))
        new_id, number = new.id, new.number
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == Events.SLA_TERMS_VERSION_CREATED)
        ).all()
    assert number == 2
    assert response.headers["Location"] == f"/manager/sla-terms/{new_id}"
    assert [s[1:] for s in _sections(app, new_id)] == [s[1:] for s in _sections(app, template_id)]
    assert len(events) == 1
    page = _text(manager.get(response.headers["Location"]))
    assert "Version 2 of the terms made" in page
    assert "SLA terms, version 2 (the latest)" in page


def test_the_first_version_has_the_standard_sections(app, manager):
    response = manager.post("/manager/sla-terms/new", data={"csrf_token": csrf_token(manager)})
    page = _text(manager.get(response.headers["Location"]))
    for heading in ("Service standards", "Reporting duties", "Safeguarding duties", "Data protection", "Invoicing"):
        assert f". {heading}</h3>" in page


# ---- Changing an unused version -------------------------------------------------------------------------------------


def test_an_unused_version_offers_the_form_with_an_empty_section_to_add(manager, template_id):
    page = _text(manager.get(f"/manager/sla-terms/{template_id}"))
    assert "No SLA uses this version yet" in page
    assert 'name="heading_1" type="text" value="Service standards"' in page
    assert 'id="heading_7" name="heading_7" type="text"' in page
    assert 'name="heading_8"' not in page
    assert "Section 7 (new)" in page
    assert 'name="remove_1"' in page and 'for="remove_1"' in page
    assert 'for="heading_1"' in page and 'for="body_1"' in page
    assert 'name="add_section"' in page
    # The terms as they read, rendered.
    assert "<strong>the same day</strong>" in page


def test_saving_changes_removes_and_adds_sections(app, manager, template_id):
    data = _form(manager, template_id)
    data["heading_1"] = "Standards of service"
    data["remove_3"] = "y"
    data["heading_7"] = "Complaints"
    data["body_7"] = "Use the **complaints** policy."
    response = manager.post(f"/manager/sla-terms/{template_id}", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/manager/sla-terms/{template_id}"
    sections = _sections(app, template_id)
    assert [s[1] for s in sections] == [
        "Standards of service",
        "Reporting",
        "Data protection",
        "Invoicing",
        "Termination",
        "Complaints",
    ]
    assert [s[0] for s in sections] == [1, 2, 3, 4, 5, 6]
    assert sections[-1][2] == "Use the **complaints** policy."
    page = _text(manager.get(f"/manager/sla-terms/{template_id}"))
    assert "Version 1 of the terms saved." in page
    assert "<strong>complaints</strong>" in page
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.event == Events.SLA_TERMS_CHANGED)
            )
            == 1
        )


def test_add_another_section_shows_one_more_pair_and_saves_nothing(app, manager, template_id):
    before = _sections(app, template_id)
    data = _form(manager, template_id)
    data["heading_1"] = "Typed but not saved"
    data["add_section"] = "Add another section"
    response = manager.post(f"/manager/sla-terms/{template_id}", data=data)
    assert response.status_code == 200
    page = _text(response)
    assert 'id="heading_8" name="heading_8"' in page
    assert 'value="Typed but not saved"' in page
    assert 'name="count" type="hidden" value="8"' in page
    assert _sections(app, template_id) == before


def test_errors_are_shown_beside_the_fields_with_what_was_typed(app, manager, template_id):
    before = _sections(app, template_id)
    data = _form(manager, template_id)
    data["heading_2"] = "H" * 201
    data["body_4"] = ""
    data["heading_7"] = "Half a section"
    response = manager.post(f"/manager/sla-terms/{template_id}", data=data)
    assert response.status_code == 200
    page = _text(response)
    assert "<title>Error: " in page
    assert "govuk-error-summary" in page
    assert "The heading of a section must be 200 characters or fewer" in page
    assert 'value="' + "H" * 201 + '"' in page
    assert 'id="heading_7" name="heading_7" type="text" value="Half a section"' in page
    # Every problem at once: the form's length check and the missing text of sections 4 and 7.
    assert '<a href="#heading_2">The heading of a section must be 200 characters or fewer</a>' in page
    assert '<a href="#body_4">Enter the text of this section</a>' in page
    assert '<a href="#body_7">Enter the text of this section</a>' in page
    assert _sections(app, template_id) == before


def test_missing_text_is_reported_on_the_section_shown(app, manager, template_id):
    data = _form(manager, template_id)
    data["remove_1"] = "y"
    data["body_4"] = ""
    data["heading_7"] = "Half a section"
    page = _text(manager.post(f"/manager/sla-terms/{template_id}", data=data))
    # The service numbers the sections it was sent (section 1 was removed); the message sits on the form's own pair.
    assert re.search(
        r'<p id="body_4-error" class="govuk-error-message">\s*<span class="govuk-visually-hidden">Error:</span> Enter the text of this section',
        page,
    )
    assert re.search(
        r'<p id="body_7-error" class="govuk-error-message">\s*<span class="govuk-visually-hidden">Error:</span> Enter the text of this section',
        page,
    )
    assert "Service standards" in page


def test_removing_every_section_is_refused(app, manager, template_id):
    data = _form(manager, template_id)
    for index in range(1, 7):
        data[f"remove_{index}"] = "y"
    response = manager.post(f"/manager/sla-terms/{template_id}", data=data)
    assert response.status_code == 200
    assert "The terms need at least one section" in _text(response)
    assert len(_sections(app, template_id)) == 6


def test_a_stale_form_is_refused_with_409_and_shown_again(app, manager, template_id):
    data = _form(manager, template_id)
    stale = dict(data)
    data["heading_1"] = "First change"
    assert manager.post(f"/manager/sla-terms/{template_id}", data=data).status_code == 302
    stale["heading_1"] = "Second change, from an old page"
    response = manager.post(f"/manager/sla-terms/{template_id}", data=stale)
    assert response.status_code == 409
    page = _text(response)
    assert "Someone else changed these terms" in page
    assert 'value="Second change, from an old page"' in page
    assert f'name="version" type="hidden" value="{_version(app, template_id)}"' in page
    assert _sections(app, template_id)[0][1] == "First change"


# ---- A used version ---------------------------------------------------------------------------------------------------


def test_a_used_version_is_read_only_and_a_post_is_refused(app, manager, template_id):
    data = _form(manager, template_id)
    with app.app_context():
        make_sla(ProviderFactory(), make_lots(1), template_id=template_id)
    before = _sections(app, template_id)
    page = _text(manager.get(f"/manager/sla-terms/{template_id}"))
    assert "These terms are used by 1 SLA, so they cannot be changed" in page
    assert 'name="heading_1"' not in page
    assert "Change the terms" not in page
    data["heading_1"] = "Sneaky change"
    response = manager.post(f"/manager/sla-terms/{template_id}", data=data)
    assert response.status_code == 409
    assert "These terms are used by 1 SLA: make a new version to change them" in _text(response)
    assert _sections(app, template_id) == before
    with app.app_context():
        assert not db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.event == Events.SLA_TERMS_CHANGED)
        )


def test_a_missing_version_is_not_found(manager):
    assert manager.get("/manager/sla-terms/999").status_code == 404


def test_markdown_in_the_terms_is_rendered_safely(app, manager, template_id):
    data = _form(manager, template_id)
    data["body_1"] = '<script>alert("x")</script> [click](javascript:alert(1)) [gov](https://www.gov.uk)\n\n# Big'
    assert manager.post(f"/manager/sla-terms/{template_id}", data=data).status_code == 302
    page = _text(manager.get(f"/manager/sla-terms/{template_id}"))
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert '<a href="https://www.gov.uk" class="govuk-link">gov</a>' in page
    assert '<h4 class="govuk-heading-s">Big</h4>' in page
