"""CRM sync: connections, links, notes; organization phones and tax ids

Revision ID: 0003_crm
Revises: 0002_console
Create Date: 2026-11-27 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_crm'
down_revision = "0002_console"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('organization_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_phones_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_phones'))
    )
    with op.batch_alter_table('organization_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organization_phones_organization_id'), ['organization_id'], unique=False)

    op.create_table('crm_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.Enum('builtin', 'bitrix24', 'hubspot', name='crmkind', native_enum=False, length=20), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=True),
    sa.Column('secret_encrypted', sa.Text(), nullable=True),
    sa.Column('webhook_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('web_url', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('snapshot_ttl', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('ok', 'degraded', name='connectionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('last_ok_at', sa.DateTime(), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_crm_connections_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_crm_connections_name'))
    )
    op.create_table('crm_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.Enum('contact', 'organization', name='subject', native_enum=False, length=20), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('match_rule', sa.String(length=20), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('candidates_json', sa.Text(), nullable=True),
    sa.Column('snapshot_json', sa.Text(), nullable=True),
    sa.Column('snapshot_at', sa.DateTime(), nullable=True),
    sa.Column('refresh_requested_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_by_agent', sa.Boolean(), nullable=False),
    sa.Column('set_by_agent', sa.Boolean(), nullable=False),
    sa.Column('unlinked_by_agent', sa.Boolean(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_crm_links_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['connection_id'], ['crm_connections.id'], name=op.f('fk_crm_links_connection_id_crm_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_crm_links_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_crm_links_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_links'))
    )
    with op.batch_alter_table('crm_links', schema=None) as batch_op:
        batch_op.create_index('ix_crm_links_connection_contact', ['connection_id', 'contact_id'], unique=True)
        batch_op.create_index('ix_crm_links_connection_external', ['connection_id', 'external_id'], unique=False)
        batch_op.create_index('ix_crm_links_connection_org', ['connection_id', 'organization_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_crm_links_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_crm_links_organization_id'), ['organization_id'], unique=False)

    op.create_table('crm_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['crm_connections.id'], name=op.f('fk_crm_notes_connection_id_crm_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_crm_notes_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_notes'))
    )
    with op.batch_alter_table('crm_notes', schema=None) as batch_op:
        batch_op.create_index('ix_crm_notes_connection_key', ['connection_id', 'key'], unique=True)
        batch_op.create_index('ix_crm_notes_ticket_id', ['ticket_id'], unique=False)

    # Plain ADD COLUMN and CREATE INDEX: SQLite keeps the table (and the triggers on it).
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_organizations_tax_id'), ['tax_id'], unique=False)


def downgrade():
    # Native DROP INDEX / DROP COLUMN, not a batch: rebuilding organizations on SQLite would
    # trip over triggers other features keep on it.
    op.drop_index('ix_organizations_tax_id', table_name='organizations')
    op.drop_column('organizations', 'tax_id')

    op.drop_table('crm_notes')
    op.drop_table('crm_links')
    op.drop_table('crm_connections')
    op.drop_table('organization_phones')
