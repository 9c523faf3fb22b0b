"""The SLA terms service: safe Markdown, versions of the terms immutable once used, a new version copying the latest,
and reading an SLA for its page (who may see it, its term, its checksum, its other versions)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, Role, SlaStatus, SlaTemplate, SlaTemplateSection
from portal.services import sla_terms, slas
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, IllegalTransition, NotFound
from tests.factories import ProviderFactory, make_lots, make_user
from tests.factories_slas import make_sla, make_template

NOW = datetime(2026, 11, 10, 10, tzinfo=UTC)


# ---- Rendering ---------------------------------------------------------------------------------------------------------


def test_raw_html_is_shown_as_text_never_run():
    html = str(sla_terms.render('Before <script>alert("x")</script> <img src=x onerror=alert(1)> after'))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert "&lt;img" in html


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "<javascript:alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](/relative/path)",
    ],
)
def test_only_web_and_email_links_become_links(text):
    html = str(sla_terms.render(text))
    assert "<a " not in html
    assert "href" not in html


def test_web_and_email_links_are_links():
    html = str(sla_terms.render("See [the guidance](https://www.gov.uk/x) or [write](mailto:ap@example.org)."))
    assert '<a href="https://www.gov.uk/x" class="govuk-link">the guidance</a>' in html
    assert '<a href="mailto:ap@example.org" class="govuk-link">write</a>' in html


def test_images_are_not_drawn():
    assert "<img" not in str(sla_terms.render("![logo](https://example.org/logo.png)"))


def test_headings_in_a_section_are_demoted_below_the_section_heading():
    html = str(sla_terms.render("# Top\n\n## Second\n\n### Third\n\nSetext\n======"))
    assert '<h4 class="govuk-heading-s">Top</h4>' in html
    assert '<h5 class="govuk-heading-s">Second</h5>' in html
    assert '<h6 class="govuk-heading-s">Third</h6>' in html
    assert '<h4 class="govuk-heading-s">Setext</h4>' in html
    assert "<h1" not in html and "<h2" not in html and "<h3" not in html


def test_markdown_is_rendered_with_govuk_classes():
    html = str(sla_terms.render("Record attendance **the same day**.\n\n- one\n- two\n\n1. first"))
    assert '<p class="govuk-body">Record attendance <strong>the same day</strong>.</p>' in html
    assert '<ul class="govuk-list govuk-list--bullet">' in html
    assert '<ol class="govuk-list govuk-list--number">' in html


def test_the_markdown_filter_is_registered(app_context):
    template = app_context.jinja_env.from_string("{{ text | markdown }}")
    assert (
        template.render(text="<b>bold</b> **strong**")
        == '<p class="govuk-body">&lt;b&gt;bold&lt;/b&gt; <strong>strong</strong></p>\n'
    )


# ---- Versions of the terms -------------------------------------------------------------------------------------------


def _events(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == name)))


def test_a_first_version_has_the_six_standard_sections(app_context):
    manager = make_user(Role.MANAGER)
    template = sla_terms.new_version(manager, now=NOW, ip="10.1.1.1")
    db.session.commit()
    assert template.number == 1
    headings = [section.heading for section in template.sections]
    assert headings == [
        "Service standards",
        "Reporting duties",
        "Safeguarding duties",
        "Data protection",
        "Invoicing",
        "Termination",
    ]
    reporting = template.sections[1].body
    assert "the same day" in reporting and "each half term" in reporting
    assert [section.position for section in template.sections] == [1, 2, 3, 4, 5, 6]
    [event] = _events(Events.SLA_TERMS_VERSION_CREATED)
    assert event.actor_id == manager.id and event.ip_address == "10.1.1.1"
    assert event.subject_id == template.id and event.details["terms_version"] == 1


def test_a_new_version_copies_the_latest_and_new_slas_use_it(app_context):
    manager = make_user(Role.MANAGER)
    first = make_template(title="Terms 2025")
    provider = ProviderFactory()
    lots = make_lots(1)
    old_sla = make_sla(provider, lots)
    second = sla_terms.new_version(manager, now=NOW)
    db.session.commit()
    assert second.number == first.number + 1
    assert second.title == "Terms 2025"
    assert [(s.position, s.heading, s.body) for s in second.sections] == [
        (s.position, s.heading, s.body) for s in first.sections
    ]
    assert {s.id for s in second.sections}.isdisjoint({s.id for s in first.sections})
    assert slas.current_template().id == second.id
    db.session.refresh(old_sla)
    assert old_sla.template_id == first.id
    [event] = _events(Events.SLA_TERMS_VERSION_CREATED)
    assert event.details["copied_from"] == first.number


def test_used_by_counts_the_slas_using_a_version(app_context):
    template = make_template()
    other = make_template()
    lots = make_lots(1)
    assert sla_terms.used_by(template.id) == 0
    make_sla(ProviderFactory(), lots, template_id=template.id)
    make_sla(ProviderFactory(), lots, status=SlaStatus.DRAFT, template_id=template.id)
    assert sla_terms.used_by(template.id) == 2
    assert sla_terms.used_by(other.id) == 0


def test_saving_replaces_the_sections_in_order_and_is_audited(app_context):
    manager = make_user(Role.MANAGER)
    template = make_template()
    version = template.version
    sla_terms.save_sections(
        template.id,
        manager,
        [("Standards", "Be good."), ("Reporting", "Report **daily**."), ("New", "A new section.")],
        version=version,
        now=NOW,
        ip="10.0.0.9",
    )
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(SlaTemplate, template.id)
    assert [(s.position, s.heading, s.body) for s in fresh.sections] == [
        (1, "Standards", "Be good."),
        (2, "Reporting", "Report **daily**."),
        (3, "New", "A new section."),
    ]
    assert fresh.version == version + 1
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(SlaTemplateSection).where(SlaTemplateSection.template_id == template.id)
    )
    assert count == 3
    [event] = _events(Events.SLA_TERMS_CHANGED)
    assert event.details["sections_before"] == 6 and event.details["sections_after"] == 3
    assert event.ip_address == "10.0.0.9"


def test_saving_more_sections_than_before_adds_them(app_context):
    manager = make_user(Role.MANAGER)
    template = make_template()
    sections = [(s.heading, s.body) for s in template.sections] + [("Complaints", "Use the complaints policy.")]
    sla_terms.save_sections(template.id, manager, sections, version=template.version, now=NOW)
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(SlaTemplate, template.id)
    assert [s.heading for s in fresh.sections][-1] == "Complaints"
    assert [s.position for s in fresh.sections] == list(range(1, 8))


def test_a_version_used_by_an_sla_cannot_be_changed(app_context):
    manager = make_user(Role.MANAGER)
    template = make_template()
    make_sla(ProviderFactory(), make_lots(1), status=SlaStatus.DRAFT, template_id=template.id)
    before = [(s.heading, s.body) for s in template.sections]
    with pytest.raises(IllegalTransition) as refused:
        sla_terms.save_sections(template.id, manager, [("X", "Y")], version=template.version, now=NOW)
    assert refused.value.message == "These terms are used by 1 SLA: make a new version to change them"
    db.session.rollback()
    db.session.expire_all()
    assert [(s.heading, s.body) for s in db.session.get(SlaTemplate, template.id).sections] == before
    assert not _events(Events.SLA_TERMS_CHANGED)


def test_the_refusal_counts_every_sla_using_the_version(app_context):
    template = make_template()
    lots = make_lots(1)
    for _ in range(3):
        make_sla(ProviderFactory(), lots, template_id=template.id)
    with pytest.raises(IllegalTransition, match="used by 3 SLAs"):
        sla_terms.save_sections(template.id, make_user(Role.MANAGER), [("X", "Y")], version=template.version, now=NOW)


def test_a_stale_version_is_a_conflict(app_context):
    template = make_template()
    with pytest.raises(Conflict):
        sla_terms.save_sections(
            template.id, make_user(Role.MANAGER), [("X", "Y")], version=template.version - 1, now=NOW
        )
    with pytest.raises(Conflict):
        sla_terms.save_sections(template.id, make_user(Role.MANAGER), [("X", "Y")], version=None, now=NOW)


def test_sections_are_checked(app_context):
    manager = make_user(Role.MANAGER)
    template = make_template()
    with pytest.raises(FieldErrors) as none:
        sla_terms.save_sections(template.id, manager, [], version=template.version, now=NOW)
    assert none.value.errors == {"heading_1": "The terms need at least one section: enter its heading and text"}
    with pytest.raises(FieldErrors) as wrong:
        sla_terms.save_sections(
            template.id,
            manager,
            [("Fine", "Fine"), ("", "text"), ("x" * 201, ""), ("ok", "y" * 20001), ("x" * 200, "y" * 20000)],
            version=template.version,
            now=NOW,
        )
    assert wrong.value.errors == {
        "heading_2": "Enter the heading of this section",
        "heading_3": "The heading of a section must be 200 characters or fewer",
        "body_3": "Enter the text of this section",
        "body_4": "The text of a section must be 20000 characters or fewer",
    }


def test_a_missing_version_of_the_terms_is_not_found(app_context):
    with pytest.raises(NotFound):
        sla_terms.get_template(999)


def test_the_list_counts_usage_newest_first(app_context):
    first, second = make_template(), make_template()
    lots = make_lots(1)
    make_sla(ProviderFactory(), lots, template_id=first.id)
    make_sla(ProviderFactory(), lots, template_id=first.id)
    page = sla_terms.terms_page(1)
    assert [(row.template.number, row.used_by) for row in page.items] == [(second.number, 0), (first.number, 2)]
    assert page.total == 2


# ---- Reading an SLA --------------------------------------------------------------------------------------------------


def test_who_may_read_an_sla(app_context):
    provider, other = ProviderFactory(), ProviderFactory()
    sla = make_sla(provider, make_lots(1))
    assert slas.visible_sla(sla.id, make_user(Role.MANAGER)).id == sla.id
    assert slas.visible_sla(sla.id, make_user(Role.PROVIDER, provider=provider)).id == sla.id
    with pytest.raises(NotFound):
        slas.visible_sla(sla.id, make_user(Role.PROVIDER, provider=other))
    with pytest.raises(NotFound):
        slas.visible_sla(sla.id, make_user(Role.OFFICER))
    with pytest.raises(NotFound):
        slas.visible_sla(sla.id + 1000, make_user(Role.MANAGER))


def test_the_page_reads_the_term_versions_and_checksum(app_context):
    provider = ProviderFactory()
    lots = make_lots(2)
    first = make_sla(provider, lots[:1], status=SlaStatus.SUPERSEDED)
    second = make_sla(provider, lots, previous_id=first.id)
    draft = make_sla(provider, lots, status=SlaStatus.DRAFT, previous_id=second.id)
    manager = make_user(Role.MANAGER)
    view = sla_terms.sla_page(slas.visible_sla(second.id, manager), date(2026, 11, 10))
    assert view.status == "active"
    assert view.previous.id == first.id
    assert [row.sla.number for row in view.versions] == [3, 1]
    assert [row.status for row in view.versions] == ["draft", "superseded"]
    # A DPS under the 2015 regulations ends by 23 February 2029, before its own end date of 31 March 2031.
    assert view.ends_on == date(2029, 2, 23)
    assert view.legal_end_note == date(2029, 2, 23)
    assert view.integrity.intact
    assert not view.expiring_soon
    assert sla_terms.sla_page(slas.visible_sla(draft.id, manager), date(2026, 11, 10)).integrity is None


def test_the_page_warns_when_the_sla_no_longer_reads_as_sent(app_context):
    sla = make_sla(ProviderFactory(), make_lots(1))
    sla.lots[0].max_day_rate = sla.lots[0].max_day_rate + 1
    db.session.commit()
    view = sla_terms.sla_page(slas.visible_sla(sla.id, make_user(Role.MANAGER)), date(2026, 11, 10))
    assert not view.integrity.intact
    assert view.integrity.stored != view.integrity.now


def test_the_page_flags_an_sla_expiring_within_90_days(app_context):
    sla = make_sla(ProviderFactory(), make_lots(1))
    view = sla_terms.sla_page(slas.visible_sla(sla.id, make_user(Role.MANAGER)), date(2028, 12, 1))
    assert view.expiring_soon


def test_the_people_who_acted_are_read_together(app_context):
    provider = ProviderFactory()
    signer = make_user(Role.PROVIDER, provider=provider)
    manager = make_user(Role.MANAGER)
    sla = make_sla(provider, make_lots(1), accepted_by_id=signer.id, approved_by_id=manager.id)
    view = sla_terms.sla_page(slas.visible_sla(sla.id, manager), date(2026, 11, 10))
    assert view.user(sla.accepted_by_id).email == signer.email
    assert view.user(sla.approved_by_id).email == manager.email
    assert view.user(None) is None
