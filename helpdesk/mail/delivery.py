"""Sending mail over SMTP, and the record of every mail the helpdesk sent about a ticket.

Each mail is a `SentMail` row: the log the rate limits count, and its delivery state. The
outbox handler that decides to send a mail tries it at once; when the server is unreachable
or answers 4xx the row stays queued and a `mail.deliver` outbox item retries it with the
outbox's back-off; after the last retry (or at once on a 5xx answer) it is failed, the agent's
reply shows as not delivered, and `requeue` sends it again.

Exactly once, almost: a row is marked sent in the same transaction that marks its outbox item
done, right after the server's 250, so a retried item finds it sent and does nothing. The one
window left is a crash (or a lost database) between the server's 250 and that commit: the item
runs again after its lease and the mail goes out twice, with the same Message-ID, which most
mail clients then show once. When one event mails several agents, the window covers the
mails after the first, until the handler returns.

We read the Flask-Mail settings (MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL,
MAIL_USERNAME, MAIL_PASSWORD, MAIL_SUPPRESS_SEND) but talk SMTP with smtplib ourselves, for
timeouts, per-mailbox servers with XOAUTH2, and to tell a 5xx from a 4xx answer.
"""

import enum
import json
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk import audit, outbox
from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import ContactEmail
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.mail.mailboxes import Mailbox, MailboxAuth
from helpdesk.mail.poller import access_token
from helpdesk.outbox.models import OutboxItem
from helpdesk.outbox.runner import BACKOFF
from helpdesk.tickets.models import Delivery, Message, Ticket
from helpdesk.tickets.permissions import can_work_ticket, visible_tickets_filter
from helpdesk.timeutil import utcnow

DELIVER = "mail.deliver"


class MailStatus(enum.StrEnum):
    QUEUED = "queued"  # not accepted yet: being sent, or waiting for a retry
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # refused, or every retry failed


class SentMail(db.Model):
    """One mail to one address (and its Cc), mostly about a ticket: what, to whom, its fate."""

    __tablename__ = "sent_mails"
    __table_args__ = (
        Index("ix_sent_mails_to_address_created", "to_address", "created_at"),
        Index("ix_sent_mails_ticket_created", "ticket_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # the template: "reply", "resolved", …
    # None for the few mails about no ticket (a mail that was too large to take in).
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(  # an agent it notifies
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(254))
    cc_addresses: Mapped[str | None] = mapped_column(Text)  # comma-separated
    locale: Mapped[str] = mapped_column(String(10))
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    context: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what the template needs
    mail_message_id: Mapped[str] = mapped_column(String(998), index=True)
    status: Mapped[MailStatus] = mapped_column(
        Enum(
            MailStatus,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=MailStatus.QUEUED,
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outbox_item_id: Mapped[int | None] = mapped_column(Integer)  # its retry, if any
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    ticket = relationship("Ticket")
    message = relationship("Message")
    user = relationship("User")

    @property
    def cc(self) -> list[str]:
        return [a for a in (self.cc_addresses or "").split(",") if a]

    @property
    def values(self) -> dict:
        return json.loads(self.context or "{}")


# --- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "none"  # "ssl" (implicit TLS), "starttls", or "none"
    username: str | None = None
    secret: str | None = None  # a password, or an OAuth 2 access token for "xoauth2"
    auth: str = "password"
    timeout: float = 30.0
    suppress: bool = False  # Flask-Mail's MAIL_SUPPRESS_SEND: pretend (tests)


class PermanentFailure(Exception):
    """The server refused the mail for good (5xx): retrying will not help."""


class SignInRefused(PermanentFailure):
    """The server refused our sign-in (535): the credentials, or the token, need fixing."""


def global_settings() -> SmtpSettings | None:
    """The app's Flask-Mail settings, or None when no MAIL_SERVER is configured."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return None
    security = "ssl" if config.get("MAIL_USE_SSL") else "none"
    if config.get("MAIL_USE_TLS"):
        security = "starttls"
    return SmtpSettings(
        host=config["MAIL_SERVER"],
        port=int(config.get("MAIL_PORT") or 25),
        security=security,
        username=config.get("MAIL_USERNAME"),
        secret=config.get("MAIL_PASSWORD"),
        timeout=float(config.get("HELPDESK_SMTP_TIMEOUT", 30)),
        suppress=bool(config.get("MAIL_SUPPRESS_SEND", current_app.testing)),
    )


def mailbox_settings(mailbox: Mailbox | None) -> SmtpSettings | None:
    """The mailbox's own SMTP server, signing in with the mailbox's secret (a password, or
    an OAuth 2 access token for XOAUTH2), or None when it has none. Raises PollError when
    the OAuth provider refuses to hand out a token."""
    if mailbox is None or not mailbox.smtp_host:
        return None
    config = current_app.config
    xoauth2 = mailbox.auth == MailboxAuth.XOAUTH2
    return SmtpSettings(
        host=mailbox.smtp_host,
        port=mailbox.smtp_port or 587,
        security=mailbox.smtp_security or "none",
        username=mailbox.smtp_username or mailbox.username,
        secret=access_token(mailbox) if xoauth2 else mailbox.secret,
        auth="xoauth2" if xoauth2 else "password",
        timeout=float(config.get("HELPDESK_SMTP_TIMEOUT", 30)),
        suppress=bool(config.get("MAIL_SUPPRESS_SEND", current_app.testing)),
    )


def _xoauth2(username: str, token: str):
    def answer(challenge=None) -> str:
        # On failure the server sends a JSON challenge; an empty answer ends the exchange.
        return "" if challenge else f"user={username}\x01auth=Bearer {token}\x01\x01"

    return answer


def _sign_in(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    try:
        if settings.auth == "xoauth2":
            smtp.auth("XOAUTH2", _xoauth2(settings.username, settings.secret))
        else:
            smtp.login(settings.username, settings.secret)
    except smtplib.SMTPAuthenticationError as exc:
        if exc.smtp_code < 500:  # 454: a temporary failure, worth retrying
            raise
        # Retrying with the same credentials only fails again: show it now, resend after a fix.
        raise SignInRefused(
            f"the mail server {settings.host} refused the sign-in as {settings.username} "
            f"({settings.auth}): {_describe(exc)}"
        ) from exc


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        context = ssl.create_default_context()
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.username and settings.secret:
            _sign_in(smtp, settings)
    except BaseException:
        smtp.close()
        raise
    return smtp


def transmit(settings: SmtpSettings, sender: str, recipients: list[str], data: bytes) -> dict:
    """Hand one mail to the server. Returns the recipients it refused while accepting others;
    raises PermanentFailure on a 5xx refusal, smtplib/socket errors for everything else."""
    if settings.suppress:
        return {}
    smtp = _connect(settings)
    try:
        try:
            refused = smtp.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(_describe(exc)) from exc
            raise
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(_describe(exc)) from exc
            raise
    finally:
        try:  # the mail is accepted (or not) by now: a failing goodbye changes nothing
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return refused


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {_text(text)}" for address, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "the mail server did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "the mail server refused the connection (is it running?)"
    return f"{exc.__class__.__name__}: {exc}"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def describe_error(exc: BaseException) -> str:
    """A short reason for agents to read, without credentials."""
    return _describe(exc)[:1000]


# --- recording -------------------------------------------------------------------------------


def new_row(**values) -> SentMail:
    row = SentMail(created_at=utcnow(), status=MailStatus.QUEUED, **values)
    db.session.add(row)
    db.session.flush()
    if row.message is not None and row.kind == "reply":
        row.message.delivery = Delivery.QUEUED
        row.message.delivery_error = None
    return row


def mark_sent(row: SentMail, refused: dict | None = None) -> None:
    row.status = MailStatus.SENT
    row.sent_at = utcnow()
    row.attempts += 1
    row.error = f"refused by the server: {', '.join(refused)}" if refused else None
    if row.message is not None and row.kind == "reply":
        row.message.delivery = Delivery.SENT
        row.message.sent_at = row.sent_at
        row.message.delivery_error = row.error


def mark_failed(row: SentMail, reason: str, final: bool) -> None:
    """Record a failed attempt; a final one makes the mail (and its reply) not delivered."""
    row.attempts += 1
    row.error = reason
    if final:
        row.status = MailStatus.FAILED
    if row.message is not None and row.kind == "reply":
        row.message.delivery = Delivery.FAILED if final else Delivery.QUEUED
        row.message.delivery_error = reason


def schedule_retry(row: SentMail, delay: timedelta | None = BACKOFF[0]) -> None:
    """Queue the row for the outbox to send (again): after `delay`, with back-off after that."""
    item = outbox.enqueue(DELIVER, {"sent_mail_id": row.id}, delay=delay)
    row.outbox_item_id = item.id


def is_final_attempt(row: SentMail) -> bool:
    """Whether the retry running now is the outbox's last (it goes dead after this one)."""
    if row.outbox_item_id is None:
        return False
    attempts = db.session.execute(
        select(OutboxItem.attempts).where(OutboxItem.id == row.outbox_item_id)
    ).scalar_one_or_none()
    return attempts is not None and attempts > len(BACKOFF)


def requeue(row: SentMail) -> None:
    """Send a failed mail again, now (the resend button)."""
    row.status = MailStatus.QUEUED
    row.error = None
    if row.message is not None and row.kind == "reply":
        row.message.delivery = Delivery.QUEUED
        row.message.delivery_error = None
    schedule_retry(row, delay=None)


# --- what the rate limits and the console read -----------------------------------------------


def automatic_sent_since(
    since: datetime, *, address: str | None = None, ticket_id: int | None = None
) -> int:
    """How many automatic mails to customers went (or are going) to `address`, or about
    `ticket_id` (agents' notifications go to our own people: they never loop)."""
    query = select(func.count(SentMail.id)).where(
        SentMail.automatic.is_(True), SentMail.user_id.is_(None), SentMail.created_at >= since
    )
    if address is not None:
        query = query.where(SentMail.to_address == address)
    if ticket_id is not None:
        query = query.where(SentMail.ticket_id == ticket_id)
    return db.session.execute(query).scalar_one()


def is_bouncing(address: str) -> bool:
    return bool(
        db.session.execute(
            select(ContactEmail.bouncing).where(ContactEmail.email == address.lower())
        ).scalar_one_or_none()
    )


def bouncing_addresses(ticket: Ticket) -> list[str]:
    """The ticket's customer addresses that bounce: the console warns before a reply."""
    contacts = [ticket.requester] + [p.contact for p in ticket.participants]
    return [e.email for c in contacts if c is not None for e in c.emails if e.bouncing]


def mails_of(message: Message) -> list[SentMail]:
    """The mails an agent's reply went out as (normally one), newest first."""
    return list(
        db.session.execute(
            select(SentMail).where(SentMail.message_id == message.id).order_by(SentMail.id.desc())
        ).scalars()
    )


def mails_for_ticket(ticket: Ticket, limit: int = 100) -> list[SentMail]:
    """Every mail sent about the ticket, newest first (for a "mail log" on the ticket)."""
    return list(
        db.session.execute(
            select(SentMail)
            .where(SentMail.ticket_id == ticket.id)
            .order_by(SentMail.id.desc())
            .limit(limit)
        ).scalars()
    )


# A queued mail older than this is stuck: the console lists it beside the failed ones.
STUCK_AFTER = timedelta(minutes=5)


def undelivered_mails(actor: Actor, limit: int = 200) -> list[SentMail]:
    """Mails about tickets the actor may see that failed, or are still queued after
    STUCK_AFTER, newest first."""
    stuck = utcnow() - STUCK_AFTER
    return list(
        db.session.execute(
            select(SentMail)
            .join(Ticket, Ticket.id == SentMail.ticket_id)
            .where(
                visible_tickets_filter(actor),
                or_(
                    SentMail.status == MailStatus.FAILED,
                    (SentMail.status == MailStatus.QUEUED) & (SentMail.created_at < stuck),
                ),
            )
            .order_by(SentMail.created_at.desc(), SentMail.id.desc())
            .limit(limit)
        ).scalars()
    )


def resend_mail(actor: Actor, row: SentMail) -> int:
    """Send a failed mail about a ticket again (an agent's reply through
    tickets.services.resend_message); returns how many mails were queued. Raises
    PermissionDenied or ValidationError."""
    from helpdesk.tickets.services import resend_message  # services import this module

    ticket = row.ticket
    if ticket is None or not can_work_ticket(actor, ticket):
        raise PermissionDenied("You cannot work on this ticket.")
    if row.kind == "reply" and row.message is not None:
        return resend_message(row.message, actor)
    if row.status != MailStatus.FAILED:
        raise ValidationError(
            "Only a mail that was not delivered can be sent again.", {"mail": "Not failed."}
        )
    requeue(row)
    audit.record(actor, "mail_resent", None, f"{row.kind} to {row.to_address}", ticket_id=ticket.id)
    db.session.flush()
    return 1
