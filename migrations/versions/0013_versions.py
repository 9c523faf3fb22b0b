"""versions: a version column (optimistic locking) on the provider profile and on users, the two records people edit
that had none (issue 10). Every other edited record has had one since it was made.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 03:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("providers", "users")


def upgrade():
    for table in TABLES:
        # Existing rows start at version 1, as new ones do.
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade():
    for table in reversed(TABLES):
        op.drop_column(table, "version")
