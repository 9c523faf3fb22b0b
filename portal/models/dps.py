"""The procurement arrangement (the DPS and its successors) and its lots."""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, str_enum

# Under the Procurement Act 2023 no DPS set up under PCR 2015 may run past this day (Schedule 1 transitional rules).
PA2023_DPS_CUTOFF = date(2029, 2, 23)


class Regime(enum.StrEnum):
    PCR2015_DPS = "PCR2015 DPS"
    PA2023_DYNAMIC_MARKET = "PA2023 dynamic market"
    PA2023_OPEN_FRAMEWORK = "PA2023 open framework"


class Arrangement(Base):
    """A procurement arrangement under one legal regime: the DPS now, a successor later, lots and providers moved over."""

    __tablename__ = "arrangements"
    __table_args__ = (sa.CheckConstraint("end_date > start_date", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    regime: Mapped[Regime] = mapped_column(str_enum(Regime))
    start_date: Mapped[date]
    end_date: Mapped[date]
    # The arrangement this one succeeds (its lots and admitted providers were carried over from it).
    predecessor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("arrangements.id"), index=True)

    lots: Mapped[list[Lot]] = relationship(back_populates="arrangement", order_by="Lot.number")

    @property
    def legal_end_date(self) -> date:
        """The last day the arrangement may run: its own end date, or the PA 2023 cut-off for a PCR 2015 DPS."""
        if self.regime is Regime.PCR2015_DPS:
            return min(self.end_date, PA2023_DPS_CUTOFF)
        return self.end_date


def lot_label(number: int, title: str) -> str:
    return f"Lot {number}: {title}"


class Lot(Base):
    """A category of provision. Lots are data: a council may rename them or add more."""

    __tablename__ = "lots"
    __table_args__ = (sa.UniqueConstraint("arrangement_id", "number", name="uq_lots_arrangement_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(sa.ForeignKey("arrangements.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, info={"max_length": 5_000}, default="")
    # The predecessor arrangement's lot this one was carried over from (an SLA covering that lot covers this one).
    carried_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lots.id"), index=True)

    arrangement: Mapped[Arrangement] = relationship(back_populates="lots")

    @property
    def label(self) -> str:
        return lot_label(self.number, self.title)
