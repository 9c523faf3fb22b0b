"""Builders for SLAs: a version of the terms, and an SLA in any state written straight to the database.
Objects are committed (a live server thread sees them); call them inside an app context."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Lot, Provider, Sla, SlaKpi, SlaLot, SlaStatus, SlaTemplate, SlaTemplateSection
from portal.services import slas

# Generous caps, so offers in other tests (120.00 a day) are never over them.
DAY_CAP, SESSION_CAP, HOUR_CAP = Decimal("500.00"), Decimal("250.00"), Decimal("100.00")
SECTIONS = (
    ("Service standards", "Provide the education set out in each placement plan.\n\n- Qualified staff\n- Safe sites"),
    ("Reporting", "Record attendance **the same day**. Submit a progress report every half term."),
    ("Safeguarding", "Follow *Keeping Children Safe in Education*. Tell the DSL and the officer at once."),
    ("Data protection", "Process children's data only to deliver the placement (UK GDPR)."),
    ("Invoicing", "Invoice monthly in arrears, for sessions attended."),
    ("Termination", "Either party may end the SLA with 30 days' notice in writing."),
)


def make_template(number: int | None = None, title: str = "AP DPS service level agreement") -> SlaTemplate:
    if number is None:
        number = (db.session.scalar(sa.select(sa.func.max(SlaTemplate.number))) or 0) + 1
    template = SlaTemplate(number=number, title=title)
    template.sections = [
        SlaTemplateSection(position=n, heading=heading, body=body) for n, (heading, body) in enumerate(SECTIONS, 1)
    ]
    db.session.add(template)
    db.session.commit()
    return template


def template() -> SlaTemplate:
    """The latest terms, made if there are none."""
    return slas.current_template() or make_template()


def make_sla(
    provider: Provider,
    lots: list[Lot],
    *,
    status: SlaStatus = SlaStatus.APPROVED,
    starts_on: date = date(2024, 4, 1),
    caps: tuple[Decimal, Decimal, Decimal] = (DAY_CAP, SESSION_CAP, HOUR_CAP),
    **fields,
) -> Sla:
    """An SLA for the provider covering the lots, in the given state (approved, so in force, by default)."""
    number = (db.session.scalar(sa.select(sa.func.max(Sla.number)).where(Sla.provider_id == provider.id)) or 0) + 1
    moment = datetime(2024, 4, 1, 9, tzinfo=UTC)
    values = {
        "provider_id": provider.id,
        "number": number,
        "template_id": template().id,
        "arrangement_id": lots[0].arrangement_id,
        "status": status,
        "starts_on": starts_on,
    }
    if status is not SlaStatus.DRAFT:
        values.update(sent_at=moment)
    if status in {SlaStatus.ACCEPTED, SlaStatus.APPROVED, SlaStatus.SUPERSEDED, SlaStatus.TERMINATED}:
        values.update(accepted_at=moment, signatory_name="Pat Signer", signatory_role="Director", accepted_ip="10.0.0.1")
    if status in {SlaStatus.APPROVED, SlaStatus.SUPERSEDED, SlaStatus.TERMINATED}:
        values.update(approved_at=moment)
    values.update(fields)
    sla = Sla(**values)
    sla.lots = [
        SlaLot(lot_id=lot.id, max_day_rate=caps[0], max_session_rate=caps[1], max_hour_rate=caps[2]) for lot in lots
    ]
    sla.kpis = [SlaKpi(kind=kind, target=target) for kind, target in slas.DEFAULT_KPIS.items()]
    db.session.add(sla)
    db.session.flush()
    if status is not SlaStatus.DRAFT:
        db.session.refresh(sla)
        sla.checksum = slas.checksum(sla)
    db.session.commit()
    return sla
