"""chain the audit events written before the hash chain existed

The data step of the tamper-evident audit trail: every event already in audit_events is given its seq, prev_hash and
hash in id order by portal.services.audit_chain.chain_existing (the same hash the portal computes as it writes an
event), and the one-row audit_chain_head is set to the last link. From here on the portal chains each new event.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    from portal.services.audit_chain import chain_existing

    chain_existing(op.get_bind())


def downgrade():
    connection = op.get_bind()
    connection.execute(sa.text("DELETE FROM audit_chain_head"))
    connection.execute(sa.text("UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL"))
