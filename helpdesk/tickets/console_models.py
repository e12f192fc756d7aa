"""What the agent console keeps besides tickets: saved views, presence, canned responses,
mentions in internal notes."""

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.extensions import db
from helpdesk.timeutil import utcnow


class SavedView(db.Model):
    """A named queue filter: the agent's own, or shared with every agent."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    # QueueFilter.to_json(): field name -> list of values.
    filters: Mapped[str] = mapped_column(Text, default="{}")
    sort: Mapped[str] = mapped_column(String(20), default="updated")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    owner = relationship("User")


class Presence(db.Model):
    """Who has a ticket open right now, and whether they are writing; refreshed by polling.

    In the database, not in process memory, so every web process sees every agent."""

    __tablename__ = "ticket_presence"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[str] = mapped_column(String(20))  # "viewing" or "composing"
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user = relationship("User")


class CannedResponse(db.Model):
    """A reusable reply; {{customer_name}} and {{ticket_number}} are filled in when used."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    # None: everyone's; otherwise only this agent sees it.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Mention(db.Model):
    """An agent named with @ in an internal note."""

    __tablename__ = "note_mentions"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user = relationship("User")
