"""performance indexes: the reads of the key pages at regional scale (issue 9) that no index served.

Each was found by tests/web/test_query_plans.py (a plan reading a large table in full). Plain create_index/drop_index:
no table is rebuilt on SQLite.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 10:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (index, table, columns): what each serves.
INDEXES = [
    # Every placement's marks over some days: the caseload's and the manager's placements' 28-day attendance, the
    # provider's today, the oversight attendance rate, and today's marks for the attendance alerts. The unique
    # constraint (placement_id, day, session) serves one placement's marks only.
    ("ix_attendance_marks_day", "attendance_marks", ["day"]),
    # The oversight figures for a period: referrals published and awarded in it, placements started and ended in it.
    ("ix_referrals_published_at", "referrals", ["published_at"]),
    ("ix_referrals_awarded_at", "referrals", ["awarded_at"]),
    ("ix_placements_start_date", "placements", ["start_date"]),
    ("ix_placements_ended_on", "placements", ["ended_on"]),
    # The officer's and the manager's referral lists, newest first a page at a time, without sorting them all.
    ("ix_referrals_created_at_id", "referrals", ["created_at", "id"]),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(op.f(name), table, columns, unique=False)


def downgrade():
    for name, table, _ in reversed(INDEXES):
        op.drop_index(op.f(name), table_name=table)
