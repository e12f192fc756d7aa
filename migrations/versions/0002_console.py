"""agent console: saved views, presence, canned responses, mentions, blocked senders,
queue indexes and full-text search

Revision ID: 0002_console
Revises: 0002_api
Create Date: 2026-11-27 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "0002_console"
down_revision = "0002_api"
branch_labels = None
depends_on = None


# --- SQLite: FTS5 tables kept in sync by triggers ---------------------------------------------
# fts_messages reads its text from messages (external content); fts_tickets keeps its own copy
# of the subject and the requester's name and addresses (they live in three tables).

_SQLITE_REQUESTER = (
    "(SELECT c.name || ' ' || coalesce((SELECT group_concat(e.email, ' ') FROM contact_emails e"
    " WHERE e.contact_id = c.id), '') FROM contacts c WHERE c.id = {contact})"
)

SQLITE_UP = [
    "CREATE VIRTUAL TABLE fts_messages USING fts5(body_text, content='messages',"
    " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER fts_messages_insert AFTER INSERT ON messages WHEN new.kind != 'event' BEGIN"
    " INSERT INTO fts_messages(rowid, body_text) VALUES (new.id, new.body_text); END",
    "CREATE TRIGGER fts_messages_delete AFTER DELETE ON messages WHEN old.kind != 'event' BEGIN"
    " INSERT INTO fts_messages(fts_messages, rowid, body_text)"
    " VALUES ('delete', old.id, old.body_text); END",
    "CREATE TRIGGER fts_messages_update AFTER UPDATE OF body_text, kind ON messages BEGIN"
    " INSERT INTO fts_messages(fts_messages, rowid, body_text)"
    " SELECT 'delete', old.id, old.body_text WHERE old.kind != 'event';"
    " INSERT INTO fts_messages(rowid, body_text) SELECT new.id, new.body_text"
    " WHERE new.kind != 'event'; END",
    "CREATE VIRTUAL TABLE fts_tickets USING fts5(subject, requester,"
    " tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER fts_tickets_insert AFTER INSERT ON tickets BEGIN"
    " INSERT INTO fts_tickets(rowid, subject, requester) VALUES (new.id, new.subject, "
    + _SQLITE_REQUESTER.format(contact="new.requester_id")
    + "); END",
    "CREATE TRIGGER fts_tickets_update AFTER UPDATE OF subject, requester_id ON tickets BEGIN"
    " DELETE FROM fts_tickets WHERE rowid = old.id;"
    " INSERT INTO fts_tickets(rowid, subject, requester) VALUES (new.id, new.subject, "
    + _SQLITE_REQUESTER.format(contact="new.requester_id")
    + "); END",
    "CREATE TRIGGER fts_tickets_delete AFTER DELETE ON tickets BEGIN"
    " DELETE FROM fts_tickets WHERE rowid = old.id; END",
    "CREATE TRIGGER fts_tickets_contact_name AFTER UPDATE OF name ON contacts BEGIN"
    " UPDATE fts_tickets SET requester = "
    + _SQLITE_REQUESTER.format(contact="new.id")
    + " WHERE rowid IN (SELECT id FROM tickets WHERE requester_id = new.id); END",
]
for _event, _row in (("INSERT", "new"), ("DELETE", "old"), ("UPDATE", "new")):
    SQLITE_UP.append(
        f"CREATE TRIGGER fts_tickets_email_{_event.lower()} AFTER {_event} ON contact_emails"
        " BEGIN UPDATE fts_tickets SET requester = "
        + _SQLITE_REQUESTER.format(contact=f"{_row}.contact_id")
        + f" WHERE rowid IN (SELECT id FROM tickets WHERE requester_id = {_row}.contact_id); END"
    )
SQLITE_UP += [
    # Index what is already there (a database upgraded with tickets in it).
    "INSERT INTO fts_messages(rowid, body_text) SELECT id, body_text FROM messages"
    " WHERE kind != 'event'",
    "INSERT INTO fts_tickets(rowid, subject, requester) SELECT t.id, t.subject, "
    + _SQLITE_REQUESTER.format(contact="t.requester_id")
    + " FROM tickets t",
]
SQLITE_DOWN = [
    *[
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "fts_messages_insert",
            "fts_messages_delete",
            "fts_messages_update",
            "fts_tickets_insert",
            "fts_tickets_update",
            "fts_tickets_delete",
            "fts_tickets_contact_name",
            "fts_tickets_email_insert",
            "fts_tickets_email_delete",
            "fts_tickets_email_update",
        )
    ],
    "DROP TABLE IF EXISTS fts_messages",
    "DROP TABLE IF EXISTS fts_tickets",
]

# --- PostgreSQL: tsvector documents with GIN indexes, kept in sync by triggers -----------------
# Side tables rather than columns: the ORM models stay the same on both databases.

POSTGRES_UP = [
    "CREATE TABLE fts_messages (message_id integer PRIMARY KEY"
    " REFERENCES messages(id) ON DELETE CASCADE, document tsvector NOT NULL)",
    "CREATE INDEX ix_fts_messages_document ON fts_messages USING gin (document)",
    "CREATE TABLE fts_tickets (ticket_id integer PRIMARY KEY"
    " REFERENCES tickets(id) ON DELETE CASCADE, document tsvector NOT NULL)",
    "CREATE INDEX ix_fts_tickets_document ON fts_tickets USING gin (document)",
    """CREATE FUNCTION fts_ticket_document(ticket integer) RETURNS tsvector
    LANGUAGE sql STABLE AS $$
        SELECT setweight(to_tsvector('english', t.subject), 'A')
            || setweight(to_tsvector('english', c.name || ' ' || coalesce((
                SELECT string_agg(e.email || ' ' || split_part(e.email, '@', 2), ' ')
                FROM contact_emails e WHERE e.contact_id = c.id), '')), 'B')
        FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE t.id = ticket
    $$""",
    """CREATE FUNCTION fts_refresh_tickets(ticket_ids integer[]) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO fts_tickets (ticket_id, document)
        SELECT id, fts_ticket_document(id) FROM tickets WHERE id = ANY(ticket_ids)
        ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document
    $$""",
    """CREATE FUNCTION fts_messages_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.kind = 'event' THEN
            DELETE FROM fts_messages WHERE message_id = NEW.id;
        ELSE
            INSERT INTO fts_messages (message_id, document)
            VALUES (NEW.id, to_tsvector('english', coalesce(NEW.body_text, '')))
            ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document;
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER fts_messages_sync AFTER INSERT OR UPDATE OF body_text, kind ON messages"
    " FOR EACH ROW EXECUTE FUNCTION fts_messages_sync()",
    """CREATE FUNCTION fts_tickets_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM fts_refresh_tickets(ARRAY[NEW.id]);
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER fts_tickets_sync AFTER INSERT OR UPDATE OF subject, requester_id ON tickets"
    " FOR EACH ROW EXECUTE FUNCTION fts_tickets_sync()",
    """CREATE FUNCTION fts_contact_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        contact integer;
    BEGIN
        IF TG_TABLE_NAME = 'contacts' THEN
            contact := NEW.id;
        ELSIF TG_OP = 'DELETE' THEN
            contact := OLD.contact_id;
        ELSE
            contact := NEW.contact_id;
        END IF;
        PERFORM fts_refresh_tickets(ARRAY(SELECT id FROM tickets WHERE requester_id = contact));
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER fts_contact_name_sync AFTER UPDATE OF name ON contacts"
    " FOR EACH ROW EXECUTE FUNCTION fts_contact_sync()",
    "CREATE TRIGGER fts_contact_email_sync AFTER INSERT OR UPDATE OR DELETE ON contact_emails"
    " FOR EACH ROW EXECUTE FUNCTION fts_contact_sync()",
    "INSERT INTO fts_messages (message_id, document) SELECT id,"
    " to_tsvector('english', coalesce(body_text, '')) FROM messages WHERE kind != 'event'",
    "SELECT fts_refresh_tickets(ARRAY(SELECT id FROM tickets))",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS fts_contact_email_sync ON contact_emails",
    "DROP TRIGGER IF EXISTS fts_contact_name_sync ON contacts",
    "DROP TRIGGER IF EXISTS fts_tickets_sync ON tickets",
    "DROP TRIGGER IF EXISTS fts_messages_sync ON messages",
    "DROP FUNCTION IF EXISTS fts_contact_sync()",
    "DROP FUNCTION IF EXISTS fts_tickets_sync()",
    "DROP FUNCTION IF EXISTS fts_messages_sync()",
    "DROP FUNCTION IF EXISTS fts_refresh_tickets(integer[])",
    "DROP FUNCTION IF EXISTS fts_ticket_document(integer)",
    "DROP TABLE IF EXISTS fts_tickets",
    "DROP TABLE IF EXISTS fts_messages",
]

OPEN_STATUSES = "status IN ('new', 'open', 'pending')"


def upgrade():
    op.create_table(
        "blocked_senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_blocked_senders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_senders")),
        sa.UniqueConstraint("pattern", name=op.f("uq_blocked_senders_pattern")),
    )
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_canned_responses_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
    )
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_canned_responses_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("sort", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_views_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
    )
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_views_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "note_mentions",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_note_mentions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_note_mentions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", name=op.f("pk_note_mentions")),
    )
    with op.batch_alter_table("note_mentions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_mentions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "ticket_presence",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_presence_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ticket_presence_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f("pk_ticket_presence")),
    )
    with op.batch_alter_table("ticket_presence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_presence_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_updated", ["updated_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_resolved_at", ["resolved_at"], unique=False)
        batch_op.create_index(
            "ix_tickets_status_team_assignee", ["status", "team_id", "assignee_id"], unique=False
        )
        batch_op.create_index(
            "ix_tickets_open_updated",
            ["updated_at", "id"],
            unique=False,
            sqlite_where=sa.text(OPEN_STATUSES),
            postgresql_where=sa.text(OPEN_STATUSES),
        )

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_open_updated")
        batch_op.drop_index("ix_tickets_status_team_assignee")
        batch_op.drop_index("ix_tickets_resolved_at")
        batch_op.drop_index("ix_tickets_created")
        batch_op.drop_index("ix_tickets_updated")
    for table in ("ticket_presence", "note_mentions", "saved_views", "canned_responses"):
        op.drop_table(table)
    op.drop_table("blocked_senders")
