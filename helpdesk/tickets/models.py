"""Tickets, their messages, attachments, tags, participants and audit trail."""

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.extensions import db
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    """Store an enum as its value in a short string column (portable, readable)."""
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(enum.StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    AGENT = "agent"  # entered by an agent: a phone call, a walk-in
    API = "api"


class Delivery(enum.StrEnum):
    """Whether a public reply reached the customer by mail (see helpdesk.mail.delivery)."""

    NONE = "none"  # not sent by mail (a customer's message, a note)
    QUEUED = "queued"  # being sent, or waiting for a retry
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # every retry failed; an agent can resend it


class MessageKind(enum.StrEnum):
    REPLY = "reply"  # public: the customer sees it
    NOTE = "note"  # internal: agents only
    EVENT = "event"  # a system line in the history ("merged into #1043")


ticket_tags = Table(
    "ticket_tags",
    db.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_ticket_tags_tag_id", "tag_id"),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Counter(db.Model):
    """Named sequences (ticket numbers), incremented atomically by any process."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


# Written out, not bound: a query can use the partial index below only when it states
# this very condition (tickets.queries.filter_clauses does).
OPEN_STATUS_SQL = "status IN ('new', 'open', 'pending')"


class Ticket(db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_updated", "status", "updated_at"),
        Index("ix_tickets_team_status_updated", "team_id", "status", "updated_at"),
        Index("ix_tickets_assignee_status_updated", "assignee_id", "status", "updated_at"),
        Index("ix_tickets_requester_updated", "requester_id", "updated_at"),
        Index("ix_tickets_organization_updated", "organization_id", "updated_at"),
        # The console's queue: keyset pages walk these from the cursor on (see tickets.queries).
        Index("ix_tickets_updated", "updated_at", "id"),
        Index("ix_tickets_created", "created_at", "id"),
        Index("ix_tickets_resolved_at", "resolved_at"),
        # Covers the built-in views' counts: no table lookups to check who sees a ticket.
        Index("ix_tickets_status_team_assignee", "status", "team_id", "assignee_id"),
        Index(
            "ix_tickets_open_updated",
            "updated_at",
            "id",
            sqlite_where=text(OPEN_STATUS_SQL),
            postgresql_where=text(OPEN_STATUS_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    subject: Mapped[str] = mapped_column(String(250))
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.NEW)
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    requester_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # A reply to a closed ticket opens a new one that points back here.
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Signed portal links carry this number; bumping it revokes every link to the ticket.
    link_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bumped on every change: stale concurrent updates fail instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    requester = relationship("Contact", foreign_keys=[requester_id])
    organization = relationship("Organization")
    assignee = relationship("User", foreign_keys=[assignee_id])
    team = relationship("Team")
    merged_into = relationship("Ticket", remote_side=[id], foreign_keys=[merged_into_id])
    follow_up_of = relationship("Ticket", remote_side=[id], foreign_keys=[follow_up_of_id])
    tags: Mapped[list[Tag]] = relationship(secondary=ticket_tags, order_by=Tag.name)
    messages: Mapped[list["Message"]] = relationship(
        back_populates="ticket", order_by="Message.id", cascade="all, delete-orphan"
    )
    participants: Mapped[list["Participant"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan"
    )

    @property
    def reference(self) -> str:
        return f"#{self.number}"

    def __repr__(self) -> str:
        return f"<Ticket #{self.number} {self.status}>"


class Participant(db.Model):
    """Someone besides the requester who follows the ticket (a Cc on the thread)."""

    __tablename__ = "ticket_participants"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="participants")
    contact = relationship("Contact")


class Message(db.Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    body_text: Mapped[str] = mapped_column(Text, default="")
    # Always sanitized before it is stored; templates may render it as markup.
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Mail threading: the RFC 5322 identifiers of the mail this message came in or went out as.
    mail_message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    mail_in_reply_to: Mapped[str | None] = mapped_column(String(998))
    mail_references: Mapped[str | None] = mapped_column(Text)
    # sha256 of the raw mail in storage, when it came by mail.
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    # Outgoing mail of an agent's public reply: queued, sent or failed (and why).
    delivery: Mapped[Delivery] = mapped_column(
        _enum(Delivery), default=Delivery.NONE, server_default=Delivery.NONE.value
    )
    delivery_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Sent by a machine (out-of-office, read receipt, bounce): never reopens, never answered.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Came by mail from someone who was not on the ticket yet (a forward answered by a
    # colleague): shown to agents, who may want to check it belongs here.
    from_new_participant: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author_user = relationship("User")
    author_contact = relationship("Contact")
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )

    @property
    def is_public(self) -> bool:
        return self.kind == MessageKind.REPLY

    @property
    def author_name(self) -> str:
        if self.author_user is not None:
            return self.author_user.name
        if self.author_contact is not None:
            return self.author_contact.name
        return "System"


class Attachment(db.Model):
    """File metadata; the bytes live in storage under their sha256."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    message: Mapped[Message | None] = relationship(back_populates="attachments")
    ticket = relationship("Ticket")


class AuditEvent(db.Model):
    """One change: who changed what, from which value to which, and when."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    ticket = relationship("Ticket")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[str | None] = mapped_column(String(500))
    new_value: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
