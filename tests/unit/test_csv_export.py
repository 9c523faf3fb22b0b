"""CSV downloads: the byte-order mark, formula injection made inert, values written the house way, safe file names,
and a streamed response."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portal.csv_export import BOM, cell, download, lines, safe_filename


@pytest.mark.parametrize("dangerous", ["=1+1", "+44 1895", "-2", "@SUM(A1)", "\tx", "\r=1"])
def test_a_cell_that_a_spreadsheet_would_run_is_made_text(dangerous):
    assert cell(dangerous) == "'" + dangerous


def test_values_are_written_the_house_way():
    assert cell(None) == ""
    assert cell(True) == "yes"
    assert cell(Decimal("7200")) == "7200.00"
    assert cell(date(2027, 1, 11)) == "2027-01-11"
    assert cell(datetime(2027, 7, 1, 9, tzinfo=UTC)) == "1 July 2027 at 10:00am"
    assert cell("Plain text, with a comma") == "Plain text, with a comma"


def test_the_text_starts_with_a_bom_and_reads_back_row_for_row():
    text = "".join(lines(["Name", "Total"], [["Zoë", Decimal("1.5")], ["=cmd", 2]]))
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows == [["Name", "Total"], ["Zoë", "1.50"], ["'=cmd", "2"]]


def test_file_names_keep_only_safe_characters():
    assert safe_filename('../../etc/passwd"\r\n') == "etc-passwd.csv"
    assert safe_filename("audit 2027-Q1") == "audit-2027-Q1.csv"
    assert safe_filename("") == "export.csv"


def test_the_response_streams(app):
    with app.test_request_context():
        response = download("x.csv", ["a"], iter([[1], [2]]))
        assert response.is_streamed
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"] == 'attachment; filename="x.csv"'
        assert b"".join(response.iter_encoded()).decode("utf-8") == BOM + "a\r\n1\r\n2\r\n"
