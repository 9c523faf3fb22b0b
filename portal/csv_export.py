"""CSV downloads: UTF-8 with a byte-order mark (so Excel reads it as UTF-8), formula injection neutralised, and
streamed row by row, so memory stays flat however long the table.

A route passes rows from a query read in batches (``.execution_options(yield_per=1000)``), never a list of them all.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from flask import Response, current_app

from portal.downloads import content_disposition
from portal.formatting import london_datetime

BOM = "\ufeff"
# A cell beginning with one of these is a formula to Excel and LibreOffice (=, +, -, @, and tab / carriage return,
# which some spreadsheets skip before reading the rest).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def cell(value) -> str:
    """One value as CSV text: dates as ISO days, times in London, money to the penny, formulas made inert by a
    leading apostrophe (the OWASP advice), None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return london_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The CSV text, a line at a time, the byte-order mark first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow([cell(name) for name in header])
    yield BOM + flush()
    for row in rows:
        writer.writerow([cell(value) for value in row])
        yield flush()


def safe_filename(name: str) -> str:
    """A download's file name with nothing but letters, digits, dots, dashes and underscores."""
    stem = _UNSAFE_FILENAME.sub("-", name).strip("-.") or "export"
    return stem if stem.endswith(".csv") else f"{stem}.csv"


def download(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """A streamed CSV response. The rows are read as the response is sent, in an application context of their own
    (not the request's, which would stay pushed until the body is read, or for ever if it never is)."""
    app = current_app._get_current_object()

    def body() -> Iterator[str]:
        with app.app_context():
            yield from lines(header, rows)

    response = Response(body(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = content_disposition(safe_filename(filename))
    response.headers["Cache-Control"] = "no-store"
    return response
