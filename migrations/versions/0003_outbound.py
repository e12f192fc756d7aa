"""outbound mail: sent-mail log, mail templates, notification opt-outs, reply delivery

Revision ID: 0003_outbound
Revises: 0003_mailboxes
Create Date: 2026-11-27 09:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_outbound'
down_revision = "0003_mailboxes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sent_mails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('cc_addresses', sa.Text(), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('context', sa.Text(), nullable=False),
    sa.Column('mail_message_id', sa.String(length=998), nullable=False),
    sa.Column('status', sa.Enum('queued', 'sent', 'failed', name='mailstatus', native_enum=False, length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('outbox_item_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_sent_mails_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_sent_mails_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sent_mails_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_mails'))
    )
    with op.batch_alter_table('sent_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_mails_mail_message_id'), ['mail_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sent_mails_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_sent_mails_ticket_created', ['ticket_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sent_mails_to_address_created', ['to_address', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sent_mails_user_id'), ['user_id'], unique=False)

    op.create_table('mail_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_mail_templates_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_templates')),
    sa.UniqueConstraint('kind', 'locale', name=op.f('uq_mail_templates_kind'))
    )

    op.create_table('agent_notification_optouts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_notification_optouts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'event', name=op.f('pk_agent_notification_optouts'))
    )

    # Not in a batch: SQLite adds the columns in place (a table rebuild would drop the
    # full-text triggers other migrations put on `messages`).
    op.add_column('messages', sa.Column('delivery', sa.Enum('none', 'queued', 'sent', 'failed', name='delivery', native_enum=False, length=20), server_default='none', nullable=False))
    op.add_column('messages', sa.Column('delivery_error', sa.Text(), nullable=True))
    op.add_column('messages', sa.Column('sent_at', sa.DateTime(), nullable=True))


def downgrade():
    # In place too (SQLite 3.35+), keeping the triggers.
    op.drop_column('messages', 'sent_at')
    op.drop_column('messages', 'delivery_error')
    op.drop_column('messages', 'delivery')

    op.drop_table('agent_notification_optouts')
    op.drop_table('mail_templates')
    with op.batch_alter_table('sent_mails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_mails_user_id'))
        batch_op.drop_index('ix_sent_mails_to_address_created')
        batch_op.drop_index('ix_sent_mails_ticket_created')
        batch_op.drop_index(batch_op.f('ix_sent_mails_message_id'))
        batch_op.drop_index(batch_op.f('ix_sent_mails_mail_message_id'))

    op.drop_table('sent_mails')
