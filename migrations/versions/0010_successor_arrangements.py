"""successor arrangements: an arrangement's predecessor, the lot a lot was carried over from, and the admission an
admission was carried over from with the day the provider re-confirmed it.

Plain add_column/drop_column (no batch mode: arrangements, lots and admissions are referred to by other tables, and
SQLite's batch mode would recreate them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 20:41:28.483686

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable integer column referring to target.id. SQLite can add a column with its REFERENCES inline but not a
    constraint afterwards, so there the column is added in one statement."""
    name = f"fk_{table}_{column}_{target}"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), table, target, [column], ["id"])


def upgrade():
    _add_reference("admissions", "carried_from_id", "admissions")
    op.add_column("admissions", sa.Column("reconfirmed_on", sa.Date(), nullable=True))
    _add_reference("arrangements", "predecessor_id", "arrangements")
    op.create_index(op.f("ix_arrangements_predecessor_id"), "arrangements", ["predecessor_id"], unique=False)
    _add_reference("lots", "carried_from_id", "lots")
    op.create_index(op.f("ix_lots_carried_from_id"), "lots", ["carried_from_id"], unique=False)


def _drop_reference(table: str, column: str, target: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(f"fk_{table}_{column}_{target}"), table, type_="foreignkey")
    op.drop_column(table, column)


def downgrade():
    op.drop_index(op.f("ix_lots_carried_from_id"), table_name="lots")
    _drop_reference("lots", "carried_from_id", "lots")
    op.drop_index(op.f("ix_arrangements_predecessor_id"), table_name="arrangements")
    _drop_reference("arrangements", "predecessor_id", "arrangements")
    op.drop_column("admissions", "reconfirmed_on")
    _drop_reference("admissions", "carried_from_id", "admissions")
