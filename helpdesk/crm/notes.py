"""Notes written to a CRM about tickets: one row per (connection, ticket, event), so each is
written once however often its outbox item runs.

Writing a note:
  1. the row holds the idempotency key and, once the CRM answered, the note's external id;
     a row with an external id is done;
  2. before sending, the row is marked `attempted` and committed; a row found attempted
     means an earlier try may have reached the CRM, so the adapter looks for the note by its
     key's marker first (HubSpot: search of the note bodies; Bitrix24: the contact's timeline
     comments) and only writes when it is not there;
  3. the external id is committed as soon as the CRM returns it.

Where a rare duplicate remains possible (README):
  * HubSpot indexes new notes for search with a delay of a few seconds. If a write timed out
    but HubSpot did create the note, and the retry's search runs before the note is indexed,
    the note is written again. The outbox waits 30 seconds before the first retry, which is
    normally long enough.
  * Bitrix24 is searched through the contact's timeline comments, newest pages first up to
    LOOKUP_PAGES pages (50 comments each); a contact with more comments than that written
    between the lost answer and the retry could hide the first note.
  * Someone who edits the note in the CRM and deletes its reference line, between the lost
    answer and the retry, makes it unrecognisable.
  * A process that dies after the CRM accepted the note and before the row is marked
    attempted cannot happen (the mark is committed first); one that dies after the CRM
    answered and before the external id is committed is covered by the lookup above.
"""

import hashlib
import hmac
import re
from datetime import datetime

from flask import current_app
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

# Bitrix24 timeline pages (50 comments each) searched for a note's marker.
LOOKUP_PAGES = 20


class CrmNote(db.Model):
    __tablename__ = "crm_notes"
    __table_args__ = (
        Index("ix_crm_notes_connection_key", "connection_id", "key", unique=True),
        Index("ix_crm_notes_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("crm_connections.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))  # created | resolved
    key: Mapped[str] = mapped_column(String(64))  # the idempotency marker written in the note
    # The CRM contact it is written to, fixed at the first attempt: a later relink must not
    # send the retry (and its lookup) somewhere else.
    target_id: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def uncertain(self) -> bool:
        """An attempt may have reached the CRM without us learning the outcome."""
        return self.external_id is None and self.attempted_at is not None


def has_marker(text: str | None, key: str) -> bool:
    """The key stands in the text as a word of its own (not as part of a longer one)."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(key)}(?![A-Za-z0-9])", text or "") is not None


def note_key(ticket_id: int, event: str, connection_id: int) -> str:
    """The idempotency marker: one token of letters and digits (search engines keep it whole),
    unique per helpdesk install, connection, ticket and event."""
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(
        secret, f"crm-note:{connection_id}:{ticket_id}:{event}".encode(), hashlib.sha256
    )
    return "hd" + digest.hexdigest()[:24]


def note_row(connection_id: int, ticket_id: int, event: str) -> CrmNote:
    """The row for this note, created (and committed) on first use."""
    key = note_key(ticket_id, event, connection_id)
    query = select(CrmNote).where(CrmNote.connection_id == connection_id, CrmNote.key == key)
    row = db.session.execute(query).scalar_one_or_none()
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = CrmNote(connection_id=connection_id, ticket_id=ticket_id, event=event, key=key)
            db.session.add(row)
    except IntegrityError:  # another worker made it first
        row = db.session.execute(query).scalar_one()
    db.session.commit()
    return row


def mark_attempted(row: CrmNote, target_id: str) -> None:
    row.target_id = row.target_id or target_id
    row.attempts = (row.attempts or 0) + 1
    row.attempted_at = utcnow()
    db.session.commit()


def mark_sent(row: CrmNote, external_id: str) -> None:
    row.external_id = external_id
    row.sent_at = utcnow()
    db.session.commit()


def mark_not_sent(row: CrmNote) -> None:
    """The attempt certainly did not reach the CRM (it refused or could not be reached)."""
    row.attempted_at = None
    db.session.commit()
