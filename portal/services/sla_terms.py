"""The SLA terms (versioned templates) and reading a provider's SLA for its page and its printable copy.

- The terms are sections of Markdown, rendered safely (``render``): raw HTML is shown as text, never run; links go
  only to http(s) and mailto addresses; images are not drawn; a section's own headings are demoted below the
  section's heading so the page's heading order stays right.
- A version of the terms is immutable once any SLA uses it (``used_by``): ``save_sections`` refuses (409), and the
  manager makes a new version (``new_version``), a copy of the latest, which new SLAs then use
  (``slas.current_template``). SLAs made before keep the version they were made with.
- ``get_sla(sla_id, user)``: the manager sees every SLA, a provider's users only their provider's (NotFound
  otherwise, so another provider's SLA is never confirmed to exist), officers none. ``sla_page`` gathers what the
  page shows in a fixed number of statements, whatever the number of lots, sections or versions.

Nothing here commits: the route does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.models import Arrangement, Sla, SlaStatus, SlaTemplate, SlaTemplateSection, User
from portal.pagination import Page, paginate
from portal.services import audit, slas
from portal.services.audit import Events
from portal.services.errors import Conflict, FieldErrors, IllegalTransition, NotFound

TITLE = "Alternative provision DPS service level agreement"
HEADING_MAX = 200
BODY_MAX = 20000
# More sections than this in one form is not a real set of terms.
SECTIONS_MAX = 50
PER_PAGE = 25
# A section is shown under an h3 (h1 the page, h2 "Terms"): its own "#" becomes an h4, "##" an h5, deeper an h6.
HEADING_OFFSET = 3
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

# The six standard sections of a first version of the terms.
DEFAULT_SECTIONS: tuple[tuple[str, str], ...] = (
    (
        "Service standards",
        "The provider delivers the education and support set out in each child's placement plan, at the sites, hours "
        "and staffing ratio agreed in its offer.\n\n"
        "- Staff are suitably qualified and experienced for the needs of the children placed.\n"
        "- Premises are safe, suitable and meet health and safety law.\n"
        "- The provider tells the placing officer at once of any change that affects a placement.",
    ),
    (
        "Reporting duties",
        "- Attendance is recorded in the portal **the same day**, for each morning and afternoon session, using the "
        "DfE attendance codes.\n"
        "- An unexplained absence is reported to the placing officer the same day.\n"
        "- A progress report against each of the child's aims is submitted **each half term**, and the provider "
        "takes part in the placement's reviews.",
    ),
    (
        "Safeguarding duties",
        "The provider follows *Keeping Children Safe in Education* and its own safeguarding policy, has a named "
        "Designated Safeguarding Lead, and keeps a single central record of safer recruitment checks, with an "
        "enhanced DBS check for every member of staff working with children.\n\n"
        "Any safeguarding concern is reported without delay to the responsible party's Designated Safeguarding Lead "
        "and to the placing officer.",
    ),
    (
        "Data protection",
        "The provider processes children's personal data only to deliver the placement, in line with the UK GDPR and "
        "the Data Protection Act 2018, keeps it secure, and tells the council within 24 hours of any personal data "
        "breach.",
    ),
    (
        "Invoicing",
        "The provider invoices the council monthly in arrears for the sessions delivered, at no more than the "
        "maximum rates in this SLA's rates schedule. Invoices quote the placement's reference.",
    ),
    (
        "Termination",
        "The council may terminate this SLA, with a reason and a date, if the provider breaches it, is removed from "
        "the DPS, or no longer meets the conditions of admission. The SLA ends in any case on the arrangement's end "
        "date. Placements in progress are managed to a safe end.",
    ),
)


# ---- Rendering -------------------------------------------------------------------------------------------------------


def _allowed_link(url: str) -> bool:
    """Only web and email links: no javascript:, data:, file: or relative addresses."""
    scheme = urlsplit(url.strip()).scheme.lower()
    return scheme in ALLOWED_SCHEMES


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False})
    md.disable("image")
    md.validateLink = _allowed_link  # type: ignore[method-assign]
    return md


_MD = _markdown()


def render(markdown_text: str | None, *, heading_offset: int = HEADING_OFFSET) -> Markup:
    """Markdown as safe HTML: raw HTML escaped, links only http(s)/mailto, headings demoted by ``heading_offset``."""
    tokens = _MD.parse(markdown_text or "")
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            token.tag = f"h{min(6, int(token.tag[1]) + heading_offset)}"
            if token.type == "heading_open":
                token.attrSet("class", "govuk-heading-s")
        elif token.type in {"bullet_list_open", "ordered_list_open"}:
            kind = "bullet" if token.type == "bullet_list_open" else "number"
            token.attrSet("class", f"govuk-list govuk-list--{kind}")
        elif token.type == "paragraph_open":
            token.attrSet("class", "govuk-body")
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "link_open":
                    child.attrSet("class", "govuk-link")
    return Markup(_MD.renderer.render(tokens, _MD.options, {}))


# ---- The versions of the terms -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermsRow:
    template: SlaTemplate
    used_by: int


def used_by(template_id: int) -> int:
    """How many SLAs (any version, any state) use this version of the terms."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Sla).where(Sla.template_id == template_id)) or 0


def terms_page(page: int, *, per_page: int = PER_PAGE) -> Page:
    """The versions of the terms, newest first, each with the number of SLAs using it: two statements a page."""
    usage = sa.select(sa.func.count()).select_from(Sla).where(Sla.template_id == SlaTemplate.id).scalar_subquery()
    statement = (
        sa.select(SlaTemplate, usage.label("used_by"))
        .options(lazyload(SlaTemplate.sections))
        .order_by(SlaTemplate.number.desc())
    )
    found = paginate(statement, page=page, per_page=per_page, rows=True)
    items = [TermsRow(template=row[0], used_by=row[1]) for row in found.items]
    return Page(items=items, total=found.total, page=found.page, per_page=found.per_page)


def get_template(template_id: int) -> SlaTemplate:
    found = db.session.get(SlaTemplate, template_id)
    if found is None:
        raise NotFound("There is no such version of the SLA terms")
    return found


def heading_field(index: int) -> str:
    """The form field of the heading of the ``index``-th section sent (1-based), where errors are shown."""
    return f"heading_{index}"


def body_field(index: int) -> str:
    return f"body_{index}"


def in_use(count: int) -> IllegalTransition:
    noun = "SLA" if count == 1 else "SLAs"
    return IllegalTransition(f"These terms are used by {count} {noun}: make a new version to change them")


def check_sections(sections: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sections, trimmed, or FieldErrors naming each wrong one by its place in the list (``heading_field``)."""
    cleaned = [((heading or "").strip(), (body or "").strip()) for heading, body in sections]
    if not cleaned:
        raise FieldErrors({heading_field(1): "The terms need at least one section: enter its heading and text"})
    if len(cleaned) > SECTIONS_MAX:
        raise FieldErrors({heading_field(1): f"The terms can have at most {SECTIONS_MAX} sections"})
    errors: dict[str, str] = {}
    for index, (heading, body) in enumerate(cleaned, 1):
        if not heading:
            errors[heading_field(index)] = "Enter the heading of this section"
        elif len(heading) > HEADING_MAX:
            errors[heading_field(index)] = f"The heading of a section must be {HEADING_MAX} characters or fewer"
        if not body:
            errors[body_field(index)] = "Enter the text of this section"
        elif len(body) > BODY_MAX:
            errors[body_field(index)] = f"The text of a section must be {BODY_MAX} characters or fewer"
    if errors:
        raise FieldErrors(errors)
    return cleaned


def check_version(template: SlaTemplate, version: int | None) -> None:
    if version is None or version != template.version:
        raise Conflict(
            "Someone else changed these terms while you had them open. Nothing you sent was saved: the page now "
            "shows the terms as they are. Check them, then make your change again."
        )


def save_sections(
    template_id: int,
    by: User,
    sections: list[tuple[str, str]],
    *,
    version: int | None,
    now: datetime,
    ip: str | None = None,
) -> SlaTemplate:
    """Replace the sections of a version of the terms no SLA uses yet (in the order given)."""
    template = get_template(template_id)
    count = used_by(template.id)
    if count:
        raise in_use(count)
    check_version(template, version)
    cleaned = check_sections(sections)
    before = len(template.sections)
    existing = {section.position: section for section in template.sections}
    # Changed in place position by position (positions are unique per version: deleting and re-inserting them in one
    # flush could collide); sections past the new end go.
    for position, (heading, body) in enumerate(cleaned, 1):
        section = existing.pop(position, None)
        if section is None:
            template.sections.append(SlaTemplateSection(position=position, heading=heading, body=body))
        else:
            section.heading, section.body = heading, body
    for section in existing.values():
        template.sections.remove(section)
    # The version number goes up even when only the sections changed, so a form drawn before is stale.
    flag_modified(template, "title")
    audit.record(
        Events.SLA_TERMS_CHANGED,
        actor=by,
        ip=ip,
        subject=template,
        terms_version=template.number,
        sections_before=before,
        sections_after=len(cleaned),
        at=now.isoformat(),
    )
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict("Someone else changed these terms at the same moment. Nothing you sent was saved.") from None
    return template


def new_version(by: User, *, now: datetime, ip: str | None = None) -> SlaTemplate:
    """The next version of the terms: a copy of the latest version's sections (or the six standard sections when
    there are none yet). New SLAs use it from now on; SLAs made before keep theirs."""
    latest = slas.current_template()
    number = (latest.number + 1) if latest else 1
    sections = [(s.heading, s.body) for s in latest.sections] if latest else list(DEFAULT_SECTIONS)
    template = SlaTemplate(
        number=number,
        title=latest.title if latest else TITLE,
        created_at=now,
        created_by_id=by.id,
    )
    template.sections = [
        SlaTemplateSection(position=position, heading=heading, body=body)
        for position, (heading, body) in enumerate(sections, 1)
    ]
    db.session.add(template)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            "Someone else made a new version of the terms at the same moment: look at the list again."
        ) from None
    audit.record(
        Events.SLA_TERMS_VERSION_CREATED,
        actor=by,
        ip=ip,
        subject=template,
        terms_version=number,
        copied_from=latest.number if latest else None,
    )
    return template


# ---- A provider's SLA: reading it ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    sla: Sla
    status: str


@dataclass
class SlaPage:
    """What the SLA page and its printable copy show."""

    sla: Sla
    today: date
    status: str
    ends_on: date
    expiring_soon: bool
    # The arrangement's own end is later than the law allows (a PCR 2015 DPS ends by 23 February 2029).
    legal_end_note: date | None
    integrity: slas.Integrity | None
    previous: Sla | None
    versions: list[VersionRow] = field(default_factory=list)
    users: dict[int, User] = field(default_factory=dict)

    def user(self, user_id: int | None) -> User | None:
        return self.users.get(user_id) if user_id is not None else None


def sla_page(sla: Sla, today: date) -> SlaPage:
    """The SLA's page: its status by date, its term, its checksum against what it reads now, the people who acted on
    it and the provider's other versions. A fixed number of statements whatever the lots, sections or versions."""
    arrangement: Arrangement = sla.arrangement
    versions = list(
        db.session.scalars(
            sa.select(Sla)
            .where(Sla.provider_id == sla.provider_id)
            .options(lazyload(Sla.lots), lazyload(Sla.kpis), lazyload(Sla.comments), joinedload(Sla.arrangement))
            .order_by(Sla.number.desc())
        ).unique()
    )
    previous = next((version for version in versions if version.id == sla.previous_id), None)
    ids = {
        sla.created_by_id,
        sla.sent_by_id,
        sla.accepted_by_id,
        sla.approved_by_id,
        sla.terminated_by_id,
    } - {None}
    users = (
        {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(sorted(ids))))} if ids else {}
    )
    legal_end = arrangement.legal_end_date
    return SlaPage(
        sla=sla,
        today=today,
        status=slas.display_status(sla, today),
        ends_on=slas.ends_on(sla),
        expiring_soon=slas.expiring_soon(sla, today),
        legal_end_note=legal_end if legal_end < arrangement.end_date else None,
        integrity=slas.integrity(sla) if sla.status is not SlaStatus.DRAFT else None,
        previous=previous,
        versions=[
            VersionRow(sla=version, status=slas.display_status(version, today))
            for version in versions
            if version.id != sla.id
        ],
        users=users,
    )
