"""One row per received mail: what became of it, and why. Quarantine is a row whose
outcome is `quarantined` (or `too_large`): the raw mail is kept, the error says why."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.extensions import db
from helpdesk.timeutil import utcnow


class Outcome(enum.StrEnum):
    NEW_TICKET = "new_ticket"
    REPLY = "reply"
    DUPLICATE = "duplicate"  # only ever returned, never stored: the earlier row stands
    AUTO_REPLY = "auto_reply"  # out-of-office and other automatic mail, nothing to attach to
    BOUNCE = "bounce"
    RECEIPT = "receipt"
    ABUSE_REPORT = "abuse_report"
    SPAM = "spam"
    BLOCKED = "blocked"
    QUARANTINED = "quarantined"
    OWN_MAIL_LOOP = "own_mail_loop"
    TOO_LARGE = "too_large"
    # Set only by an agent (helpdesk.mail.review): the row and the raw mail stay, off every list.
    DISMISSED = "dismissed"  # taken out of the quarantine without processing
    DELETED = "deleted"  # taken off the spam list as spam indeed


# Rows an agent has to look at: they can be retried once the cause is fixed.
QUARANTINE_OUTCOMES = (Outcome.QUARANTINED, Outcome.TOO_LARGE)
# Rows an agent may release into the normal flow.
HELD_OUTCOMES = (Outcome.SPAM, Outcome.BLOCKED)


class InboundMail(db.Model):
    __tablename__ = "inbound_mails"
    __table_args__ = (
        # Idempotency: the same mail (Message-ID and body) is processed once, from any mailbox.
        Index("ix_inbound_mails_identity", "mail_message_id", "content_sha256", unique=True),
        # ...and the same message of a mailbox once (NULLs, for files, never collide).
        Index("ix_inbound_mails_mailbox_uid", "mailbox_id", "uidvalidity", "uid", unique=True),
        Index("ix_inbound_mails_outcome_created", "outcome", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The raw mail in storage (helpdesk.storage), written before anything else happens.
    raw_sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw_size: Mapped[int] = mapped_column(Integer)
    # The normalized Message-ID, or "sha256:<raw hash>" for a mail without one.
    mail_message_id: Mapped[str] = mapped_column(String(998))
    # sha256 of the body as sent: a sender that reuses a Message-ID for another mail
    # does not lose that mail as a "duplicate".
    content_sha256: Mapped[str] = mapped_column(String(64))
    mailbox_id: Mapped[int | None] = mapped_column(Integer)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(250))
    outcome: Mapped[str] = mapped_column(String(20))  # an Outcome value; plain text, no DB enum
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # "Why this ticket": the threading rule that decided, and the reason in words.
    rule: Mapped[str | None] = mapped_column(String(20))
    explanation: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    ticket = relationship("Ticket")
    message = relationship("Message")

    @property
    def in_quarantine(self) -> bool:
        return self.outcome in QUARANTINE_OUTCOMES

    def __repr__(self) -> str:
        return f"<InboundMail {self.id} {self.outcome}>"
