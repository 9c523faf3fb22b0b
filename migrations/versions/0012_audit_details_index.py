"""audit details index: on PostgreSQL, a GIN index over the audit events' details read as jsonb, so the manager's
search for the events about a record (a referral_id, a placement_id, a child in child_ids) uses an index instead of
reading every event (issue 9).

An expression index: the column stays json, so what the hash chain reads back is unchanged. SQLite has no such index
(its JSON search reads the table, which at a single council's size is small); nothing is made there.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 02:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEX = "ix_audit_events_details"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {INDEX} ON audit_events USING gin ((details::jsonb) jsonb_path_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {INDEX}")
