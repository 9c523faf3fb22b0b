"""After a refused save (someone else changed the record since the form was drawn): what is saved now, shown beside
the form, which keeps what was typed. Only the fields whose saved value differs from what was typed are listed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from portal.formatting import london_datetime

if TYPE_CHECKING:
    from flask_wtf import FlaskForm

NOT_GIVEN = "Not given"


def changed_at(moment: datetime | None) -> str:
    """' (last changed 3 November 2026 at 2:05pm)' in London time, or nothing when the record keeps no time."""
    return f" (last changed {london_datetime(moment)})" if moment is not None else ""


def _plain(value) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value.strip().replace("\r\n", "\n"),)
    if isinstance(value, bool):
        return ("y",) if value else ()
    if isinstance(value, Iterable):
        return tuple(sorted(str(each).strip() for each in value if each not in (None, "")))
    return (str(value).strip(),)


def _shown(field, value) -> str:
    values = _plain(value)
    if not values:
        return NOT_GIVEN
    labels = {}
    for choice in getattr(field, "choices", None) or []:
        value, label = (choice.value, choice.label) if hasattr(choice, "value") else (choice[0], choice[1])
        labels[str(value)] = str(label)
    return ", ".join(labels.get(each, each) for each in values)


def saved_now(form: FlaskForm, current: Mapping[str, object]) -> list[tuple[str, str]]:
    """(label, value saved now) for each field of ``form`` in ``current`` (the values the form is drawn from) whose
    saved value is not what was typed."""
    rows = []
    for name, value in current.items():
        if name in ("version", "csrf_token") or name not in form:
            continue
        field = form[name]
        if _plain(field.data) != _plain(value):
            rows.append((str(field.label.text), _shown(field, value)))
    return rows
