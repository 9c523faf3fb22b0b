"""Form fields the areas share."""

from __future__ import annotations

from datetime import date

from govuk_frontend_wtf.wtforms_widgets import GovDateInput
from wtforms import Field
from wtforms.validators import StopValidation

# What an integer column holds (PostgreSQL's integer; SQLite's is wider): the type of every id and version.
INTEGER_RANGE = range(-(2**31), 2**31)


def whole_number(value) -> int | None:
    """What a form sent as a whole number (a version, a weighting, an id), or None if it is not one, or is more than
    an integer column holds (no record has such an id or version, and the database would refuse it as a parameter)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number in INTEGER_RANGE else None


class GovDateField(Field):
    """A GOV.UK date input (day, month, year boxes with one name). ``data`` is a date or None; what was typed is kept
    in ``raw_data`` and shown again when the form is refused."""

    widget = GovDateInput()

    def __init__(self, label: str, *, required_message: str | None = None, **kwargs):
        super().__init__(label, **kwargs)
        self.required_message = required_message

    def process_formdata(self, valuelist):
        self.data = None
        parts = [(value or "").strip() for value in list(valuelist or [])[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts  # the widget shows day, month and year again: always three of them
        if not any(parts):
            return
        missing = [name for name, value in zip(("day", "month", "year"), parts, strict=True) if not value]
        name = self.label.text.removesuffix(" (optional)")
        if missing:
            raise ValueError(f"{name} must include a {' and a '.join(missing)}")
        day, month, year = parts
        if not all(part.isdigit() for part in parts):
            raise ValueError(f"{name} must be a real date, for example 27 3 2026")
        if len(year) != 4:
            raise ValueError(f"Year must include 4 numbers, for example {date.today().year}")
        try:
            self.data = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError(f"{name} must be a real date, for example 27 3 2026") from None

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()
        if self.data is None and self.required_message:
            raise StopValidation(self.required_message)

    def _value(self) -> str:
        return ""
