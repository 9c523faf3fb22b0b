"""encrypted totp secrets: the two-factor keys are stored as Fernet tokens under DATA_ENCRYPTION_KEY
(portal.encryption), so a copy of the database or a backup alone cannot mint anyone's codes. The column widens to
hold a token, and every key already stored is encrypted in place; going back decrypts them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 16:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

from portal.encryption import decrypt, encrypt

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

users = sa.table("users", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def _rewrite(change) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None)))
    for user_id, value in rows.all():
        connection.execute(sa.update(users).where(users.c.id == user_id).values(totp_secret=change(value)))


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255))
    _rewrite(encrypt)


def downgrade():
    _rewrite(decrypt)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64))
