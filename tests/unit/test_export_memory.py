"""Streaming exports: the memory growth of a CSV stays bounded and does not grow with the number of rows."""

from __future__ import annotations

import tracemalloc

import sqlalchemy as sa

from portal.csv_export import lines
from portal.extensions import db
from portal.models import Role, User
from portal.services import exports

LIMIT = 10 * 1024 * 1024


def _peak_growth(header, rows) -> tuple[int, int]:
    """Stream the CSV (discarding each line as a response would) and return (lines, peak memory growth in bytes)."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count = 0
        for _line in lines(header, rows):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak - before


def _generated(count: int):
    for number in range(count):
        yield (f"Row {number}", number, "=SUM(A1:A2)", "some text, with a comma")


def test_a_100000_row_export_stays_small_and_flat():
    small_lines, small = _peak_growth(("Name", "Number", "Formula", "Text"), _generated(10_000))
    big_lines, big = _peak_growth(("Name", "Number", "Formula", "Text"), _generated(100_000))
    assert (small_lines, big_lines) == (10_001, 100_001)
    assert big < LIMIT
    # Ten times the rows, not ten times the memory (a list of them all would be several MB more).
    assert big < small * 2 + 256 * 1024


def _insert_users(start: int, count: int) -> None:
    db.session.execute(
        sa.insert(User),
        [
            {"email": f"bulk{n}@example.org", "name": f"Bulk user {n:06d}", "role": Role.MANAGER, "active": True}
            for n in range(start, start + count)
        ],
    )
    db.session.commit()


def test_a_real_list_streams_from_the_database_in_batches(app_context):
    _insert_users(0, 1_000)
    small_lines, small = _peak_growth(exports.USER_HEADER, exports.user_rows(None, "manager"))
    _insert_users(1_000, 9_000)
    big_lines, big = _peak_growth(exports.USER_HEADER, exports.user_rows(None, "manager"))
    assert (small_lines, big_lines) == (1_001, 10_001)
    assert big < LIMIT
    # Batches of 1,000: ten times the rows does not take ten times the memory.
    assert big < small * 3
