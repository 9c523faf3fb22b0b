"""joining the DPS: provider profile, applications, admissions, suspensions, compliance documents

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:02:19.343090

"""
from alembic import op
import sqlalchemy as sa


DOCUMENT_TYPES = [
    ("public-liability", "Public liability insurance", True, False),
    ("employers-liability", "Employer's liability insurance", True, False),
    ("professional-indemnity", "Professional indemnity insurance", True, False),
    ("safeguarding-policy", "Safeguarding policy", True, False),
    ("safer-recruitment", "Safer recruitment and enhanced DBS checks confirmation", True, False),
    ("health-and-safety", "Health and safety policy", True, False),
    ("data-protection", "Data protection policy", False, False),
    ("complaints", "Complaints policy", False, False),
    ("attendance-exclusion", "Attendance and exclusion policy", False, False),
    ("ofsted-report", "Latest Ofsted report", False, True),
    ("financial-statement", "Financial statement", True, False),
]

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('has_expiry', sa.Boolean(), nullable=False),
    sa.Column('registered_only', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_types')),
    sa.UniqueConstraint('code', name=op.f('uq_document_types_code'))
    )
    op.create_table('provider_areas',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('area', sa.Enum('north', 'central', 'south', 'out-of-borough', name='area', native_enum=False, create_constraint=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_areas_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'area', name=op.f('pk_provider_areas'))
    )
    op.create_table('provider_delivery_modes',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Enum('on-site', 'community', 'home', 'online', name='deliverymode', native_enum=False, create_constraint=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_delivery_modes_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'mode', name=op.f('pk_provider_delivery_modes'))
    )
    op.create_table('provider_needs',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('need', sa.Enum('semh', 'autism', 'slcn', 'learning', 'sensory-physical', 'medical', 'anxiety-ebsa', 'exclusion', 'post16', name='need', native_enum=False, create_constraint=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_needs_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'need', name=op.f('pk_provider_needs'))
    )
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('postcode', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_sites_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_provider_id'), ['provider_id'], unique=False)

    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'decided', name='applicationstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_due_on', sa.Date(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_applications_decided_by_id_users')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_applications_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_provider_id'), ['provider_id'], unique=False)

    op.create_table('compliance_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('document_type_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['document_type_id'], ['document_types.id'], name=op.f('fk_compliance_documents_document_type_id_document_types')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_compliance_documents_provider_id_providers')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_compliance_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_documents'))
    )
    with op.batch_alter_table('compliance_documents', schema=None) as batch_op:
        batch_op.create_index('ix_compliance_documents_provider_type', ['provider_id', 'document_type_id'], unique=False)

    op.create_table('lot_document_requirements',
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('document_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_type_id'], ['document_types.id'], name=op.f('fk_lot_document_requirements_document_type_id_document_types')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_lot_document_requirements_lot_id_lots')),
    sa.PrimaryKeyConstraint('lot_id', 'document_type_id', name=op.f('pk_lot_document_requirements'))
    )
    op.create_table('lot_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_lot_questions_lot_id_lots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_questions'))
    )
    with op.batch_alter_table('lot_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_questions_lot_id'), ['lot_id'], unique=False)

    op.create_table('suspensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_suspensions_created_by_id_users')),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_suspensions_lifted_by_id_users')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_suspensions_lot_id_lots')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_suspensions_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suspensions'))
    )
    with op.batch_alter_table('suspensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suspensions_provider_id'), ['provider_id'], unique=False)

    op.create_table('admissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('admitted_on', sa.Date(), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('removed_reason', sa.Text(), nullable=False),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_admissions_application_id_applications')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_admissions_lot_id_lots')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_admissions_provider_id_providers')),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_admissions_removed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admissions'))
    )
    with op.batch_alter_table('admissions', schema=None) as batch_op:
        batch_op.create_index('ix_admissions_lot_provider', ['lot_id', 'provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admissions_provider_id'), ['provider_id'], unique=False)

    op.create_table('application_answers',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('assessor_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_answers_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['lot_questions.id'], name=op.f('fk_application_answers_question_id_lot_questions')),
    sa.PrimaryKeyConstraint('application_id', 'question_id', name=op.f('pk_application_answers'))
    )
    op.create_table('application_lots',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('pending', 'pass', 'fail', name='lotoutcome', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_lots_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_application_lots_lot_id_lots')),
    sa.PrimaryKeyConstraint('application_id', 'lot_id', name=op.f('pk_application_lots'))
    )
    op.create_table('expiry_reminders',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['compliance_documents.id'], name=op.f('fk_expiry_reminders_document_id_compliance_documents')),
    sa.PrimaryKeyConstraint('document_id', 'days_before', name=op.f('pk_expiry_reminders'))
    )
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('company_number', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('charity_number', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('address', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('postcode', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('registered', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('ofsted_urn', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('ofsted_grade', sa.Enum('outstanding', 'good', 'requires improvement', 'inadequate', 'not yet inspected', name='ofstedgrade', native_enum=False, create_constraint=True), nullable=True))
        batch_op.add_column(sa.Column('small_business', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('voluntary_sector', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('dsl_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('dsl_role', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('dsl_phone', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('dsl_email', sa.String(length=254), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('summary', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('age_from', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('age_to', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('capacity', sa.Integer(), nullable=True))



    # The compliance document types every deployment starts with (data: a council can add more).
    document_types = sa.table(
        "document_types",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("has_expiry", sa.Boolean),
        sa.column("registered_only", sa.Boolean),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        document_types,
        [
            {"code": code, "name": name, "has_expiry": expiry, "registered_only": registered, "position": i}
            for i, (code, name, expiry, registered) in enumerate(DOCUMENT_TYPES, start=1)
        ],
    )


def downgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('capacity')
        batch_op.drop_column('age_to')
        batch_op.drop_column('age_from')
        batch_op.drop_column('summary')
        batch_op.drop_column('dsl_email')
        batch_op.drop_column('dsl_phone')
        batch_op.drop_column('dsl_role')
        batch_op.drop_column('dsl_name')
        batch_op.drop_column('voluntary_sector')
        batch_op.drop_column('small_business')
        batch_op.drop_constraint(batch_op.f('ck_providers_ofstedgrade'), type_='check')
        batch_op.drop_column('ofsted_grade')
        batch_op.drop_column('ofsted_urn')
        batch_op.drop_column('registered')
        batch_op.drop_column('postcode')
        batch_op.drop_column('address')
        batch_op.drop_column('charity_number')
        batch_op.drop_column('company_number')
        batch_op.drop_column('legal_name')

    op.drop_table('expiry_reminders')
    op.drop_table('application_lots')
    op.drop_table('application_answers')
    with op.batch_alter_table('admissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admissions_provider_id'))
        batch_op.drop_index('ix_admissions_lot_provider')

    op.drop_table('admissions')
    with op.batch_alter_table('suspensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suspensions_provider_id'))

    op.drop_table('suspensions')
    with op.batch_alter_table('lot_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_questions_lot_id'))

    op.drop_table('lot_questions')
    op.drop_table('lot_document_requirements')
    with op.batch_alter_table('compliance_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_compliance_documents_provider_type')

    op.drop_table('compliance_documents')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_provider_id'))

    op.drop_table('applications')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_provider_id'))

    op.drop_table('sites')
    op.drop_table('provider_needs')
    op.drop_table('provider_delivery_modes')
    op.drop_table('provider_areas')
    op.drop_table('document_types')
