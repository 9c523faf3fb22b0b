"""foreign key indexes: every foreign key to a record that is deleted or looked up by it gets an index, so deleting
an aim, a report or a site does not scan the tables that refer to it, and a placement's complaints, an application's
admissions and an arrangement's or a version of the terms' SLAs are found by index.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 06:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

INDEXES = [
    ("aim_responses", "aim_id"),
    ("report_aims", "aim_id"),
    ("review_aims", "aim_id"),
    ("reviews", "report_id"),
    ("placement_sites", "site_id"),
    ("complaints", "placement_id"),
    ("admissions", "application_id"),
    ("admissions", "carried_from_id"),
    ("application_answers", "question_id"),
    ("slas", "template_id"),
    ("slas", "previous_id"),
    ("slas", "arrangement_id"),
]


def upgrade():
    for table, column in INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade():
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
