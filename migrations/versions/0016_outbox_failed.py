"""outbox failed: a message the mail server refused for good (a 5xx answer), or still unsent 3 days after it was
written, is marked failed and no longer tried; the managers see it on the undelivered mail page. The due index leads
with sent_at and failed_at, so the worker's due messages and the manager's failed ones are each one range of it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_outbox_messages_due")
        batch_op.create_index("ix_outbox_messages_due", ["sent_at", "failed_at", "next_attempt_at"], unique=False)


def downgrade():
    # A failed message goes back to being retried: on the old schema nothing can say it was given up.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_due")
        batch_op.create_index("ix_outbox_messages_due", ["sent_at", "next_attempt_at"], unique=False)
        batch_op.drop_column("failed_at")
