"""Search indexing in bulk for `flask seed`: the per-row `fts_*` triggers are set aside while
the seed's rows go in; afterwards the new rows are indexed with one statement per table and
the triggers come back, also when the seed fails half-way.

The statements below write what the triggers of the console migration (0002_console) write;
tests/test_seed.py proves the two indexes identical.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

from helpdesk.extensions import db

# --- SQLite: FTS5 tables; triggers are dropped and recreated from their saved SQL ------------

_SQLITE_TRIGGERS = (
    "SELECT name, sql FROM sqlite_master"
    " WHERE type = 'trigger' AND name LIKE 'fts\\_%' ESCAPE '\\' ORDER BY name"
)
SQLITE_FILL = (
    "INSERT INTO fts_messages(rowid, body_text) SELECT id, body_text FROM messages"
    " WHERE id > :messages AND kind != 'event' ORDER BY id",
    "INSERT INTO fts_tickets(rowid, subject, requester) SELECT t.id, t.subject,"
    " (SELECT c.name || ' ' || coalesce((SELECT group_concat(e.email, ' ') FROM contact_emails e"
    " WHERE e.contact_id = c.id), '') FROM contacts c WHERE c.id = t.requester_id)"
    " FROM tickets t WHERE t.id > :tickets ORDER BY t.id",
)

# --- PostgreSQL: tsvector side tables; triggers are disabled and enabled again ----------------

_POSTGRES_TRIGGERS = (
    "SELECT tgname, tgrelid::regclass::text FROM pg_trigger"
    " WHERE tgname LIKE 'fts\\_%' AND NOT tgisinternal ORDER BY tgname"
)
POSTGRES_FILL = (
    "INSERT INTO fts_messages (message_id, document)"
    " SELECT id, to_tsvector('english', coalesce(body_text, '')) FROM messages"
    " WHERE id > :messages AND kind != 'event'"
    " ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document",
    "SELECT fts_refresh_tickets(ARRAY(SELECT id FROM tickets WHERE id > :tickets))",
)


def _execute(sql: str, **params):
    return db.session.execute(text(sql), params)


def _floors() -> dict[str, int]:
    """The newest ids now: every row above them goes in while the triggers are off."""
    return {
        "messages": _execute("SELECT coalesce(max(id), 0) FROM messages").scalar_one(),
        "tickets": _execute("SELECT coalesce(max(id), 0) FROM tickets").scalar_one(),
    }


@contextmanager
def bulk_search_indexing(echo: Callable[[str], None] = print) -> Iterator[None]:
    """Inside: rows go in without per-row indexing. On the way out, also after an error, every
    row added meanwhile (by anyone) is indexed and the triggers restored, in one transaction.
    Edits that other writers make to older rows meanwhile are not indexed: seed a database
    that nobody else is changing."""
    db.session.commit()
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        # The write lock first: no row may slip in between the floors and the drop.
        _execute("BEGIN IMMEDIATE")
        triggers = _execute(_SQLITE_TRIGGERS).all()
        floors = _floors()
        for name, _ in triggers:
            _execute(f'DROP TRIGGER "{name}"')
    else:
        triggers = _execute(_POSTGRES_TRIGGERS).all()
        for name, table in triggers:
            _execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')  # locks the tables: safe
        floors = _floors()
    db.session.commit()
    echo(
        f"Search indexing paused for the bulk insert: {len(triggers)} fts_* triggers"
        f" {'dropped' if sqlite else 'disabled'}; they come back when the seed ends."
    )
    try:
        yield
    finally:
        db.session.rollback()  # whatever a failure left half-done
        echo("Indexing the new rows for search and restoring the triggers...")
        started = time.perf_counter()
        if sqlite:
            _execute("BEGIN IMMEDIATE")
        # Triggers first: on PostgreSQL that locks out writers, so the fill sees every new row.
        for name, definition in triggers:
            _execute(definition if sqlite else f'ALTER TABLE {definition} ENABLE TRIGGER "{name}"')
        for statement in SQLITE_FILL if sqlite else POSTGRES_FILL:
            _execute(statement, **floors)
        db.session.commit()
        echo(f"Search index up to date in {time.perf_counter() - started:.1f}s; triggers restored.")
