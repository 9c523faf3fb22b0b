"""Template filters: timestamps are stored in UTC and shown in Europe/London."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask

from portal.clock import LONDON


def london_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    return f"{local.day} {local:%B %Y} at {local:%-I:%M%p}".replace("AM", "am").replace("PM", "pm")


def long_date(value: date | None) -> str:
    return "" if value is None else f"{value.day} {value:%B %Y}"


def quantity(value: Decimal | int | None) -> str:
    """15 or 2.5: hours, days or sessions without trailing zeros (never "1E+1", as Decimal.normalize() would give)."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | None) -> str:
    """Pounds and pence with thousands separators: "£7,200.00"."""
    return "" if value is None else f"£{value:,.2f}"


def init_formatting(app: Flask) -> None:
    app.add_template_filter(london_datetime)
    app.add_template_filter(long_date)
    app.add_template_filter(money)
    app.add_template_filter(quantity)

    # Markdown (the SLA terms), rendered safely: raw HTML shown as text, links only http(s)/mailto.
    from portal.services.sla_terms import render

    app.add_template_filter(render, "markdown")
