"""inbound mail: one row per received mail (outcome, why, quarantine), automatic and
new-participant flags on messages

Revision ID: 0003_inbound
Revises: 0003_crm
Create Date: 2026-11-27 09:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "0003_inbound"
down_revision = "0003_crm"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("mail_message_id", sa.String(length=998), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.String(length=250), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=20), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_inbound_mails_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_inbound_mails_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mails")),
    )
    with op.batch_alter_table("inbound_mails", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_mails_identity", ["mail_message_id", "content_sha256"], unique=True
        )
        batch_op.create_index(
            "ix_inbound_mails_mailbox_uid", ["mailbox_id", "uidvalidity", "uid"], unique=True
        )
        batch_op.create_index(
            "ix_inbound_mails_outcome_created", ["outcome", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_mails_raw_sha256"), ["raw_sha256"], unique=False
        )

    # A plain constant default: SQLite then adds the columns in place (a table rebuild
    # would drop the full-text triggers other migrations put on `messages`).
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("automatic", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("from_new_participant", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade():
    # Not in a batch either: SQLite (3.35+) drops the columns in place, keeping the triggers.
    op.drop_column("messages", "from_new_participant")
    op.drop_column("messages", "automatic")

    with op.batch_alter_table("inbound_mails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_mails_raw_sha256"))
        batch_op.drop_index("ix_inbound_mails_outcome_created")
        batch_op.drop_index("ix_inbound_mails_mailbox_uid")
        batch_op.drop_index("ix_inbound_mails_identity")

    op.drop_table("inbound_mails")
