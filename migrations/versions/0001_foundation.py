"""foundation

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 14:25:13.231066

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('arrangements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('regime', sa.Enum('PCR2015 DPS', 'PA2023 dynamic market', 'PA2023 open framework', name='regime', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.CheckConstraint('end_date > start_date', name=op.f('ck_arrangements_ends_after_start')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_arrangements')),
    sa.UniqueConstraint('name', name=op.f('uq_arrangements_name'))
    )
    op.create_table('council_services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_council_services')),
    sa.UniqueConstraint('name', name=op.f('uq_council_services_name'))
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_providers_name'))
    )
    op.create_table('lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('arrangement_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['arrangement_id'], ['arrangements.id'], name=op.f('fk_lots_arrangement_id_arrangements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lots')),
    sa.UniqueConstraint('arrangement_id', 'number', name='uq_lots_arrangement_number')
    )
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lots_arrangement_id'), ['arrangement_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('officer', 'provider', 'manager', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'officer' AND service_id IS NOT NULL AND provider_id IS NULL) OR (role = 'provider' AND provider_id IS NOT NULL AND service_id IS NULL) OR (role = 'manager' AND service_id IS NULL AND provider_id IS NULL)", name=op.f('ck_users_role_organisation')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lower_case')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_users_provider_id_providers')),
    sa.ForeignKeyConstraint(['service_id'], ['council_services.id'], name=op.f('fk_users_service_id_council_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('session_token', name=op.f('uq_users_session_token'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_service_id'), ['service_id'], unique=False)



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_service_id'))
        batch_op.drop_index(batch_op.f('ix_users_provider_id'))

    op.drop_table('users')
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lots_arrangement_id'))

    op.drop_table('lots')
    op.drop_table('providers')
    op.drop_table('council_services')
    op.drop_table('arrangements')
