"""Every foreign key has an index leading with its column, so deleting the record it points to (an aim, a report, a
site) never scans the tables that refer to it, and a record's children are found by index. The exceptions are
foreign keys to the few tables whose rows are never deleted and never listed by who points at them."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db

# users: people are deactivated, never deleted, and "who did it" columns (created_by_id, decided_by_id ...) are shown
# with their record, never searched by. lots and document_types: a handful of fixed rows of reference data.
NEVER_DELETED = {"users", "lots", "document_types"}


def _leading_columns(table: sa.Table) -> set[str]:
    leading = {next(iter(index.columns)).name for index in table.indexes if index.columns}
    for constraint in table.constraints:
        if isinstance(constraint, sa.PrimaryKeyConstraint | sa.UniqueConstraint) and constraint.columns:
            leading.add(next(iter(constraint.columns)).name)
    return leading


def unindexed_foreign_keys() -> list[str]:
    found = []
    for table in db.metadata.sorted_tables:
        leading = _leading_columns(table)
        for key in table.foreign_key_constraints:
            first = next(iter(key.columns)).name
            if first not in leading and key.referred_table.name not in NEVER_DELETED:
                found.append(f"{table.name}.{first} -> {key.referred_table.name}")
    return found


def test_every_foreign_key_is_indexed(app):
    assert unindexed_foreign_keys() == []


def test_the_check_sees_a_foreign_key_without_an_index(app):
    table = sa.Table(
        "unindexed_example", db.metadata, sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("placement_id", sa.ForeignKey("placements.id")),
    )
    try:
        assert unindexed_foreign_keys() == ["unindexed_example.placement_id -> placements"]
    finally:
        db.metadata.remove(table)
